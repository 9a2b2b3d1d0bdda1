"""The handover checklist (交接清单), generated from each customer's real data by a small registry of item
sources: basic info, contacts and open follow-up plans today; opportunities, contracts, tickets and
payments register their own sources when their modules arrive. A source that names a table is used only
when that table exists in the tenant's database, so a module's items appear exactly once it is there."""

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import inspect, select

from common.timeutil import to_local
from common.validators import display_phone


@dataclass(frozen=True)
class ItemSource:
    item_type: str  # one of models.ITEM_TYPES (or a later module's own)
    label: object  # lazy text: the checklist's group heading
    collect: Callable  # (session, customer) -> [description, ...]: one checklist item each
    table: str | None = None  # used only when this table exists in the tenant's database
    order: int = 100


SOURCES: dict[str, ItemSource] = {}


def register_item_source(source):
    SOURCES[source.item_type] = source


def active_sources(session):
    """The registered sources whose tables exist in this tenant's database, in checklist order."""
    sources = sorted(SOURCES.values(), key=lambda s: (s.order, s.item_type))
    if any(s.table for s in sources):
        inspector = inspect(session.connection())
        sources = [s for s in sources if not s.table or inspector.has_table(s.table)]
    return sources


def generate(session, customers):
    """``[(customer_id, item_type, description)]`` for the customers, in the tenant's language (the
    checklist is a record, written once, in Simplified Chinese like the customers' own data)."""
    items = []
    with force_locale("zh_CN"):
        sources = active_sources(session)
        for customer in customers:
            for source in sources:
                for description in source.collect(session, customer):
                    items.append((customer.id, source.item_type, description))
    return items


def label_of(item_type):
    source = SOURCES.get(item_type)
    return source.label if source else item_type


# ---------------------------------------------------------------------- the sources every tenant has


def _basic_info(session, customer):
    from ..customers.forms import LEVEL_LABELS, TYPE_LABELS
    from ..customers.services import region_of

    parts = [_("Customer %(name)s", name=customer.customer_name),
             _("type %(type)s", type=TYPE_LABELS.get(customer.customer_type, customer.customer_type)),
             _("level %(level)s", level=LEVEL_LABELS.get(customer.level, customer.level))]
    if customer.phone:
        parts.append(_("phone %(phone)s", phone=display_phone(customer.phone)))
    if customer.tax_id:
        parts.append(_("unified social credit code %(code)s", code=customer.tax_id))
    region = region_of(customer)
    if region or customer.address:
        parts.append(_("address %(address)s", address=f"{region}{customer.address or ''}"))
    parts.append(_("last follow-up %(time)s", time=_when(customer.last_follow_up_at) if customer.last_follow_up_at
                   else _("never")))
    return ["；".join(str(p) for p in parts)]


def _contacts(session, customer):
    from ..contacts.models import CrmContact

    rows = session.scalars(select(CrmContact).where(CrmContact.customer_id == customer.id,
                                                    CrmContact.deleted_at.is_(None))
                           .order_by(CrmContact.primary_marker.is_(None), CrmContact.id)).all()
    out = []
    for c in rows:
        text = _("Contact %(name)s", name=c.contact_name)
        if c.position:
            text += f"（{c.position}）"
        text += "；" + _("mobile %(phone)s", phone=display_phone(c.phone))
        if c.email:
            text += "；" + _("e-mail %(email)s", email=c.email)
        if c.is_primary:
            text += "；" + _("primary contact")
        if c.do_not_contact:
            text += "；" + _("do not contact")
        out.append(text)
    return out


def _plans(session, customer):
    """The open follow-up plan: the customer's next follow-up (it belongs to the customer's owner, so it
    moves with the customer) and what the last follow-up planned for it."""
    from ..followups.models import CrmFollowUp

    if customer.next_follow_up_at is None:
        return []
    planned = session.scalar(select(CrmFollowUp.next_content).where(
        CrmFollowUp.relation_type == "customer", CrmFollowUp.relation_id == customer.id,
        CrmFollowUp.next_follow_time.is_not(None)).order_by(CrmFollowUp.id.desc()).limit(1))
    text = _("Next follow-up planned for %(time)s", time=_when(customer.next_follow_up_at))
    if planned:
        text += "：" + planned
    return [text]


def _when(dt):
    return to_local(dt).strftime("%Y-%m-%d %H:%M")


register_item_source(ItemSource("basic_info", _l("Basic information"), _basic_info, order=10))
register_item_source(ItemSource("contacts", _lp("crm", "Contacts"), _contacts, order=20))
register_item_source(ItemSource("follow_up_plans", _l("Open follow-up plans"), _plans, order=30))
