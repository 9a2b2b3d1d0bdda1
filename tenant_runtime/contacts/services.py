"""Contact rules: one primary per customer, do-not-contact with who and when, soft delete."""

from flask_babel import gettext as _
from sqlalchemy import select, update

from common.errors import Invalid

from ..context import current_tenant
from ..customers.models import CrmCustomer
from ..models import utcnow
from .models import CrmContact

FIELDS = ("contact_name", "position", "phone", "email", "wechat", "communication_preference", "birthday", "is_key",
          "remark")


def visible_customer(customer_id, principal):
    """The customer a contact is added to: it must exist, not be deleted and be in the user's scope."""
    customer = current_tenant.session.get(CrmCustomer, customer_id) if customer_id else None
    if customer is None or customer.deleted_at is not None or not principal.sees(customer.owner_id, customer.dept_id):
        raise Invalid({"customer_id": [_("Choose a customer you can see.")]})
    return customer


def _contacts_of(customer_id):
    return select(CrmContact).where(CrmContact.customer_id == customer_id, CrmContact.deleted_at.is_(None))


def make_primary(contact):
    """The one primary contact of its customer (the others lose the flag first: the unique index allows one)."""
    session = current_tenant.session
    session.execute(update(CrmContact).where(CrmContact.customer_id == contact.customer_id,
                                             CrmContact.id != contact.id, CrmContact.primary_marker.is_not(None))
                    .values(primary_marker=None).execution_options(synchronize_session="fetch"))
    contact.primary_marker = 1


def set_do_not_contact(contact, flag, principal):
    if bool(contact.do_not_contact) == bool(flag):
        return
    contact.do_not_contact = bool(flag)
    contact.dnc_set_by, contact.dnc_set_at = principal.user_id, utcnow()


def create(values, principal, customer_id, primary=False, do_not_contact=False):
    customer = visible_customer(customer_id, principal)
    session = current_tenant.session
    first = session.scalar(_contacts_of(customer.id).limit(1)) is None
    contact = CrmContact(**values, customer_id=customer.id, owner_id=customer.owner_id, created_by=principal.user_id)
    contact.customer = customer
    session.add(contact)
    session.flush()
    if primary or first:
        make_primary(contact)
    set_do_not_contact(contact, do_not_contact, principal)
    return contact


def update_contact(contact, values, principal, primary=False, do_not_contact=False):
    for key, value in values.items():
        if getattr(contact, key) != value:
            setattr(contact, key, value)
    if primary and not contact.is_primary:
        make_primary(contact)
    set_do_not_contact(contact, do_not_contact, principal)
    return contact


def delete(contact, principal):
    """Soft delete; a deleted primary hands the flag to the oldest remaining contact."""
    was_primary = contact.is_primary
    contact.deleted_at, contact.deleted_by, contact.primary_marker = utcnow(), principal.user_id, None
    current_tenant.session.flush()
    if was_primary:
        successor = current_tenant.session.scalar(_contacts_of(contact.customer_id).order_by(CrmContact.id).limit(1))
        if successor is not None:
            successor.primary_marker = 1
