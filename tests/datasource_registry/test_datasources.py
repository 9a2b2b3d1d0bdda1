"""Datasources: configured once, immutable at every path, secret never shown, status only moves
forward after a real check, deletable only while empty, provisioning tracked and idempotent."""

import logging

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
    assert resp.status_code == 503 and resp.json["error"]["code"] == "datasource_unreachable"


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
