"""Requests reach their own tenant's database and nothing else: several real MariaDB tenants, every
cross-tenant attempt refused, closed / suspended / unreachable tenants answered with friendly errors."""

import re
import socket
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from extensions import db
from tests.conftest import PASSWORD, csrf_from


def token_for(client, tenant, username="admin", password=None):
    resp = client.post(f"/t/{tenant.code}/api/v1/auth/token",
                       json={"username": username, "password": password or tenant.admin_password})
    assert resp.status_code == 200, resp.json
    return resp.json["token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def add_user(tenant, username, password, phone):
    """A user written straight into the tenant's database (the users API comes with the CRM)."""
    engine = tenant.engine()
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        dept = conn.execute(sa.text("SELECT id FROM sys_dept ORDER BY id LIMIT 1")).scalar()
        conn.execute(sa.text(
            "INSERT INTO sys_user (username, full_name, dept_id, phone, status, password_hash, created_at,"
            " updated_at) VALUES (:u, :n, :d, :p, 1, :h, :t, :t)"),
            {"u": username, "n": f"{username} 名", "d": dept, "p": phone,
             "h": generate_password_hash(password, method="pbkdf2:sha256:1000"), "t": now})
        user_id = conn.execute(sa.text("SELECT id FROM sys_user WHERE username = :u"), {"u": username}).scalar()
    engine.dispose()
    return user_id


def tenant_login(client, tenant, username="admin", password=None):
    page = client.get(f"/t/{tenant.code}/login")
    assert page.status_code == 200
    return client.post(f"/t/{tenant.code}/login", data={"username": username, "csrf_token": csrf_from(page.text),
                                                         "password": password or tenant.admin_password})


# ---------------------------------------------------------------- each tenant sees its own database


def test_same_username_and_phone_in_two_tenants_are_two_people(client, tenants):
    a, b = tenants[0], tenants[1]
    add_user(a, "zhangsan", "Alpha#Pass1", "13800138000")
    add_user(b, "zhangsan", "Bravo#Pass2", "13800138000")

    me_a = client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token_for(client, a, "zhangsan", "Alpha#Pass1")))
    me_b = client.get(f"/t/{b.code}/api/v1/me", headers=bearer(token_for(client, b, "zhangsan", "Bravo#Pass2")))
    assert me_a.json["tenant"]["code"] == a.code and me_b.json["tenant"]["code"] == b.code
    assert me_a.json["phone"] == me_b.json["phone"] == "13800138000"
    # each password opens only its own tenant
    wrong = client.post(f"/t/{b.code}/api/v1/auth/token", json={"username": "zhangsan", "password": "Alpha#Pass1"})
    assert wrong.status_code == 401


def test_a_tenant_reads_only_its_own_database(client, tenants):
    a, b = tenants[0], tenants[1]
    add_user(b, "only-in-b", "Bravo#Pass2", None)
    token = token_for(client, a)
    me = client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.json["tenant"]["code"] == a.code
    # a user of B cannot sign in at A: A's database does not have them
    resp = client.post(f"/t/{a.code}/api/v1/auth/token", json={"username": "only-in-b", "password": "Bravo#Pass2"})
    assert resp.status_code == 401


# ---------------------------------------------------------------- cross-tenant attempts fail


def test_another_tenants_token_is_refused(client, tenants):
    a, b = tenants[0], tenants[1]
    token_a = token_for(client, a)
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token_a)).status_code == 200
    resp = client.get(f"/t/{b.code}/api/v1/me", headers=bearer(token_a))
    assert resp.status_code == 401 and resp.json["error"]["code"] == "not_authenticated"


def test_a_token_relabelled_with_another_tenants_id_is_refused(client, tenants):
    a, b = tenants[0], tenants[1]
    token_a = token_for(client, a)
    forged = f"{b.id}.{token_a.split('.', 1)[1]}"
    assert client.get(f"/t/{b.code}/api/v1/me", headers=bearer(forged)).status_code == 401
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(forged)).status_code == 401


