"""Scheduled CRM work across every tenant, on the control database: one ``ScheduledRun`` row per tenant and
local day. The tenant side (what a run does, the rq jobs, the CLI) is ``tenant_runtime/core/schedule.py``.

A row moves ``pending -> queued -> running -> finished | failed`` (or ``skipped`` when the tenant cannot be
served). Every move is a compare-and-set ``UPDATE ... WHERE status IN (...)``, and rows are created with an
insert that ignores the unique key (tenant, day), so:

- claiming a day twice (a restarted scheduler, two schedulers) adds nothing;
- a run is executed by whoever moves it to ``running`` first: a duplicate job finds it taken and does nothing;
- nothing is lost: a ``queued`` row whose rq job vanished, or a ``running`` one whose worker died (older than
  the job time limit), is handed out again by the next tick, and a ``failed`` one is retried until it has been
  tried ``CRM_SCHEDULE_ATTEMPTS`` times.

``take_turns`` hands out at most ``CRM_SCHEDULE_CONCURRENCY`` runs at once (queued or running), oldest first,
so a thousand tenants are worked through in waves instead of opening their connections together.
"""

from datetime import UTC, time, timedelta

from flask import current_app
from sqlalchemy import func, insert, select, update

from common.timeutil import local_zone, utcnow
from extensions import db

from .models import Datasource, ScheduledRun, TenantJob

ACTIVE = ("queued", "running")
ENDED = ("finished", "failed", "skipped")


def job_id(run_id):
    """The rq job id of a run: one per row, so re-enqueueing a lost run replaces its job instead of adding one."""
    return f"crm-run-{run_id}"


def _at():
    hours, _, minutes = current_app.config.get("CRM_SCHEDULE_AT", "02:00").partition(":")
    return time(int(hours), int(minutes or 0))


def due_day(now=None):
    """The local day whose run is due at ``now`` (naive UTC): today from ``CRM_SCHEDULE_AT``, yesterday before."""
    local = (now or utcnow()).replace(tzinfo=UTC).astimezone(local_zone()).replace(tzinfo=None)
    at = _at()
    return (local - timedelta(hours=at.hour, minutes=at.minute)).date()


def eligible_tenant_ids():
    """Open, not suspended tenants with a provisioned datasource, by id: the ones a run is claimed for."""
    from platform_admin.enterprises.models import STATUS_OPEN, Enterprise

    provisioned = select(TenantJob.id).where(TenantJob.datasource_id == Datasource.id, TenantJob.kind == "provision",
                                             TenantJob.status == "finished").exists()
    return db.session.scalars(
        select(Enterprise.id).join(Datasource, Datasource.enterprise_id == Enterprise.id)
        .where(Enterprise.status == STATUS_OPEN, Enterprise.suspended_at.is_(None), provisioned)
        .order_by(Enterprise.id)).all()


def _insert_ignore():
    return insert(ScheduledRun.__table__).prefix_with("IGNORE", dialect="mysql").prefix_with("OR IGNORE",
                                                                                              dialect="sqlite")


def claim_day(day, tenant_ids=None):
    """Make sure every eligible tenant (or ``tenant_ids``) has its row for ``day``; returns how many were new.
    Idempotent and safe against a concurrent claim: the unique key decides, the loser's insert is ignored."""
    wanted = list(tenant_ids) if tenant_ids is not None else eligible_tenant_ids()
    have = set(db.session.scalars(select(ScheduledRun.tenant_id).where(ScheduledRun.run_date == day)))
    missing = [tid for tid in wanted if tid not in have]
    added = 0
    now = utcnow()
    for start in range(0, len(missing), 500):
        chunk = missing[start:start + 500]
        added += db.session.execute(_insert_ignore(), [
            {"tenant_id": tid, "run_date": day, "status": "pending", "attempts": 0, "tasks_failed": 0,
             "created_at": now} for tid in chunk]).rowcount or 0
    db.session.commit()
    return added


def _move(run_id, from_statuses, **values):
    """Compare-and-set: move the row only if it is still in one of ``from_statuses``. True if it moved."""
    moved = db.session.execute(update(ScheduledRun).where(ScheduledRun.id == run_id,
                                                          ScheduledRun.status.in_(from_statuses))
                               .values(**values).execution_options(synchronize_session=False)).rowcount
    return moved == 1


def stale_before(now=None):
    """A run still ``running`` that started before this has lost its worker: rq stops a job at its time limit."""
    limit = current_app.config.get("TENANT_JOB_TIMEOUT", 300)
    return (now or utcnow()) - timedelta(seconds=limit + 120)


def recover(day, job_alive):
    """Runs of ``day`` that were handed out and then lost (``job_alive(job_id)`` is false for a queued row, or
    a running row went stale) go back to ``queued`` to be enqueued again; returns them. Failed runs with
    attempts left go back to ``pending``, to wait for their turn again."""
    now = utcnow()
    lost = [row for row in db.session.scalars(select(ScheduledRun).where(ScheduledRun.run_date == day,
                                                                         ScheduledRun.status == "queued"))
            if not job_alive(row.job_id)]
    stale = db.session.scalars(select(ScheduledRun).where(ScheduledRun.run_date == day,
                                                          ScheduledRun.status == "running",
                                                          ScheduledRun.started_at < stale_before(now))).all()
    again = []
    attempts = current_app.config.get("CRM_SCHEDULE_ATTEMPTS", 3)
    for row in stale:
        if row.attempts >= attempts:
            _move(row.id, ("running",), status="failed", finished_at=now, error_code="interrupted",
                  error="interrupted: the worker running this run stopped before it ended")
        elif _move(row.id, ("running",), status="queued", queued_at=now, job_id=job_id(row.id)):
            again.append(row)
    again.extend(lost)
    db.session.execute(update(ScheduledRun).where(ScheduledRun.run_date == day, ScheduledRun.status == "failed",
                                                  ScheduledRun.attempts < attempts)
                       .values(status="pending").execution_options(synchronize_session=False))
    db.session.commit()
    for row in again:
        db.session.refresh(row)
    return [row for row in again if row.status == "queued"]


