"""Tenant jobs on rq, each carrying its tenant explicitly.

``enqueue(kind, datasource)`` records a ``TenantJob`` row and puts the job on rq with ``tenant_id`` and
``datasource_id`` in ``job.meta``; with no ``REDIS_URL`` it runs inline. The worker side
(``run``) refuses a job whose meta lacks either id or disagrees with the row, opens a fresh app context
for the job, and always closes its sessions after.
"""

import secrets
import traceback

from flask import current_app, g

from common.timeutil import utcnow
from extensions import db

from .models import TenantJob

JOB_KINDS = {}  # kind -> function(job_row, datasource, report) registered by the modules that own them


class MissingTenantContext(Exception):
    """A tenant job arrived without tenant_id/datasource_id in its meta, or with ids that do not match."""


def job_kind(name):
    def register(fn):
        JOB_KINDS[name] = fn
        return fn
    return register


def _queue():
    from redis import Redis
    from rq import Queue

    return Queue("tenants", connection=Redis.from_url(current_app.config["REDIS_URL"]))


def record(kind, datasource, by=None, fleet_run_id=None):
    """Add the tracked ``TenantJob`` row of a job on one tenant (queued; the caller commits)."""
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    row = TenantJob(id=secrets.token_hex(16), kind=kind, tenant_id=datasource.enterprise_id,
                    datasource_id=datasource.id, created_by_id=getattr(by, "id", None), fleet_run_id=fleet_run_id)
    db.session.add(row)
    return row


def tenant_meta(row):
    """The tenant context a job carries (rq ``job.meta``) and ``execute`` checks against its row."""
    return {"tenant_id": row.tenant_id, "datasource_id": row.datasource_id}


def enqueue(kind, datasource, by=None, fleet_run_id=None, commit=True):
    row = record(kind, datasource, by=by, fleet_run_id=fleet_run_id)
    if commit:
        db.session.commit()
    if current_app.config.get("REDIS_URL"):
        _queue().enqueue(run, row.id, job_id=row.id, meta=tenant_meta(row),
                         job_timeout=600, result_ttl=86400, failure_ttl=7 * 86400)
    else:
        execute(row.id, tenant_meta(row))
    return row


def run(job_id):
    """rq entry point: runs in a worker process, in an app context of its own."""
    from rq import get_current_job

    meta = get_current_job().meta if get_current_job() else {}
    app = _worker_app()
    with app.app_context():
        try:
            return execute(job_id, meta)
        finally:
            db.session.remove()


_APP = None


def _worker_app():
    """The worker process's app, built on first use. ``worker.TenantWorker`` builds it before forking, so
    every job's work horse inherits it instead of building its own."""
    global _APP
    if _APP is None:
        from app import create_app

        _APP = create_app()
    return _APP


class Report:
    """Progress reporting for a running job: into its row (and so the UI and ``GET /jobs/<id>``)."""

    def __init__(self, row):
        self.row = row

    def __call__(self, progress, message):
        self.row.progress, self.row.message = int(progress), str(message)[:255]
        db.session.commit()


def execute(job_id, meta):
    row = db.session.get(TenantJob, job_id)
    if row is None:
        raise LookupError(f"no tenant job {job_id}")
    if not meta.get("tenant_id") or not meta.get("datasource_id") or \
            int(meta["tenant_id"]) != row.tenant_id or int(meta["datasource_id"]) != row.datasource_id:
        row.status, row.error, row.finished_at = "failed", "refused: the job carries no matching tenant context", utcnow()
        db.session.commit()
        raise MissingTenantContext(f"job {job_id} refused: tenant context missing or mismatched")
    from .models import Datasource

    ds = db.session.get(Datasource, row.datasource_id)
    g.audit_label = f"job:{row.kind}"
    row.status, row.started_at, row.error = "running", utcnow(), None
    db.session.commit()
    try:
        result = JOB_KINDS[row.kind](row, ds, Report(row))
    except Exception as exc:
        db.session.rollback()
        row = db.session.get(TenantJob, job_id)
        row.status, row.finished_at = "failed", utcnow()
        row.error = f"{type(exc).__name__}: {exc}"[:2000]
        current_app.logger.warning("tenant job %s (%s, tenant %s) failed: %s", job_id, row.kind, row.tenant_id,
                                   traceback.format_exception_only(exc)[-1].strip())
        db.session.commit()
        return {"status": "failed"}
    finally:
        from .registry import release_tenant

        release_tenant(meta["tenant_id"])  # loops over tenants must not keep every engine open
    row.status, row.progress, row.finished_at, row.result = "finished", 100, utcnow(), result
    row.message = row.message or "done"
    db.session.commit()
    return {"status": "finished"}


def job_json(row):
    from common.timeutil import isoformat

    return {"id": row.id, "kind": row.kind, "tenant_id": str(row.tenant_id),
            "datasource_id": None if row.datasource_id is None else str(row.datasource_id), "status": row.status,
            "progress": row.progress, "message": row.message, "result": row.result, "error": row.error,
            "created_at": isoformat(row.created_at), "started_at": isoformat(row.started_at),
            "finished_at": isoformat(row.finished_at)}
