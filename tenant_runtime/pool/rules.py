"""Recycling rules: their conditions (``crm_pool_rule.conditions``), strictly validated, and the SQL they
compile to.

A rule is ``{"match": "all" | "any", "items": [{"field", "op", "value"}, ...]}``: its items combined with
AND (all) or OR (any). Enabled rules are tried in order (``sort``, then id); a customer matching several
is credited to the first. Every rule has at least one ``inactive_days`` item, the days without follow-up,
counted from the later of the last follow-up and ``owned_since`` (the pool clock), with one number for
every level or one per level (a level left out is never taken by that item)::

    {"match": "all", "items": [
        {"field": "inactive_days", "op": "gte", "value": {"important": 60, "normal": 30, "potential": 15}},
        {"field": "deal_status", "op": "not_in", "value": ["won"]}]}

Every condition compiles to a WHERE clause evaluated "as of" a time, so the dry run, the real run and
the reminders (as of D days ahead) are one query.
"""

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, and_, case, false, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Integer

from ..customers.forms import (
    DEAL_STATUS_LABELS,
    LEVEL_LABELS,
    SOURCE_LABELS,
    TYPE_LABELS,
)
from ..customers.models import CrmCustomer

C = CrmCustomer
MAX_DAYS = 3650
MAX_ITEMS = 20

# field -> (label, {op: label}, value kind, choices)
FIELDS = {
    "inactive_days": (_l("Days without follow-up"), {"gte": _l("at least")}, "days", None),
    "created_days": (_l("Days since created"), {"gte": _l("at least")}, "int", None),
    "level": (_l("Level"), {"in": _l("is one of"), "not_in": _l("is none of")}, "choices", LEVEL_LABELS),
    "deal_status": (_l("Deal status"), {"in": _l("is one of"), "not_in": _l("is none of")}, "choices",
                    DEAL_STATUS_LABELS),
    "customer_type": (_l("Customer type"), {"in": _l("is one of"), "not_in": _l("is none of")}, "choices",
                      TYPE_LABELS),
    "source": (_l("Source"), {"in": _l("is one of"), "not_in": _l("is none of")}, "choices", SOURCE_LABELS),
    "never_followed_up": (_l("Never followed up"), {"is": _l("is")}, "bool", None),
}
MATCHES = {"all": _l("all conditions (AND)"), "any": _l("any condition (OR)")}


# ---------------------------------------------------------------------- validation


def validate(conditions):
    """``(normalised, errors)``: errors map the bad part (``conditions.items[1].value``) to messages."""
    errors = {}

    def bad(path, message):
        errors.setdefault(path, []).append(str(message))

    if not isinstance(conditions, dict):
        bad("conditions", _l("Give an object with match and items."))
        return None, errors
    for key in set(conditions) - {"match", "items"}:
        bad(f"conditions.{key}", _l("Unknown key."))
    match = conditions.get("match")
    if not isinstance(match, str) or match not in MATCHES:
        bad("conditions.match", _l("Use all (AND) or any (OR)."))
    items = conditions.get("items")
    if not isinstance(items, list) or not items:
        bad("conditions.items", _l("Give at least one condition."))
        return None, errors
    if len(items) > MAX_ITEMS:
        bad("conditions.items", _l("At most %(n)d conditions.", n=MAX_ITEMS))
        return None, errors
    normalised = []
    for i, item in enumerate(items):
        out = _validate_item(item, f"conditions.items[{i}]", bad)
        if out is not None:
            normalised.append(out)
    if not errors and not any(item["field"] == "inactive_days" for item in normalised):
        bad("conditions.items", _l("A rule needs a days-without-follow-up condition."))
    if errors:
        return None, errors
    return {"match": match, "items": normalised}, {}


def _days(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_DAYS


def _validate_item(item, path, bad):
    if not isinstance(item, dict):
        bad(path, _l("Give an object with field, op and value."))
        return None
    for key in set(item) - {"field", "op", "value"}:
        bad(f"{path}.{key}", _l("Unknown key."))
    field = item.get("field")
    if not isinstance(field, str) or field not in FIELDS:
        bad(f"{path}.field", _l("Unknown field."))
        return None
    _label, ops, kind, choices = FIELDS[field]
    op = item.get("op")
    if not isinstance(op, str) or op not in ops:
        bad(f"{path}.op", _l("Not an operator of this field."))
        return None
    value = item.get("value")
    if kind == "days" and isinstance(value, dict):
        if not value:
            bad(f"{path}.value", _l("Give days for at least one level."))
        for level, days in value.items():
            if level not in LEVEL_LABELS:
                bad(f"{path}.value.{level}", _l("Unknown level."))
            elif not _days(days):
                bad(f"{path}.value.{level}", _l("Enter a number of days between 1 and %(n)d.", n=MAX_DAYS))
        value = {level: value[level] for level in LEVEL_LABELS if level in value}
    elif kind in ("days", "int"):
        if not _days(value):
            bad(f"{path}.value", _l("Enter a number of days between 1 and %(n)d.", n=MAX_DAYS))
    elif kind == "choices":
        if not isinstance(value, list) or not value or any(not isinstance(v, str) for v in value):
            bad(f"{path}.value", _l("Give a list of values."))
            return None
        unknown = [v for v in value if v not in choices]
        if unknown:
            bad(f"{path}.value", _l("Not a valid choice: %(v)s.", v=", ".join(unknown)))
        value = sorted(set(value), key=list(choices).index) if not unknown else value
    elif kind == "bool" and not isinstance(value, bool):
        bad(f"{path}.value", _l("Give true or false."))
    return {"field": field, "op": op, "value": value}


# ---------------------------------------------------------------------- SQL


class greatest(FunctionElement):
    """GREATEST(a, b); SQLite's two-argument MAX."""

    inherit_cache = True


@compiles(greatest)
def _greatest(element, compiler, **kw):
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element, compiler, **kw):
    return f"MAX({compiler.process(element.clauses, **kw)})"


