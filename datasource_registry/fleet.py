"""Fleet migrations: bring every provisioned tenant database to the tenant schema's head.

A ``FleetRun`` is opened by ``start`` (or re-opened by ``resume``), committed by the caller, then
executed by ``run`` in some coordinator: the ``flask tenants upgrade`` CLI, an rq job on the "tenants"
queue (``run_job``), or a background thread of the web process (``launch`` picks one of the last two).
Each tenant is one tracked ``TenantJob`` (kind ``upgrade``, ``fleet_run_id`` set) created and executed
inline in one of the coordinator's threads, each thread in an app context (and so a session) of its own:

1. the canary wave: the first ``canary_size`` pending tenants (by datasource id). If any of them fails,
   the run ends ``halted`` and no other tenant is touched;
2. the rest, ``worker_limit(parallelism)`` at a time. A failure is recorded on its job and the run goes
   on; it ends ``finished`` or ``finished_with_failures``.

Resumable: a run that halted, had failures, was interrupted (its coordinator could not be queued), or
whose coordinator died (no heartbeat for ``FLEET_STALE_SECONDS``) can be resumed; ``run`` skips the
tenants whose upgrade already finished in this run and retries the rest, canary wave first again.
Upgrades are idempotent, so retrying is safe. Only one run is open at a time: the database refuses a
second (unique ``running_slot``).

For scripts and benchmarks, ``upgrade_all(canary=0, parallelism=8, progress=cb)`` does all of it in the
current app context; ``cb(done, total, outcome)`` gets a ``TenantOutcome`` (with the tenant's wall time in
``seconds``) after each tenant, and ``outcome=None`` once at the start of each pass.
"""

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from common.db import savepoint
from common.errors import ApiError, Conflict, Invalid
from common.timeutil import utcnow
from extensions import db

from . import jobs, tenant_schema
from .models import Datasource, FleetRun, TenantJob

log = logging.getLogger(__name__)

DEFAULT_PARALLELISM = 4
# Each worker thread holds a control-database connection while its tenant upgrades: stay inside
# Flask-SQLAlchemy's default pool (5 + 10 overflow), leaving room for the coordinator and web requests.
MAX_PARALLELISM = 10
MAX_CANARY = 100
HEARTBEAT_SECONDS = 10  # the coordinator touches updated_at at least this often while tenants run
DEFAULT_STALE_SECONDS = 120  # no heartbeat for this long: the coordinator is gone, the run may be resumed
COORDINATOR_TIMEOUT = 24 * 3600  # rq job timeout of one coordinator pass
ENDED_JOB = ("finished", "failed")


@dataclass(frozen=True)
class TenantOutcome:
    """What became of one tenant in a pass: reported to ``run``'s progress callback."""

    datasource_id: int
    tenant_id: int | None
    job_id: str | None
    status: str  # finished | failed
    error: str | None
    seconds: float
    error_code: str | None = None


# ---------------------------------------------------------------------------- the fleet


def _provisioned():
    return select(TenantJob.id).where(TenantJob.datasource_id == Datasource.id, TenantJob.kind == "provision",
                                      TenantJob.status == "finished").exists()


def provisioned_datasources():
    """The fleet: every datasource with a finished provision job, in datasource id order."""
    return db.session.scalars(select(Datasource).where(_provisioned()).order_by(Datasource.id)).all()


def tenant_count():
    return db.session.scalar(select(func.count(Datasource.id)).where(_provisioned()))


def tenants_behind(head=None):
    """How many provisioned tenants are not known to be at ``head``: their latest finished provisioning or
    upgrade recorded another revision, or none. Read from the jobs' results, without connecting to any tenant
    (a tenant migrated by hand behind the platform's back still counts as behind: an upgrade is harmless)."""
    head = head or tenant_schema.head_revision()
    latest = (select(TenantJob.datasource_id, func.max(TenantJob.finished_at).label("at"))
              .where(TenantJob.kind.in_(("provision", "upgrade")), TenantJob.status == "finished")
              .group_by(TenantJob.datasource_id).subquery())
    results = db.session.execute(
        select(TenantJob.datasource_id, TenantJob.result)
        .join(latest, (TenantJob.datasource_id == latest.c.datasource_id) & (TenantJob.finished_at == latest.c.at))
        .where(TenantJob.kind.in_(("provision", "upgrade")), TenantJob.status == "finished")).all()
    current = {ds_id for ds_id, result in results
               if isinstance(result, dict) and (result.get("to") or result.get("schema_version")) == head}
    return len([ds for ds in provisioned_datasources() if ds.id not in current])


