"""Per-record change history, written by the ORM in the same transaction as the change.

A model opts in with ``__history__ = True``. Before each flush of a tenant session, every new, changed or
deleted instance of such a model gets one ``crm_change_log`` row: who (``session.info["actor_id"]``),
when, and for each field its old and new value. Setting ``deleted_at`` is recorded as a delete and
clearing it as a restore. Services may add their own entries (``record``) for changes that are not
column updates (tags, a transfer).
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import event, inspect

from ..context import TenantSession
from .models import CrmChangeLog

SKIPPED = frozenset({"id", "name_key", "name_pinyin", "name_search", "created_at", "updated_at", "deleted_by",
                     "primary_marker", "dnc_set_at", "dnc_set_by",
                     "last_follow_up_at",  # moves with every follow-up, which is its own record
                     "owned_since"})  # the pool clock: restarts with every new owner, whose change is recorded


def entity_type(obj):
    return obj.__tablename__.removeprefix("crm_")


def plain(value):
    """A JSON-safe value; times are UTC with an offset."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "+00:00"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# markers a unique index needs (1 on the one row, NULL on the others), recorded as the yes/no they stand for
FLAGS = {"primary_marker": "is_primary"}


def record(session, obj, action, changes):
    record_row(session, entity_type(obj), obj.id, action, changes)


def record_row(session, kind, entity_id, action, changes):
    """An entry for a row changed without its object (a bulk UPDATE), ``kind`` as ``entity_type`` names it."""
    session.add(CrmChangeLog(entity_type=kind, entity_id=entity_id, action=action, changes=changes,
                             user_id=session.info.get("actor_id")))


def _column_changes(obj):
    state = inspect(obj)
    changes = []
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in SKIPPED and key not in FLAGS:
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if key in FLAGS:
            key, old, new = FLAGS[key], old == 1, new == 1
        if old != new:
            changes.append({"field": key, "old": plain(old), "new": plain(new)})
    return changes


def _created_fields(obj):
    state = inspect(obj)
    return [{"field": a.key, "old": None, "new": plain(getattr(obj, a.key))} for a in state.mapper.column_attrs
            if a.key not in SKIPPED and a.key != "deleted_at" and getattr(obj, a.key) not in (None, "", False)]


@event.listens_for(TenantSession, "before_flush")
def _record_changes(session, flush_context, instances):
    pending_new = [obj for obj in session.new if getattr(obj, "__history__", False)]
    for obj in session.dirty:
        if not getattr(obj, "__history__", False) or not session.is_modified(obj, include_collections=False):
            continue
        changes = _column_changes(obj)
        if not changes:
            continue
        deleted = next((c for c in changes if c["field"] == "deleted_at"), None)
        if deleted is not None:
            action = "delete" if deleted["new"] is not None else "restore"
            changes = [c for c in changes if c["field"] != "deleted_at"]
        else:
            action = "update"
        record(session, obj, action, changes)
    # this flush's new rows only: a flush that failed (a deadlock, a duplicate) never reached after_flush, and
    # its rows, rolled back, must not be recorded by the next one (a create run again would log one without id)
    if pending_new:
        session.info["history_new"] = pending_new
    else:
        session.info.pop("history_new", None)


@event.listens_for(TenantSession, "after_flush")
def _record_creations(session, flush_context):
    # new rows have their ids only after the flush; their entries go into the same transaction
    created = session.info.pop("history_new", None)
    if not created:
        return
    table = CrmChangeLog.__table__
    session.connection().execute(table.insert(), [
        {"entity_type": entity_type(obj), "entity_id": obj.id, "action": "create", "changes": _created_fields(obj),
         "user_id": session.info.get("actor_id"), "created_at": _now()} for obj in created])


def _now():
    from ..models import utcnow

    return utcnow()


def display_value(value, field=None):
    """A recorded value as a person reads it: local times, labels for codes, 是/否."""
    from flask_babel import gettext

    from common.timeutil import to_local

    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    labels = _value_labels().get(field)
    if labels and value in labels:
        return str(labels[value])
    if field in _REASONS and isinstance(value, str):
        return _REASONS[field](value)
    if field in ("province_code", "city_code") and isinstance(value, str):
        # GB/T 2260 codes, read as the place they name (a city's first two digits are its province's)
        from common.regions import place

        return place(value[:2], value if field == "city_code" else None) or value
    if isinstance(value, str) and value.endswith("+00:00") and "T" in value:
        try:
            return to_local(datetime.fromisoformat(value).replace(tzinfo=None)).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return str(value)


def _pool_reason(value):
    """``inactive_days:<rule>`` or ``manual:<why>`` (pool/services.py) as its label and the rule or the words."""
    from ..pool.views import REASON_LABELS

    code, _sep, detail = value.partition(":")
    label = REASON_LABELS.get(code)
    if label is None:
        return value
    return f"{label} · {detail}" if detail else str(label)


LEAD_RECYCLED = re.compile(r"no follow-up for (\d+) days")


def _lead_reason(value):
    """A lead's reason: words a user typed, or the recycling's ``no follow-up for <n> days`` (leads/services.py)."""
    from flask_babel import gettext

    recycled = LEAD_RECYCLED.fullmatch(value)
    return gettext("No follow-up for %(days)s days", days=recycled.group(1)) if recycled else value


_REASONS = {"recycle_reason": _pool_reason, "reason": _lead_reason}


def _value_labels():
    from ..contacts.forms import PREFERENCE_LABELS
    from ..customers.forms import (
        DEAL_STATUS_LABELS,
        INDUSTRY_LABELS,
        LEVEL_LABELS,
        SCALE_LABELS,
        SOURCE_LABELS,
        STATUS_LABELS,
        TYPE_LABELS,
    )
    from ..leads.forms import INTENT_CODES, INTENT_LABELS, STATUS_CODES
    from ..leads.forms import STATUS_LABELS as LEAD_STATUS_LABELS

    # a lead's status and intent are seed 002's numeric codes: they never collide with the customers' words
    lead_statuses = {code: LEAD_STATUS_LABELS[word] for word, code in STATUS_CODES.items()}
    return {"customer_type": TYPE_LABELS, "level": LEVEL_LABELS, "status": {**STATUS_LABELS, **lead_statuses},
            "intent_level": {code: INTENT_LABELS[word] for word, code in INTENT_CODES.items()},
            "deal_status": DEAL_STATUS_LABELS, "source": SOURCE_LABELS, "industry": INDUSTRY_LABELS,
            "scale": SCALE_LABELS, "communication_preference": PREFERENCE_LABELS}