class days_between(FunctionElement):
    """Whole days from the first time to the second."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between(element, compiler, **kw):
    start, end = list(element.clauses)
    return f"TIMESTAMPDIFF(DAY, {compiler.process(start, **kw)}, {compiler.process(end, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (f"CAST(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})"
            " AS INTEGER)")


def pool_row_id(counter, now):
    """A UUIDv7 for a pool row, as 32 hex digits (seed 000's ids): the time of the run in milliseconds, then
    ``counter``, unique within the run (the customer's id: RFC 9562's fixed-length counter method). Ascending
    within a run, so 100k rows go into the primary key in order, not at random places."""
    from calendar import timegm

    millis = timegm(now.timetuple()) * 1000 + now.microsecond // 1000
    digits = hex18(counter)
    return literal(f"{millis:012x}7") + func.substr(digits, 1, 3) + literal("8") + func.substr(digits, 4, 15)


class hex18(FunctionElement):
    """An integer as 18 lower-case hex digits."""

    type = String()
    inherit_cache = True


@compiles(hex18)
def _hex18(element, compiler, **kw):
    return f"LOWER(LPAD(HEX({compiler.process(element.clauses, **kw)}), 18, '0'))"


@compiles(hex18, "sqlite")
def _hex18_sqlite(element, compiler, **kw):
    return f"printf('%018x', {compiler.process(element.clauses, **kw)})"


class id_text(FunctionElement):
    """An integer id as text, comparable with seed 000's string ids (``customer_pool.customer_id``): on MariaDB
    in the tables' collation, since a bare CAST takes the connection's and the comparison fails."""

    type = String()
    inherit_cache = True


@compiles(id_text)
def _id_text(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS CHAR(32)) COLLATE utf8mb4_unicode_ci"


@compiles(id_text, "sqlite")
def _id_text_sqlite(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


def clock():
    """When the current owner's time without follow-up started."""
    return func.coalesce(C.owned_since, C.created_at)


def inactive_days(as_of):
    """Days without follow-up as of ``as_of``, per customer (a SQL expression)."""
    start = clock()
    return days_between(greatest(func.coalesce(C.last_follow_up_at, start), start), literal(as_of))


def _quiet_since(cutoff):
    # the later of (last follow-up, clock) is at or before the cutoff: both are, so each can use its index
    return and_(clock() <= cutoff, or_(C.last_follow_up_at.is_(None), C.last_follow_up_at <= cutoff))


def item_clause(item, as_of):
    field, op, value = item["field"], item["op"], item["value"]
    if field == "inactive_days":
        if isinstance(value, int):
            return _quiet_since(as_of - timedelta(days=value))
        return or_(*(and_(C.level == level, _quiet_since(as_of - timedelta(days=days)))
                     for level, days in value.items())) if value else false()
    if field == "created_days":
        return C.created_at <= as_of - timedelta(days=value)
    if field == "never_followed_up":
        return C.last_follow_up_at.is_(None) if value else C.last_follow_up_at.is_not(None)
    column = getattr(C, field)
    clause = column.in_(value)
    if op == "not_in":
        clause = or_(column.is_(None), ~clause) if field == "source" else ~clause
    return clause


def rule_clause(conditions, as_of):
    clauses = [item_clause(item, as_of) for item in conditions["items"]]
    return and_(*clauses) if conditions["match"] == "all" else or_(*clauses)


def match(rules, as_of):
    """``(where, rule_id, reason)`` for the enabled ``rules`` in order: whether any matches, and the first
    that does (its id, and the pool row's ``recycle_reason``)."""
    if not rules:
        return false(), literal(None), literal(None)
    whens = [(rule_clause(r.conditions, as_of), r) for r in rules]
    where = or_(*(w for w, _r in whens))
    rule_id = case(*((w, literal(r.id)) for w, r in whens))
    reason = case(*((w, literal(f"inactive_days:{r.rule_name}"[:100])) for w, r in whens))
    return where, rule_id, reason


def describe(conditions):
    """The conditions as a person reads them: 'Days without follow-up at least Important 60, Normal 30'."""
    parts = []
    for item in conditions.get("items", []):
        label, ops, kind, choices = FIELDS.get(item["field"], (item["field"], {}, None, None))
        value = item["value"]
        if kind == "days" and isinstance(value, dict):
            shown = ", ".join(f"{LEVEL_LABELS[k]} {v}" for k, v in value.items())
        elif kind == "choices":
            shown = ", ".join(str(choices.get(v, v)) for v in value)
        elif kind == "bool":
            shown = str(_l("yes") if value else _l("no"))
        else:
            shown = str(value)
        parts.append(f"{label} {ops.get(item['op'], item['op'])} {shown}")
    word = _l("and") if conditions.get("match") == "all" else _l("or")  # outside an f-string, where pybabel looks
    joiner = f" {word} "
    return joiner.join(parts)
