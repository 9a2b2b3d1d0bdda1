"""Datasources: configured once, immutable at every path, secret never shown, status only moves
forward after a real check, deletable only while empty, provisioning tracked and idempotent."""

import logging
import socket
import threading

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.pool import NullPool

from datasource_registry import secrets, services
from datasource_registry.models import Datasource, DatasourceImmutable
from extensions import db
from platform_admin.messaging.models import OutboxMessage
from tests.conftest import TENANT_ACCOUNT
from tests.factories import EnterpriseFactory

PASSWORD = TENANT_ACCOUNT["password"]


def body(tenant_account, **overrides):
    data = {"host": tenant_account["host"], "port": tenant_account["port"], "type": "mysql",
            "username": tenant_account["username"], "password": tenant_account["password"],
            "max_connections": 5, "min_connections": 1, "remark": "主库"}
    data.update(overrides)
    return data


@pytest.fixture
def enterprise_id(app):
    with app.app_context():
        return EnterpriseFactory().id


@pytest.fixture
def devops(api_as):
    return api_as("devops")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"username": "root"}, "username"),
    ({"username": "ROOT"}, "username"),
    ({"username": "bad name"}, "username"),
    ({"password": "Short#1"}, "password"),
    ({"password": "alllowercase#1"}, "password"),
    ({"password": "NoDigits#here"}, "password"),
    ({"password": "NoSpecial123"}, "password"),
    ({"max_connections": 0}, "max_connections"),
    ({"max_connections": "many"}, "max_connections"),
    ({"min_connections": 0}, "min_connections"),
    ({"min_connections": 6, "max_connections": 5}, "min_connections"),
    ({"host": ""}, "host"),
    ({"host": "not a host!"}, "host"),
    ({"port": 70000}, "port"),
    ({"type": "oracle"}, "type"),
])
def test_invalid_datasource_is_refused_with_the_field_named(app, devops, enterprise_id, tenant_account, overrides, field):
    resp = devops.put(f"/api/v1/enterprises/{enterprise_id}/datasource", json=body(tenant_account, **overrides))
    assert resp.status_code == 422
    assert field in resp.json["error"]["fields"]
    with app.app_context():
        assert db.session.scalars(select(Datasource)).first() is None


def test_configure_generates_names_and_never_returns_the_password(app, devops, enterprise_id, tenant_account):
    resp = devops.put(f"/api/v1/enterprises/{enterprise_id}/datasource", json=body(tenant_account))
    assert resp.status_code == 201
    data = resp.json
    assert data["name"].startswith("ds_qy") and data["database"].startswith(app.config["TENANT_DATABASE_PREFIX"])
    assert data["implementation_status"] == "not_implemented"
    assert "password" not in data and PASSWORD not in resp.text
    assert PASSWORD not in devops.get(f"/api/v1/enterprises/{enterprise_id}/datasource").text
    with app.app_context():
        ds = db.session.scalars(select(Datasource)).one()
        assert PASSWORD not in ds.password_encrypted
        assert secrets.decrypt(ds.password_encrypted) == PASSWORD


def test_second_configuration_is_refused_as_immutable(devops, enterprise_id, tenant_account):
    path = f"/api/v1/enterprises/{enterprise_id}/datasource"
    assert devops.put(path, json=body(tenant_account)).status_code == 201
    resp = devops.put(path, json=body(tenant_account, host="10.0.0.9"))
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_immutable"
    assert devops.get(path).json["host"] == tenant_account["host"]


def test_missing_datasource_is_404_not_configured(devops, enterprise_id):
    resp = devops.get(f"/api/v1/enterprises/{enterprise_id}/datasource")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "datasource_not_configured"


def test_ops_see_only_whether_a_datasource_exists(api_as, tenant_factory):
    ent_id = tenant_factory(provision=False)
    ops = api_as("ops")
    assert ops.get(f"/api/v1/enterprises/{ent_id}").json["datasource_configured"] is True
    assert ops.get(f"/api/v1/enterprises/{ent_id}/datasource").status_code == 403


