"""Tenant jobs on rq, each carrying its tenant explicitly.

``enqueue(kind, datasource)`` records a ``TenantJob`` row and puts the job on rq with ``tenant_id`` and
``datasource_id`` in ``job.meta``; with no ``REDIS_URL`` it runs inline. The worker side
(``run``) refuses a job whose meta lacks either id or disagrees with the row, opens a fresh app context
for the job, and always closes its sessions after.

Every job has a time limit (``TENANT_JOB_TIMEOUT``) and its database connections have read/write timeouts, so
a tenant whose database hangs holds a worker for a bounded time. Its row always ends: ``execute`` records
any failure, the rq failure callback ``on_job_failure`` one that escaped it (or a job rq found abandoned by a
dead worker), and ``TenantWorker`` a job whose work horse rq killed (stopped, or past its limit).
"""

import secrets

from flask import current_app, g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from rq import Callback, get_current_job
from rq.exceptions import AbandonedJobError
from rq.timeouts import JobTimeoutException

from common.errors import ApiError
from common.timeutil import utcnow
from extensions import db

from . import connect_errors
from .models import TenantJob
from .tenant_schema import TenantSchemaError

JOB_KINDS = {}  # kind -> function(job_row, datasource, report) registered by the modules that own them


class MissingTenantContext(Exception):
    """A tenant job arrived without tenant_id/datasource_id in its meta, or with ids that do not match."""


# How a failed job of each kind is described when its exception is not one of our own.
FAILED = {"provision": _l("Provisioning failed"), "upgrade": _l("The schema upgrade failed"), None: _l("The job failed")}


class JobFailure(Exception):
    """A failure a job explains in its own words: the message is written for people and quotes no SQL,
    parameter or secret, so it is stored and shown as it is, under ``code``."""

    code = "job_failed"

    def __init__(self, message, code=None):
        super().__init__(message)
        if code:
            self.code = code


def failure_of(kind, exc, job_id):
    """``(code, message)`` a failed job stores and every staff role may read.

    Only our own failures keep their words. Any other exception (a driver's error can quote the values
    of the statement it failed on, such as the first administrator's password hash) becomes a plain
    message naming its class; its details go to the server log alone.
    """
    timed_out = _timed_out(exc)
    if timed_out:
        return "timed_out", timed_out
    if isinstance(exc, JobFailure):
        return exc.code, str(exc)[:2000]
    code = connect_errors.failure_code(exc)
    if code is not None:  # could not reach the tenant's database: its code, never the driver's text
        return code, str(connect_errors.message(code))
    if isinstance(exc, ApiError):
        return exc.code, str(exc.message)[:2000]
    if isinstance(exc, TenantSchemaError):
        return "tenant_schema_error", str(exc)[:2000]
    return f"{kind}_failed", _("%(what)s (%(reason)s). The details are in the server log under job %(job)s.",
                               what=FAILED.get(kind, FAILED[None]), reason=type(exc).__name__, job=job_id)


class QueueUnavailable(ApiError):
    """Redis did not take the job (down, or silent past ``REDIS_SOCKET_TIMEOUT``): a 503, nothing left queued."""

    def __init__(self, message, **extra):
        super().__init__(503, "queue_unavailable", message, extra=extra)


QUEUE_DOWN_ERROR = "not queued: the job queue (Redis) did not answer"


def job_kind(name):
    def register(fn):
        JOB_KINDS[name] = fn
        return fn
    return register


def _queue():
    from redis import Redis
    from rq import Queue

    timeout = current_app.config.get("REDIS_SOCKET_TIMEOUT")
    return Queue("tenants", connection=Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=timeout,
                                                      socket_connect_timeout=timeout))


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
    """Record the job and run it: on rq with ``REDIS_URL``, inline otherwise. When Redis does not take it,
    raises ``QueueUnavailable`` (503) with the row failed (committed) or, with ``commit=False``, never
    written (the caller rolls back), so no row waits as ``queued`` for a job that does not exist."""
    from redis import RedisError

    row = record(kind, datasource, by=by, fleet_run_id=fleet_run_id)
    if commit:
        db.session.commit()
    if current_app.config.get("REDIS_URL"):
        try:
            _queue().enqueue(run, row.id, job_id=row.id, meta=tenant_meta(row), on_failure=Callback(on_job_failure),
                             job_timeout=current_app.config.get("TENANT_JOB_TIMEOUT", 300), result_ttl=86400,
                             failure_ttl=7 * 86400)
        except RedisError as exc:
            _not_queued(row, exc, committed=commit)
    else:
        execute(row.id, tenant_meta(row))
    return row


