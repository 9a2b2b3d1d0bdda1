"""Enterprise profiles: numbering, the completeness gate, opening and closing."""

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select

from common.db import flush
from common.errors import Conflict
from common.i18n import list_join
from common.timeutil import utcnow
from extensions import db

from .models import REQUIRED_FOR_ACTIVATION, STATUS_CLOSED, STATUS_OPEN, Enterprise


def assign_enterprise_no(enterprise):
    """QY + year-month of creation + the row id: unique without a counter table or a race."""
    created = enterprise.created_at or utcnow()
    enterprise.enterprise_no = f"QY{created:%Y%m}{enterprise.id:06d}"


def create(data, by):
    enterprise = Enterprise(created_by_id=by.id, **data)
    db.session.add(enterprise)
    flush()  # a duplicate licence number fails here, on the INSERT: 409 duplicate, not a 500
    assign_enterprise_no(enterprise)
    return enterprise


def update(enterprise, data):
    for key, value in data.items():
        setattr(enterprise, key, value)
    return enterprise


def require_complete(enterprise):
    """The completeness gate (seed 004): 409 ``incomplete_profile`` naming what is missing."""
    missing = enterprise.missing_fields()
    if missing:
        raise Conflict(
            "incomplete_profile",
            _("Complete the enterprise profile first: %(fields)s.",
              fields=list_join(str(REQUIRED_FOR_ACTIVATION[m]) for m in missing)),
            {name: [_("Required before opening or adding a contract.")] for name in missing},
            missing=missing,
        )


def open_checks():
    """Extra conditions other packages add (the datasource registry adds 'datasource ready')."""
    return current_app.extensions.get("open_checks", [])


def open_enterprise(enterprise):
    if enterprise.is_open:
        raise Conflict("illegal_transition", _("The enterprise is already open."))
    require_complete(enterprise)
    for check in open_checks():
        check(enterprise)  # raises Conflict, e.g. datasource_not_ready
    enterprise.status = STATUS_OPEN
    enterprise.opened_at = utcnow()
    enterprise._audit_verb = "open"
    return enterprise


def close_enterprise(enterprise):
    if not enterprise.is_open:
        if enterprise.opened_at is None:  # a draft: nothing to close, and "already closed" would say it was open
            raise Conflict("illegal_transition", _("The enterprise has never been opened."))
        raise Conflict("illegal_transition", _("The enterprise is already closed."))
    enterprise.status = STATUS_CLOSED
    enterprise.closed_at = utcnow()
    enterprise._audit_verb = "close"
    return enterprise


def suspend_enterprise(enterprise, message):
    """Maintenance mode: the tenant's users see ``message`` instead of the CRM until staff resume it."""
    if not enterprise.is_open:
        raise Conflict("illegal_transition", _("Only an open enterprise can be suspended."))
    enterprise.suspended_at = enterprise.suspended_at or utcnow()
    enterprise.suspend_message = message
    enterprise._audit_verb = "suspend"
    return enterprise


def resume_enterprise(enterprise):
    if enterprise.suspended_at is None:
        raise Conflict("illegal_transition", _("The enterprise is not suspended."))
    enterprise.suspended_at, enterprise.suspend_message = None, None
    enterprise._audit_verb = "resume"
    return enterprise


def incomplete_query():
    conditions = [or_(getattr(Enterprise, f).is_(None), getattr(Enterprise, f) == "") for f in REQUIRED_FOR_ACTIVATION]
    return select(Enterprise).where(or_(*conditions))