@pytest.mark.parametrize("column,value", [("host", "10.9.9.9"), ("port", 3307), ("username", "other"),
                                          ("database", "elsewhere"), ("max_connections", 50), ("remark", "x"),
                                          ("type", "sqlite"), ("enterprise_id", 999)])
def test_orm_refuses_any_change_to_a_frozen_column(app, tenant_factory, column, value):
    ent_id = tenant_factory(provision=False)
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        setattr(ds, column, value)
        with pytest.raises(DatasourceImmutable):
            db.session.commit()
        db.session.rollback()
        assert getattr(db.session.get(Datasource, ds.id), column) != value


def test_bulk_update_statements_are_refused_too(app, tenant_factory):
    tenant_factory(provision=False)
    with app.app_context():
        with pytest.raises(DatasourceImmutable):
            db.session.execute(update(Datasource).values(host="10.1.1.1"))
        db.session.rollback()


def test_password_can_be_reencrypted_but_not_replaced(app, tenant_factory):
    ent_id = tenant_factory(provision=False)
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        ds.password_encrypted = secrets.encrypt("Another#Secret9")
        with pytest.raises(DatasourceImmutable):
            db.session.commit()
        db.session.rollback()
        ds = db.session.get(Datasource, ds.id)
        old = ds.password_encrypted
        ds.password_encrypted = secrets.rotate(old)
        db.session.commit()
        assert secrets.decrypt(db.session.get(Datasource, ds.id).password_encrypted) == PASSWORD


def test_rotate_cli_reencrypts_under_the_newest_key(app, tenant_factory):
    from cryptography.fernet import Fernet

    tenant_factory(provision=False)
    old_keys = app.config.get("SECRET_MASTER_KEYS", "")
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    try:
        with app.app_context():
            ds = db.session.scalars(select(Datasource)).one()
            plaintext = secrets.decrypt(ds.password_encrypted)
            app.config["SECRET_MASTER_KEYS"] = first + "," + (old_keys or "")
            app.config["SECRET_MASTER_KEYS"] = app.config["SECRET_MASTER_KEYS"].rstrip(",")
        # Old secrets were encrypted with the derived key; keep it readable during rotation.
        with app.app_context():
            from datasource_registry.secrets import _keys

            app.config["SECRET_MASTER_KEYS"] = ""
            derived = _keys()[0]
            app.config["SECRET_MASTER_KEYS"] = f"{second},{first},{derived}"
        result = app.test_cli_runner().invoke(args=["secrets", "rotate"])
        assert result.exit_code == 0, result.output
        app.config["SECRET_MASTER_KEYS"] = second  # the old keys are retired
        with app.app_context():
            ds = db.session.scalars(select(Datasource)).one()
            assert secrets.decrypt(ds.password_encrypted) == plaintext
    finally:
        app.config["SECRET_MASTER_KEYS"] = old_keys


def test_status_moves_only_forward_and_only_after_provisioning(devops, tenant_factory):
    ent_id = tenant_factory(provision=False)
    path = f"/api/v1/enterprises/{ent_id}/datasource/implementation-status"
    assert devops.post(path, json={"status": "live"}).json["error"]["code"] == "illegal_transition"
    not_ready = devops.post(path, json={"status": "implementing"})
    assert not_ready.status_code in (409, 503)
    job = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision")
    assert job.status_code == 202
    assert devops.get(f"/api/v1/jobs/{job.json['job_id']}").json["status"] == "finished"
    moved = devops.post(path, json={"status": "implementing"})
    assert moved.status_code == 200 and moved.json["implementing_at"] and moved.json["implementing_by"]
    assert devops.post(path, json={"status": "not_implemented"}).status_code == 409
    assert devops.post(path, json={"status": "live"}).status_code == 200
    for status in ("implementing", "live", "not_implemented", "bogus"):
        resp = devops.post(path, json={"status": status})
        assert resp.status_code == 409 and resp.json["error"]["code"] == "illegal_transition"


