"""A customer is locked while it is in an open handover: a ``crm_handover_customer`` row with
``open_marker = 1`` (unique per customer). Locked customers are never recycled, claimed, assigned or
reassigned; the pool, the customer archive and handovers all ask here."""

from sqlalchemy import exists, select

from .models import CrmHandoverCustomer


def locked(session, customer_ids):
    """The ids among ``customer_ids`` that are in an open handover."""
    ids = {int(i) for i in customer_ids if i is not None}
    if not ids:
        return set()
    return set(session.scalars(select(CrmHandoverCustomer.customer_id).where(
        CrmHandoverCustomer.customer_id.in_(sorted(ids)), CrmHandoverCustomer.open_marker == 1)))


def locked_clause(customer_id_column):
    """``EXISTS`` an open handover of the customer in ``customer_id_column``, for set-based queries."""
    return exists().where(CrmHandoverCustomer.customer_id == customer_id_column, CrmHandoverCustomer.open_marker == 1)


def unlocked(customer_id_column):
    """``NOT EXISTS`` an open handover of the customer in ``customer_id_column`` (recycling's WHERE)."""
    return ~locked_clause(customer_id_column)
