"""Imports too large for one request: a file of more than ``CRM_IMPORT_INLINE_ROWS`` rows (up to
``CRM_IMPORT_MAX_ROWS``) is kept in the tenant's ``crm_import`` and imported by a worker (``core.jobs``: the job
carries the tenant's id and the import's; inline where there is no Redis, as every CRM job).

The file's promise stays the one a small file's import makes: when any row is invalid, nothing is written. The job
reads the file twice, ``CRM_IMPORT_CHUNK_ROWS`` rows at a time. The first pass (checking) creates each chunk's rows as the import
would and rolls the chunk back: invalid rows are collected, and the import ends ``invalid`` listing them, with
nothing written. The second pass (importing) creates the rows again and commits each chunk together with the
import's progress (``written_rows``), so a job that stops halfway (a worker killed, a database gone) resumes after
the last chunk it committed and creates nothing twice (继续导入 on the page, ``POST /imports/<id>/resume``). A row
the first pass accepted that the second refuses (a record with its phone created meanwhile) is skipped and listed.

Who sent the file sees its progress and outcome (``GET /imports/<id>``, the page ``/imports/<id>``, which
refreshes itself while the job runs), and nobody else. The file's bytes are dropped when the import ends, but a
dry run's, which 导入 on its page (``POST /imports/<id>/confirm``) imports without sending the file again, until the
daily ``imports.expire`` drops them; a small file's dry run, checked within its request, is kept the same way
(``keep_check``). An outcome lists at most ``LISTED`` rows of each kind, and counts them all.
"""

import time
from datetime import timedelta
from secrets import token_hex

from flask import current_app, g, has_request_context
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError

from common.errors import ApiError

from ..auth import WITH_ROLES
from ..context import current_tenant
from ..core import jobs
from ..core.scope import principal_for
from ..core.tasks import tenant_task
from ..models import SysUser, utcnow
from .importing import RowImporter, log_import, prepare
from .models import (
    RUNNING,
    STATUS_CHECKING,
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_IMPORTING,
    STATUS_INVALID,
    STATUS_QUEUED,
    CrmImport,
)

LISTED = 1000  # rows of each kind (skipped, invalid) an outcome lists


def stale_before():
    """A running import whose progress is older than this has stopped (its worker is gone). Inline (no Redis) a
    batch is short (``batch_rows``) and nothing else could be running it after a restart: a minute is enough."""
    seconds = current_app.config["CRM_IMPORT_STALE_SECONDS"]
    if not current_app.config.get("REDIS_URL"):
        seconds = min(seconds, 60)
    return utcnow() - timedelta(seconds=seconds)


def batch_rows():
    """Rows a batch creates. On SQLite (the embedded demo) a write transaction locks the whole database, so the
    batches are small and the company's other users wait a moment between them, not the whole batch."""
    rows = current_app.config["CRM_IMPORT_CHUNK_ROWS"]
    return min(rows, 20) if current_tenant.session.get_bind().dialect.name == "sqlite" else rows


def stalled(record):
    """Whether ``record`` says it runs but has made no progress for ``CRM_IMPORT_STALE_SECONDS``."""
    return record.status in RUNNING and (record.updated_at or record.created_at) < stale_before()


def has_file(session, record_id):
    """Whether the import still holds its file (asked of the database: the bytes are not read)."""
    return bool(session.scalar(select(CrmImport.file_data.is_not(None)).where(CrmImport.id == record_id)))


def busy_import(session):
    """Another import of the company still running (queued or making progress lately), or None."""
    return session.scalar(select(CrmImport).where(CrmImport.status.in_(RUNNING),
                                                  or_(CrmImport.updated_at.is_(None),
                                                      CrmImport.updated_at >= stale_before()))
                          .order_by(CrmImport.id).limit(1))


def refuse_while_busy(session, record_id=None):
    """429 ``import_busy`` naming who imports which file, while another import of the company runs."""
    other = busy_import(session)
    if other is None or other.id == record_id:
        return
    sender = session.get(SysUser, other.user_id)
    raise ApiError(429, "import_busy", _(
        "%(name)s is importing %(file)s (%(rows)s rows) for your company. Try again when it has finished.",
        name=sender.full_name if sender is not None else "—", file=other.file_name,
        rows=f"{other.total_rows:,}"))


def queue_import(prepared, data, filename, on_duplicate, dry_run, principal):
    """Keep the file and start its job: the ``CrmImport`` (inline where there is no Redis: finished by then).
    429 ``import_busy`` while another import of the company runs; 503 when the queue does not take the job."""
    session = current_tenant.session
    refuse_while_busy(session)
    record = _new_import(prepared.resource.name, principal.user_id, filename, data, on_duplicate, bool(dry_run),
                         len(prepared.rows))
    session.add(record)
    session.commit()
    start(record)
    return record