def in_flight(day=None):
    query = select(func.count(ScheduledRun.id)).where(ScheduledRun.status.in_(ACTIVE))
    if day is not None:
        query = query.where(ScheduledRun.run_date == day)
    return db.session.scalar(query)


def take_turns(day, concurrency=None):
    """Move up to the free room (``concurrency`` minus the runs queued or running) of ``day``'s pending runs to
    ``queued``, oldest first; returns the rows the caller now enqueues. The caller serialises ticks (a lock)."""
    concurrency = concurrency or current_app.config.get("CRM_SCHEDULE_CONCURRENCY") or \
        current_app.config.get("TENANT_CONNECTION_BUDGET", 60)
    room = concurrency - in_flight()
    if room <= 0:
        return []
    ids = db.session.scalars(select(ScheduledRun.id).where(ScheduledRun.run_date == day,
                                                           ScheduledRun.status == "pending")
                             .order_by(ScheduledRun.id).limit(room)).all()
    now = utcnow()
    taken = [run_id for run_id in ids if _move(run_id, ("pending",), status="queued", queued_at=now,
                                               job_id=job_id(run_id))]
    db.session.commit()
    return db.session.scalars(select(ScheduledRun).where(ScheduledRun.id.in_(taken)).order_by(ScheduledRun.id)).all() \
        if taken else []


def start(run_id, tenant_id, from_statuses=("queued",)):
    """Take the run for execution (compare-and-set to ``running``): the row, or None when it is not this
    tenant's or someone else took it already (a duplicate job does nothing)."""
    row = db.session.get(ScheduledRun, run_id)
    if row is None or row.tenant_id != int(tenant_id):
        return None
    moved = _move(run_id, from_statuses, status="running", started_at=utcnow(), finished_at=None,
                  attempts=ScheduledRun.attempts + 1, error_code=None, error=None)
    db.session.commit()
    if not moved:
        return None
    db.session.refresh(row)
    return row


def finish(run_id, results):
    """Record each task's outcome: ``results`` maps a task name to ``{"status", "summary"}`` or
    ``{"status": "failed", "error_code", "error"}``. The run failed if any task did."""
    failed = [name for name, outcome in results.items() if outcome.get("status") == "failed"]
    first = results[failed[0]] if failed else {}
    _move(run_id, ("running",), status="failed" if failed else "finished", finished_at=utcnow(),
          result={"tasks": results}, tasks_failed=len(failed), error_code=first.get("error_code"),
          error=(f"{failed[0]}: {first.get('error')}"[:2000] if failed else None))
    db.session.commit()


def fail(run_id, code, error, status="failed", tenant_id=None):
    """End a run that did not get to its tasks (time limit, tenant unavailable), unless it already ended."""
    row = db.session.get(ScheduledRun, run_id)
    if row is None or (tenant_id is not None and row.tenant_id != int(tenant_id)):
        return False
    moved = _move(run_id, ACTIVE + ("pending",), status=status, finished_at=utcnow(), error_code=code,
                  error=error[:2000])
    db.session.commit()
    return moved


def reset_for_rerun(run_id):
    """Let a finished or failed run be run again by hand (``flask crm run-tasks --again``): tasks are idempotent."""
    moved = _move(run_id, ENDED, status="pending", finished_at=None)
    db.session.commit()
    return moved


def latest_per_tenant():
    """Each tenant's latest run (the devops view): a query of ``ScheduledRun`` rows."""
    latest = (select(ScheduledRun.tenant_id, func.max(ScheduledRun.run_date).label("day"))
              .group_by(ScheduledRun.tenant_id).subquery())
    return select(ScheduledRun).join(latest, (ScheduledRun.tenant_id == latest.c.tenant_id)
                                     & (ScheduledRun.run_date == latest.c.day))


def day_counts(day):
    """``{status: count}`` of ``day``'s runs."""
    rows = db.session.execute(select(ScheduledRun.status, func.count(ScheduledRun.id))
                              .where(ScheduledRun.run_date == day).group_by(ScheduledRun.status)).all()
    return {status: n for status, n in rows}



# The declared tasks as ``[(name, label)]``, for the devops pages: set by the tenant runtime (tenant_runtime.init_app),
# which owns the declarations, so the registry imports nothing of it.
TASK_CATALOG = None


def task_catalog():
    return list(TASK_CATALOG()) if TASK_CATALOG else []


def schedulers():
    """The ``rq cron`` schedulers alive now (a heartbeat within rq's time-to-live): ``[(name, last heartbeat as
    naive UTC)]``; ``None`` without ``REDIS_URL``. Raises ``redis.RedisError`` when Redis does not answer."""
    if not current_app.config.get("REDIS_URL"):
        return None
    from redis import Redis
    from rq.cron import CronScheduler

    timeout = current_app.config.get("REDIS_SOCKET_TIMEOUT")
    conn = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=timeout, socket_connect_timeout=timeout)
    alive = []
    for scheduler in CronScheduler.all(connection=conn):
        beat = scheduler.last_heartbeat
        alive.append((scheduler.name, beat.replace(tzinfo=None) if beat else None))
    return alive
