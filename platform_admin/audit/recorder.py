"""Records audit events from the ORM itself, so no code path can change a record unaudited.

After each flush, every new, changed or deleted row of an audited model is written to ``audit_event``
in the same transaction: it commits or rolls back with the change it describes. Secrets are redacted.
"""

from datetime import date, datetime
from decimal import Decimal

from flask import g, has_request_context, request
from sqlalchemy import DateTime, event, inspect
from sqlalchemy.orm import Session

from common.timeutil import isoformat
from extensions import db

from .models import AuditEvent

REDACTED = "[redacted]"
SECRET_WORDS = ("password", "secret", "token", "code_hash", "api_key")


def _plain(value):
    if isinstance(value, datetime):
        return isoformat(value)  # with its offset, like every time the API returns
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return REDACTED
    return value


def _redact(name, value, model):
    if name in getattr(model, "__audit_exclude__", ()) or any(w in name for w in SECRET_WORDS):
        return REDACTED if value is not None else None
    return _plain(value)


def with_offsets(record_type, values):
    """Before/after values as they are shown: a time recorded without an offset (events from before
    times carried one hold naive UTC) gets it. Only the datetime columns of the record's table change."""
    table = db.metadata.tables.get(record_type)
    if not values or table is None:
        return values
    shown = dict(values)
    for name, value in values.items():
        column = table.columns.get(name)
        if column is not None and isinstance(column.type, DateTime) and isinstance(value, str):
            try:
                shown[name] = isoformat(datetime.fromisoformat(value))
            except ValueError:
                pass  # not a time after all: shown as recorded
    return shown


def _audited(obj):
    # Only control-plane models: tenant models live in other databases and are never audited here.
    return isinstance(obj, db.Model) and getattr(type(obj), "__audit__", True)


def _snapshot(obj):
    mapper = inspect(obj).mapper
    return {attr.key: _redact(attr.key, getattr(obj, attr.key), obj) for attr in mapper.column_attrs}


def _changes(obj):
    state = inspect(obj)
    before, after = {}, {}
    quiet = getattr(obj, "__audit_quiet__", ())  # columns another event already tells of (a sign-in's time)
    for attr in state.mapper.column_attrs:
        if attr.key in quiet:
            continue
        hist = state.attrs[attr.key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if _plain(old) == _plain(new):
            continue
        before[attr.key] = _redact(attr.key, old, obj)
        after[attr.key] = _redact(attr.key, new, obj)
    return before, after


def _pk(obj):
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    return None if values[0] is None else str(values[0])


def current_actor():
    """(actor_id, actor label, ip) from the request, a CLI, or a job."""
    actor = getattr(g, "audit_actor", None) if _has_g() else None
    ip = request.remote_addr if has_request_context() else None
    if actor is not None:
        return actor.id, actor.username, ip
    label = getattr(g, "audit_label", None) if _has_g() else None
    return None, label or ("public" if has_request_context() else "system"), ip


def _has_g():
    from flask import has_app_context

    return has_app_context()


def record(session, action, record_type, record_id, before=None, after=None):
    """Record an event that is not a plain row change (a login failure, a throttle, an export)."""
    actor_id, actor, ip = current_actor()
    session.add(AuditEvent(actor_id=actor_id, actor=actor, ip=ip, action=action, record_type=record_type,
                           record_id=None if record_id is None else str(record_id), before=before, after=after))


@event.listens_for(Session, "after_flush")
def _after_flush(session, flush_context):
    rows = []
    for obj in session.new:
        if _audited(obj):
            rows.append((getattr(obj, "_audit_verb", "create"), obj, None, _snapshot(obj)))
    for obj in session.dirty:
        if _audited(obj) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after:
                verb = getattr(obj, "_audit_verb", None) or ("state_change" if "status" in after else "update")
                rows.append((verb, obj, before, after))
    for obj in session.deleted:
        if _audited(obj):  # a note says why, e.g. the reason given for a forced deletion
            rows.append((getattr(obj, "_audit_verb", "delete"), obj, _snapshot(obj), getattr(obj, "_audit_note", None)))
    if not rows:
        return
    actor_id, actor, ip = current_actor()
    table = AuditEvent.__table__
    from common.timeutil import utcnow

    now = utcnow()
    session.connection().execute(
        table.insert(),
        [
            {
                "created_at": now, "actor_id": actor_id, "actor": actor, "ip": ip, "action": verb,
                "record_type": obj.__tablename__, "record_id": _pk(obj),
                "before": before, "after": after,
            }
            for verb, obj, before, after in rows
        ],
    )
    for _verb, obj, _b, _a in rows:
        obj.__dict__.pop("_audit_verb", None)
        obj.__dict__.pop("_audit_note", None)


def init_app(app):
    """The listener is registered at import; this keeps the import explicit in the package init."""
    return db
