"""Datasource rules: configure once, move the implementation status forward, delete only while empty."""

import os
import time
from contextlib import closing
from types import SimpleNamespace

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from common.errors import ApiError, Conflict, Invalid
from common.sqlite import use_wal
from common.timeutil import utcnow
from extensions import db

from . import connect_errors, secrets, tenant_schema
from .hostpolicy import HostNotAllowed, policy_from_setting
from .models import NEXT_STATUS, Datasource
from .tls import TlsSetting, install

BUSINESS_TABLE_EXCLUSIONS = tenant_schema.BUSINESS_TABLE_EXCLUSIONS


def generated_names(enterprise):
    """数据源名称 and 数据库名称, generated: ``ds_qy202611000001`` and ``hgj_qy202611000001``."""
    slug = (enterprise.enterprise_no or f"e{enterprise.id}").lower()
    return f"ds_{slug}", f"{current_app.config['TENANT_DATABASE_PREFIX']}{slug}"


def host_policy():
    """The datasource host allow-list of this app (``DATASOURCE_ALLOWED_HOSTS``)."""
    return policy_from_setting(current_app.config.get("DATASOURCE_ALLOWED_HOSTS", ""))


def check_host_allowed(data):
    """422 on ``host`` when the entered host is outside the allow-list (or resolves outside it)."""
    if data["type"] != "mysql":
        return
    try:
        host_policy().check(data["host"], data["port"] or 3306)
    except HostNotAllowed:
        raise Invalid({"host": [connect_errors.message(connect_errors.HOST_NOT_ALLOWED)]}) from None


def guard_connections(engine):
    """Every connection ``engine`` opens first passes the host allow-list and goes to the address checked."""
    policy = host_policy()
    if not policy.is_open:
        event.listen(engine, "do_connect", lambda dialect, record, cargs, cparams: policy.pin(cparams))
    return engine


def unavailable(failure):
    """The API error for a failed datasource connection: the failure code and its plain message only."""
    status = 409 if failure.code in (connect_errors.DATABASE_MISSING, connect_errors.HOST_NOT_ALLOWED) else 503
    return ApiError(status, failure.code, failure.message)


def _refuse_second_configuration(enterprise):
    if enterprise.datasource is not None:
        raise Conflict("datasource_immutable", _("The datasource is already configured and cannot be changed."))


def configure(enterprise, data, by):
    """Save the enterprise's datasource. A second configuration is refused: datasources are immutable."""
    _refuse_second_configuration(enterprise)
    check_host_allowed(data)
    name, database = generated_names(enterprise)
    if data["type"] == "sqlite":
        data = {**data, "host": "instance/tenants", "port": 0}
    ds = Datasource(enterprise=enterprise, name=name, database=database, type=data["type"], host=data["host"],
                    port=data["port"], username=data["username"], password_encrypted=secrets.encrypt(data["password"]),
                    max_connections=data["max_connections"], min_connections=data["min_connections"],
                    remark=data.get("remark"), created_by_id=by.id)
    db.session.add(ds)
    return ds


def _sqlite_path(database):
    folder = os.path.join(current_app.instance_path, "tenants")
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, f"{database}.sqlite3")


def _mysql_url(username, password, host, port, database=None):
    return URL.create("mysql+pymysql", username=username, password=password, host=host, port=port,
                      database=database, query={"charset": "utf8mb4"})


def url_for_datasource(ds, with_database=True):
    """The SQLAlchemy URL, password decrypted in memory only."""
    if ds.type == "sqlite":
        return URL.create("sqlite", database=_sqlite_path(ds.database))
    return _mysql_url(ds.username, secrets.decrypt(ds.password_encrypted), ds.host, ds.port,
                      ds.database if with_database else None)


