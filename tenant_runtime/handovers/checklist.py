"""The handover checklist (交接清单), generated from each customer's real data by a small registry of item
sources: basic info, contacts and open follow-up plans today; opportunities, contracts, tickets and
payments register their own sources when their modules arrive. A source that names a table is used only
when that table exists in the tenant's database, so a module's items appear exactly once it is there.

Each item is a record: its description is written once, in Simplified Chinese like the customers' own data, and
its detail (the values it was written from) is kept beside it, so that the pages word it in the reader's language
(``text_of``) while the record stays as it was written."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import inspect, select

from common.i18n import reads_chinese
from common.regions import place
from common.timeutil import to_local
from common.validators import display_phone


@dataclass(frozen=True)
class ItemSource:
    item_type: str  # one of models.ITEM_TYPES (or a later module's own)
    label: object  # lazy text: the checklist's group heading
    collect: Callable  # (session, customer) -> [detail, ...]: one checklist item each
    # detail -> its text in the current language; without one, ``collect`` gives the items' text itself
    describe: Callable | None = None
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
    """``[(customer_id, item_type, description, detail)]`` for the customers: the description in the tenant's
    language (the checklist is a record, written once, in Simplified Chinese like the customers' own data), the
    detail the values it was written from (None for a source that gives text alone)."""
    items = []
    with force_locale("zh_CN"):
        sources = active_sources(session)
        for customer in customers:
            for source in sources:
                for found in source.collect(session, customer):
                    if source.describe is None:
                        items.append((customer.id, source.item_type, found, None))
                    else:
                        items.append((customer.id, source.item_type, source.describe(found), found))
    return items


def text_of(item):
    """An item's text for the reader: worded from its detail in the current language, or its description as
    written (an item from before details were kept, or of a source that keeps text alone)."""
    source = SOURCES.get(item.item_type)
    if item.item_detail and source is not None and source.describe is not None:
        try:
            return source.describe(item.item_detail)
        except (KeyError, TypeError, ValueError):  # a detail of another shape (a later version's): the record
            pass
    return item.item_description


def label_of(item_type):
    source = SOURCES.get(item_type)
    return source.label if source else item_type


# ---------------------------------------------------------------------- the sources every tenant has
# Details hold the stored values (codes, E.164 phones, UTC times in ISO form), never words of one language.


def _basic_info(session, customer):
    return [{"name": customer.customer_name, "type": customer.customer_type, "level": customer.level,
             "phone": customer.phone, "tax_id": customer.tax_id, "province_code": customer.province_code,
             "city_code": customer.city_code, "address": customer.address,
             "last_follow_up_at": _iso(customer.last_follow_up_at)}]


def _describe_basic_info(d):
    from ..customers.forms import LEVEL_LABELS, TYPE_LABELS

    parts = [_("Customer %(name)s", name=d["name"]),
             _("type %(type)s", type=TYPE_LABELS.get(d["type"], d["type"])),
             _("level %(level)s", level=LEVEL_LABELS.get(d["level"], d["level"]))]
    if d.get("phone"):
        parts.append(_("phone %(phone)s", phone=display_phone(d["phone"])))
    if d.get("tax_id"):
        parts.append(_("unified social credit code %(code)s", code=d["tax_id"]))
    region = _region(d.get("province_code"), d.get("city_code"))
    if region or d.get("address"):
        parts.append(_("address %(address)s", address=_joined(region, d.get("address"))))
    last = d.get("last_follow_up_at")
    parts.append(_("last follow-up %(time)s", time=_when(last) if last else _("never")))
    return _separator().join(str(p) for p in parts)


def _contacts(session, customer):
    from ..contacts.models import CrmContact

    rows = session.scalars(select(CrmContact).where(CrmContact.customer_id == customer.id,
                                                    CrmContact.deleted_at.is_(None))
                           .order_by(CrmContact.primary_marker.is_(None), CrmContact.id)).all()
    return [{"name": c.contact_name, "position": c.position, "phone": c.phone, "email": c.email,
             "primary": bool(c.is_primary), "do_not_contact": bool(c.do_not_contact)} for c in rows]


def _describe_contact(d):
    text = _("Contact %(name)s", name=d["name"])
    if d.get("position"):
        text += _bracketed(d["position"])
    parts = [text, _("mobile %(phone)s", phone=display_phone(d.get("phone")))]
    if d.get("email"):
        parts.append(_("e-mail %(email)s", email=d["email"]))
    if d.get("primary"):
        parts.append(_("primary contact"))
    if d.get("do_not_contact"):
        parts.append(_("do not contact"))
    return _separator().join(str(p) for p in parts)


def _plans(session, customer):
    """The open follow-up plan: the customer's next follow-up (it belongs to the customer's owner, so it
    moves with the customer) and what the last follow-up planned for it."""
    from ..followups.models import CrmFollowUp

    if customer.next_follow_up_at is None:
        return []
    planned = session.scalar(select(CrmFollowUp.next_content).where(
        CrmFollowUp.relation_type == "customer", CrmFollowUp.relation_id == customer.id,
        CrmFollowUp.next_follow_time.is_not(None)).order_by(CrmFollowUp.id.desc()).limit(1))
    return [{"time": _iso(customer.next_follow_up_at), "planned": planned}]


def _describe_plan(d):
    text = _("Next follow-up planned for %(time)s", time=_when(d["time"]))
    if d.get("planned"):
        text += ("：" if reads_chinese() else ": ") + d["planned"]
    return text


def _iso(dt):
    return dt.isoformat() if dt is not None else None


def _when(value):
    return to_local(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")


def _separator():
    return "；" if reads_chinese() else "; "


def _bracketed(text):
    return f"（{text}）" if reads_chinese() else f" ({text})"


def _region(province_code, city_code):
    """省市 as one reads it (广东省深圳市), or the English place (Shenzhen, Guangdong)."""
    if not province_code:
        return ""
    if reads_chinese():
        from ..customers.services import region_name

        return region_name(province_code, city_code)
    return place(province_code, city_code)


def _joined(region, address):
    if not region or not address:
        return region or address or ""
    return region + address if reads_chinese() else f"{address}, {region}"


register_item_source(ItemSource("basic_info", _l("Basic information"), _basic_info, _describe_basic_info, order=10))
register_item_source(ItemSource("contacts", _lp("crm", "Contacts"), _contacts, _describe_contact, order=20))
register_item_source(ItemSource("follow_up_plans", _l("Open follow-up plans"), _plans, _describe_plan, order=30))