def test_another_tenants_session_is_nobody_here(client, tenants):
    a, b = tenants[0], tenants[1]
    assert tenant_login(client, a).status_code == 302
    assert client.get(f"/t/{a.code}/").status_code == 200
    # same browser, same cookie, other tenant: back to that tenant's sign-in page
    resp = client.get(f"/t/{b.code}/")
    assert resp.status_code == 302 and f"/t/{b.code}/login" in resp.headers["Location"]


def test_a_session_key_known_to_another_tenant_does_not_sign_in(client, tenants):
    """B holds a live session with the very key A's cookie carries; the session names its tenant too."""
    from datetime import timedelta

    from tenant_runtime.auth import hash_token

    a, b = tenants[0], tenants[1]
    tenant_login(client, a)
    with client.session_transaction() as sess:
        key = sess["tenant_auth"]["key"]
    now = datetime.now(UTC).replace(tzinfo=None)
    engine = b.engine()
    with engine.begin() as conn:
        admin = conn.execute(sa.text("SELECT id FROM sys_user WHERE username = 'admin'")).scalar()
        conn.execute(sa.text("INSERT INTO sys_session (user_id, session_hash, created_at, expires_at) "
                             "VALUES (:u, :h, :c, :e)"), {"u": admin, "h": hash_token(key), "c": now,
                                                         "e": now + timedelta(hours=1)})
    engine.dispose()
    assert client.get(f"/t/{a.code}/").status_code == 200
    assert client.get(f"/t/{b.code}/").status_code == 302
    assert client.get(f"/t/{b.code}/api/v1/me").status_code == 401  # a cookie never authorises the API


def test_a_spoofed_tenant_header_is_refused(client, tenants):
    a, b = tenants[0], tenants[1]
    token_a = token_for(client, a)
    resp = client.get(f"/t/{a.code}/api/v1/me", headers={**bearer(token_a), "X-Tenant-Code": b.code})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "tenant_mismatch"
    # through the header route, B named, A's token: refused by B
    resp = client.get("/tenant/api/v1/me", headers={**bearer(token_a), "X-Tenant-Code": b.code})
    assert resp.status_code == 401


def test_the_header_route_reaches_the_named_tenant(client, tenants):
    a = tenants[0]
    resp = client.get("/tenant/api/v1/me", headers={**bearer(token_for(client, a)), "X-Tenant-Code": a.code.upper()})
    assert resp.status_code == 200 and resp.json["tenant"]["code"] == a.code


def test_the_header_route_is_off_unless_configured(app, client, tenants):
    a = tenants[0]
    token = token_for(client, a)
    app.config["TENANT_ROUTING"] = ("path",)
    try:
        resp = client.get("/tenant/api/v1/me", headers={**bearer(token), "X-Tenant-Code": a.code})
        assert resp.status_code == 404
    finally:
        app.config["TENANT_ROUTING"] = ("path", "header")


def test_subdomain_routing(app, client, tenants):
    a = tenants[0]
    token = token_for(client, a)
    app.config.update(TENANT_ROUTING=("path", "subdomain"), TENANT_BASE_DOMAIN="crm.example.cn")
    try:
        resp = client.get("/api/v1/me", headers=bearer(token), base_url=f"http://{a.code}.crm.example.cn")
        assert resp.status_code == 200 and resp.json["tenant"]["code"] == a.code
        other = client.get("/api/v1/me", headers=bearer(token), base_url=f"http://{tenants[1].code}.crm.example.cn")
        assert other.status_code == 401
    finally:
        app.config.update(TENANT_ROUTING=("path", "header"), TENANT_BASE_DOMAIN="")


@pytest.fixture
def subdomains(app):
    app.config.update(TENANT_ROUTING=("path", "subdomain"), TENANT_BASE_DOMAIN="crm.example.cn")
    yield "crm.example.cn"
    app.config.update(TENANT_ROUTING=("path", "header"), TENANT_BASE_DOMAIN="")