def driver_timeouts(ds, migration=False, connect_timeout=None):
    """PyMySQL ``connect_args`` for one connection to the datasource's server: its connect timeout covers only
    the TCP connect; the greeting and every later answer wait ``read_timeout``, which is for ever unless set.
    Schema migrations get the longer ``TENANT_MIGRATION_TIMEOUT``. Nothing for SQLite."""
    if ds.type == "sqlite":
        return {}
    config = current_app.config
    if migration:
        read = write = config.get("TENANT_MIGRATION_TIMEOUT", 180)
    else:
        read, write = config.get("TENANT_READ_TIMEOUT", 30), config.get("TENANT_WRITE_TIMEOUT", 30)
    return {"connect_timeout": connect_timeout or config.get("TENANT_CONNECT_TIMEOUT", 5),
            "read_timeout": read, "write_timeout": write}


def unpooled_engine(ds, with_database=True, migration=False, connect_timeout=None, url=None):
    """An engine for one-off work on a tenant database (each connect opens a new connection) with the rules of
    every connection the platform makes from a datasource: SQL parameters hidden, connect/read/write timeouts,
    the host allow-list, the deployment's TLS setting (like the pool registry's engines)."""
    engine = create_engine(url or url_for_datasource(ds, with_database=with_database), poolclass=NullPool,
                           hide_parameters=True, connect_args=driver_timeouts(ds, migration, connect_timeout))
    guard_connections(engine)  # before TLS: the admission check runs before any socket opens
    install(engine, TlsSetting.from_config(current_app.config))
    use_wal(engine)  # an SQLite file is in WAL mode from its first connection (the registry's engines keep it so)
    return engine


def probe(ds, timeout=None):
    """Connect once (no pool): latency, server version, schema version. A failure raises ApiError with
    its failure code (``unreachable``, ``access_denied``: 503; ``database_missing``, ``host_not_allowed``: 409)."""
    engine = unpooled_engine(ds, connect_timeout=timeout)
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
            version = conn.execute(text("SELECT sqlite_version()" if ds.type == "sqlite" else "SELECT VERSION()")).scalar()
            revision = tenant_schema.current_revision(conn)
            tables = set(inspect(conn).get_table_names())
            marker = None
            if "tenant_identity" in tables:
                marker = conn.execute(text("SELECT tenant_id FROM tenant_identity WHERE id = 1")).scalar()
    except Exception as exc:  # the driver's text tells ports and accounts apart: only a failure code leaves
        raise unavailable(connect_errors.connect_failure(exc)) from None
    finally:
        engine.dispose()
    head = tenant_schema.head_revision()
    return {"reachable": True, "latency_ms": latency_ms, "server_version": version, "schema_version": revision,
            "schema_head": head, "schema_current": revision == head, "identity_tenant_id": marker,
            "identity_ok": marker == ds.enterprise_id}


def advance(ds, status, by):
    """Move ``not_implemented -> implementing -> live``, after checking the database answers at the current schema."""
    if NEXT_STATUS.get(ds.implementation_status) != status:
        raise Conflict("illegal_transition",
                       _("The implementation status cannot move from %(old)s to %(new)s.",
                         old=ds.implementation_status, new=status))
    report = probe(ds)
    if not report["schema_current"] or not report["identity_ok"]:
        raise Conflict("datasource_not_ready",
                       _("The tenant database is not provisioned at the current schema version yet."),
                       report=report)
    ds.implementation_status = status
    if status == "implementing":
        ds.implementing_at, ds.implementing_by_id = utcnow(), by.id
    else:
        ds.live_at, ds.live_by_id = utcnow(), by.id
    ds._audit_verb = f"status_{status}"
    return ds


