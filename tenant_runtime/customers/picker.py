"""Choosing the customer a record is for (a follow-up, a contact) on a page that works without JavaScript.

A form without a chosen customer shows a search (name or phone) among the customers the user can see, each
match a link back to the same form with ``?customer_id=<id>``; with one chosen, the form names it and carries its
id in a hidden field. The API takes ``customer_id`` as before; the service still checks the customer it is given
(``contacts.services.visible_customer``).
"""

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from ..context import current_tenant
from ..core.resource import list_rows
from .models import CrmCustomer
from .resource import customers

C = CrmCustomer
PICK_LIMIT = 10  # matches shown: a short list, the search narrows it


def chosen_customer(customer_id, principal):
    """The customer with this id when the user can see it (not deleted, in their data scope), else None."""
    if not isinstance(customer_id, int) or not 0 < customer_id < 2**63:
        return None
    query = customers.scope(customers.base_query().where(C.id == customer_id), principal)
    return current_tenant.session.scalar(query)


def matches(principal, q, limit=PICK_LIMIT):
    """Up to ``limit`` customers the user can see whose name or phone contains ``q`` (newest first; without ``q``
    the newest), and whether there are more: the customer list's own search (``全部客户`` as far as the user's
    scope goes), so the picker reads what the list reads: the word index, a whole phone by its index, a wide
    scope in id order first, a narrow one department by department. (Its own statement, the scope as one
    condition under the hint against reading by id, made MariaDB sort every match of a common word in a wide
    scope: a director's 物业 took 33 s at a million customers in that statement's shape, by hand.)"""
    args = MultiDict({"view": "all"})
    q = (q or "").strip()
    if q:
        args["q"] = q
    rows, cursor, *_parsed = list_rows(customers, args, principal, default_limit=limit)
    return rows, cursor is not None


def picker_context(form, principal, args, fixed=None):
    """What a form with a customer picker shows: ``customer`` (the chosen one, or ``fixed``: a record's own
    customer on its edit page) or, without one, the search ``customer_q`` and its ``customer_matches``. A chosen id
    the user may not see (another's customer, a deleted one, none) is not named: the search is shown, with the
    error on the field."""
    if fixed is not None:
        return {"customer": fixed}
    field = form.customer_id
    customer = chosen_customer(field.data, principal) if field.data else None
    if field.data and customer is None and not field.errors:
        field.errors = [_("Choose a customer you can see.")]
    if customer is not None:
        return {"customer": customer}
    q = (args.get("q") or "").strip()[:100]
    rows, more = matches(principal, q)
    return {"customer": None, "customer_q": q, "customer_matches": rows, "customer_more": more}
