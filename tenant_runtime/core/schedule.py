"""The CRM's scheduled tasks across every tenant: the scheduler's tick, one job per tenant and day, and the
inline runner behind ``flask crm run-tasks``.

``rq cron tenant_runtime.core.cron`` enqueues ``tick`` on the ``crm`` queue every ``CRM_SCHEDULE_INTERVAL``
seconds (and at once when it starts). A tick, under a Redis lock so concurrent ticks take turns:

1. claims the due day's run for every open tenant (``datasource_registry.schedule.claim_day``: one row per
   tenant and day, the unique key makes a second claim a no-op);
2. hands out again what was lost: a queued run whose rq job is gone, a running one whose worker died, a
   failed one with attempts left (it waits for its turn again);
3. enqueues at most ``CRM_SCHEDULE_CONCURRENCY`` runs at once (queued or running), each a job of its own
   through ``core.jobs`` (the tenant in ``job.meta``, bound as ``current_tenant``, its engine released after).
   Each run that ends hands the next pending one out, so the day's pass flows in waves without waiting for
   the next tick.

``run_day`` executes every task of ``core.tasks.ordered()`` for its tenant, each in turn, recording each
one's summary or failure code; a failing task does not stop the next one, nor other tenants.
"""

import importlib
import json
import logging
from contextlib import contextmanager

from flask import current_app, has_app_context
from rq import Callback
from rq.timeouts import JobTimeoutException

from common.timeutil import utcnow
from datasource_registry import schedule as runs

from . import jobs
from .tasks import ordered

log = logging.getLogger(__name__)

LOCK = "crm:schedule:lock"
RUN_DAY = "tenant_runtime.core.schedule:run_day"
ALIVE = ("queued", "started", "deferred", "scheduled")
SKIPPED = "skipped: the tenant is closed, suspended or not provisioned"  # stored as job errors are: plain English


# ---------------------------------------------------------------------------- one tenant's day


def selected_tasks():
    """The declared tasks, in order (only those named in ``CRM_TASKS`` when it is set)."""
    for module in _names(current_app.config.get("CRM_TASK_MODULES")):
        importlib.import_module(module)
    names = set(_names(current_app.config.get("CRM_TASKS")))
    return [task for task in ordered() if not names or task.name in names]


def _names(setting):
    return [name.strip() for name in (setting or "").split(",") if name.strip()]


def _jsonable(summary):
    return json.loads(json.dumps(summary if summary is not None else {}, default=str))


def run_day(run_id, inline=False):
    """The job of one tenant's day, run by ``core.jobs.run`` with its tenant bound. Does nothing if another
    job (a duplicate enqueue, the CLI) has already taken this run."""
    from datasource_registry.jobs import failure_of

    from ..context import current_tenant

    row = runs.start(run_id, current_tenant.tenant_id,
                     from_statuses=("pending", "queued", "failed") if inline else ("queued",))
    if row is None:
        return {"run": run_id, "skipped": "already taken"}
    day, results, now = row.run_date, {}, utcnow()
    for task in selected_tasks():
        try:
            summary = task.run(current_tenant.session, now)
            current_tenant.commit_if_written()
            results[task.name] = {"status": "finished", "summary": _jsonable(summary)}
        except Exception as exc:  # recorded with its code; the next task and the other tenants go on
            _discard(current_tenant)
            code, message = failure_of("task", exc, runs.job_id(run_id))
            log.error("scheduled task %s of tenant %s (run %s) failed: %s", task.name, row.tenant_id, run_id, code,
                      exc_info=exc)
            results[task.name] = {"status": "failed", "error_code": code, "error": message}
            if isinstance(exc, JobTimeoutException):
                break  # rq stopped the job: the tasks left wait for the next attempt
    _let_go(current_tenant)  # before the run stops counting as in flight: the next one may connect at once
    runs.finish(run_id, results)
    if not inline:
        top_up(day)
    return {"run": run_id, "tasks": results}


def _let_go(tenant):
    """Close the tenant's session and release its engine now (``core.jobs.run`` would, but only after the run is
    recorded and the next one handed out), so runs in flight bound the tenant connections held."""
    from datasource_registry.registry import release_tenant

    try:
        tenant.commit_if_written()
    finally:
        tenant.close()
        release_tenant(tenant.tenant_id)


def _discard(tenant):
    try:
        tenant.session.rollback()
    except Exception:  # noqa: BLE001 - the connection itself is gone: a new session gets a new one
        tenant.close()


def on_run_failure(job, connection, exc_type, exc_value, tb):
    """rq failure callback of a run's job that failed before or outside its tasks: refused, tenant
    unavailable, time limit. Records it on the run (never for a job whose meta and argument disagree)."""
    _path, tenant_id, run_id = (list(job.args) + [None, None, None])[:3]
    if exc_type is jobs.WrongTenant or int(job.meta.get("tenant_id") or 0) != int(tenant_id or 0):
        log.warning("refused scheduled job %s: its meta and its tenant disagree", job.id)
        return
    status = "failed"
    if exc_type is jobs.TenantUnavailable:
        code, error, status = "tenant_unavailable", SKIPPED, "skipped"
    elif isinstance(exc_value, JobTimeoutException):
        code, error = "timed_out", f"timed out: the run took longer than its limit of {job.timeout} seconds"
    else:
        code, error = "job_failed", f"failed: {getattr(exc_type, '__name__', 'unknown error')}"
    with _app_context():
        if runs.fail(run_id, code, error, status=status, tenant_id=tenant_id):
            from datasource_registry.models import ScheduledRun
            from extensions import db

            top_up(db.session.get(ScheduledRun, run_id).run_date)


