"""Admins browse the audit trail, in a page and through the API, with the same filters."""

from datetime import datetime, timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import false, func, select
from wtforms import StringField

from common.apidoc import endpoint
from common.errors import ApiError
from common.pagination import cursor_page, html_page
from common.timeutil import from_local
from platform_admin.common.api import api

from .models import AuditEvent
from .schemas import AuditEventSchema

bp = Blueprint("audit", __name__, url_prefix="/audit")

FILTERS = ("actor", "action", "record_type", "record_id", "since", "until")


def _when(name):
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
        if name == "until":  # an exclusive bound: a bare end date includes its own (local) day, a time itself
            value += timedelta(days=1) if len(raw) == len("YYYY-MM-DD") else timedelta(microseconds=1)
        return from_local(value)
    except (ValueError, OverflowError):  # OverflowError: a date at the end of the calendar
        raise ApiError(422, "invalid_fields", _("Invalid date."), {name: [_("Use YYYY-MM-DD or an ISO 8601 time.")]}) from None


def filtered_events():
    query = select(AuditEvent)
    for name in ("actor", "action", "record_type", "record_id"):
        value = request.args.get(name, "").strip()
        if value and name == "actor":  # Admin finds admin: a user name is the same in any case
            query = query.where(func.lower(AuditEvent.actor) == value.lower())
        elif value:
            query = query.where(getattr(AuditEvent, name) == value)
    since, until = _when("since"), _when("until")
    if since and until and since >= until:  # nothing could match: the user swapped the two, say so
        raise ApiError(422, "invalid_fields", _("The start date is after the end date."),
                       {"until": [_("Choose an end on or after the start.")]})
    if since:
        query = query.where(AuditEvent.created_at >= since)
    if until:
        query = query.where(AuditEvent.created_at < until)
    return query


class AuditFilters(FlaskForm):
    """The audit log's query string (API); ``since`` and ``until`` are read by ``_when``."""

    actor = StringField(description="username")
    action = StringField(description="create, update, delete or a verb such as open")
    record_type = StringField(description="e.g. enterprise")
    record_id = StringField()
    since = StringField(description="YYYY-MM-DD or an ISO 8601 time (local unless it has an offset)")
    until = StringField(description="YYYY-MM-DD or an ISO 8601 time (local unless it has an offset)")


@bp.get("/")
def event_list():
    from .labels import action_label, choices, describe, record_type_label

    try:
        page = html_page(filtered_events(), [AuditEvent.id.desc()], per_page=50)
        error = None
    except ApiError as exc:  # the error says why; rows beneath it would read as the filtered ones
        page, error = html_page(select(AuditEvent).where(false()), [AuditEvent.id.desc()], per_page=50), exc
    return render_template("audit/list.html", page=page, rows=describe(page.items), args=request.args, error=error,
                           actions=choices("action", action_label), record_types=choices("record_type", record_type_label))


@api.get("/audit-events")
@endpoint("Audit events: who did what to which record, when, from where", query=AuditFilters,
          response=AuditEventSchema, page=True)
def audit_event_list():
    return cursor_page(filtered_events(), AuditEvent.id)