def _new_import(resource_name, user_id, filename, data, on_duplicate, dry_run, total_rows, **values):
    """A ``CrmImport`` of the file, queued unless ``values`` say otherwise, in the request's language."""
    now = utcnow()
    values = {"status": STATUS_QUEUED, "checked_rows": 0, "created": 0, "skipped": 0, **values}
    return CrmImport(resource=resource_name, user_id=user_id, file_name=(filename or "")[:255], file_data=data,
                     on_duplicate=on_duplicate, dry_run=dry_run,
                     locale=str(get_locale() or current_app.config.get("BABEL_DEFAULT_LOCALE", "zh")),
                     total_rows=total_rows, written_rows=0, created_at=now, updated_at=now, **values)


def keep_check(prepared, data, filename, on_duplicate, outcome, principal):
    """A dry run checked within the request (a small file) that found rows to import: kept as a finished check
    with its file, so that 导入 imports it without sending it again (``confirm``). Its id, or None when there is
    nothing to import."""
    if not outcome.created_ids:
        return None
    session, now = current_tenant.session, utcnow()
    record = _new_import(prepared.resource.name, principal.user_id, filename, data, on_duplicate, True, outcome.rows,
                         status=STATUS_DONE, checked_rows=outcome.rows, created=len(outcome.created_ids),
                         skipped=len(outcome.skipped), started_at=now, finished_at=now,
                         result=_result(outcome, [], outcome.skipped, outcome.also_created))
    session.add(record)
    session.commit()
    return record.id


def start(record):
    """Put ``record``'s job on the queue (or run it inline); 503 ``queue_unavailable`` when Redis refuses it."""
    from redis import RedisError

    session, tenant_id, record_id = current_tenant.session, current_tenant.tenant_id, record.id
    inline = not current_app.config.get("REDIS_URL")
    if inline:  # the job writes on a connection of its own: this one holds no transaction meanwhile (on SQLite
        session.rollback()  # a reader's lock would make the job's writes wait, then fail 'database is locked')
    try:
        jobs.enqueue(run_import, tenant_id, record_id, job_id=f"crm-import-{tenant_id}-{record_id}-{token_hex(4)}",
                     timeout=current_app.config["CRM_IMPORT_JOB_TIMEOUT"])
    except RedisError as exc:
        current_app.logger.warning("import %s of tenant %s not queued: %s", record_id, tenant_id, type(exc).__name__)
        record.status, record.error, record.updated_at = STATUS_FAILED, _("The import could not be queued."), utcnow()
        session.commit()
        raise ApiError(503, "queue_unavailable", _("Imports cannot be started right now. Try again in a minute.")) \
            from exc
    except Exception:
        if not inline:
            raise
        # inline, the job ran here: it logged its error and marked the import failed, which the page shows
    session.rollback()  # nothing is pending: a new transaction, whose reads see what the inline job committed
    session.refresh(record)  # an inline job has finished it on a session of its own


def resume(record):
    """Start a failed or stopped import again from where it stopped; 409 when it is running or has finished."""
    session = current_tenant.session
    if record.status in RUNNING and not stalled(record):
        raise ApiError(409, "import_running", _("The import is still running."))
    if (record.status != STATUS_FAILED and record.status not in RUNNING) or not has_file(session, record.id):
        raise ApiError(409, "import_finished", _("The import has finished."))
    refuse_while_busy(session, record.id)
    # only a job that had finished checking goes on writing; any other checks the file again from its start
    stopped_in = record.status if record.status in RUNNING else (record.result or {}).get("stopped_in")
    status, now = (STATUS_IMPORTING if stopped_in == STATUS_IMPORTING else STATUS_QUEUED), utcnow()
    # taken only if nobody took it since it was read: two clicks on 继续导入 start one job, not two
    taken = session.execute(update(CrmImport).where(
        CrmImport.id == record.id, CrmImport.status == record.status,
        CrmImport.updated_at == record.updated_at if record.updated_at else CrmImport.updated_at.is_(None))
        .values(status=status, error=None, updated_at=now).execution_options(synchronize_session=False)).rowcount
    if not taken:
        session.rollback()
        raise ApiError(409, "import_running", _("The import is still running."))
    session.commit()
    session.refresh(record)
    start(record)
    return record