def _not_queued(row, exc, committed):
    current_app.logger.warning("tenant job %s (%s, tenant %s) not queued: %s", row.id, row.kind, row.tenant_id, exc)
    if committed:
        row.status, row.error, row.finished_at = "failed", QUEUE_DOWN_ERROR, utcnow()
        row.error_code = "queue_unavailable"
        db.session.commit()
    raise QueueUnavailable(_("The job queue is not answering, so nothing was started. Try again in a moment."))


def run(job_id):
    """rq entry point: runs in a worker process, in an app context of its own."""
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
        row.error_code = "missing_tenant_context"
        db.session.commit()
        raise MissingTenantContext(f"job {job_id} refused: tenant context missing or mismatched")
    from .models import Datasource

    ds = db.session.get(Datasource, row.datasource_id)
    g.audit_label = f"job:{row.kind}"
    row.status, row.started_at, row.error, row.error_code = "running", utcnow(), None, None
    db.session.commit()
    try:
        result = JOB_KINDS[row.kind](row, ds, Report(row))
    except Exception as exc:
        db.session.rollback()
        row = db.session.get(TenantJob, job_id)
        row.status, row.finished_at = "failed", utcnow()
        row.error_code, row.error = failure_of(row.kind, exc, job_id)
        # The whole story for the server log only; every engine hides SQL parameters, so none is in it.
        current_app.logger.error("tenant job %s (%s, tenant %s) failed: %s", job_id, row.kind, row.tenant_id,
                                 row.error_code, exc_info=exc)
        db.session.commit()
        return {"status": "failed"}
    finally:
        from .registry import release_tenant

        release_tenant(meta["tenant_id"])  # loops over tenants must not keep every engine open
    row.status, row.progress, row.finished_at, row.result = "finished", 100, utcnow(), result
    row.message = row.message or "done"
    db.session.commit()
    return {"status": "finished"}


def _timed_out(exc, job=None):
    """The plain error of a job rq stopped at its time limit (None for any other failure)."""
    if not isinstance(exc, JobTimeoutException):
        return None
    job = job or get_current_job()
    return f"timed out: the job ran longer than its limit of {job.timeout if job else '?'} seconds"


def fail_unfinished(job_id, code, error):
    """End a job's row as failed, with ``code`` and a plain ``error``, unless it already ended (the caller
    commits)."""
    row = db.session.get(TenantJob, job_id)
    if row is not None and row.status not in ("finished", "failed"):
        row.status, row.error_code, row.error, row.finished_at = "failed", code, error[:2000], utcnow()
    return row


def _fail_from_worker(job_id, code, error):
    """Record a failure rq saw but ``execute`` did not, from a worker or work horse process."""
    app = _worker_app()
    with app.app_context():
        try:
            fail_unfinished(job_id, code, error)
            db.session.commit()
        finally:
            db.session.remove()
            db.engine.dispose()  # a work horse forked from this process later must not share these sockets


def on_job_failure(job, connection, exc_type, exc_value, tb):
    """rq failure callback (in the work horse, or in whichever worker cleans up a job whose worker died)."""
    if exc_type is AbandonedJobError:
        code, error = "interrupted", "interrupted: the worker running this job stopped before it ended"
    elif _timed_out(exc_value, job):
        code, error = "timed_out", _timed_out(exc_value, job)
    else:
        code, error = "job_failed", f"failed: {getattr(exc_type, '__name__', 'unknown error')}"
    _fail_from_worker(job.id, code, error)