def test_a_path_naming_another_tenant_on_a_tenant_host_is_refused(client, tenants, subdomains):
    a, b = tenants[0], tenants[1]
    host_a = f"http://{a.code}.{subdomains}"
    token_b = token_for(client, b)
    resp = client.get(f"/t/{b.code}/api/v1/me", headers=bearer(token_b), base_url=host_a)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "tenant_mismatch"
    login = client.post(f"/t/{b.code}/api/v1/auth/token", json={"username": "admin", "password": b.admin_password},
                        base_url=host_a)
    assert login.status_code == 400 and login.json["error"]["code"] == "tenant_mismatch"
    page = client.get(f"/t/{b.code}/login", base_url=f"http://{a.code.upper()}.{subdomains}:8443")
    assert page.status_code == 400 and "地址错误" in page.text and 'name="password"' not in page.text
    # the host's own tenant, by path or by host alone, and any tenant by path on the bare domain
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token_for(client, a)), base_url=host_a).status_code == 200
    assert client.get(f"/t/{a.code}/login", base_url=host_a).status_code == 200
    assert client.get("/login", base_url=host_a).status_code == 200
    bare = client.get(f"/t/{b.code}/api/v1/me", headers=bearer(token_b), base_url=f"http://{subdomains}")
    assert bare.status_code == 200 and bare.json["tenant"]["code"] == b.code


def test_without_subdomain_routing_the_host_does_not_name_a_tenant(app, client, tenants):
    a, b = tenants[0], tenants[1]
    app.config["TENANT_BASE_DOMAIN"] = "crm.example.cn"  # configured, but TENANT_ROUTING leaves subdomains off
    try:
        resp = client.get(f"/t/{b.code}/api/v1/me", headers=bearer(token_for(client, b)),
                          base_url=f"http://{a.code}.crm.example.cn")
        assert resp.status_code == 200 and resp.json["tenant"]["code"] == b.code
    finally:
        app.config["TENANT_BASE_DOMAIN"] = ""


@pytest.mark.parametrize("code", ["nosuchtenant", "qy%27%20or%201%3D1", "x" * 41])
def test_an_unknown_tenant_is_404_never_a_default_database(client, tenants, code):
    resp = client.get(f"/t/{code}/api/v1/me")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "tenant_not_found"
    page = client.get(f"/t/{code}/login")
    assert page.status_code == 404 and "平台上没有该企业" in page.text


def test_a_datasource_pointing_at_another_tenants_database_is_refused(app, client, tenants, tenant_account):
    """Fail closed on the identity marker: the database answers, but it is B's, so nothing is served."""
    from datasource_registry import secrets as ds_secrets
    from datasource_registry.models import Datasource, TenantJob
    from tests.factories import EnterpriseFactory

    with app.app_context():
        intruder = EnterpriseFactory(status=1)
        ds = Datasource(enterprise=intruder, name="ds_intruder", database=tenants[1].database, type="mysql",
                        host="localhost", port=tenant_account["port"], username=tenant_account["username"],
                        password_encrypted=ds_secrets.encrypt(tenant_account["password"]),
                        max_connections=2, min_connections=1)
        db.session.add(ds)
        db.session.flush()
        db.session.add(TenantJob(id="f" * 32, kind="provision", tenant_id=intruder.id, datasource_id=ds.id,
                                 status="finished"))
        db.session.commit()
        code = intruder.tenant_code
    resp = client.post(f"/t/{code}/api/v1/auth/token", json={"username": "admin", "password": tenants[1].admin_password})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_unavailable"
    page = client.get(f"/t/{code}/login")
    login = client.post(f"/t/{code}/login", data={"csrf_token": csrf_from(page.text), "username": "admin",
                                                  "password": tenants[1].admin_password})
    assert login.status_code == 503 and tenants[1].admin_password not in login.text


# ---------------------------------------------------------------- closed, suspended, not ready


def test_a_closed_tenant_is_refused_at_once_with_a_friendly_page(app, client, tenants, api_as):
    a = tenants[0]
    token = token_for(client, a)
    app.config["TENANT_CACHE_TTL"] = 300  # a long cache must not delay the closing
    try:
        assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 200
        assert api_as("ops").post(f"/api/v1/enterprises/{a.id}/close").status_code == 200
        resp = client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token))
        assert resp.status_code == 403 and resp.json["error"]["code"] == "tenant_closed"
        page = client.get(f"/t/{a.code}/login")
        assert page.status_code == 403 and "账号已关闭" in page.text
        english = app.test_client().get(f"/t/{a.code}/login?lang=en")
        assert "Account closed" in english.text
        api_english = client.get(f"/t/{a.code}/api/v1/me", headers={**bearer(token), "Accept-Language": "en"})
        assert "closed" in api_english.json["error"]["message"]
        # the other tenants are untouched
        assert client.get(f"/t/{tenants[1].code}/login").status_code == 200
    finally:
        app.config["TENANT_CACHE_TTL"] = 5