# ---------------------------------------------------------------------------- the scheduler's tick


@contextmanager
def _app_context():
    if has_app_context():
        yield
        return
    from datasource_registry.jobs import _worker_app

    with _worker_app().app_context():
        yield


def _redis():
    from redis import Redis

    timeout = current_app.config.get("REDIS_SOCKET_TIMEOUT")
    return Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout)


@contextmanager
def _turn(conn, wait):
    """One tick or top-up at a time across all processes (so the concurrency limit holds); None if busy."""
    lock = conn.lock(LOCK, timeout=120, blocking_timeout=wait)
    if not lock.acquire():
        yield False
        return
    try:
        yield True
    finally:
        from redis.exceptions import LockError

        try:
            lock.release()
        except LockError:  # expired meanwhile: nothing to release
            pass


def _job_alive(conn, job_id):
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        return Job.fetch(job_id, connection=conn).get_status(refresh=False) in ALIVE
    except NoSuchJobError:
        return False


def dispatch(conn, rows):
    """Enqueue each queued run as its tenant's job (replacing a dead job of the same id); returns how many
    Redis took. One it does not take stays queued and is enqueued by the next tick."""
    from redis import RedisError
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    done = 0
    for row in rows:
        try:
            try:
                Job.fetch(row.job_id, connection=conn).delete()
            except NoSuchJobError:
                pass
            jobs.enqueue(run_day, row.tenant_id, row.id, job_id=row.job_id, on_failure=Callback(on_run_failure))
            done += 1
        except RedisError as exc:
            log.warning("scheduled run %s (tenant %s) not queued, the next tick retries: %s", row.id,
                        row.tenant_id, exc)
            break
    return done


def tick(now=None):
    """The scheduler's job (see the module's docstring); returns what it did."""
    with _app_context():
        if not current_app.config.get("REDIS_URL"):
            raise RuntimeError("the scheduler needs REDIS_URL; without it run `flask crm run-tasks`")
        day = runs.due_day(now)
        conn = _redis()
        with _turn(conn, wait=30) as mine:
            if not mine:
                return {"day": str(day), "busy": True}
            claimed = runs.claim_day(day)
            again, turns = [], []
            for each in (day.fromordinal(day.toordinal() - 1), day):  # yesterday's leftovers first
                again += runs.recover(each, lambda job_id: _job_alive(conn, job_id))
                turns += runs.take_turns(each)
            enqueued = dispatch(conn, again + turns)
        return {"day": str(day), "claimed": claimed, "recovered": len(again), "enqueued": enqueued}


def top_up(day):
    """A run ended: hand out the next pending ones of ``day`` (no-op when a tick or another top-up is busy:
    it hands them out itself)."""
    conn = _redis()
    with _turn(conn, wait=10) as mine:
        if mine:
            dispatch(conn, runs.take_turns(day))


# ---------------------------------------------------------------------------- without Redis


def run_inline(tenant_ids=None, day=None, again=False, progress=None):
    """``flask crm run-tasks``: the same runs, one tenant after another in this process (each tenant's
    engine released before the next). Claims the same rows, so it never doubles what the scheduler ran:
    a finished run is left alone unless ``again``. Returns the rows."""
    from sqlalchemy import select

    from datasource_registry.models import ScheduledRun
    from extensions import db

    day = day or runs.due_day()
    ids = list(tenant_ids) if tenant_ids is not None else runs.eligible_tenant_ids()
    runs.claim_day(day, ids)
    rows = db.session.scalars(select(ScheduledRun).where(ScheduledRun.run_date == day,
                                                         ScheduledRun.tenant_id.in_(ids))
                              .order_by(ScheduledRun.id)).all() if ids else []
    for row in rows:
        if again:
            runs.reset_for_rerun(row.id)
        try:
            jobs.run(RUN_DAY, row.tenant_id, row.id, True)
        except jobs.TenantUnavailable:
            runs.fail(row.id, "tenant_unavailable", SKIPPED, status="skipped")
        except Exception as exc:
            from datasource_registry.jobs import failure_of

            code, error = failure_of("task", exc, runs.job_id(row.id))
            log.error("scheduled run %s of tenant %s failed: %s", row.id, row.tenant_id, code, exc_info=exc)
            runs.fail(row.id, code, error)
        db.session.commit()  # end this session's snapshot: the run was recorded by the job's own session
        db.session.refresh(row)
        if progress:
            progress(row)
    return rows


def task_catalog():
    """``[(name, label)]`` of the tasks a run executes, for the devops pages."""
    return [(task.name, task.label) for task in selected_tasks()]
