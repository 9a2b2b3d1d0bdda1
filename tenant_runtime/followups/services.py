"""Follow-up rules: a follow-up is recorded on a customer the user can see, with the contact spoken to
(one of that customer's), and moves the customer's last and next follow-up times in the same
transaction."""

from flask_babel import gettext as _
from sqlalchemy import select

from common.errors import Invalid

from ..contacts.models import CrmContact
from ..contacts.services import visible_customer
from ..context import current_tenant
from ..core import attachments
from ..customers.models import CrmCustomer
from ..models import utcnow
from .models import CrmFollowUp


def add(customer_id, values, principal, contact_id=None, upload=None):
    customer = visible_customer(customer_id, principal)
    session = current_tenant.session
    # follow-ups of one customer are recorded one after another, so that its last and next follow-up are
    # always the newest record's (two at once could otherwise commit in the other order)
    session.execute(select(CrmCustomer.id).where(CrmCustomer.id == customer.id).with_for_update())
    if contact_id:
        contact = session.get(CrmContact, contact_id)
        if contact is None or contact.customer_id != customer.id or contact.deleted_at is not None:
            raise Invalid({"contact_id": [_("Choose one of this customer's contacts.")]})
    now = utcnow()
    follow_up = CrmFollowUp(relation_type="customer", relation_id=customer.id, contact_id=contact_id,
                            created_by=principal.user_id, created_at=now, **values)
    session.add(follow_up)
    session.flush()
    customer.last_follow_up_at = now
    customer.next_follow_up_at = values.get("next_follow_time")
    if upload is not None and upload.filename:
        attachments.save(upload, "follow_up", follow_up.id, principal)
    return follow_up


def timeline(customer_id, limit=50):
    """The customer's follow-ups, newest first, with their authors and attachments loaded."""
    session = current_tenant.session
    rows = session.scalars(select(CrmFollowUp).where(CrmFollowUp.relation_type == "customer",
                                                     CrmFollowUp.relation_id == customer_id)
                           .order_by(CrmFollowUp.id.desc()).limit(limit)).all()
    return decorate(session, rows)


def decorate(session, rows):
    """Author names and attachments of many follow-ups in two queries."""
    if not rows:
        return rows
    from ..core.lookups import user_names
    from ..core.models import CrmAttachment

    users = user_names(session, {f.created_by for f in rows})
    files = {}
    for a in session.scalars(select(CrmAttachment).where(CrmAttachment.owner_type == "follow_up",
                                                         CrmAttachment.owner_id.in_([f.id for f in rows]))):
        files.setdefault(a.owner_id, []).append(a)
    for f in rows:
        f.author_name = users.get(f.created_by)
        f.attachment_rows = files.get(f.id, [])
    return rows