def test_provisioning_is_idempotent_and_sends_the_first_login(app, devops, tenant_factory):
    ent_id = tenant_factory(provision=False)
    path = f"/api/v1/enterprises/{ent_id}/datasource/provision"
    first = devops.get(f"/api/v1/jobs/{devops.post(path).json['job_id']}").json
    second = devops.get(f"/api/v1/jobs/{devops.post(path).json['job_id']}").json
    assert first["status"] == second["status"] == "finished" and first["progress"] == 100
    assert first["result"]["schema_version"] == second["result"]["schema_version"]
    check = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check").json
    assert check["schema_current"] and check["identity_ok"] and check["latency_ms"] >= 0
    assert "MariaDB" in check["server_version"] or check["server_version"]
    with app.app_context():
        logins = db.session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "tenant_first_login")).all()
    assert len([m for m in logins if m.channel == "sms"]) == 1  # the second run issues no new password


def test_each_provisioning_asked_for_is_in_the_audit_log(app, api_as, tenant_factory):
    """It creates the tenant's database and sends the first login, and the log had no word of it."""
    devops = api_as("devops", username="dora_dev")
    ent_id = tenant_factory(provision=False)
    path = f"/api/v1/enterprises/{ent_id}/datasource/provision"
    started = [devops.post(path).json["job_id"] for _ in range(2)]
    ds_id = devops.get(f"/api/v1/enterprises/{ent_id}/datasource").json["id"]
    events = api_as("admin").get(f"/api/v1/audit-events?record_type=datasource&record_id={ds_id}&action=provision"
                                 ).json["items"]
    assert sorted(e["after"]["job_id"] for e in events) == sorted(started)
    assert {e["actor"] for e in events} == {"dora_dev"}, events


def test_the_first_login_link_before_opening_says_not_open_yet_and_works_after(app, devops, tenant_factory, api_as):
    """The SMS says the account is ready as soon as provisioning ends; its link, followed before 开通, said the
    company's account was closed. It says "not open yet" now, and the same link works once the company is open."""
    import re

    from platform_admin.enterprises.models import Enterprise

    ent_id = tenant_factory()
    with app.app_context():
        [sms] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "tenant_first_login",
                                                               OutboxMessage.channel == "sms")).all()
        code = db.session.get(Enterprise, ent_id).tenant_code
    path = re.search(r"(/t/[\w-]+/set-password\?token=[\w-]+)", sms.body).group(1)
    client = app.test_client()
    early = client.get(path)
    assert early.status_code == 403 and "尚未开通" in early.text and "已关闭" not in early.text
    assert api_as("ops").post(f"/api/v1/enterprises/{ent_id}/open").status_code == 200
    assert client.get(path).status_code == 200
    assert api_as("ops").post(f"/api/v1/enterprises/{ent_id}/close").status_code == 200
    assert "账号已关闭" in client.get(f"/t/{code}/login").text  # once opened, closing is closed


def test_opening_requires_a_provisioned_datasource(api_as, tenant_factory, app):
    ops = api_as("ops")
    with app.app_context():
        bare = EnterpriseFactory().id
    resp = ops.post(f"/api/v1/enterprises/{bare}/open")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_not_ready"
    unprovisioned = tenant_factory(provision=False)
    assert ops.post(f"/api/v1/enterprises/{unprovisioned}/open").json["error"]["code"] == "datasource_not_ready"
    ready = tenant_factory()
    assert ops.post(f"/api/v1/enterprises/{ready}/open").status_code == 200


def test_delete_only_while_empty_and_not_implemented(app, devops, tenant_factory):
    ent_id = tenant_factory()
    path = f"/api/v1/enterprises/{ent_id}/datasource"
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        url = services.url_for_datasource(ds)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        dept = conn.execute(text("SELECT id FROM sys_dept LIMIT 1")).scalar()
        conn.execute(text("INSERT INTO sys_user (username, full_name, dept_id, status, password_hash, created_at, updated_at) "
                          "VALUES ('sales1', '销售一', :d, 1, 'x', NOW(), NOW())"), {"d": dept})
    resp = devops.delete(path)
    assert resp.status_code == 409 and resp.json["error"]["found"] == {"sys_user": 1}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sys_user WHERE username = 'sales1'"))
    engine.dispose()
    assert devops.delete(path).status_code == 204
    assert devops.get(path).status_code == 404


