"""Customers in an open handover are locked: never recycled, claimed, assigned or returned to the pool.

A customer is locked while a row of ``crm_handover_customer`` carries ``open_marker = 1`` (unique per
customer). Set-based code uses ``unlocked(column)`` inside its WHERE; single moves ask ``locked``.
"""

from sqlalchemy import exists, select

from ..handovers.models import CrmHandoverCustomer


def unlocked(customer_id_column):
    """``NOT EXISTS`` an open handover of the customer whose id is ``customer_id_column``."""
    return ~exists().where(CrmHandoverCustomer.customer_id == customer_id_column,
                           CrmHandoverCustomer.open_marker == 1)


def locked(session, customer_ids):
    """The ids among ``customer_ids`` that are in an open handover."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return set()
    return set(session.scalars(select(CrmHandoverCustomer.customer_id).where(
        CrmHandoverCustomer.customer_id.in_(ids), CrmHandoverCustomer.open_marker == 1)))