def test_a_reopened_tenant_is_served_again(client, tenants, api_as):
    a = tenants[0]
    ops = api_as("ops")
    assert ops.post(f"/api/v1/enterprises/{a.id}/close").status_code == 200
    assert client.get(f"/t/{a.code}/login").status_code == 403
    resp = ops.post(f"/api/v1/enterprises/{a.id}/open")
    assert resp.status_code == 200, resp.json
    assert client.get(f"/t/{a.code}/login").status_code == 200


def test_maintenance_mode_shows_the_staff_message_until_resumed(app, client, tenants, api_as):
    a = tenants[0]
    token = token_for(client, a)
    staff = api_as("devops")
    resp = staff.post(f"/api/v1/enterprises/{a.id}/suspend", json={"message": "今晚 22:00 系统升级，预计一小时"})
    assert resp.status_code == 200 and resp.json["suspended"] is True
    api = client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token))
    assert api.status_code == 503 and api.json["error"]["code"] == "tenant_suspended"
    assert api.json["error"]["message"] == "今晚 22:00 系统升级，预计一小时"
    page = client.get(f"/t/{a.code}/")
    assert page.status_code == 503 and "系统维护中" in page.text and "今晚 22:00 系统升级" in page.text
    assert client.get(f"/t/{tenants[1].code}/login").status_code == 200
    resp = staff.post(f"/api/v1/enterprises/{a.id}/resume")
    assert resp.status_code == 200 and resp.json["suspended"] is False
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("body, field", [({}, "message"), ({"message": "  "}, "message"),
                                         ({"message": "x" * 501}, "message")])
def test_suspending_needs_a_message(tenants, api_as, body, field):
    resp = api_as("ops").post(f"/api/v1/enterprises/{tenants[0].id}/suspend", json=body)
    assert resp.status_code == 422 and field in resp.json["error"]["fields"]


def test_suspend_and_resume_follow_the_state(tenants, api_as):
    staff = api_as("ops")
    assert staff.post(f"/api/v1/enterprises/{tenants[0].id}/resume").json["error"]["code"] == "illegal_transition"
    assert staff.post(f"/api/v1/enterprises/{tenants[0].id}/close").status_code == 200
    resp = staff.post(f"/api/v1/enterprises/{tenants[0].id}/suspend", json={"message": "维护"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "illegal_transition"


def test_suspension_is_audited(app, tenants, api_as):
    from platform_admin.audit.models import AuditEvent

    api_as("ops").post(f"/api/v1/enterprises/{tenants[0].id}/suspend", json={"message": "升级"})
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "suspend")).one()
        assert event.after["suspend_message"] == "升级"


def test_suspending_from_the_enterprise_page(app, tenants, login_page):
    browser = login_page("ops")
    detail = browser.get(f"/enterprises/{tenants[0].id}")
    assert 'id="suspend-form"' in detail.text
    bad = browser.post(f"/enterprises/{tenants[0].id}/suspend", data={"csrf_token": csrf_from(detail.text), "message": ""})
    assert bad.status_code == 422 and "has-error" in bad.text
    done = browser.post(f"/enterprises/{tenants[0].id}/suspend",
                        data={"csrf_token": csrf_from(detail.text), "message": "数据迁移中"}, follow_redirects=True)
    assert done.status_code == 200 and "数据迁移中" in done.text
    resumed = browser.post(f"/enterprises/{tenants[0].id}/resume", data={"csrf_token": csrf_from(done.text)},
                           follow_redirects=True)
    assert 'id="suspend-message"' not in resumed.text
    assert app.test_client().get(f"/t/{tenants[0].code}/login").status_code == 200


