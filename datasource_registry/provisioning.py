"""Provisioning a tenant database: create it (utf8mb4) with the datasource's own account, apply the
tenant schema, write the identity marker, run the tenant runtime's setup hooks (its first
administrator). Every step checks before it acts, so running it twice is harmless and a failed run
can simply be retried."""

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import text

from extensions import db

from . import tenant_schema
from .jobs import job_kind
from .services import unpooled_engine, url_for_datasource

# Callables (connection, enterprise, report) -> dict | None that the tenant runtime registers. A hook
# may return a one-time "secret" (the first administrator's password): it goes to NOTIFY_HOOKS and is
# never stored in the job's result.
PROVISION_HOOKS = []
# Callables (enterprise, results) that deliver the first login (the control plane registers its sender).
NOTIFY_HOOKS = []


class WrongTenantDatabase(Exception):
    """The database already carries another tenant's identity marker: refuse to touch it."""


def _create_database(ds):
    if ds.type == "sqlite":
        return
    server = unpooled_engine(url_for_datasource(ds, with_database=False), connect_args={"connect_timeout": 10})
    try:
        with server.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(ds.database)
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    finally:
        server.dispose()


def _write_identity(conn, ds):
    row = conn.execute(text("SELECT tenant_id FROM tenant_identity WHERE id = 1")).first()
    if row is None:
        from common.timeutil import utcnow

        conn.execute(text("INSERT INTO tenant_identity (id, tenant_id, enterprise_no, created_at) VALUES (1, :t, :n, :c)"),
                     {"t": ds.enterprise_id, "n": ds.enterprise.enterprise_no, "c": utcnow()})
    elif int(row[0]) != ds.enterprise_id:
        raise WrongTenantDatabase(f"database {ds.database} belongs to tenant {row[0]}, not {ds.enterprise_id}")


@job_kind("provision")
def provision(job, ds, report):
    enterprise = ds.enterprise
    report(5, _("Creating the database"))
    _create_database(ds)
    engine = unpooled_engine(url_for_datasource(ds))
    results = {}
    try:
        with engine.connect() as conn:
            report(25, _("Applying the tenant schema"))
            if conn.dialect.name == "mysql":
                # Check the marker before migrating: never alter a database that is another tenant's.
                has_marker = conn.execute(text("SHOW TABLES LIKE 'tenant_identity'")).first()
                if has_marker:
                    _write_identity(conn, ds)
            conn.commit()  # upgrade() wants no transaction open
            revision = tenant_schema.upgrade(conn)
            report(60, _("Writing the identity marker"))
            _write_identity(conn, ds)
            conn.commit()
            report(75, _("Creating the first administrator"))
            for hook in PROVISION_HOOKS:
                results.update(hook(conn, enterprise, report) or {})
            conn.commit()
    finally:
        engine.dispose()
    if results.get("secret"):
        report(90, _("Sending the first login to the enterprise contact"))
        for notify in NOTIFY_HOOKS:
            notify(enterprise, results)
    report(95, _("Done"))
    current_app.logger.info("provisioned tenant %s (%s) at schema %s", ds.enterprise_id, ds.database, revision)
    db.session.commit()
    return {"database": ds.database, "schema_version": revision, **{k: v for k, v in results.items() if k != "secret"}}


@job_kind("upgrade")
def upgrade(job, ds, report):
    """One tenant of a fleet migration: bring its schema to head."""
    engine = unpooled_engine(url_for_datasource(ds))
    try:
        with engine.connect() as conn:
            _write_identity(conn, ds)  # refuses a database that is not this tenant's
            before = tenant_schema.current_revision(conn)
            conn.commit()
            report(30, _("Upgrading from %(rev)s", rev=before or "-"))
            after = tenant_schema.upgrade(conn)
    finally:
        engine.dispose()
    return {"from": before, "to": after}
