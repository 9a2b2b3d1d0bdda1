"""Helpers for CRM tests: departments, users with roles and signed-in API clients on a session tenant."""

import secrets
import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from tenant_runtime.core.pinyin import pinyin_key
from tenant_runtime.people.roles import ensure_builtin_roles
from tests.conftest import ON_MARIADB, Api

# For modules whose tests are about the CRM itself: they read and write a tenant's MariaDB database, and the
# control database only routes them there, so they run with the control database on MariaDB alone, as in
# production. A SQLite control database (the newcomer's) is the control plane's tests' subject, and the
# demo tenant's (tests/tenant_runtime/test_crm_demo.py) runs the CRM on SQLite end to end.
CONTROL_ON_MARIADB = ON_MARIADB

PASSWORD = "Tenant-Pass-42"


def _now():
    return datetime.now(UTC).replace(tzinfo=None)


def db_row(tenant, sql, **params):
    """The first row of a statement run straight on the tenant's database (what a test checks was stored)."""
    engine = tenant.engine()
    with engine.connect() as conn:
        row = conn.execute(sa.text(sql), params).first()
    engine.dispose()
    return row


def root_dept(tenant):
    engine = tenant.engine()
    with engine.connect() as conn:
        dept = conn.execute(sa.text("SELECT id FROM sys_dept WHERE parent_id IS NULL ORDER BY id LIMIT 1")).scalar()
    engine.dispose()
    return dept


def add_dept(tenant, name, parent=None):
    engine = tenant.engine()
    with engine.begin() as conn:
        parent = parent or conn.execute(sa.text("SELECT id FROM sys_dept WHERE parent_id IS NULL ORDER BY id")).scalar()
        dept_id = conn.execute(sa.text("INSERT INTO sys_dept (dept_name, parent_id, sort, created_at) "
                                       "VALUES (:n, :p, 0, :t)"), {"n": name, "p": parent, "t": _now()}).lastrowid
    engine.dispose()
    return dept_id


def add_role(tenant, name, scope, permissions, depts=()):
    engine = tenant.engine()
    with engine.begin() as conn:
        role_id = conn.execute(sa.text(
            "INSERT INTO sys_role (role_name, data_scope, permissions, is_builtin, created_at, updated_at) "
            "VALUES (:n, :s, :p, 0, :t, :t)"), {"n": name, "s": scope, "p": " ".join(permissions), "t": _now()}).lastrowid
        for dept in depts:
            conn.execute(sa.text("INSERT INTO sys_role_dept (role_id, dept_id) VALUES (:r, :d)"), {"r": role_id, "d": dept})
    engine.dispose()
    return role_id


def add_user(tenant, username=None, roles=("sales",), dept=None, password=PASSWORD, full_name=None, status=1):
    """A user written straight into the tenant database, holding built-in roles by code or custom ones by id."""
    username = username or f"u{secrets.token_hex(3)}"
    engine = tenant.engine()
    with engine.begin() as conn:
        builtin = ensure_builtin_roles(conn)
        dept = dept or conn.execute(sa.text("SELECT id FROM sys_dept WHERE parent_id IS NULL ORDER BY id")).scalar()
        user_id = conn.execute(sa.text(
            "INSERT INTO sys_user (username, full_name, name_pinyin, dept_id, status, password_hash, created_at, "
            "updated_at) VALUES (:u, :n, :k, :d, :s, :h, :t, :t)"),
            {"u": username, "n": full_name or f"{username}名", "k": pinyin_key(full_name or f"{username}名"),
             "d": dept, "s": status, "t": _now(),
             "h": generate_password_hash(password, method="pbkdf2:sha256:1000")}).lastrowid
        for role in roles:
            role_id = builtin[role] if isinstance(role, str) else role
            conn.execute(sa.text("INSERT INTO sys_user_role (user_id, role_id) VALUES (:u, :r)"),
                         {"u": user_id, "r": role_id})
    engine.dispose()
    return user_id


class TenantApi(Api):
    """An API client of one tenant: paths are relative to /t/<code>/api/v1."""

    def __init__(self, client, tenant, token=None):
        super().__init__(client, token)
        self.tenant, self.prefix = tenant, f"/t/{tenant.code}/api/v1"

    def open(self, method, path, json=None, headers=None, **kw):
        return super().open(method, self.prefix + path, json=json, headers=headers, **kw)


def tenant_api(app, tenant, username="admin", password=None):
    client = app.test_client()
    resp = client.post(f"/t/{tenant.code}/api/v1/auth/token",
                       json={"username": username, "password": password or (tenant.admin_password
                                                                            if username == "admin" else PASSWORD)})
    assert resp.status_code == 200, resp.json
    return TenantApi(client, tenant, resp.json["token"])