def business_rows(ds):
    """Rows in the tenant database that count as business data: ``{table: count}``, empty if none.

    The administrator, its role, the built-in roles and the root department created by provisioning do not
    count. Raises ``DatasourceConnectError`` when the database cannot be reached."""
    report = {}
    if ds.type == "mysql":
        try:
            server = unpooled_engine(ds, with_database=False)
            with server.connect() as conn:
                exists = conn.execute(text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :d"),
                                      {"d": ds.database}).scalar()
            server.dispose()
        except Exception as exc:
            raise connect_errors.connect_failure(exc) from None
        if not exists:
            return report
    engine = unpooled_engine(ds)
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                if table in BUSINESS_TABLE_EXCLUSIONS:
                    continue
                count = conn.execute(text(f"SELECT COUNT(*) FROM {conn.dialect.identifier_preparer.quote(table)}")).scalar()
                if table == "sys_user":
                    count -= conn.execute(text("SELECT COUNT(*) FROM sys_user WHERE username = 'admin'")).scalar()
                if table == "sys_dept":
                    count -= conn.execute(text("SELECT COUNT(*) FROM sys_dept WHERE parent_id IS NULL")).scalar()
                if table == "sys_role":
                    count -= conn.execute(text("SELECT COUNT(*) FROM sys_role WHERE is_builtin = 1")).scalar()
                if table == "sys_user_role":
                    count -= conn.execute(text("SELECT COUNT(*) FROM sys_user_role WHERE user_id IN "
                                               "(SELECT id FROM sys_user WHERE username = 'admin')")).scalar()
                if count > 0:
                    report[table] = count
    except Exception as exc:
        raise connect_errors.connect_failure(exc) from None
    finally:
        engine.dispose()
    return report


def delete(ds, by=None, force_reason=None):
    """Delete while ``not_implemented`` and while its database holds no business rows (409 naming them).

    A datasource whose database was never created is deleted without connecting to it: its host, port
    or password may be the very mistake being removed. One whose database may exist but cannot be
    reached (or refuses the account) can be deleted only by an administrator giving ``force_reason``,
    which the audit log records with the cause."""
    if ds.implementation_status != "not_implemented":
        raise Conflict("datasource_in_use", _("Only a datasource that is not implemented yet can be deleted."))
    if force_reason is not None and not (by is not None and by.has_role("admin")):
        raise ApiError(403, "forbidden",
                       _("Only an administrator can delete a datasource whose database cannot be reached."))
    from .provisioning import database_may_exist

    if database_may_exist(ds):
        _refuse_unless_empty(ds, force_reason)
    if force_reason is not None:
        ds._audit_note = {"reason": force_reason, **getattr(ds, "_audit_note", {})}
    from . import registry

    registry.dispose_tenant(ds.enterprise_id)
    db.session.delete(ds)


def _refuse_unless_empty(ds, force_reason):
    try:
        found = business_rows(ds)
    except connect_errors.DatasourceConnectError as failure:
        if failure.code == connect_errors.DATABASE_MISSING:  # the server answers: nothing was ever stored
            return
        if force_reason is None:
            raise Conflict(failure.code, _("%(why)s An administrator can still delete it, giving a reason.",
                                           why=failure.message)) from None
        ds._audit_verb, ds._audit_note = "force_delete", {"cause": failure.code}
        return
    if found:
        raise Conflict("datasource_has_data", _("The tenant database already holds business data."), found=found)


def try_connection(enterprise, data, timeout=None):
    """Connect with entered values before they are saved (nothing is stored): the server answers, the
    account is accepted, and whether the generated database exists yet. Failures as ``probe``."""
    _refuse_second_configuration(enterprise)
    _name, database = generated_names(enterprise)
    if data["type"] == "sqlite":
        import sqlite3

        started = time.perf_counter()  # an embedded file: opening it and one statement, in hundredths of a ms
        with closing(sqlite3.connect(":memory:")) as conn:
            version = conn.execute("SELECT sqlite_version()").fetchone()[0]
        latency_ms = max(round((time.perf_counter() - started) * 1000, 2), 0.01)
        return {"reachable": True, "latency_ms": latency_ms, "server_version": version, "database": database,
                "database_exists": os.path.exists(_sqlite_path(database))}
    check_host_allowed(data)
    engine = unpooled_engine(SimpleNamespace(type="mysql"), connect_timeout=timeout,
                             url=_mysql_url(data["username"], data["password"], data["host"], data["port"]))
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
            version = conn.execute(text("SELECT VERSION()")).scalar()
            exists = conn.execute(text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :d"),
                                  {"d": database}).scalar()
    except Exception as exc:
        raise unavailable(connect_errors.connect_failure(exc)) from None
    finally:
        engine.dispose()
    return {"reachable": True, "latency_ms": latency_ms, "server_version": version, "database": database,
            "database_exists": bool(exists)}
