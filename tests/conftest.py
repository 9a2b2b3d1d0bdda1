"""Fixture chain: app (one per database backend, built once per session) -> clean tables per test
-> client -> staff accounts and API helpers -> factories.

Every database test runs on real MariaDB and again on SQLite, except the CRM's own (``CONTROL_ON_MARIADB`` in
tests/tenant_runtime/crm.py), whose control database only routes them to a tenant's MariaDB database, and those
with a real rq worker (``REAL_WORKER_FIXTURES`` below), which runs beside MariaDB. MariaDB is
required: if it cannot be reached the run fails loudly instead of skipping (set TEST_DATABASES=sqlite to run
SQLite alone deliberately on a machine without it).
"""

import functools
import os
import secrets
import tempfile
import time

import pytest
import sqlalchemy as sa

from app import create_app
from config import TestingConfig
from extensions import db, limiter

MYSQL_SERVER = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
BACKENDS = [b.strip() for b in os.environ.get("TEST_DATABASES", "mysql,sqlite").split(",") if b.strip()]
# Tenant databases of this run are named t<RUN>_...; the run's MySQL account may touch only those.
RUN = secrets.token_hex(3)
TENANT_PREFIX = f"t{RUN}_"
TENANT_ACCOUNT = {"username": f"tu_{RUN}", "password": "Tenant#Pw1x"}


def create_mysql_database(server, name):
    """An empty utf8mb4 database on the test server (raises OperationalError when MariaDB is down)."""
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))


def _mysql_database():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"pa_test_{worker}_{secrets.token_hex(3)}"
    server = sa.create_engine(MYSQL_SERVER)
    try:
        create_mysql_database(server, name)
    except sa.exc.OperationalError as exc:
        pytest.exit(f"MariaDB is required for the tests and is not reachable at {MYSQL_SERVER}: {exc}", returncode=3)
    return server, name


# The fixtures of a real rq worker on real Redis. Workers are the MariaDB deployment's (README: "Running on
# MySQL/MariaDB and Redis"); the embedded default, SQLite, runs its jobs inline, and those runs are tested on
# both backends. So a test with a real worker runs with the control database on MariaDB alone, but for those
# marked ``any_control_database`` (a real worker on a SQLite control database still works, once).
REAL_WORKER_FIXTURES = frozenset({"run_worker", "crm_worker", "redis_jobs", "crm_redis"})


ON_MARIADB = pytest.mark.parametrize("app", [b for b in BACKENDS if b == "mysql"] or BACKENDS, indirect=True)


@pytest.hookimpl(tryfirst=True)  # a mark, before pytest reads the marks and the app fixture's own params
def pytest_generate_tests(metafunc):
    if "app" not in metafunc.fixturenames or not REAL_WORKER_FIXTURES & set(metafunc.fixturenames):
        return
    definition = metafunc.definition
    if definition.get_closest_marker("any_control_database"):
        return
    for mark in definition.iter_markers("parametrize"):
        names = mark.args[0].split(",") if isinstance(mark.args[0], str) else mark.args[0]
        if "app" in [n.strip() for n in names]:
            return  # already chosen (CONTROL_ON_MARIADB)
    definition.add_marker(ON_MARIADB)


@pytest.fixture(scope="session", params=BACKENDS)
def app(request):
    backend = request.param
    tmp = tempfile.mkdtemp(prefix="pa-test-")
    server = name = None
    if backend == "mysql":
        server, name = _mysql_database()
        url = f"{MYSQL_SERVER}/{name}?charset=utf8mb4"
    else:
        url = f"sqlite:///{tmp}/control.sqlite3"

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = url
        INSTANCE_PATH = tmp
        UPLOAD_DIR = os.path.join(tmp, "uploads")
        TENANT_DATABASE_PREFIX = TENANT_PREFIX

    application = create_app(Config)
    application.config["DB_BACKEND"] = backend
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()  # the real migrations, so they are tested on both backends
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    if server is not None:
        with server.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.fixture(scope="session")
