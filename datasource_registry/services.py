"""Datasource rules: configure once, move the implementation status forward, delete only while empty."""

import time

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from common.errors import ApiError, Conflict
from common.timeutil import utcnow
from extensions import db

from . import secrets, tenant_schema
from .models import NEXT_STATUS, Datasource
from .tls import TlsSetting, install

BUSINESS_TABLE_EXCLUSIONS = tenant_schema.BUSINESS_TABLE_EXCLUSIONS


def generated_names(enterprise):
    """数据源名称 and 数据库名称, generated: ``ds_qy202611000001`` and ``hgj_qy202611000001``."""
    slug = (enterprise.enterprise_no or f"e{enterprise.id}").lower()
    return f"ds_{slug}", f"{current_app.config['TENANT_DATABASE_PREFIX']}{slug}"


def configure(enterprise, data, by):
    """Save the enterprise's datasource. A second configuration is refused: datasources are immutable."""
    if enterprise.datasource is not None:
        raise Conflict("datasource_immutable", _("The datasource is already configured and cannot be changed."))
    name, database = generated_names(enterprise)
    if data["type"] == "sqlite":
        data = {**data, "host": "instance/tenants", "port": 0}
    ds = Datasource(enterprise=enterprise, name=name, database=database, type=data["type"], host=data["host"],
                    port=data["port"], username=data["username"], password_encrypted=secrets.encrypt(data["password"]),
                    max_connections=data["max_connections"], min_connections=data["min_connections"],
                    remark=data.get("remark"), created_by_id=by.id)
    db.session.add(ds)
    return ds


def url_for_datasource(ds, with_database=True):
    """The SQLAlchemy URL, password decrypted in memory only."""
    if ds.type == "sqlite":
        import os

        folder = os.path.join(current_app.instance_path, "tenants")
        os.makedirs(folder, exist_ok=True)
        return URL.create("sqlite", database=os.path.join(folder, f"{ds.database}.sqlite3"))
    return URL.create("mysql+pymysql", username=ds.username, password=secrets.decrypt(ds.password_encrypted),
                      host=ds.host, port=ds.port, database=ds.database if with_database else None,
                      query={"charset": "utf8mb4"})


def unpooled_engine(url, **options):
    """An engine for one-off work on a tenant database (each connect opens a new connection), following the
    deployment's TLS setting like the pool registry's engines."""
    engine = create_engine(url, poolclass=NullPool, **options)
    install(engine, TlsSetting.from_config(current_app.config))
    return engine


def probe(ds, timeout=5):
    """Connect once (no pool): latency, server version, schema version. Raises ApiError 503 if unreachable."""
    engine = unpooled_engine(url_for_datasource(ds),
                             connect_args={} if ds.type == "sqlite" else {"connect_timeout": timeout})
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
    except Exception as exc:  # the driver's message can name the host; never the password
        raise ApiError(503, "datasource_unreachable",
                       _("The tenant database does not answer: %(reason)s", reason=type(exc).__name__)) from None
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

    The administrator and root department created by provisioning do not count."""
    report = {}
    if ds.type == "mysql":
        try:
            server = unpooled_engine(url_for_datasource(ds, with_database=False), connect_args={"connect_timeout": 5})
            with server.connect() as conn:
                exists = conn.execute(text("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :d"),
                                      {"d": ds.database}).scalar()
            server.dispose()
        except Exception:
            raise ApiError(503, "datasource_unreachable", _("The tenant database does not answer.")) from None
        if not exists:
            return report
    engine = unpooled_engine(url_for_datasource(ds))
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
                if count > 0:
                    report[table] = count
    except ApiError:
        raise
    except Exception:
        raise ApiError(503, "datasource_unreachable", _("The tenant database does not answer.")) from None
    finally:
        engine.dispose()
    return report


def delete(ds):
    """Delete while ``not_implemented`` and while its database holds no business rows (409 naming them)."""
    if ds.implementation_status != "not_implemented":
        raise Conflict("datasource_in_use", _("Only a datasource that is not implemented yet can be deleted."))
    found = business_rows(ds)
    if found:
        raise Conflict("datasource_has_data", _("The tenant database already holds business data."), found=found)
    from . import registry

    registry.dispose_tenant(ds.enterprise_id)
    db.session.delete(ds)