def every_item(api, path):
    """Every item of a list, following its cursors (``path`` with its query, ``limit`` included)."""
    items, cursor = [], None
    while True:
        resp = api.get(path + (f"&cursor={cursor}" if cursor else ""))
        assert resp.status_code == 200, resp.json
        items += resp.json["items"]
        cursor = resp.json["next_cursor"]
        if cursor is None:
            return items

def customer_body(**overrides):
    body = {"customer_type": "enterprise", "customer_name": f"华庭物业{secrets.token_hex(2)}有限公司",
            "level": "normal"}
    body.update(overrides)
    return body


def page_client(app, tenant, username="admin", password=None):
    """A browser-like client signed in to the tenant's pages."""
    from tests.conftest import csrf_from

    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    resp = client.post(f"/t/{tenant.code}/login", data={
        "username": username, "password": password or (tenant.admin_password if username == "admin" else PASSWORD),
        "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302, resp.status_code
    return client


def at_once(n, call):
    """``call(i)`` for i in 0..n-1 from n threads released together by a barrier: the answers, in the order they
    came back."""
    barrier, results = threading.Barrier(n), []

    def run(i):
        barrier.wait()
        results.append(call(i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not any(th.is_alive() for th in threads), "requests never came back"
    return results


class Statements:
    """The statements (with their parameters) the app sends to one tenant's database while a request runs."""

    def __init__(self, tenant):
        self.database, self.seen = tenant.database, []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        database = conn.engine.url.database or ""  # MariaDB: the name; SQLite: the file's path
        if database == self.database or database.endswith((f"/{self.database}", f"{self.database}.db")):
            self.seen.append((statement, parameters))

    def during(self, call):
        """``call()``'s response (which must be a 200), the statements it caused in ``seen``."""
        self.seen = []
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self)
        try:
            resp = call()
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", self)
        assert resp.status_code == 200, resp.json
        return resp

    def count(self, call):
        resp = self.during(call)
        return len(self.seen), resp

    def texts(self):
        """The statements seen, shortened: for an assertion's message."""
        return [" ".join(statement.split())[:120] for statement, _params in self.seen]


class Deadlock:
    """A real deadlock whose victim is the app's transaction. When the app is about to send its first statement
    starting with ``at`` to the tenant's database, another connection, made the heavier transaction (MariaDB
    rolls back the lighter one) by 40 rows it writes and later undoes, runs ``hold``: it takes a lock the app's
    statement needs. It then runs ``wait``, which blocks on a lock the app already holds; once the database
    shows it waiting, the app's statement goes on and closes the cycle. ``seen``: how many times the app sent
    that statement; ``waited``: "done" when ``wait`` ran to its end."""

    def __init__(self, tenant, at, hold, wait):
        import pymysql

        self.tenant, self.at, self.hold, self.wait = tenant, at, hold, wait
        engine = tenant.engine()
        url = engine.url
        engine.dispose()
        options = {"host": url.host, "port": url.port or 3306, "user": url.username, "password": url.password or ""}
        self.other = pymysql.connect(database=url.database, autocommit=False, **options)
        self.watcher = pymysql.connect(autocommit=True, **options)
        self.seen, self.waited, self.thread = 0, None, None

    def __enter__(self):
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc):
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", self._statement)
        if self.thread is not None:
            self.thread.join(60)
        self.other.close()
        self.watcher.close()

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if conn.engine.url.database != self.tenant.database or not statement.startswith(self.at):
            return
        self.seen += 1
        if self.seen > 1:
            return
        cur = self.other.cursor()
        cur.executemany("INSERT INTO crm_lead_pool (pool_name, is_public, created_at) VALUES (%s, 1, NOW())",
                        [(f"死锁对照{secrets.token_hex(4)}",) for _ in range(40)])
        cur.execute(self.hold)
        self.thread = threading.Thread(target=self._wait, args=(cur,))
        self.thread.start()
        # InnoDB refreshes what information_schema.innodb_trx shows only when nobody has read it for 0.1 s: asked
        # more often, it would show the other transaction running for as long as it waits
        while not self._waiting():
            assert self.thread.is_alive(), f"the other transaction did not wait: {self.waited}"
            threading.Event().wait(0.25)

    def _wait(self, cur):
        import pymysql

        try:
            cur.execute(self.wait)
            self.waited = "done"
        except pymysql.err.OperationalError as exc:
            self.waited = exc.args[0]
        self.other.rollback()

    def _waiting(self):
        with self.watcher.cursor() as cur:
            cur.execute("SELECT trx_state FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = %s",
                        (self.other.thread_id(),))
            row = cur.fetchone()
        return row is not None and row[0] == "LOCK WAIT"
