"""Registration, SMS verification, return visits and conversion."""

import hashlib
import hmac
import secrets

from flask import current_app, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy import update as sql_update

from common.errors import ApiError, Conflict, Invalid
from common.i18n import list_join
from common.timeutil import end_of_local_day_utc, local_today, utcnow
from extensions import db
from platform_admin.enterprises.models import Enterprise
from platform_admin.enterprises.services import assign_enterprise_no
from platform_admin.messaging.senders import sms_sender

from .models import STATUSES, Application, FollowUp, SmsCode
from .throttle import counted_in_shared_store

OPEN_STATUSES = ("new", "contacted", "intent_confirmed")


def _code_hash(phone, code):
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def send_registration_code(phone):
    """Create a fresh 6-digit code for ``phone`` (older codes die) and send it by SMS. Refused with 503
    while the SMS throttles cannot count in their shared store (they fail closed)."""
    if not counted_in_shared_store():
        raise ApiError(503, "sms_unavailable",
                       _("Verification codes cannot be sent right now. Please try again in a few minutes."))
    now = utcnow()
    for old in db.session.scalars(select(SmsCode).where(SmsCode.phone == phone, SmsCode.consumed_at.is_(None))):
        old.consumed_at = now
    code = f"{secrets.randbelow(10**6):06d}"
    ttl = current_app.config["SMS_CODE_TTL"]
    db.session.add(SmsCode(phone=phone, code_hash=_code_hash(phone, code), expires_at=now + ttl,
                           ip=request.remote_addr if request else None))
    minutes = int(ttl.total_seconds() // 60)
    body = _("Your registration code is %(code)s, valid for %(minutes)s minutes. Do not share it.", code=code, minutes=minutes)
    message = sms_sender().send(phone, body, purpose="register_code", secrets=[code])
    if message.status == "failed":
        # Keep the outbox record of the failure, but the code never reached anyone: kill it.
        db.session.flush()
        db.session.execute(sql_update(SmsCode).where(SmsCode.phone == phone, SmsCode.consumed_at.is_(None))
                           .values(consumed_at=now))
        db.session.commit()
        raise ApiError(503, "sms_failed", _("The SMS could not be sent. Please try again in a moment."))
    g.sms_sent = True
    return code


def verify_code(phone, code):
    """Consume the phone's live code if ``code`` matches. Wrong attempts count; the 5th kills the code.

    Returns an error message for the ``sms_code`` field, or None when verified. A wrong attempt is
    committed by the caller even though the registration itself is refused.
    """
    now = utcnow()
    sms = db.session.scalar(
        select(SmsCode).where(SmsCode.phone == phone, SmsCode.consumed_at.is_(None)).order_by(SmsCode.id.desc()).limit(1)
    )
    if sms is None:
        return _l("Request a verification code first.")
    if sms.expires_at <= now:
        return _l("The verification code has expired. Request a new one.")
    if sms.attempts >= current_app.config["SMS_CODE_MAX_ATTEMPTS"]:
        return _l("Too many wrong codes. Request a new one.")
    if not hmac.compare_digest(sms.code_hash, _code_hash(phone, (code or "").strip())):
        sms.attempts += 1
        if sms.attempts >= current_app.config["SMS_CODE_MAX_ATTEMPTS"]:
            sms.consumed_at = now
            return _l("Too many wrong codes. Request a new one.")
        return _l("The verification code is wrong.")
    # Consume with a conditional UPDATE so two simultaneous registrations cannot both use one code.
    consumed = db.session.execute(
        sql_update(SmsCode).where(SmsCode.id == sms.id, SmsCode.consumed_at.is_(None)).values(consumed_at=now)
    ).rowcount
    if consumed != 1:
        return _l("Request a verification code first.")
    return None


def register(name, phone, sms_code, company_name, channel):
    """Self-service registration. Raises 422 naming ``sms_code`` when the code does not verify."""
    error = verify_code(phone, sms_code)
    if error:
        db.session.commit()  # keep the attempt count even though registration is refused
        raise Invalid({"sms_code": [error]})
    application = Application(name=name, phone=phone, company_name=company_name or None, channel=channel,
                              phone_verified=True, registered_at=utcnow())
    db.session.add(application)
    return application


def create_offline(data, by):
    application = Application(channel="offline", created_by_id=by.id, owner_id=data.pop("owner_id", None) or by.id,
                              registered_at=utcnow(), **data)
    db.session.add(application)
    return application


def change_status(application, status):
    if status == application.status:
        return application
    if not application.can_move_to(status):
        allowed = list_join(str(STATUSES[s]) for s in sorted(_allowed(application))) or "-"
        raise Conflict("illegal_transition",
                       _("An application cannot move from %(old)s to %(new)s.", old=STATUSES.get(application.status),
                         new=STATUSES.get(status, status)),
                       {"status": [_("Allowed next: %(allowed)s", allowed=allowed)]})
    application.status = status
    return application


def _allowed(application):
    from .models import TRANSITIONS

    return TRANSITIONS.get(application.status, set())


def update(application, data):
    status = data.pop("status", None)
    for key, value in data.items():
        setattr(application, key, value)
    if status:
        change_status(application, status)
    return application


def add_follow_up(application, content, intent_level, next_follow_up_at, by, outcome=None):
    """Record a return visit. The first visit of a new application marks it contacted."""
    if application.status in ("converted", "rejected"):
        raise Conflict("illegal_state", _("This application is closed; no more return visits."))
    visit = FollowUp(application=application, staff_id=by.id, content=content, intent_level=intent_level,
                     next_follow_up_at=next_follow_up_at)
    db.session.add(visit)
    application.last_intent_level = intent_level
    application.next_follow_up_at = next_follow_up_at
    if application.owner_id is None:
        application.owner_id = by.id
    if outcome and outcome != application.status:
        change_status(application, outcome)
    elif application.status == "new":
        application.status = "contacted"
    return visit


def convert(application, by):
    """Create the enterprise profile from a confirmed application; contact details carry over."""
    if application.status == "converted":
        raise Conflict("already_converted", _("This application has already been converted."))
    if application.status != "intent_confirmed":
        raise Conflict("illegal_transition", _("Only an application with confirmed intent can be converted."),
                       {"status": [_("Confirm the intent in a return visit first.")]})
    # Claim the conversion atomically: of two simultaneous requests only one sees its UPDATE match.
    claimed = db.session.execute(
        sql_update(Application).where(Application.id == application.id, Application.status == "intent_confirmed")
        .values(status="converted").execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Conflict("already_converted", _("This application has already been converted."))
    enterprise = Enterprise(name=application.company_name, contact_name=application.name,
                            contact_phone=application.phone, created_by_id=by.id)
    db.session.add(enterprise)
    db.session.flush()
    assign_enterprise_no(enterprise)
    application.enterprise_id = enterprise.id
    application.status = "converted"
    application.next_follow_up_at = None
    return enterprise


def due_follow_ups_query(owner_id=None):
    """Open applications whose next return visit is due today or overdue (local time)."""
    end_today = end_of_local_day_utc(local_today())
    query = select(Application).where(
        Application.status.in_(OPEN_STATUSES),
        or_(Application.next_follow_up_at < end_today,
            # applicants nobody has called yet are due at once
            (Application.status == "new") & Application.next_follow_up_at.is_(None)),
    )
    if owner_id:
        query = query.where(Application.owner_id == owner_id)
    return query
