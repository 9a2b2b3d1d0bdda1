"""The control database goes away (its server stops) or hangs (accepts, never answers), then comes back.

The control plane answers 503 (``database_unavailable`` JSON on the API, a friendly page that needs no
database for the pages), tenants whose lookup is cached keep serving, the others answer 503 too, and
everything recovers on its own. The control database sits behind a proxy the test breaks, in an app
of its own on a MariaDB database this module creates and migrates (SQLite has no network to lose).
"""

import secrets
import tempfile

import pytest
import sqlalchemy as sa

from app import create_app
from config import TestingConfig
from extensions import db
from tests.conftest import (
    MYSQL_SERVER,
    PASSWORD,
    TENANT_PREFIX,
    _mysql_database,
    csrf_from,
    reset_tenant_database,
    tenant_engine,
)
from tests.faults import FaultyProxy, answered_within
from tests.platform_admin.onboarding_helpers import assert_error

CONNECT_TIMEOUT, READ_TIMEOUT = 1, 3
# A request on a frozen server waits for one read (the pool's ping) and one connect, then answers.
ANSWER_BOUND = (CONNECT_TIMEOUT + READ_TIMEOUT) * 3 + 5


@pytest.fixture(scope="module")
def control(tenant_databases, tenant_account):
    """An app whose control database is reached through a ``FaultyProxy``, with two open tenants."""
    server, name = _mysql_database()
    direct = sa.make_url(MYSQL_SERVER)
    proxy = FaultyProxy((direct.host or "127.0.0.1", direct.port or 3306)).start()

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = direct.set(host="127.0.0.1", port=proxy.port, database=name,
                                             query={"charset": "utf8mb4"}).render_as_string(hide_password=False)
        CONTROL_DB_CONNECT_TIMEOUT = CONNECT_TIMEOUT
        CONTROL_DB_READ_TIMEOUT = CONTROL_DB_WRITE_TIMEOUT = READ_TIMEOUT
        INSTANCE_PATH = tempfile.mkdtemp(prefix="pa-ctl-")
        TENANT_DATABASE_PREFIX = TENANT_PREFIX
        TENANT_CACHE_TTL = 3600  # a looked-up tenant stays warm for the whole test

    application = create_app(Config)
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
        _add_tenants(tenant_databases, tenant_account)
    yield application, proxy
    if not proxy.running:
        proxy.start()
    proxy.thaw()
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    application.extensions["pool_registry"].close()
    proxy.stop()
    with server.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def _add_tenants(specs, account):
    from common.timeutil import utcnow
    from datasource_registry import secrets as ds_secrets
    from datasource_registry.models import Datasource, TenantJob
    from tests.factories import EnterpriseFactory

    for spec in specs[:2]:
        enterprise = EnterpriseFactory(id=spec["id"], enterprise_no=spec["enterprise_no"], status=1, opened_at=utcnow())
        ds = Datasource(enterprise=enterprise, name=f"ds_{spec['enterprise_no'].lower()}", database=spec["database"],
                        type="mysql", host=account["host"], port=account["port"], username=account["username"],
                        password_encrypted=ds_secrets.encrypt(account["password"]), max_connections=5,
                        min_connections=1)
        db.session.add(ds)
        db.session.flush()
        db.session.add(TenantJob(id=secrets.token_hex(16), kind="provision", tenant_id=spec["id"], datasource_id=ds.id,
                                 status="finished", progress=100, finished_at=utcnow()))
    db.session.commit()


@pytest.fixture
def ctl(control, tenant_databases):
    """Per test: the control database answering, no tenant cached, a staff account, and each tenant with a
    fresh administrator (the session's other tests reset these databases too)."""
    from platform_admin.auth.services import create_staff
    from platform_admin.enterprises.models import Enterprise
    from tenant_runtime.resolver import invalidate

    application, proxy = control
    username = f"ops{secrets.token_hex(3)}"
    passwords = {}
    with application.app_context():
        create_staff(username, PASSWORD, ["ops"])
        db.session.commit()
        for spec in tenant_databases[:2]:
            engine = tenant_engine(spec["database"])
            with engine.connect() as conn:
                passwords[spec["enterprise_no"].lower()] = reset_tenant_database(
                    conn, db.session.get(Enterprise, spec["id"]))
            engine.dispose()
        db.session.remove()
    invalidate()
    yield Ctl(application, proxy, username, passwords)
    invalidate()  # the session's other apps use these tenant codes too
    if not proxy.running:
        proxy.start()
    proxy.thaw()


class Ctl:
    def __init__(self, app, proxy, username, tenant_passwords):
        self.app, self.proxy, self.username = app, proxy, username
        self.warm, self.cold = list(tenant_passwords)
        self.tenant_passwords = tenant_passwords

    def client(self):
        return self.app.test_client()

    def break_(self, fault):
        """``stopped``: connections refused; ``frozen``: accepted and never answered."""
        self.proxy.stop() if fault == "stopped" else self.proxy.freeze()

    def repair(self, fault):
        self.proxy.start() if fault == "stopped" else self.proxy.thaw()

    def token(self, client):
        resp = client.post("/api/v1/auth/token", json={"username": self.username, "password": PASSWORD})
        assert resp.status_code == 200, resp.json
        return {"Authorization": f"Bearer {resp.json['token']}"}

    def tenant_token(self, client, code):
        resp = client.post(f"/t/{code}/api/v1/auth/token",
                           json={"username": "admin", "password": self.tenant_passwords[code]})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return {"Authorization": f"Bearer {resp.json['token']}"}


def answered(request, *args, **kwargs):
    return answered_within(ANSWER_BOUND, request, *args, **kwargs)


