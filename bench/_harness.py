"""Shared set-up for the benchmarks that run the real app against real MariaDB tenants.

``BenchEnv`` makes, for one benchmark run and under one unique prefix ``bench_<name>_<hex>_``:

* a control database ``<prefix>control`` with the real control migrations applied (``flask_migrate.upgrade``);
* a temporary non-root MariaDB account ``bu_<hex>`` (the datasource form refuses root and weak
  passwords) allowed only on the tenant databases ``<prefix>t_%`` (as tests/conftest.py's
  ``tenant_account`` does), on hosts ``%``, ``localhost`` and ``127.0.0.1``;
* the real app (``app.create_app``) on that control database, jobs inline (no ``REDIS_URL``),
  tenant databases named ``<prefix>t_<enterprise no>``, instance folder in a temporary directory;
* a devops staff account that configures, provisions and opens enterprises through the real
  services (``datasource_registry.services.configure``, ``jobs.enqueue("provision", ...)``,
  ``platform_admin.enterprises.services.open_enterprise`` with its open checks).

``cleanup()`` drops every database carrying the prefix (also ones an interrupted run left half made),
the account, and the temporary directory. Scripts call it in ``finally`` and turn SIGTERM into
KeyboardInterrupt, like bench_pool_registry.py.

``BenchEnv(name, keep="<tag>")`` makes an environment that outlives the run (for data that takes minutes to
make, e.g. bench_crm.py's million customers): the prefix is the fixed ``bench_<name>_k<tag>_``; once the
script has made what it needs it calls ``save(state)``, which writes the account's password, the app's
secret key and ``state`` into a table ``bench_kept`` of the control database; the next run's ``setup()``
finds them and only builds the app on it. An environment without that row (an interrupted first run) is
dropped and made again. ``cleanup()`` then keeps the databases and the account; ``cleanup(drop=True)``
drops them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pymysql
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

DEFAULT_SERVER = os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")


def admin_connection(url: sa.engine.URL):
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        autocommit=True,
    )


def stamp_head(cur, database):
    """Record a hand-made tenant database as at this code's tenant schema head: the app's identity check reads
    the revision beside the identity marker and refuses a database behind the code (or never migrated)."""
    from datasource_registry.tenant_schema import head_revision

    cur.execute(f"CREATE TABLE `{database}`.alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    cur.execute(f"INSERT INTO `{database}`.alembic_version VALUES (%s)", (head_revision(),))


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def median(values):
    return statistics.median(values) if values else float("nan")


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def credit_code():
    """A random unified social credit code with a correct check digit (as tests/factories.py)."""
    from stdnum.cn import uscc

    base = "91310115" + "".join(secrets.choice("0123456789") for _ in range(9))
    return base + uscc.calc_check_digit(base + "0")


def mobile():
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def install_sigterm():
    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


def run_main(parse_args, run):
    """A benchmark's entry point: SIGTERM and Ctrl-C both end in ``run``'s clean-up, exit code 130."""
    args = parse_args()
    install_sigterm()
    try:
        sys.exit(run(args))
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)


class BenchEnv:
    def __init__(self, name: str, server: str = DEFAULT_SERVER, password_hash_method: str | None = None,
                 config_overrides: dict | None = None, keep: str | None = None):
        self.server = sa.engine.make_url(server)
        self.keep = keep
        self.run = f"{name}_k{keep}" if keep else secrets.token_hex(3)
        self.prefix = f"bench_{name}_k{keep}_" if keep else f"bench_{name}_{self.run}_"
        self.control_db = f"{self.prefix}control"
        self.tenant_prefix = f"{self.prefix}t_"
        self.account = {"host": self.server.host or "127.0.0.1", "port": self.server.port or 3306,
                        "username": f"bu_{self.run}", "password": f"Bench#{secrets.token_hex(4)}Pw1"}
        self.tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.password_hash_method = password_hash_method
        self.config_overrides = dict(config_overrides or {})
        self.secret_key = "bench-" + secrets.token_hex(8)
        self.app = None
        self.staff_id = None
        self._user_created = False
        self.state = None  # a kept environment's saved state (``save``), None until saved or found

    # ------------------------------------------------------------------ kept environments

    def _read_kept(self):
        conn = admin_connection(self.server)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                            "AND TABLE_NAME = 'bench_kept'", (self.control_db,))
                if not cur.fetchone()[0]:
                    return None
                cur.execute(f"SELECT body FROM `{self.control_db}`.bench_kept ORDER BY id DESC LIMIT 1")
                row = cur.fetchone()
                return json.loads(row[0]) if row else None
        finally:
            conn.close()

    def save(self, state: dict):
        """Record a kept environment as complete, with ``state`` for the next run (see the module's doc)."""
        body = {"password": self.account["password"], "secret_key": self.secret_key, "staff_id": self.staff_id,
                "state": state}
        conn = admin_connection(self.server)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE TABLE IF NOT EXISTS `{self.control_db}`.bench_kept "
                            "(id INT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)")
                cur.execute(f"INSERT INTO `{self.control_db}`.bench_kept (body) VALUES (%s)", (json.dumps(body),))
        finally:
            conn.close()
        self.state = state

    def _drop_all(self):
        conn = admin_connection(self.server)
        dropped = 0
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, %s) = %s",
                            (len(self.prefix), self.prefix))
                for (name,) in cur.fetchall():
                    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                    dropped += 1
                for host in ("%", "localhost", "127.0.0.1"):
                    cur.execute(f"DROP USER IF EXISTS '{self.account['username']}'@'{host}'")
        finally:
            conn.close()
        return dropped

    # ------------------------------------------------------------------ set-up

    def setup(self):
        if self.keep:
            kept = self._read_kept()
            if kept is not None:
                self.account["password"], self.secret_key = kept["password"], kept["secret_key"]
                self.staff_id, self.state = kept["staff_id"], kept["state"]
                self._user_created = True
                self._make_app()
                return self
            if self._drop_all():
                print(f"dropped an incomplete kept environment {self.prefix}*", file=sys.stderr)
        conn = admin_connection(self.server)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{self.control_db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                user, password = self.account["username"], self.account["password"]
                pattern = self.tenant_prefix.replace("_", "\\_") + "%"
                self._user_created = True
                for host in ("%", "localhost", "127.0.0.1"):
                    cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}'")
                    cur.execute(f"GRANT ALL PRIVILEGES ON `{pattern}`.* TO '{user}'@'{host}'")
        finally:
            conn.close()

        self._make_app()
        with self.app.app_context():
            from flask_migrate import upgrade

            from extensions import db
            from platform_admin.auth.services import create_staff

            upgrade()  # the real control migrations
            staff = create_staff(f"bench{self.run}"[:30], "Bench-Staff-42x", ["devops", "admin", "ops"])
            db.session.commit()
            self.staff_id = staff.id
        return self

    def _make_app(self):
        from app import create_app
        from config import Config

        control_url = self.server.set(database=self.control_db, query={"charset": "utf8mb4"})
        attrs = {
            "SQLALCHEMY_DATABASE_URI": control_url.render_as_string(hide_password=False),
            "INSTANCE_PATH": self.tmp,
            "UPLOAD_DIR": os.path.join(self.tmp, "uploads"),
            "TENANT_DATABASE_PREFIX": self.tenant_prefix,
            "REDIS_URL": "",  # jobs inline
            "RATELIMIT_STORAGE_URI": "memory://",
            "SECRET_KEY": self.secret_key,
            "SMS_BACKEND": "outbox",
            "EMAIL_BACKEND": "outbox",
        }
        if self.password_hash_method:
            attrs["PASSWORD_HASH_METHOD"] = self.password_hash_method
        attrs.update(self.config_overrides)
        bench_config = type("BenchConfig", (Config,), attrs)
        self.app = create_app(bench_config)

    def staff(self):
        from extensions import db
        from platform_admin.auth.models import StaffUser

        return db.session.get(StaffUser, self.staff_id)

    def make_enterprise(self, i=0):
        """A complete enterprise profile (closed) with a configured MySQL datasource on the bench account.
        Returns (enterprise_id, datasource_id, tenant code). Call inside an app/request context."""
        from flask import g

        from datasource_registry import services as ds_services
        from extensions import db
        from platform_admin.enterprises import services as ent_services

        staff = self.staff()
        g.audit_actor = staff
        ent = ent_services.create({
            "name": f"基准物业服务有限公司{i}", "license_no": credit_code(), "province_code": "44", "province": "广东省",
            "city_code": "4403", "city": "深圳市", "address": "南山区科技园路1号", "contact_name": "陈经理",
            "contact_phone": mobile(), "email": "ops@example.com",
        }, by=staff)
        data = {"type": "mysql", "host": self.account["host"], "port": self.account["port"],
                "username": self.account["username"], "password": self.account["password"],
                "max_connections": 5, "min_connections": 1, "remark": None}
        ds = ds_services.configure(ent, data, by=staff)
        db.session.commit()
        return ent.id, ds.id, ent.tenant_code

    def provision(self, ds_id):
        """Run the real provisioning job inline; returns the finished TenantJob row."""
        from datasource_registry import jobs
        from datasource_registry.models import Datasource
        from extensions import db

        ds = db.session.get(Datasource, ds_id)
        row = jobs.enqueue("provision", ds, by=self.staff())
        if row.status != "finished":
            raise RuntimeError(f"provisioning failed: {row.error}")
        return row

    def open(self, ent_id):
        """Open the enterprise through the real service (completeness gate, datasource_ready probe)."""
        from flask import g

        from extensions import db
        from platform_admin.enterprises.models import Enterprise
        from platform_admin.enterprises.services import open_enterprise

        g.audit_actor = self.staff()
        ent = db.session.get(Enterprise, ent_id)
        open_enterprise(ent)
        db.session.commit()

    def volume_tenant(self, customers, password, tables=("crm_customer",)):
        """One enterprise provisioned and opened through the real services, its tenant filled by
        ``tenant_runtime.demo.fill_volume`` with ``customers`` customers (no contacts, no follow-ups) owned by
        its synthetic sales organisation, whose users sign in with ``password``; ``tables`` analysed after.
        Returns (tenant code, database name)."""
        from datasource_registry.models import Datasource
        from extensions import db
        from tenant_runtime.demo import fill_volume

        with self.app.test_request_context():
            ent_id, ds_id, code = self.make_enterprise(0)
            self.provision(ds_id)
            self.open(ent_id)
            database = db.session.get(Datasource, ds_id).database
        engine = self.tenant_engine(database)
        try:
            with engine.connect() as conn:
                fill_volume(conn, customers, 0, contacts=0, password=password)
                conn.exec_driver_sql(f"ANALYZE TABLE {', '.join(tables)}").all()
        finally:
            engine.dispose()
        return code, database

    def tenant_url(self, database):
        return sa.engine.URL.create("mysql+pymysql", username=self.account["username"],
                                    password=self.account["password"], host=self.account["host"],
                                    port=self.account["port"], database=database, query={"charset": "utf8mb4"})

    def tenant_engine(self, database, **kw):
        return sa.create_engine(self.tenant_url(database), poolclass=NullPool, **kw)

    # ------------------------------------------------------------------ clean-up

    def cleanup(self, drop: bool | None = None):
        """Dispose every engine, drop every database with our prefix, the account, the temp dir. A kept
        environment (``keep``) keeps its databases and account unless ``drop``."""
        if self.app is not None:
            try:
                with self.app.app_context():
                    from extensions import db

                    db.session.remove()
                    registry = self.app.extensions.get("pool_registry")
                    if registry is not None:
                        registry.close()
                    db.engine.dispose()
            except Exception as exc:  # noqa: BLE001 - clean-up goes on
                print(f"warning: disposing the app's engines: {exc}", file=sys.stderr)
        if self.keep and not drop:
            shutil.rmtree(self.tmp, ignore_errors=True)
            print(f"cleanup: kept the databases {self.prefix}* and account {self.account['username']} "
                  f"for the next run (--drop drops them)", file=sys.stderr)
            return 0
        dropped = 0
        conn = admin_connection(self.server)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, %s) = %s",
                            (len(self.prefix), self.prefix))
                for (name,) in cur.fetchall():
                    cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                    dropped += 1
                if self._user_created:
                    for host in ("%", "localhost", "127.0.0.1"):
                        cur.execute(f"DROP USER IF EXISTS '{self.account['username']}'@'{host}'")
        finally:
            conn.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        print(f"cleanup: dropped {dropped} databases with prefix {self.prefix} and account "
              f"{self.account['username']}", file=sys.stderr)
        return dropped


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self):
        return time.perf_counter() - self.t0
