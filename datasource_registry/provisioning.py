"""Provisioning a tenant database: create it (utf8mb4) with the datasource's own account, apply the
tenant schema, write the identity marker, run the tenant runtime's setup hooks (its first
administrator). Every step checks before it acts, so running it twice is harmless and a failed run
can simply be retried."""

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select, text

from extensions import db

from . import connect_errors, tenant_schema
from .jobs import JobFailure, job_kind
from .models import TenantJob
from .services import unpooled_engine

# Callables (connection, enterprise, report) -> dict | None that the tenant runtime registers. A hook
# may return a one-time "secret" (the first administrator's set-password token): it goes to NOTIFY_HOOKS
# and is never stored in the job's result.
PROVISION_HOOKS = []
# Callables (enterprise, results) that deliver the first login (the control plane registers its sender).
NOTIFY_HOOKS = []


# A provisioning job reports this progress once its database exists (the step after creating it).
SCHEMA_STEP = 25


class WrongTenantDatabase(JobFailure):
    """The database already carries another tenant's identity marker: refuse to touch it."""

    code = "wrong_tenant_database"


def database_may_exist(ds):
    """Whether provisioning may have created this datasource's database: a provision job of it is
    running or finished, or failed after the database step. If not, nothing was ever stored there."""
    started = select(TenantJob.id).where(
        TenantJob.datasource_id == ds.id, TenantJob.kind == "provision",
        or_(TenantJob.status.in_(("running", "finished")), TenantJob.progress >= SCHEMA_STEP)).limit(1)
    return db.session.scalar(started) is not None


def _create_database(ds):
    if ds.type == "sqlite":
        return
    # the job's first contact with the server: the ordinary timeouts, so a silent server fails it quickly
    server = unpooled_engine(ds, with_database=False)
    try:
        with server.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(ds.database)
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    except connect_errors.CONNECTING_ERRORS as exc:  # the first contact with the server: say only why
        raise connect_errors.connect_failure(exc) from None
    finally:
        server.dispose()


def _write_identity(conn, ds):
    row = conn.execute(text("SELECT tenant_id FROM tenant_identity WHERE id = 1")).first()
    if row is None:
        from common.timeutil import utcnow

        conn.execute(text("INSERT INTO tenant_identity (id, tenant_id, enterprise_no, created_at) VALUES (1, :t, :n, :c)"),
                     {"t": ds.enterprise_id, "n": ds.enterprise.enterprise_no, "c": utcnow()})
    elif int(row[0]) != ds.enterprise_id:
        raise WrongTenantDatabase(_("Database %(database)s belongs to tenant %(owner)s, not to tenant %(tenant)s.",
                                    database=ds.database, owner=row[0], tenant=ds.enterprise_id))


@job_kind("provision")
def provision(job, ds, report):
    enterprise = ds.enterprise
    report(5, _("Creating the database"))
    _create_database(ds)
    engine = unpooled_engine(ds, migration=True)
    results = {}
    try:
        with engine.connect() as conn:
            report(SCHEMA_STEP, _("Applying the tenant schema"))
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
    engine = unpooled_engine(ds, migration=True)
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