def test_implementing_datasource_cannot_be_deleted(devops, tenant_factory):
    ent_id = tenant_factory()
    devops.post(f"/api/v1/enterprises/{ent_id}/datasource/implementation-status", json={"status": "implementing"})
    resp = devops.delete(f"/api/v1/enterprises/{ent_id}/datasource")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_in_use"


def test_unreachable_database_gives_503_on_check(app, devops, tenant_account):
    with app.app_context():
        ent_id = EnterpriseFactory().id
    devops.put(f"/api/v1/enterprises/{ent_id}/datasource", json=body(tenant_account, port=1))
    resp = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check")
    assert resp.status_code == 503 and resp.json["error"]["code"] == "unreachable"
    assert_no_driver_text(resp.text)


def test_secrets_never_appear_in_responses_pages_audit_or_logs(app, devops, login_page, tenant_factory, caplog):
    caplog.set_level(logging.DEBUG)
    ent_id = tenant_factory(provision=False)
    texts = [devops.get(f"/api/v1/enterprises/{ent_id}/datasource").text,
             devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision").text,
             devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check").text,
             api_text := devops.get("/api/v1/openapi.json").text]
    page = login_page("devops", "admin")
    texts.append(page.get(f"/enterprises/{ent_id}").text)
    texts.append(page.get("/audit/").text)
    admin_api = texts  # noqa: F841
    with app.app_context():
        from platform_admin.audit.models import AuditEvent

        texts.extend(str(e.after) + str(e.before) for e in db.session.scalars(select(AuditEvent)))
    texts.extend(r.getMessage() for r in caplog.records)
    assert api_text
    for chunk in texts:
        assert PASSWORD not in chunk


# ---------------------------------------------------------------- failure codes, never the driver's text

DRIVER_WORDS = ("OperationalError", "pymysql", "Access denied", "Unknown database", "Can't connect", "1045", "1049",
                "2003", "2013", "Lost connection", "InternalError", "Errno")