def test_a_tenant_without_a_provisioned_database_is_503(app, client, tenant_factory):
    with app.app_context():
        from platform_admin.enterprises.models import Enterprise

        ent_id = tenant_factory(provision=False)
        enterprise = db.session.get(Enterprise, ent_id)
        enterprise.status = 1
        db.session.commit()
        code = enterprise.tenant_code
    resp = client.get(f"/t/{code}/api/v1/me")
    assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_unavailable"


# ---------------------------------------------------------------- one database down, the others fine


class TcpProxy:
    """A port in front of MariaDB that can be stopped and started: the tenant's "server"."""

    def __init__(self, target=("127.0.0.1", 3306)):
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server = None
        self._conns = []

    def start(self):
        self._server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._server.settimeout(0.2)
        self._running = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while self._running:
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stop(self):
        self._running = False
        self._thread.join()
        self._server.close()
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._conns = []


@pytest.fixture
def proxied_tenant(app, tenant_databases, tenant_account):
    """The third session tenant, reached through a TCP proxy the test can stop and start."""
    from datasource_registry.models import Datasource

    proxy = TcpProxy()
    proxy.start()
    with app.app_context():
        # the row is immutable through the ORM session (by design); the test moves it below the ORM
        with db.engine.begin() as conn:
            conn.execute(sa.update(Datasource.__table__).where(Datasource.enterprise_id == tenant_databases[2]["id"])
                         .values(port=proxy.port))
    yield proxy
    if proxy._running:
        proxy.stop()


def test_an_unreachable_tenant_is_503_and_the_others_keep_working(app, client, tenants, proxied_tenant):
    down, up = tenants[2], tenants[0]
    token_down, token_up = token_for(client, down), token_for(client, up)
    assert client.get(f"/t/{down.code}/api/v1/me", headers=bearer(token_down)).status_code == 200

    proxied_tenant.stop()  # the server goes away
    resp = client.get(f"/t/{down.code}/api/v1/me", headers=bearer(token_down))
    assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_unavailable"
    form = client.get(f"/t/{down.code}/login")
    page = client.post(f"/t/{down.code}/login", data={"csrf_token": csrf_from(form.text), "username": "admin",
                                                      "password": down.admin_password})
    assert page.status_code == 503 and "服务暂不可用" in page.text
    for _ in range(3):
        assert client.get(f"/t/{up.code}/api/v1/me", headers=bearer(token_up)).status_code == 200

    proxied_tenant.start()  # and comes back: no restart, no manual step
    resp = client.get(f"/t/{down.code}/api/v1/me", headers=bearer(token_down))
    assert resp.status_code == 200 and resp.json["tenant"]["code"] == down.code


def test_a_tenant_whose_server_refuses_connections_is_503(app, client, tenants):
    from datasource_registry.models import Datasource

    with app.app_context(), db.engine.begin() as conn:  # below the ORM's immutability guard
        conn.execute(sa.update(Datasource.__table__).where(Datasource.id == tenants[2].datasource_id)
                     .values(port=1))  # nothing listens there
    resp = client.post(f"/t/{tenants[2].code}/api/v1/auth/token", json={"username": "admin", "password": "x"})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_unavailable"
    assert client.get(f"/t/{tenants[0].code}/login").status_code == 200


def test_a_tenant_behind_the_code_s_schema_is_503_until_its_upgrade(app, client, tenants):
    """A tenant its fleet upgrade has not reached yet (or failed on) is at an older revision of the tenant schema.
    Served, this code would meet missing tables and columns (500s) or write rows without what the new revision
    keeps beside them. Every new connection reads the revision with the identity marker: 503 tenant_upgrading
    (JSON and page) while the other tenants are served; once upgraded, it is served at once."""
    from alembic import command

    from datasource_registry import tenant_schema

    t, registry = tenants[2], app.extensions["pool_registry"]
    head = tenant_schema.head_revision()
    older = tenant_schema._script_directory().get_revision(head).down_revision
    engine = t.engine()
    try:
        with engine.connect() as conn:
            command.downgrade(tenant_schema.alembic_config(conn), older)
            conn.commit()
        registry.dispose(t.id)  # a new release starts with no connections: each new one is judged
        resp = client.post(f"/t/{t.code}/api/v1/auth/token", json={"username": "admin", "password": t.admin_password})
        assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_upgrading", resp.json
        page = tenant_login(client, t)  # the sign-in form needs no database; signing in does
        assert page.status_code == 503 and "正在升级" in page.text
        assert client.get(f"/t/{tenants[0].code}/login").status_code == 200
    finally:
        with engine.connect() as conn:
            assert tenant_schema.upgrade(conn) == head
        engine.dispose()
    assert token_for(client, t)