def confirm(record):
    """Import the file a finished dry run checked, without sending it again: a new import of the same file with
    the same choices (the file moves to it; the job checks it again, since the CRM may have changed since), whose
    id the dry run keeps (``imported_as``). 409 when ``record`` is no finished check, was imported already, or its
    file was deleted (``CRM_IMPORT_KEEP_DAYS``); 429 while another import of the company runs."""
    session = current_tenant.session
    if not record.dry_run or record.status != STATUS_DONE:
        raise ApiError(409, "import_not_checked", _("Only a finished check of a file can be imported."))
    if (record.result or {}).get("imported_as"):
        raise ApiError(409, "import_confirmed", _("This file has been imported already."))
    data = session.scalar(select(CrmImport.file_data).where(CrmImport.id == record.id))
    if data is None:
        raise ApiError(409, "import_file_gone", _("The checked file was deleted after %(days)s days. Send it again.",
                                                  days=current_app.config["CRM_IMPORT_KEEP_DAYS"]))
    refuse_while_busy(session)
    other = _new_import(record.resource, record.user_id, record.file_name, data, record.on_duplicate, False,
                        record.total_rows)
    session.add(other)
    session.flush()
    # the file moves only if it is still there: two clicks on 导入 make one import, not two
    moved = session.execute(update(CrmImport).where(CrmImport.id == record.id, CrmImport.file_data.is_not(None))
                            .values(file_data=None).execution_options(synchronize_session=False)).rowcount
    if not moved:
        session.rollback()
        raise ApiError(409, "import_confirmed", _("This file has been imported already."))
    record.result = {**(record.result or {}), "imported_as": other.id}
    session.commit()
    start(other)
    return other


# ---------------------------------------------------------------------- the job


def run_import(import_id):
    """The job: import ``crm_import`` row ``import_id`` of the bound tenant. Idempotent: a finished import is left
    as it is, a stopped one goes on after its last committed chunk."""
    session = current_tenant.session
    record = session.get(CrmImport, import_id)
    data = record.file_data if record is not None else None  # read once: the record reloads without it
    if record is None or record.status not in RUNNING or data is None:
        return {"status": record.status if record else None}
    from ..core.resource import REGISTERED

    resource = REGISTERED.get(record.resource)
    user = session.scalars(select(SysUser).where(SysUser.id == record.user_id).options(*WITH_ROLES)).unique().first()
    with force_locale(record.locale):
        if resource is None or user is None or not user.is_enabled:
            return _finish(record, STATUS_FAILED, error=_("The person who sent the file can no longer import."))
        principal = principal_for(user, session)
        if not principal.can(f"{resource.module}.{resource.permission('import')}"):
            return _finish(record, STATUS_FAILED, error=_("The person who sent the file can no longer import."))
        g.tenant_user, g.tenant_principal = user, principal  # the create forms and services read them
        session.info["actor_id"] = user.id  # the change history names who imported, as a request's does
        try:
            if has_request_context():  # inline: within the request that sent the file
                return _run(record, resource, principal, data)
            # in a worker: the create forms read their request as on the 新建 page's POST, which sends no query
            with current_app.test_request_context("/", method="POST"):
                return _run(record, resource, principal, data)
        except Exception:
            session.rollback()
            current_app.logger.exception("import %s of tenant %s stopped", import_id, current_tenant.tenant_id)
            record = session.get(CrmImport, import_id)
            _finish(record, STATUS_FAILED, keep_file=True, result={**(record.result or {}), "stopped_in": record.status},
                    error=_("The import stopped on an error. What it had imported stays; resume it to go on."))
            raise


def _run(record, resource, principal, data):
    session, record_id = current_tenant.session, record.id
    chunk = batch_rows()
    prepared = prepare(resource, data, record.file_name, principal)
    rows = prepared.rows
    if record.status in (STATUS_QUEUED, STATUS_CHECKING):
        _progress(record, status=STATUS_CHECKING, checked_rows=0, started_at=record.started_at or utcnow())
        importer, outcome = RowImporter(prepared, record.on_duplicate, principal), prepared.outcome(dry_run=True)
        for at in range(0, len(rows), chunk):
            _batch(importer, rows[at:at + chunk], outcome, record_id)
            session.rollback()  # checking: nothing of it stays
            record = session.get(CrmImport, record_id)
            _progress(record, checked_rows=min(len(rows), at + chunk))
        if outcome.errors:
            return _finish(record, STATUS_INVALID, result={
                "rows": len(rows), "invalid": len(outcome.errors), "invalid_rows": outcome.errors[:LISTED],
                "columns": outcome.columns, "ignored_columns": outcome.ignored_columns})
        if record.dry_run:  # its file stays, for 导入 without sending it again (``confirm``)
            log_import(resource, principal, outcome, background=True)
            return _finish(record, STATUS_DONE, keep_file=True, created=len(outcome.created_ids),
                           skipped=len(outcome.skipped), result=_result(outcome, [], outcome.skipped,
                                                                        outcome.also_created))
        _progress(record, status=STATUS_IMPORTING, written_rows=0, created=0, skipped=0,
                  result=_result(outcome, [], [], {}))
    # writing: on from the last committed chunk, each chunk committed with the progress that says it is done
    importer, total = RowImporter(prepared, record.on_duplicate, principal), prepared.outcome(dry_run=False)
    for at in range(record.written_rows, len(rows), chunk):
        part = _batch(importer, rows[at:at + chunk], prepared.outcome(dry_run=False), record_id)
        refused = part.skipped + part.errors  # a row refused now was accepted by the check: skipped, and listed
        listed = (record.result or {}).get("skipped_rows", [])
        also = dict((record.result or {}).get("also_created") or {})
        for name, n in part.also_created.items():
            also[name] = also.get(name, 0) + n
        record.written_rows, record.created = min(len(rows), at + chunk), record.created + len(part.created_ids)
        record.skipped += len(refused)
        record.result = _result(prepared.outcome(False), [], (listed + refused)[:LISTED], also)
        record.updated_at = utcnow()
        resource.commit()  # the chunk's rows and the progress saying they are written, together
        record = session.get(CrmImport, record_id)
        total.created_ids += part.created_ids
        total.skipped += refused
    log_import(resource, principal, total, background=True)
    return _finish(record, STATUS_DONE)