def tenant_account():
    """A non-root MariaDB account allowed only on this run's tenant databases; all dropped at the end."""
    server = sa.create_engine(MYSQL_SERVER)
    user, password = TENANT_ACCOUNT["username"], TENANT_ACCOUNT["password"]
    pattern = TENANT_PREFIX.replace("_", "\\_") + "%"
    with server.begin() as conn:
        for host in ("%", "localhost", "127.0.0.1"):
            conn.execute(sa.text(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}'"))
            conn.execute(sa.text(f"GRANT ALL PRIVILEGES ON `{pattern}`.* TO '{user}'@'{host}'"))
    yield {"host": "127.0.0.1", "port": 3306, **TENANT_ACCOUNT}
    with server.begin() as conn:
        names = conn.execute(sa.text("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE :p"),
                             {"p": pattern}).scalars().all()
        for name in names:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        for host in ("%", "localhost", "127.0.0.1"):
            conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
    server.dispose()


@pytest.fixture
def tenant_factory(app, tenant_account, make_staff):
    """``tenant_factory(provision=True, type="mysql")``: an enterprise with a configured (and provisioned)
    datasource on this run's MariaDB account, or a SQLite file. Returns the enterprise id."""
    from datasource_registry import jobs, services
    from tests.factories import EnterpriseFactory

    def make(provision=True, type="mysql", **enterprise_fields):
        with app.test_request_context():
            staff_id = make_staff(roles=("devops",))
            from platform_admin.auth.models import StaffUser

            staff = db.session.get(StaffUser, staff_id)
            enterprise = EnterpriseFactory(**enterprise_fields)
            data = {"type": type, "host": tenant_account["host"], "port": tenant_account["port"],
                    "username": tenant_account["username"], "password": tenant_account["password"],
                    "max_connections": 5, "min_connections": 1, "remark": None}
            ds = services.configure(enterprise, data, by=staff)
            db.session.commit()
            if provision:
                row = jobs.enqueue("provision", ds, by=staff)
                assert row.status == "finished", row.error
            return enterprise.id

    return make


SESSION_TENANTS = 3


# No TLS for the tests' own connections (the server under test offers none): with no TLS option PyMySQL
# tries TLS and builds a new SSL context for every connection, 50-70 ms of CPU loading the CA store.
PLAIN = {"ssl_disabled": True}


@functools.cache
def tenant_engine(database):
    """A pool-less engine (root) on one of this run's MariaDB tenant databases. One per database in each test
    process, so the statements it has compiled serve the next test too (``dispose()`` leaves it usable)."""
    from pymysql.constants import CLIENT

    # several statements in one round trip: reset_tenant_database empties every table at once
    return sa.create_engine(f"{MYSQL_SERVER}/{database}?charset=utf8mb4", poolclass=sa.pool.NullPool,
                            connect_args={**PLAIN, "client_flag": CLIENT.MULTI_STATEMENTS})


@pytest.fixture(scope="session")
def tenant_databases(tenant_account):
    """Tenant databases on MariaDB built once per test session (schema at head, identity marker),
    reset cheaply per test by ``tenants``. Returns one dict per tenant: id, enterprise_no, database."""
    from datasource_registry import tenant_schema

    server = sa.create_engine(MYSQL_SERVER)
    specs = []
    for k in range(1, SESSION_TENANTS + 1):
        enterprise_no = f"QYS{RUN.upper()}{k:06d}"
        spec = {"id": 990000 + k, "enterprise_no": enterprise_no, "database": f"{TENANT_PREFIX}{enterprise_no.lower()}"}
        create_mysql_database(server, spec["database"])
        engine = tenant_engine(spec["database"])
        with engine.connect() as conn:
            tenant_schema.upgrade(conn)
            conn.execute(sa.text("INSERT INTO tenant_identity (id, tenant_id, enterprise_no, created_at) "
                                 "VALUES (1, :t, :n, NOW())"), {"t": spec["id"], "n": enterprise_no})
            conn.commit()
        engine.dispose()
        specs.append(spec)
    server.dispose()
    return specs


TENANT_ADMIN_PASSWORD = "Tenant-Admin-2026"


class Tenant:
    """One session tenant as a test sees it: open, provisioned, with a fresh administrator whose password
    was set through the set-password link provisioning issued."""

    def __init__(self, spec, admin_password, datasource_id):
        self.id, self.enterprise_no, self.database = spec["id"], spec["enterprise_no"], spec["database"]
        self.code = self.enterprise_no.lower()
        self.admin_password = admin_password
        self.datasource_id = datasource_id

    def engine(self):
        return tenant_engine(self.database)

    def __repr__(self):
        return f"<Tenant {self.code}>"


@pytest.fixture
def tenants(app, tenant_databases, tenant_account):
    """The session's tenant databases, emptied and given a new administrator, behind open enterprises
    with provisioned datasources in this test's control database. ``tenants[0]``, ``tenants[1]``..."""

    from common.timeutil import utcnow
    from datasource_registry import secrets as ds_secrets
    from datasource_registry.models import Datasource, TenantJob
    from platform_admin.enterprises.models import Enterprise
    from tests.factories import EnterpriseFactory

    # The control rows in three statements (what the ORM would write, defaults included, but no audit events
    # for a fixture's rows): they are scenery here, and writing them one by one cost more than the test.
    with app.app_context():
        now = utcnow()
        enterprises, datasources, jobs = [], [], []
        for spec in tenant_databases:
            built = EnterpriseFactory.build(id=spec["id"], enterprise_no=spec["enterprise_no"], status=1, opened_at=now)
            enterprises.append(built)
            datasources.append({"id": spec["id"], "enterprise_id": spec["id"], "name": f"ds_{spec['enterprise_no'].lower()}",
                                "database": spec["database"], "type": "mysql", "host": tenant_account["host"],
                                "port": tenant_account["port"], "username": tenant_account["username"],
                                "password_encrypted": ds_secrets.encrypt(tenant_account["password"]),
                                "max_connections": 5, "min_connections": 1})
            jobs.append({"id": secrets.token_hex(16), "kind": "provision", "tenant_id": spec["id"],
                         "datasource_id": spec["id"], "status": "finished", "progress": 100, "finished_at": now})
        columns = Enterprise.__mapper__.column_attrs
        with db.engine.begin() as conn:
            conn.execute(Enterprise.__table__.insert(), [
                {attr.columns[0].key: getattr(e, attr.key) for attr in columns if getattr(e, attr.key) is not None}
                for e in enterprises])
            conn.execute(Datasource.__table__.insert(), datasources)
            conn.execute(TenantJob.__table__.insert(), jobs)
        result = []
        for spec, enterprise in zip(tenant_databases, enterprises):
            engine = tenant_engine(spec["database"])
            with engine.connect() as conn:
                reset_tenant_database(conn, enterprise)
            result.append(Tenant(spec, TENANT_ADMIN_PASSWORD, spec["id"]))
    return result


# database -> the rows a fresh administrator leaves (root department, built-in roles, the admin and the used
# link), read once after the first real reset: later resets write them back instead of provisioning again.
_FRESH_ADMIN_ROWS = {}


def reset_tenant_database(conn, enterprise):
    """Empty a session tenant database but for its identity marker and give it a fresh administrator, who
    chooses ``TENANT_ADMIN_PASSWORD`` through the real set-password link. Returns that password.

    The first reset of a database in a test process provisions the administrator for real; later ones restore
    the rows it left (ids, password hash and all) and copy in the enterprise's name and contact as provisioning
    would: the same state, without running the provisioning and the link's statements for every test."""
    from sqlalchemy.orm import Session

    from tenant_runtime import password_links
    from tenant_runtime.models import TenantBase
    from tenant_runtime.provisioning import create_first_admin, from_profile

    database = conn.engine.url.database
    tables = [t for t in reversed(TenantBase.metadata.sorted_tables) if t.name != "tenant_identity"]
    fresh = _FRESH_ADMIN_ROWS.get(database)
    # every table emptied in one round trip (one statement each took 7-17 ms per database, this 2-3 ms)
    conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0;" + "".join(f"DELETE FROM `{t.name}`;" for t in tables))
    for table, rows in fresh or ():
        conn.execute(table.insert(), rows)
    conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
    if fresh is not None:
        users, depts = TenantBase.metadata.tables["sys_user"], TenantBase.metadata.tables["sys_dept"]
        dept_name, admin_profile = from_profile(enterprise)
        conn.execute(depts.update().where(depts.c.parent_id.is_(None)).values(dept_name=dept_name))
        conn.execute(users.update().where(users.c.username == "admin").values(**admin_profile))
        conn.commit()
        return TENANT_ADMIN_PASSWORD
    link = create_first_admin(conn, enterprise, None)["secret"]
    conn.commit()
    with Session(bind=conn) as session:  # the contact follows the link and chooses a password
        assert password_links.redeem(session, link, TENANT_ADMIN_PASSWORD) is not None
        session.commit()
    fresh = []
    for table in reversed(tables):  # parents first
        rows = [dict(row) for row in conn.execute(table.select()).mappings()]
        if rows:
            fresh.append((table, rows))
    conn.rollback()
    _FRESH_ADMIN_ROWS[database] = fresh
    return TENANT_ADMIN_PASSWORD


@pytest.fixture
def make_ready(app, make_staff):
    """``make_ready(ent_id)``: give an existing enterprise a provisioned SQLite datasource, so the
    open gate's datasource check passes for control-plane tests that are not about datasources."""
    from datasource_registry import jobs, services

    def ready(ent_id):
        from platform_admin.auth.models import StaffUser
        from platform_admin.enterprises.models import Enterprise

        with app.test_request_context():
            staff = db.session.get(StaffUser, make_staff(roles=("devops",)))
            enterprise = db.session.get(Enterprise, ent_id)
            ds = services.configure(enterprise, {"type": "sqlite", "host": None, "port": None, "username": "tenant",
                                                 "password": "Tenant#Pw1x", "max_connections": 3,
                                                 "min_connections": 1, "remark": None}, by=staff)
            db.session.commit()
            row = jobs.enqueue("provision", ds, by=staff)
            assert row.status == "finished", row.error
        return ent_id

    return ready


@pytest.fixture(autouse=True)
def _clean(request):
    """Each test starts with empty tables and fresh throttles; deleting rows is cheap, rebuilding is not."""
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        limiter.reset()
    yield
    with application.app_context():
        db.session.remove()
        registry = application.extensions.get("pool_registry")
        if registry is not None:
            registry.close()  # tenant engines of this test's enterprises
        from tenant_runtime.resolver import invalidate

        invalidate()  # the next test's enterprises may reuse these tenant codes
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


PASSWORD = "Correct-Horse-42"


@pytest.fixture
def make_staff(app):
    from platform_admin.auth.services import create_staff

    def make(username=None, roles=("ops",), password=PASSWORD, **kw):
        with app.app_context():
            user = create_staff(username or f"u{secrets.token_hex(3)}", password, list(roles), **kw)
            db.session.commit()
            return user.id

    return make


class Api:
    """A test client that sends a staff bearer token and JSON."""

    def __init__(self, client, token=None):
        self.client, self.token = client, token

    def _headers(self, headers):
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    def open(self, method, path, json=None, headers=None, **kw):
        return self.client.open(path, method=method, json=json, headers=self._headers(headers), **kw)

    def get(self, path, **kw):
        return self.open("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.open("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.open("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.open("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.open("DELETE", path, **kw)


@pytest.fixture
def api_as(app, make_staff):
    """``api_as("ops")`` or ``api_as("admin", "ops")``: an API client signed in with those roles."""

    def login(*roles, username=None):
        username = username or f"{'-'.join(roles) or 'x'}{secrets.token_hex(2)}"
        make_staff(username, roles=roles or ("ops",))
        client = app.test_client()
        resp = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        assert resp.status_code == 200, resp.json
        return Api(client, resp.json["token"])

    return login


@pytest.fixture
def anon(app):
    return Api(app.test_client())


@pytest.fixture
def login_page(app, make_staff):
    """``login_page("ops")``: a browser-like test client with a staff session (CSRF enforced)."""
    import re

    def login(*roles, username=None):
        username = username or f"p{secrets.token_hex(3)}"
        make_staff(username, roles=roles or ("ops",))
        client = app.test_client()
        page = client.get("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 302, resp.text
        return client

    return login


def csrf_from(html):
    import re

    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def eventually(predicate, timeout=30):
    """Wait for a condition another thread or process brings about (the bound only ends a failing test)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