def schema_revision(ds, timeout=None):
    """The tenant database's schema revision (None if never migrated); raises if it cannot be reached."""
    from .services import unpooled_engine

    engine = unpooled_engine(ds, connect_timeout=timeout)
    try:
        with engine.connect() as conn:
            return tenant_schema.current_revision(conn)
    finally:
        engine.dispose()


def worker_limit(parallelism):
    """Threads for a wave: the parallelism asked for, within the connection budget's free room, at least 1."""
    from .registry import stats

    budget = stats()
    return max(1, min(int(parallelism), budget["budget"] - budget["checked_out"]))


# ---------------------------------------------------------------------------- opening a run


def active_run():
    """The run holding the running slot, if any."""
    return db.session.scalar(select(FleetRun).where(FleetRun.running_slot.is_not(None)))


def is_stale(fleet_run):
    """A run marked running whose coordinator has not reported for ``FLEET_STALE_SECONDS``: it died."""
    limit = timedelta(seconds=current_app.config.get("FLEET_STALE_SECONDS", DEFAULT_STALE_SECONDS))
    return fleet_run.status == "running" and utcnow() - fleet_run.updated_at > limit


def resumable(fleet_run):
    return fleet_run.status in ("halted", "interrupted", "finished_with_failures") or is_stale(fleet_run)


def _in_progress(other):
    extra = {"run_id": str(other.id)} if other is not None else {}
    return Conflict("fleet_run_in_progress", _("A fleet upgrade is already running."), **extra)


def _claim(fleet_run):
    """Take the single running slot for this run; a concurrent claim loses on the unique index."""
    other = active_run()
    if other is not None and other.id != fleet_run.id:
        raise _in_progress(other)
    fleet_run.status, fleet_run.running_slot, fleet_run.finished_at = "running", 1, None
    fleet_run.updated_at = utcnow()
    try:
        with savepoint(db.session):
            db.session.add(fleet_run)
    except IntegrityError:
        raise _in_progress(active_run()) from None


def _check_sizes(canary, parallelism):
    fields = {}
    if not 0 <= canary <= MAX_CANARY:
        fields["canary"] = [_("An integer from %(min)s to %(max)s.", min=0, max=MAX_CANARY)]
    if not 1 <= parallelism <= MAX_PARALLELISM:
        fields["parallelism"] = [_("An integer from %(min)s to %(max)s.", min=1, max=MAX_PARALLELISM)]
    if fields:
        raise Invalid(fields)


def start(by=None, canary=1, parallelism=None):
    """Open a fleet run towards the current head (status running). The caller commits, then runs or
    launches it. 409 ``fleet_run_in_progress`` while another run is open."""
    parallelism = parallelism or current_app.config.get("FLEET_PARALLELISM", DEFAULT_PARALLELISM)
    _check_sizes(canary, parallelism)
    fleet_run = FleetRun(target_revision=tenant_schema.head_revision(), canary_size=canary, parallelism=parallelism,
                         started_by_id=getattr(by, "id", None), total=0, succeeded=0, failed=0)
    _claim(fleet_run)
    return fleet_run


def resume(run_id):
    """Re-open a halted run, one with failures, or one whose coordinator died. The caller commits, then
    runs or launches it: its finished tenants are skipped, the others retried."""
    fleet_run = db.session.get(FleetRun, run_id)
    if fleet_run is None:
        raise ApiError(404, "not_found", _("No such fleet run."))
    if fleet_run.status == "finished":
        raise Conflict("fleet_run_complete", _("This fleet run upgraded every tenant; start a new one instead."))
    if fleet_run.status == "running" and not is_stale(fleet_run):
        raise _in_progress(fleet_run)
    # jobs left queued or running by a coordinator that died will never end by themselves
    db.session.execute(update(TenantJob).where(TenantJob.fleet_run_id == fleet_run.id,
                                               TenantJob.status.in_(("queued", "running")))
                       .values(status="failed", finished_at=utcnow(),
                               error="interrupted: the fleet run stopped before this job ended"))
    _claim(fleet_run)
    return fleet_run


# ---------------------------------------------------------------------------- executing a run