def _batch(importer, rows, outcome, record_id, attempts=5):
    """``importer.add(rows, outcome)`` after the batch's claim; on SQLite, tried again from where it was (the
    rows seen, the outcome) after a moment when another connection holds the database ('database is locked')."""
    session = current_tenant.session
    if session.get_bind().dialect.name == "sqlite":
        time.sleep(0.1)  # between two batches: the company's other writers, waiting on SQLite's lock, get their turn
    for attempt in range(attempts):
        seen = {key: dict(values) for key, values in importer.seen.items()}
        marks = (len(outcome.created_ids), len(outcome.skipped), len(outcome.errors), dict(outcome.also_created))
        try:
            _claim(record_id)
            return importer.add(rows, outcome)
        except OperationalError as exc:
            if session.get_bind().dialect.name != "sqlite" or "locked" not in str(exc) or attempt == attempts - 1:
                raise
            session.rollback()
            importer.seen = seen
            del outcome.created_ids[marks[0]:], outcome.skipped[marks[1]:], outcome.errors[marks[2]:]
            outcome.also_created = marks[3]
            time.sleep(0.2 * (attempt + 1))
    return outcome


def _claim(record_id):
    """A batch's first statement: a write (the import's heartbeat), so that the batch holds the right to write
    before it reads. On SQLite a transaction that reads first and writes later is refused at once ('database is
    locked', without waiting) when another connection began writing meanwhile; one that writes first waits its
    turn like any writer."""
    current_tenant.session.execute(update(CrmImport).where(CrmImport.id == record_id).values(updated_at=utcnow())
                                   .execution_options(synchronize_session=False))


def _result(outcome, errors, skipped, also_created):
    return {"rows": outcome.rows, "columns": outcome.columns, "ignored_columns": outcome.ignored_columns,
            "skipped_rows": skipped[:LISTED], "also_created": also_created, "invalid_rows": errors[:LISTED]}


def _progress(record, **values):
    for name, value in values.items():
        setattr(record, name, value)
    record.updated_at = utcnow()
    current_tenant.session.commit()


def _finish(record, status, keep_file=False, **values):
    now = utcnow()
    values = {"status": status, "updated_at": now, "finished_at": now, **values}
    if not keep_file:
        values["file_data"] = None  # the customers' data goes once the import has done with it
    _progress(record, **values)
    return {"status": status, "created": record.created, "skipped": record.skipped}


# ---------------------------------------------------------------------- the files nobody resumed


@tenant_task("imports.expire", _l("Drop the files of imports stopped and not resumed, or checked and not imported"),
             order=90)
def expire(session, now):
    """The daily task: an import that stopped (failed, or running without progress) and was not resumed within
    ``CRM_IMPORT_KEEP_DAYS`` loses its file (the customers' data it holds) and ends ``failed``; what it had
    written stays. A dry run not imported within those days loses its file too, and stays a finished check.
    Idempotent: an import already without its file is left alone."""
    before = now - timedelta(days=current_app.config["CRM_IMPORT_KEEP_DAYS"])
    kept = session.scalars(select(CrmImport).where(
        CrmImport.file_data.is_not(None), or_(CrmImport.updated_at.is_(None), CrmImport.updated_at < before),
        or_(CrmImport.status.in_((*RUNNING, STATUS_FAILED)),
            (CrmImport.status == STATUS_DONE) & CrmImport.dry_run.is_(True)))).all()
    for record in kept:
        record.file_data, record.updated_at = None, now
        if record.status == STATUS_DONE:  # a check nobody imported: it stays what it was
            continue
        with force_locale(record.locale):  # in the sender's language, as the job writes its errors
            record.error = _("The import was not resumed in time: its file was deleted. Send the file again.")
        record.status, record.finished_at = STATUS_FAILED, now
    session.commit()
    return {"expired": len(kept)}