def assert_no_driver_text(text):
    for word in DRIVER_WORDS:
        assert word not in text, f"driver text {word!r} leaked: {text[:300]}"


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Listener:
    """A port that counts the TCP connections made to it and hangs up on each at once, so a client
    that should not have connected fails fast instead of waiting for a greeting."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.count += 1  # counted before the hang-up the client sees
            conn.close()

    def attempts(self):
        return self.count

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    port = Listener()
    yield port
    port.close()


@pytest.fixture
def http_port():
    """A port where an HTTP server answers: to a MySQL client it must look the same as a closed port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    running = True

    def serve():
        while running:
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            conn.sendall(b"HTTP/1.1 400 Bad Request\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    running = False
    thread.join()
    server.close()


def configure(devops, ent_id, tenant_account, **overrides):
    resp = devops.put(f"/api/v1/enterprises/{ent_id}/datasource", json=body(tenant_account, **overrides))
    assert resp.status_code == 201, resp.json
    return resp.json


def add_provision_job(app, ent_id, status="finished", progress=100):
    """A provisioning job in the datasource's history, as if it had run (or got this far)."""
    import secrets as pysecrets

    from datasource_registry.models import TenantJob

    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        db.session.add(TenantJob(id=pysecrets.token_hex(16), kind="provision", tenant_id=ent_id, datasource_id=ds.id,
                                 status=status, progress=progress))
        db.session.commit()


def test_check_with_a_wrong_password_says_access_denied(devops, enterprise_id, tenant_account):
    configure(devops, enterprise_id, tenant_account, password="Wrong#Pass1")
    resp = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/check", headers={"Accept-Language": "en"})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "access_denied"
    assert resp.json["error"]["message"] == ("The database server refused the account: wrong password or "
                                             "missing privileges.")
    assert_no_driver_text(resp.text)


def test_check_before_provisioning_says_the_database_is_not_created_yet(devops, enterprise_id, tenant_account):
    configure(devops, enterprise_id, tenant_account)
    resp = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/check")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "database_missing"
    assert resp.json["error"]["message"] == "租户数据库尚未创建，请先初始化。"
    assert_no_driver_text(resp.text)


def test_a_closed_port_and_an_http_port_answer_alike(devops, api_as, app, tenant_account, http_port):
    """Nothing in the answer tells a closed port from one where some other service listens."""
    answers = []
    for port in (closed_port(), http_port):
        with app.app_context():
            ent_id = EnterpriseFactory().id
        configure(devops, ent_id, tenant_account, port=port)
        resp = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check")
        assert_no_driver_text(resp.text)
        answers.append((resp.status_code, resp.json))
    assert answers[0] == answers[1]
    assert answers[0][0] == 503 and answers[0][1]["error"]["code"] == "unreachable"


def test_a_failed_provisioning_stores_and_logs_only_the_failure_code(app, devops, enterprise_id, tenant_account, caplog):
    caplog.set_level(logging.INFO)
    configure(devops, enterprise_id, tenant_account, password="Wrong#Pass1")
    job_id = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/provision").json["job_id"]
    job = devops.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "failed"
    assert job["error_code"] == "access_denied" and "Access denied" not in job["error"]
    assert_no_driver_text(job["error"])
    logged = [r.getMessage() for r in caplog.records if "tenant job" in r.getMessage()]
    assert logged and "access_denied" in logged[0]
    for message in logged:
        assert_no_driver_text(message)


def test_opening_before_provisioning_says_why(api_as, devops, enterprise_id, tenant_account, app):
    configure(devops, enterprise_id, tenant_account)
    resp = api_as("ops").post(f"/api/v1/enterprises/{enterprise_id}/open")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_not_ready"
    assert resp.json["error"]["reason"] == "database_missing"
    assert "尚未创建" in resp.json["error"]["message"]


# ---------------------------------------------------------------- the host allow-list


@pytest.fixture
def allow(app, monkeypatch):
    """``allow("10.0.0.0/8")``: set DATASOURCE_ALLOWED_HOSTS for this test."""
    return lambda setting: monkeypatch.setitem(app.config, "DATASOURCE_ALLOWED_HOSTS", setting)


def test_a_host_outside_the_allow_list_is_refused_on_save_and_test(app, devops, enterprise_id, tenant_account, allow,
                                                                   listener):
    allow("10.0.0.0/8, db1.internal")
    path = f"/api/v1/enterprises/{enterprise_id}/datasource"
    for url in (path, path + "/test"):
        resp = devops.open("PUT" if url == path else "POST", url, json=body(tenant_account, port=listener.port))
        assert resp.status_code == 422 and list(resp.json["error"]["fields"]) == ["host"]
    assert listener.attempts() == 0  # refused before any connection
    with app.app_context():
        assert db.session.scalars(select(Datasource)).first() is None
    allow("127.0.0.0/8")
    assert devops.put(path, json=body(tenant_account)).status_code == 201


def test_a_host_outside_the_allow_list_is_refused_at_connect(app, devops, enterprise_id, tenant_account, allow, listener):
    configure(devops, enterprise_id, tenant_account, port=listener.port)  # saved while the list allowed it
    allow("10.0.0.0/8")
    check = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/check")
    assert check.status_code == 409 and check.json["error"]["code"] == "host_not_allowed"
    job_id = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/provision").json["job_id"]
    job = devops.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "failed" and job["error_code"] == "host_not_allowed"
    assert listener.attempts() == 0  # not one socket opened towards the refused host


def test_a_name_is_checked_where_it_resolves_before_every_connection(app, devops, enterprise_id, tenant_account, allow,
                                                                     monkeypatch):
    real = socket.getaddrinfo
    dns = {"tenant-db.test": "127.0.0.1"}

    def fake_getaddrinfo(host, port, *args, **kwargs):
        return real(dns.get(host, host), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    allow("127.0.0.0/8")
    configure(devops, enterprise_id, tenant_account, host="tenant-db.test")
    check = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/check")
    assert check.json["error"]["code"] == "database_missing"  # reached the real server at the checked address
    dns["tenant-db.test"] = "10.1.2.3"  # the name now points outside the list
    check = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/check")
    assert check.status_code == 409 and check.json["error"]["code"] == "host_not_allowed"


def test_the_tenant_engine_refuses_a_host_outside_the_allow_list(app, client, tenants, allow):
    sign_in = {"username": "admin", "password": tenants[0].admin_password}
    allow("10.0.0.0/8")
    resp = client.post(f"/t/{tenants[0].code}/api/v1/auth/token", json=sign_in)
    assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_unavailable"
    allow("127.0.0.1")
    assert client.post(f"/t/{tenants[0].code}/api/v1/auth/token", json=sign_in).status_code == 200


# ---------------------------------------------------------------- deleting a datasource with a mistake in it


def test_a_datasource_never_provisioned_is_deleted_without_connecting(app, devops, enterprise_id, tenant_account,
                                                                     listener):
    configure(devops, enterprise_id, tenant_account, port=listener.port)
    resp = devops.delete(f"/api/v1/enterprises/{enterprise_id}/datasource")
    assert resp.status_code == 204
    assert listener.attempts() == 0
    assert devops.get(f"/api/v1/enterprises/{enterprise_id}/datasource").status_code == 404


def test_a_provisioning_that_failed_to_connect_leaves_it_deletable(devops, enterprise_id, tenant_account):
    configure(devops, enterprise_id, tenant_account, port=closed_port())
    job_id = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/provision").json["job_id"]
    assert devops.get(f"/api/v1/jobs/{job_id}").json["error_code"] == "unreachable"
    assert devops.delete(f"/api/v1/enterprises/{enterprise_id}/datasource").status_code == 204


def test_a_server_that_answers_without_the_database_lets_it_go(app, devops, enterprise_id, tenant_account):
    configure(devops, enterprise_id, tenant_account)
    add_provision_job(app, enterprise_id, status="failed", progress=60)  # got past creating it, then it was dropped
    assert devops.delete(f"/api/v1/enterprises/{enterprise_id}/datasource").status_code == 204


@pytest.mark.parametrize(("mistake", "cause"), [({"port": "closed"}, "unreachable"),
                                                ({"password": "Wrong#Pass1"}, "access_denied")])
def test_an_unreachable_provisioned_datasource_needs_an_admin_and_a_reason(app, api_as, devops, enterprise_id,
                                                                          tenant_account, mistake, cause):
    from platform_admin.audit.models import AuditEvent

    overrides = {k: closed_port() if v == "closed" else v for k, v in mistake.items()}
    ds_id = configure(devops, enterprise_id, tenant_account, **overrides)["id"]
    add_provision_job(app, enterprise_id)
    path = f"/api/v1/enterprises/{enterprise_id}/datasource"
    refused = devops.delete(path)
    assert refused.status_code == 409 and refused.json["error"]["code"] == cause
    assert_no_driver_text(refused.text)
    reason = "端口填错，服务器实际监听 3307"
    assert devops.delete(path, json={"force": True, "reason": reason}).status_code == 403  # devops alone: no
    admin = api_as("admin", username="root_admin")
    assert admin.delete(path).status_code == 409  # an admin too must ask explicitly
    no_reason = admin.delete(path, json={"force": True})
    assert no_reason.status_code == 422 and list(no_reason.json["error"]["fields"]) == ["reason"]
    unconfirmed = admin.delete(path, json={"force": False, "reason": reason})
    assert unconfirmed.status_code == 422 and list(unconfirmed.json["error"]["fields"]) == ["force"]
    assert devops.get(path).status_code == 200  # still there after every refusal
    assert admin.delete(path, json={"force": True, "reason": reason}).status_code == 204
    assert devops.get(path).status_code == 404
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.record_type == "datasource",
                                                            AuditEvent.record_id == ds_id,
                                                            AuditEvent.action == "force_delete")).one()
        assert event.actor == "root_admin" and event.after == {"reason": reason, "cause": cause}
        assert event.before["host"] == tenant_account["host"]