class _Tally:
    """Which tenants (datasource ids) of a run are upgraded and which failed, kept on the run's counters."""

    def __init__(self, run_id):
        rows = db.session.execute(select(TenantJob.datasource_id, TenantJob.status).where(
            TenantJob.fleet_run_id == run_id, TenantJob.status.in_(ENDED_JOB))).all()
        self.ok = {ds_id for ds_id, status in rows if status == "finished"}
        self.bad = {ds_id for ds_id, status in rows if status == "failed"} - self.ok

    def add(self, outcome):
        if outcome.status == "finished":
            self.ok.add(outcome.datasource_id)
            self.bad.discard(outcome.datasource_id)
        else:
            self.bad.add(outcome.datasource_id)

    def write(self, fleet_run):
        fleet_run.succeeded, fleet_run.failed, fleet_run.updated_at = len(self.ok), len(self.bad), utcnow()


def _upgrade_tenant(app, run_id, datasource_id, by_id):
    """One tenant, in a worker thread: record its job row, execute it inline, report. Never raises."""
    started = time.perf_counter()
    job_id = tenant_id = None
    with app.app_context():
        g.audit_label = f"fleet:{run_id}"
        try:
            ds = db.session.get(Datasource, datasource_id)
            row = jobs.record("upgrade", ds, fleet_run_id=run_id)
            row.created_by_id = by_id
            db.session.commit()
            job_id, tenant_id = row.id, row.tenant_id
            jobs.execute(job_id, jobs.tenant_meta(row))
            row = db.session.get(TenantJob, job_id)
            return TenantOutcome(datasource_id, tenant_id, job_id, row.status, row.error, time.perf_counter() - started,
                                 row.error_code)
        except Exception as exc:  # noqa: BLE001 - a failure outside the job (control database, lost datasource)
            db.session.rollback()
            log.warning("fleet run %s: tenant datasource %s failed outside its job", run_id, datasource_id,
                        exc_info=exc)
            code, error = jobs.failure_of("upgrade", exc, job_id)
            return TenantOutcome(datasource_id, tenant_id, job_id, "failed", error, time.perf_counter() - started, code)
        finally:
            db.session.remove()


def _record_lost_failure(fleet_run, outcome):
    """A tenant that failed outside its job: make sure a failed job row says so (resume and the list rely on it)."""
    row = db.session.get(TenantJob, outcome.job_id) if outcome.job_id else None
    if row is None:
        ds = db.session.get(Datasource, outcome.datasource_id)
        if ds is None:
            return
        row = jobs.record("upgrade", ds, fleet_run_id=fleet_run.id)
        row.created_by_id = fleet_run.started_by_id
    if row.status != "failed":
        row.status, row.error, row.finished_at = "failed", outcome.error, utcnow()
        row.error_code = outcome.error_code


def _wave(app, fleet_run, datasource_ids, tally, progress):
    """Upgrade these tenants, a bounded number at a time; returns their outcomes."""
    if not datasource_ids:
        return []
    outcomes = []
    workers = min(worker_limit(fleet_run.parallelism), len(datasource_ids))
    run_id, by_id = fleet_run.id, fleet_run.started_by_id
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"fleet-{run_id}") as pool:
        waiting = {pool.submit(_upgrade_tenant, app, run_id, ds_id, by_id) for ds_id in datasource_ids}
        while waiting:
            done, waiting = wait(waiting, timeout=HEARTBEAT_SECONDS, return_when=FIRST_COMPLETED)
            db.session.commit()  # end this session's snapshot (MySQL repeatable read): see the workers' rows
            batch = [future.result() for future in done]
            for outcome in batch:
                if outcome.status != "finished":
                    _record_lost_failure(fleet_run, outcome)
                tally.add(outcome)
            tally.write(fleet_run)  # also the heartbeat, when nothing finished
            db.session.commit()
            for outcome in batch:
                outcomes.append(outcome)
                if progress:
                    progress(fleet_run.done, fleet_run.total, outcome)
    return outcomes


def _end(fleet_run, status):
    fleet_run.status, fleet_run.running_slot, fleet_run.finished_at = status, None, utcnow()
    db.session.commit()
    log.info("fleet run %s %s: %s upgraded, %s failed of %s", fleet_run.id, status, fleet_run.succeeded,
             fleet_run.failed, fleet_run.total)
    return fleet_run


def run(run_id, progress=None):
    """Execute an open run in the current app context and return it, ended. Commits as it goes.

    ``progress(done, total, outcome)`` is called in this thread: once with ``outcome=None`` before any
    tenant, then after each tenant.
    """
    app = current_app._get_current_object()
    fleet_run = db.session.get(FleetRun, run_id)
    if fleet_run is None:
        raise LookupError(f"no fleet run {run_id}")
    if fleet_run.status != "running":
        return fleet_run  # ended already (or never resumed): nothing to do
    tally = _Tally(run_id)
    fleet = [ds.id for ds in provisioned_datasources()]
    pending = [ds_id for ds_id in fleet if ds_id not in tally.ok]
    fleet_run.total = len(set(fleet) | tally.ok)
    tally.write(fleet_run)
    db.session.commit()
    if progress:
        progress(fleet_run.done, fleet_run.total, None)
    canary, rest = pending[:fleet_run.canary_size], pending[fleet_run.canary_size:]
    if any(o.status != "finished" for o in _wave(app, fleet_run, canary, tally, progress)):
        return _end(fleet_run, "halted")
    _wave(app, fleet_run, rest, tally, progress)
    return _end(fleet_run, "finished_with_failures" if fleet_run.failed else "finished")