FAULTS = ["stopped", "frozen"]


@pytest.mark.parametrize("fault", FAULTS)
def test_the_api_answers_503_database_unavailable_and_recovers(ctl, fault):
    client = ctl.client()
    auth = ctl.token(client)
    assert client.get("/api/v1/me", headers=auth).status_code == 200

    ctl.break_(fault)
    assert_error(answered(client.get, "/api/v1/me", headers=auth), 503, "database_unavailable")
    assert_error(answered(client.get, "/api/v1/enterprises", headers=auth), 503, "database_unavailable")
    login = answered(client.post, "/api/v1/auth/token", json={"username": ctl.username, "password": PASSWORD})
    assert_error(login, 503, "database_unavailable")

    ctl.repair(fault)  # no restart, no manual step
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    assert client.post("/api/v1/auth/token", json={"username": ctl.username, "password": PASSWORD}).status_code == 200


def _sign_in(client, username):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)})


def _is_friendly_unavailable_page(resp):
    text = resp.get_data(as_text=True)
    return resp.status_code == 503 and resp.mimetype == "text/html" and "服务暂不可用" in text \
        and "平台数据库暂时无法响应" in text and "Internal Server Error" not in text


@pytest.mark.parametrize("fault", FAULTS)
def test_staff_pages_show_a_friendly_page_that_needs_no_database(ctl, fault):
    staff = ctl.client()
    assert _sign_in(staff, ctl.username).status_code == 302
    assert staff.get("/").status_code == 200
    anonymous = ctl.client()
    form = anonymous.get("/login")

    ctl.break_(fault)
    # signed in: loading the staff user fails, and the error page must not try again
    assert _is_friendly_unavailable_page(answered(staff.get, "/"))
    assert _is_friendly_unavailable_page(answered(staff.get, "/enterprises/"))
    # the sign-in page itself needs no database; signing in does
    assert anonymous.get("/login").status_code == 200
    attempt = answered(anonymous.post, "/login", data={"username": ctl.username, "password": PASSWORD,
                                                       "csrf_token": csrf_from(form.text)})
    assert _is_friendly_unavailable_page(attempt)
    english = answered(staff.get, "/?lang=en")
    assert english.status_code == 503 and "The platform database is not answering" in english.text

    ctl.repair(fault)
    assert staff.get("/").status_code == 200
    assert _sign_in(anonymous, ctl.username).status_code == 302


@pytest.mark.parametrize("fault", FAULTS)
def test_a_warm_tenant_keeps_serving_and_the_others_answer_503(ctl, fault):
    from tenant_runtime.resolver import invalidate

    client = ctl.client()
    auth = ctl.tenant_token(client, ctl.warm)  # looks the warm tenant up: cached from now on
    assert client.get(f"/t/{ctl.warm}/api/v1/me", headers=auth).status_code == 200

    ctl.break_(fault)
    me = client.get(f"/t/{ctl.warm}/api/v1/me", headers=auth)  # never waits on the control database
    assert me.status_code == 200 and me.json["tenant"]["code"] == ctl.warm
    assert client.post(f"/t/{ctl.warm}/api/v1/auth/token",
                       json={"username": "admin", "password": ctl.tenant_passwords[ctl.warm]}).status_code == 200
    # a tenant not looked up yet needs the control database
    assert_error(answered(client.post, f"/t/{ctl.cold}/api/v1/auth/token",
                          json={"username": "admin", "password": "x"}), 503, "platform_unavailable")
    page = answered(client.get, f"/t/{ctl.cold}/login")
    assert page.status_code == 503 and "平台暂时不可用" in page.text and "Internal Server Error" not in page.text
    # once its cache entry expires (TENANT_CACHE_TTL), the warm tenant is looked up again, and fails closed
    invalidate()
    assert_error(answered(client.get, f"/t/{ctl.warm}/api/v1/me", headers=auth), 503, "platform_unavailable")

    ctl.repair(fault)
    assert client.get(f"/t/{ctl.warm}/api/v1/me", headers=auth).status_code == 200
    assert client.get(f"/t/{ctl.cold}/login").status_code == 200


@pytest.mark.parametrize("fault", FAULTS)
def test_a_staff_session_on_a_tenant_page_does_not_need_the_control_database(ctl, fault):
    """Support staff often have a staff session in the same browser: a tenant page must not load them."""
    browser = ctl.client()
    assert _sign_in(browser, ctl.username).status_code == 302
    assert browser.get(f"/t/{ctl.warm}/login").status_code == 200

    ctl.break_(fault)
    assert browser.get(f"/t/{ctl.warm}/login").status_code == 200
    page = answered(browser.get, f"/t/{ctl.cold}/login")
    assert page.status_code == 503 and "平台暂时不可用" in page.text
    ctl.repair(fault)


@pytest.mark.parametrize("uri, read_timeout, expected", [
    ("mysql+pymysql://app@db/control", 20, {"connect_timeout": 5, "read_timeout": 20, "write_timeout": 20}),
    ("mysql+pymysql://app@db/control", 0, {"connect_timeout": 5, "write_timeout": 20}),  # 0: a long migration
    ("sqlite:///control.sqlite3", 20, None),  # a file: nothing to time out
])
def test_the_control_engine_gets_the_configured_timeouts(uri, read_timeout, expected):
    from common.db import control_engine_options

    config = {"SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
              "CONTROL_DB_CONNECT_TIMEOUT": 5, "CONTROL_DB_READ_TIMEOUT": read_timeout, "CONTROL_DB_WRITE_TIMEOUT": 20}
    options = control_engine_options(config)
    assert options["pool_pre_ping"] is True
    assert options.get("connect_args") == expected
