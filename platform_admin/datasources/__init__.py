"""Devops pages and API for each enterprise's datasource (the rules live in datasource_registry)."""

from flask import g

from datasource_registry import jobs
from extensions import db
from platform_admin.audit.recorder import record


def start_provision(ds):
    """Queue (or, without Redis, run) the provisioning job and record in the audit log who asked for it and which
    job it is: it creates the tenant's database and sends the first administrator's link. The job's row is not
    audited itself (its progress moves on every step)."""
    row = jobs.enqueue("provision", ds, by=g.staff)
    record(db.session, "provision", "datasource", ds.id, after={"job_id": row.id})
    db.session.commit()
    return row