# ---------------------------------------------------------------- sign-in pages


def test_tenant_sign_in_page_and_home(client, tenants):
    a = tenants[0]
    page = client.get(f"/t/{a.code}/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    bad = tenant_login(client, a, password="wrong")
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    ok = tenant_login(client, a)
    assert ok.status_code == 302 and ok.headers["Location"].endswith(f"/t/{a.code}/")
    home = client.get(f"/t/{a.code}/")
    assert home.status_code == 200 and "陈经理" in home.text
    logout = client.post(f"/t/{a.code}/logout", data={"csrf_token": csrf_from(home.text)})
    assert logout.status_code == 302
    assert client.get(f"/t/{a.code}/").status_code == 302


def test_tenant_login_is_throttled_per_user(app, client, tenants):
    a = tenants[0]
    limit = int(re.match(r"\d+", app.config["LOGIN_LIMIT_PER_USER"]).group())
    for _ in range(limit):
        assert client.post(f"/t/{a.code}/api/v1/auth/token",
                           json={"username": "admin", "password": "nope"}).status_code == 401
    resp = client.post(f"/t/{a.code}/api/v1/auth/token", json={"username": "admin", "password": a.admin_password})
    assert resp.status_code == 429
    # the same user name at another tenant is another person, with its own allowance
    assert client.post(f"/t/{tenants[1].code}/api/v1/auth/token",
                       json={"username": "admin", "password": tenants[1].admin_password}).status_code == 200


@pytest.mark.parametrize("body", [{}, {"username": "admin"}, {"username": 3, "password": "x"}, {"password": ""}])
def test_tenant_token_needs_both_fields(client, tenants, body):
    resp = client.post(f"/t/{tenants[0].code}/api/v1/auth/token", json=body)
    assert resp.status_code == 422 and resp.json["error"]["fields"]


def test_a_disabled_user_loses_access_at_once(client, tenants):
    a = tenants[0]
    token = token_for(client, a)
    engine = a.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_user SET status = 0 WHERE username = 'admin'"))
    engine.dispose()
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 401


def test_staff_login_is_not_a_tenant_login(client, tenants, make_staff):
    make_staff("staffer", roles=("admin",))
    resp = client.post(f"/t/{tenants[0].code}/api/v1/auth/token", json={"username": "staffer", "password": PASSWORD})
    assert resp.status_code == 401


# ---------------------------------------------------------------- the devops view of the pools


def test_the_pool_page_shows_the_tenants_engines(client, tenants, login_page):
    token_for(client, tenants[0])
    page = login_page("devops").get("/registry/")
    assert page.status_code == 200 and 'id="registry-engines"' in page.text
    assert tenants[0].code in page.text and tenants[1].code not in page.text
    assert login_page("ops").get("/registry/").status_code == 403


def test_the_pool_api_counts_engines_and_budget(app, client, tenants, api_as):
    for t in tenants[:2]:
        token_for(client, t)
    stats = api_as("devops").get("/api/v1/registry").json
    assert stats["budget"] == app.config["TENANT_CONNECTION_BUDGET"]
    assert {e["tenant_id"] for e in stats["engines"]} == {str(tenants[0].id), str(tenants[1].id)}  # ids are strings
    assert all(e["checked_out"] == 0 for e in stats["engines"])  # every request gave its connection back


def test_tenant_api_answers_are_never_cached(client, tenants):
    resp = client.get(f"/t/{tenants[0].code}/api/v1/me", headers=bearer(token_for(client, tenants[0])))
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["X-Content-Type-Options"] == "nosniff"
