"""Follow-up rules: a follow-up is recorded on a customer the user can see, with the contact spoken to
(one of that customer's), and moves the customer's last and next follow-up times in the same
transaction."""

import functools

from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, or_, select

from common.errors import Invalid

from ..contacts.models import CrmContact
from ..contacts.services import visible_customer
from ..context import current_tenant
from ..core import attachments
from ..customers.models import CrmCustomer
from ..models import utcnow
from .models import CrmFollowUp


def next_plan(planned, given, now):
    """The record's next follow-up after one is recorded: the time given; none given, the plan it had if that
    is still ahead (a call before the planned visit does not cancel the visit), else nothing (this follow-up
    was the one due)."""
    if given is not None:
        return given
    return planned if planned is not None and planned > now else None


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
    customer.next_follow_up_at = next_plan(customer.next_follow_up_at, values.get("next_follow_time"), now)
    if upload is not None and upload.filename:
        attachments.save(upload, "follow_up", follow_up.id, principal)
    return follow_up


def add_to_lead(lead_id, values, principal, upload=None):
    """A follow-up on a lead the user can see (not a converted one): moves the lead's follow-up times."""
    from ..leads import services as lead_services
    from ..leads.models import STATUS_CONVERTED, CrmLead

    session = current_tenant.session
    lead = session.scalar(select(CrmLead).where(CrmLead.id == lead_id, lead_services.visible_clause(principal)))
    if lead is None:
        raise Invalid({"lead_id": [_("Choose a lead you can see.")]})
    if lead.status == STATUS_CONVERTED:
        raise Invalid({"lead_id": [_("This lead is a customer now: follow up the customer.")]})
    if lead.owner_id is None:
        raise Invalid({"lead_id": [_("This lead is in its pool: claim it before following it up.")]})
    now = utcnow()
    follow_up = CrmFollowUp(relation_type="lead", relation_id=lead.id, created_by=principal.user_id, created_at=now,
                            **values)
    session.add(follow_up)
    session.flush()
    lead_services.followed_up(lead, now, values.get("next_follow_time"))
    if upload is not None and upload.filename:
        attachments.save(upload, "follow_up", follow_up.id, principal)
    return follow_up


TIMELINE_SHOWN = 50  # a record's page shows its latest follow-ups; the follow-up list, filtered to it, has them all


def timeline(customer_id, limit=TIMELINE_SHOWN):
    """The customer's follow-ups, newest first, with their authors and attachments loaded, including those
    recorded on the leads it was converted from (linked through ``crm_lead.converted_customer_id``, not
    re-pointed: each stays the lead's record too)."""
    session = current_tenant.session
    return decorate(session, session.scalars(_timeline_statement(limit), {"customer_id": customer_id}).all())


@functools.lru_cache(maxsize=8)
def _timeline_statement(limit):
    """Built once per page size (the 360 view's and the detail page's), the customer a parameter."""
    from ..leads.models import CrmLead

    customer_id = bindparam("customer_id")
    from_leads = select(CrmLead.id).where(CrmLead.converted_customer_id == customer_id)
    return (select(CrmFollowUp).where(or_(
        and_(CrmFollowUp.relation_type == "customer", CrmFollowUp.relation_id == customer_id),
        and_(CrmFollowUp.relation_type == "lead", CrmFollowUp.relation_id.in_(from_leads))))
        .order_by(CrmFollowUp.id.desc()).limit(limit))


def lead_timeline(lead_id, limit=TIMELINE_SHOWN):
    session = current_tenant.session
    rows = session.scalars(select(CrmFollowUp).where(CrmFollowUp.relation_type == "lead",
                                                     CrmFollowUp.relation_id == lead_id)
                           .order_by(CrmFollowUp.id.desc()).limit(limit)).all()
    return decorate(session, rows)


@functools.cache
def _attachments_statement(attachment):
    return select(attachment).where(attachment.owner_type == "follow_up",
                                    attachment.owner_id.in_(bindparam("ids", expanding=True)))


def decorate(session, rows):
    """Author names and attachments of many follow-ups in two queries."""
    if not rows:
        return rows
    from ..core.lookups import user_names
    from ..core.models import CrmAttachment

    users = user_names(session, {f.created_by for f in rows})
    files = {}
    for a in session.scalars(_attachments_statement(CrmAttachment), {"ids": [f.id for f in rows]}):
        files.setdefault(a.owner_id, []).append(a)
    for f in rows:
        f.author_name = users.get(f.created_by)
        f.attachment_rows = files.get(f.id, [])
    return rows
