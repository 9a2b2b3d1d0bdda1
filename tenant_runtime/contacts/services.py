"""Contact rules: one primary per customer, do-not-contact with who and when, soft delete."""

from flask_babel import gettext as _
from sqlalchemy import select, update

from common.errors import Invalid

from ..context import current_tenant
from ..core import history
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


def lock_contacts_of(customer_id):
    """Hold the customer's row until the commit, so that changes to who is its primary contact are made one
    after another: two at once would each clear the old primary and both set theirs, and the unique index
    would refuse the second commit."""
    current_tenant.session.execute(select(CrmCustomer.id).where(CrmCustomer.id == customer_id).with_for_update())


def make_primary(contact):
    """The one primary contact of its customer (the others lose the flag first: the unique index allows one).
    A new contact needs no id yet: it is not among the others. Nothing of ``contact`` is flushed here, so a
    duplicate phone fails at the commit, where it becomes a 409."""
    session = current_tenant.session
    which = [CrmContact.customer_id == contact.customer_id, CrmContact.primary_marker.is_not(None)]
    if contact.id is not None:
        which.append(CrmContact.id != contact.id)
    with session.no_autoflush:
        demoted = session.scalars(select(CrmContact.id).where(*which)).all()
        session.execute(update(CrmContact).where(*which).values(primary_marker=None)
                        .execution_options(synchronize_session="fetch"))
    for other in demoted:  # an UPDATE of rows, not objects: their history is written here
        history.record_row(session, "contact", other, "update", [{"field": "is_primary", "old": True, "new": False}])
    contact.primary_marker = 1


def set_do_not_contact(contact, flag, principal):
    """Whether it changed: who set it and when stay those of the first time when it already was so."""
    if bool(contact.do_not_contact) == bool(flag):
        return False
    contact.do_not_contact = bool(flag)
    contact.dnc_set_by, contact.dnc_set_at = principal.user_id, utcnow()
    return True


def create(values, principal, customer_id, primary=False, do_not_contact=False):
    customer = visible_customer(customer_id, principal)
    session = current_tenant.session
    lock_contacts_of(customer.id)
    # a locking read: the newest committed rows, not this transaction's snapshot
    first = session.scalar(_contacts_of(customer.id).limit(1).with_for_update()) is None
    contact = CrmContact(**values, customer_id=customer.id, owner_id=customer.owner_id, created_by=principal.user_id)
    if primary or first:
        make_primary(contact)
    contact.customer = customer
    session.add(contact)
    set_do_not_contact(contact, do_not_contact, principal)
    return contact


def update_contact(contact, values, principal, primary=False, do_not_contact=False):
    if contact.is_primary and not primary:
        # a customer keeps one primary contact: unticking it alone saved the rest and left it primary, unsaid
        raise Invalid({"is_primary": [_("A customer always has one primary contact: to change it, make another "
                                        "contact primary.")]})
    if primary and not contact.is_primary:
        lock_contacts_of(contact.customer_id)
        make_primary(contact)
    for key, value in values.items():
        if getattr(contact, key) != value:
            setattr(contact, key, value)
    set_do_not_contact(contact, do_not_contact, principal)
    return contact


def delete(contact, principal):
    """Soft delete; when no primary remains, the flag goes to the oldest remaining contact."""
    session = current_tenant.session
    lock_contacts_of(contact.customer_id)
    contact.deleted_at, contact.deleted_by, contact.primary_marker = utcnow(), principal.user_id, None
    session.flush()
    # a locking read with fresh values: another user may have moved the flag since this contact was loaded
    remaining = session.scalars(_contacts_of(contact.customer_id).order_by(CrmContact.id).with_for_update()
                                .execution_options(populate_existing=True)).all()
    if remaining and not any(c.is_primary for c in remaining):
        remaining[0].primary_marker = 1
