"""What the enterprise page says about the latest provisioning: how it ended and where the first
administrator's sign-in went (read back from the outbox, masked), so devops can tell the customer."""

from datetime import timedelta

from sqlalchemy import select

from extensions import db
from platform_admin.messaging.models import OutboxMessage

# Stored times have whole seconds on MySQL: widen the job's window so its own messages stay inside it.
SLACK = timedelta(seconds=2)


def mask_phone(phone):
    """``138****8000``: enough for the customer to recognise, not enough to reuse."""
    digits = str(phone or "")
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:] if len(digits) >= 8 else "*" * len(digits)


def mask_email(email):
    """``o**@example.com``."""
    local, _at, domain = str(email or "").partition("@")
    return f"{local[:1]}{'*' * max(2, len(local) - 1)}@{domain}" if domain else "*" * len(local)


def first_login_deliveries(enterprise, job):
    """The messages sent to the enterprise contact while ``job`` ran: ``[(message, masked recipient)]``."""
    if job is None or job.status != "finished" or not job.started_at or not job.finished_at:
        return []
    recipients = [r for r in (enterprise.contact_phone, enterprise.email) if r]
    if not recipients:
        return []
    messages = db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.to.in_(recipients),
        OutboxMessage.created_at >= job.started_at - SLACK,
        OutboxMessage.created_at <= job.finished_at + SLACK,
    ).order_by(OutboxMessage.id)).all()
    return [(m, mask_phone(m.to) if m.channel == "sms" else mask_email(m.to)) for m in messages]