def upgrade_all(by=None, canary=1, parallelism=None, progress=None):
    """Start a run, commit it and execute it here: the one call for scripts and benchmarks."""
    fleet_run = start(by=by, canary=canary, parallelism=parallelism)
    db.session.commit()
    return run(fleet_run.id, progress=progress)


def failures(fleet_run):
    """The tenants of a run still failed (no finished upgrade in it), each with its latest failed job."""
    from platform_admin.enterprises.models import Enterprise

    upgraded = select(TenantJob.datasource_id).where(TenantJob.fleet_run_id == fleet_run.id,
                                                      TenantJob.status == "finished",
                                                      TenantJob.datasource_id.is_not(None))
    rows = db.session.execute(
        select(TenantJob, Enterprise, Datasource)
        .join(Enterprise, Enterprise.id == TenantJob.tenant_id)
        .outerjoin(Datasource, Datasource.id == TenantJob.datasource_id)
        .where(TenantJob.fleet_run_id == fleet_run.id, TenantJob.status == "failed",
               TenantJob.datasource_id.not_in(upgraded))
        .order_by(TenantJob.created_at, TenantJob.id)).all()
    latest = {}
    for job, enterprise, ds in rows:
        latest[(job.tenant_id, job.datasource_id)] = {
            "tenant_id": job.tenant_id, "enterprise_no": enterprise.enterprise_no, "enterprise_name": enterprise.name,
            "datasource_id": job.datasource_id, "datasource": ds.name if ds else None, "job_id": job.id,
            "error_code": job.error_code, "error": job.error, "finished_at": job.finished_at}
    return list(latest.values())


# ---------------------------------------------------------------------------- coordinators


def launch(run_id):
    """Hand a committed, open run to a coordinator outside the request: an rq job on the "tenants" queue
    when ``REDIS_URL`` is set, otherwise a background thread of this process (the embedded default)."""
    app = current_app._get_current_object()
    if app.config.get("REDIS_URL"):
        return _enqueue_coordinator(run_id)
    thread = threading.Thread(target=_run_in_thread, args=(app, run_id), name=f"fleet-run-{run_id}", daemon=True)
    threads = app.extensions.setdefault("fleet_threads", {})  # so tests and shutdown hooks can join them
    for ended in [key for key, other in threads.items() if not other.is_alive()]:
        del threads[ended]
    threads[run_id] = thread
    thread.start()
    return thread


def _enqueue_coordinator(run_id):
    """Put the run's coordinator on rq. When Redis does not take it, the run ends ``interrupted`` (resumable)
    and gives the running slot back before ``QueueUnavailable`` (503) is raised: otherwise it would hold
    the slot, and every other start would be refused with 409, until it went stale."""
    from redis import RedisError

    try:
        return jobs._queue().enqueue(run_job, run_id, description=f"fleet run {run_id}",
                                     job_timeout=COORDINATOR_TIMEOUT, result_ttl=86400, failure_ttl=7 * 86400)
    except RedisError as exc:
        log.warning("fleet run %s: coordinator not queued: %s", run_id, exc)
        _end(db.session.get(FleetRun, run_id), "interrupted")
        raise jobs.QueueUnavailable(_("The job queue is not answering, so the fleet upgrade did not start. "
                                      "Resume it once the queue is back."), run_id=str(run_id)) from None


def _run_in_thread(app, run_id):
    with app.app_context():
        g.audit_label = "job:fleet"
        try:
            run(run_id)
        except Exception:  # logged; the run stays "running", goes stale and can be resumed
            log.exception("fleet run %s stopped", run_id)
        finally:
            db.session.remove()


def run_job(run_id):
    """rq entry point of the coordinator: a control job (no tenant meta); its tenants run in its threads."""
    app = jobs._worker_app()  # the worker's own app, shared with its tenant jobs
    with app.app_context():
        g.audit_label = "job:fleet"
        try:
            return run(run_id).status
        finally:
            db.session.remove()