def test_force_never_deletes_data_nor_a_datasource_in_use(app, api_as, devops, tenant_factory):
    admin = api_as("admin")
    force = {"force": True, "reason": "cleanup of a test tenant"}
    with_data = tenant_factory()
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == with_data)).one()
        engine = create_engine(services.url_for_datasource(ds), poolclass=NullPool)
    with engine.begin() as conn:
        dept = conn.execute(text("SELECT id FROM sys_dept LIMIT 1")).scalar()
        conn.execute(text("INSERT INTO sys_user (username, full_name, dept_id, status, password_hash, created_at, "
                          "updated_at) VALUES ('sales1', '销售一', :d, 1, 'x', NOW(), NOW())"), {"d": dept})
    engine.dispose()
    resp = admin.delete(f"/api/v1/enterprises/{with_data}/datasource", json=force)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_has_data"
    in_use = tenant_factory()
    devops.post(f"/api/v1/enterprises/{in_use}/datasource/implementation-status", json={"status": "implementing"})
    resp = admin.delete(f"/api/v1/enterprises/{in_use}/datasource", json=force)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_in_use"


# ---------------------------------------------------------------- testing the values before saving


def test_connection_test_with_good_values_saves_nothing(app, devops, enterprise_id, tenant_account):
    resp = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/test", json=body(tenant_account))
    assert resp.status_code == 200, resp.json
    report = resp.json
    assert report["reachable"] is True and report["server_version"] and report["latency_ms"] >= 0
    assert report["database"].startswith(app.config["TENANT_DATABASE_PREFIX"]) and report["database_exists"] is False
    assert PASSWORD not in resp.text
    assert devops.get(f"/api/v1/enterprises/{enterprise_id}/datasource").status_code == 404
    with app.app_context():
        from platform_admin.audit.models import AuditEvent

        assert db.session.scalars(select(Datasource)).first() is None
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.record_type == "datasource")).first() is None


