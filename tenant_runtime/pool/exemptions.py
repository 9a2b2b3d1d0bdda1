"""Customers the pool's settings exempt from recycling, as a registry of predicates.

Each exemption names the setting that switches it on and the table it reads; it applies only when the
switch is on AND that table exists in the tenant's database, so the switches in the settings take effect
the day the opportunities and contracts modules ship their tables (seed 002's ``crm_opportunity``, status
1 = in progress, and ``crm_contract``, status 3 = signed), with no change here.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import column, exists, inspect, table


@dataclass(frozen=True)
class Exemption:
    key: str
    label: object
    setting: str  # the boolean column of crm_pool_setting that switches it on
    table: str  # the table the predicate reads
    predicate: object  # callable(customer_id_column) -> clause true for an exempt customer


def _open_opportunity(customer_id):
    t = table("crm_opportunity", column("customer_id"), column("status"))
    return exists().where(t.c.customer_id == customer_id, t.c.status == 1)


def _signed_contract(customer_id):
    t = table("crm_contract", column("customer_id"), column("status"))
    return exists().where(t.c.customer_id == customer_id, t.c.status == 3)


EXEMPTIONS = [
    Exemption("open_opportunities", _l("Customers with open opportunities"), "exempt_open_opportunities",
              "crm_opportunity", _open_opportunity),
    Exemption("signed_contracts", _l("Customers with signed contracts"), "exempt_signed_contracts", "crm_contract",
              _signed_contract),
]


def register(exemption):
    """Add (or replace) an exemption: later modules may declare their own."""
    EXEMPTIONS[:] = [e for e in EXEMPTIONS if e.key != exemption.key] + [exemption]


def active(session, settings):
    """The exemptions in force for this tenant now: switched on, and their table present."""
    names = None
    out = []
    for exemption in EXEMPTIONS:
        if not getattr(settings, exemption.setting, False):
            continue
        if names is None:
            names = set(inspect(session.connection()).get_table_names())
        if exemption.table in names:
            out.append(exemption)
    return out


def status(session, settings):
    """``[(exemption, switched_on, table_present)]`` for the settings page."""
    names = set(inspect(session.connection()).get_table_names())
    return [(e, bool(getattr(settings, e.setting, False)), e.table in names) for e in EXEMPTIONS]