def test_a_sqlite_connection_test_reports_a_real_time(devops, enterprise_id):
    """It said "passed in 0.0 ms": no time at all is no measurement."""
    resp = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/test", json={
        "type": "sqlite", "username": "tenant", "password": "Tenant#Pw1x", "max_connections": 3, "min_connections": 1})
    assert resp.status_code == 200, resp.json
    assert resp.json["latency_ms"] > 0 and resp.json["server_version"].startswith("3.")


@pytest.mark.parametrize(("overrides", "status", "code"), [
    ({"password": "Wrong#Pass1"}, 503, "access_denied"),
    ({"port": "closed"}, 503, "unreachable"),
    ({"username": "root"}, 422, "invalid_fields"),
    ({"port": 70000}, 422, "invalid_fields"),
])
def test_connection_test_with_bad_values(app, devops, enterprise_id, tenant_account, overrides, status, code):
    overrides = {k: closed_port() if v == "closed" else v for k, v in overrides.items()}
    resp = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/test", json=body(tenant_account, **overrides))
    assert resp.status_code == status and resp.json["error"]["code"] == code
    assert_no_driver_text(resp.text)
    with app.app_context():
        assert db.session.scalars(select(Datasource)).first() is None


def test_connection_test_once_configured_is_refused_as_immutable(devops, enterprise_id, tenant_account):
    configure(devops, enterprise_id, tenant_account)
    resp = devops.post(f"/api/v1/enterprises/{enterprise_id}/datasource/test", json=body(tenant_account))
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_immutable"


def test_control_plane_refusals_speak_the_readers_language(devops, tenant_factory):
    """"no such job", "no datasource configured..." and "already configured..." were English whatever the client
    asked for."""
    chinese, english = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}
    missing = devops.get("/api/v1/jobs/nosuch", headers=chinese)
    assert missing.status_code == 404 and missing.json["error"]["message"] == "没有这个任务。"
    assert devops.get("/api/v1/jobs/nosuch", headers=english).json["error"]["message"] == "There is no such job."
    ent_id = tenant_factory(provision=False)
    again = devops.put(f"/api/v1/enterprises/{ent_id}/datasource", json={"type": "mysql"}, headers=chinese)
    assert again.status_code == 409 and again.json["error"]["code"] == "datasource_immutable"
    assert again.json["error"]["message"] == "数据源已配置，不允许修改。"
