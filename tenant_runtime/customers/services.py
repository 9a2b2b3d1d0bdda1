"""Customer rules: who may own what, the duplicate check (查重), tags, delete and restore.

Services add to the tenant session; the caller (a view, a job, a CLI) commits.
"""

import re
import unicodedata
from collections import Counter

from flask_babel import gettext as _
from sqlalchemy import or_, select

from common.errors import Conflict, Invalid
from common.i18n import reads_chinese
from common.regions import city_name, province_name
from common.timeutil import from_local

from ..context import current_tenant
from ..core import history
from ..core.listing import escape_like
from ..core.lookups import names, user_names
from ..models import USER_STATUS_ENABLED, SysDept, SysUser, utcnow
from .models import CUSTOMER_WORDS, CrmCustomer, CrmCustomerTag

# Legal-form words a company name may or may not carry: 上海华庭物业有限公司 and 上海华庭物业 are one company.
_SUFFIXES = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "集团公司", "股份公司", "集团", "公司",
             "coltd", "ltd", "inc", "llc", "limited", "company", "corporation", "corp")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def name_key(name):
    """The company name as the duplicate check compares it: full-width folded (NFKC), case folded,
    without spaces, punctuation or the legal form."""
    text = _NOISE.sub("", unicodedata.normalize("NFKC", name or "").casefold())
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, changed = text[: -len(suffix)], True
    return text[:200]


# ---------------------------------------------------------------------- owners


def assignable_users(principal, session=None, permission=None):
    """Enabled users the principal may make owners: everyone for an all-seeing scope, else the users of
    the departments they see, and themselves; with ``permission``, only users one of whose roles grants it
    (a lead goes to someone who may work leads, not to 客服, who could only look at it)."""
    from ..people.models import SysRole, SysUserRole

    session = session or current_tenant.session
    query = select(SysUser.id, SysUser.full_name, SysUser.dept_id, SysUser.username).where(
        SysUser.status == USER_STATUS_ENABLED)
    if not principal.sees_all:
        query = query.where(or_(SysUser.id == principal.user_id, SysUser.dept_id.in_(sorted(principal.dept_ids))))
    if permission:
        roles = [r.id for r in session.scalars(select(SysRole)) if permission in r.permission_set]
        query = query.where(SysUser.id.in_(select(SysUserRole.user_id).where(SysUserRole.role_id.in_(roles))))
    rows = session.execute(query.order_by(SysUser.name_pinyin, SysUser.id)).all()
    # two people of one name (刘洋 and 刘洋) are told apart by their user names, in every picker and in an import,
    # which reads an owner by the label: 刘洋（sales3）
    shared = {name for name, n in Counter(r.full_name for r in rows).items() if n > 1}
    left, right = (("（", "）") if reads_chinese() else (" (", ")")) if shared else ("", "")
    return [(r.id, f"{r.full_name}{left}{r.username}{right}" if r.full_name in shared else r.full_name, r.dept_id)
            for r in rows]


def _resolve_owner(owner_id, principal):
    owner_id = owner_id or principal.user_id
    for uid, _name, dept_id in assignable_users(principal):
        if uid == owner_id:
            return uid, dept_id
    raise Invalid({"owner_id": [_("Choose an owner you manage.")]})


# ---------------------------------------------------------------------- duplicate check (查重)


def mask_name(name):
    """张伟 -> 张*, 欧阳娜娜 -> 欧***: enough to ask a colleague, not enough to read the record."""
    if not name:
        return "*"
    return name[0] + "*" * max(1, len(name) - 1)


SIMILAR_MIN = 2  # characters of a normalised name before names that start with it count as similar


def find_duplicates(principal, phone=None, tax_id=None, name=None, exclude_id=None, limit=10, similar=False):
    """Customers that already have this phone, tax id or (normalised) company name, deleted ones
    included. Each match says why it matched; a record the user may not see shows only its name and a
    masked owner (and their department). ``similar``: also names that start with the given one (西安宏图 finds 西安宏图商贸有限公司),
    through the same index, as ``similar_name`` (the duplicate check page; creating a customer asks only
    about the same name)."""
    session = current_tenant.session
    conditions = []
    if phone:
        conditions.append(CrmCustomer.phone == phone)
    if tax_id:
        conditions.append(CrmCustomer.tax_id == tax_id)
    key = name_key(name) if name else None
    if key:
        conditions.append(CrmCustomer.name_key == key)
        if similar and len(key) >= SIMILAR_MIN:
            conditions.append(CrmCustomer.name_key.like(escape_like(key) + "%", escape="\\"))
            # a word inside the name (保利 for 西安保利物业), through the word index when few names hold it; their
            # ids looked up first, so the OR stays one of indexed equalities and ranges
            narrowing = CUSTOMER_WORDS.narrowed(session, name)
            if narrowing is not None:
                inside = session.scalars(select(CrmCustomer.id).where(
                    narrowing, CrmCustomer.name_key.like(f"%{escape_like(key)}%", escape="\\"))
                    .order_by(CrmCustomer.id).limit(limit)).all()
                if inside:
                    conditions.append(CrmCustomer.id.in_(inside))
    if not conditions:
        return []
    query = select(CrmCustomer).where(or_(*conditions))
    if exclude_id:
        query = query.where(CrmCustomer.id != exclude_id)
    rows = session.scalars(query.order_by(CrmCustomer.id).limit(limit)).all()
    owners = user_names(session, {c.owner_id for c in rows})
    depts = names(session, SysDept.id, SysDept.dept_name, {c.dept_id for c in rows if c.owner_id})
    matches = []
    for c in rows:
        visible = c.deleted_at is None and principal.sees(c.owner_id, c.dept_id)
        reasons = [r for r, hit in (("phone", phone and c.phone == phone), ("tax_id", tax_id and c.tax_id == tax_id),
                                    ("name", key and c.name_key == key),
                                    ("similar_name", similar and key and c.name_key != key
                                     and key in (c.name_key or ""))) if hit]
        owner = owners.get(c.owner_id)
        matches.append({
            "id": str(c.id) if visible else None,
            "customer_name": c.customer_name,
            "matched_on": reasons,
            "owner_name": (owner if visible else mask_name(owner)) if owner else None,
            # the owner's department, masked or not: "ask them or your manager" needs to know where to ask
            "owner_dept": depts.get(c.dept_id) if owner else None,
            "in_pool": c.status == "in_pool",
            "deleted": c.deleted_at is not None,
            "visible": visible,
        })
    return matches


def check_duplicates(principal, values, exclude_id=None, confirmed=False):
    """Before a save: a phone or tax id in use is a 409 ``duplicate`` naming the field (the unique indexes
    are the real guard, this only explains who has it); a company name in use is a 409
    ``possible_duplicate`` unless the user confirmed it is another company."""
    matches = find_duplicates(principal, values.get("phone"), values.get("tax_id"),
                              values.get("customer_name") if values.get("customer_type") == "enterprise" else None,
                              exclude_id=exclude_id)
    taken = {reason for m in matches for reason in m["matched_on"] if reason in ("phone", "tax_id")}
    # the name in the same answer as a taken phone: not one more round of the form to learn of it
    same_name = {"customer_name": [_("A customer has this name once 有限公司, spaces and full-width letters are "
                                     "set aside.")]} if any("name" in m["matched_on"] for m in matches) else {}
    if taken:
        raise Conflict("duplicate", _("A customer with this value already exists."),
                       {**{f: [_("Already in use.")] for f in sorted(taken)}, **same_name}, duplicates=matches)
    if matches and not confirmed:
        raise Conflict("possible_duplicate", _("A customer with a similar name already exists."), same_name,
                       duplicates=matches)


# ---------------------------------------------------------------------- create, update, delete

FIELDS = ("customer_type", "customer_name", "phone", "tax_id", "industry", "scale", "province_code", "city_code",
          "address", "level", "deal_status", "source", "next_follow_up_at", "remark")


def values_from(form):
    values = {f: getattr(form, f).data or None for f in FIELDS}
    values["next_follow_up_at"] = from_local(values["next_follow_up_at"])  # stored as naive UTC
    values["level"] = values["level"] or "normal"
    values["deal_status"] = values["deal_status"] or "potential"
    return values


def create(values, tags, principal, owner_id=None, confirmed=False):
    check_duplicates(principal, values, confirmed=confirmed)
    owner, dept = _resolve_owner(owner_id, principal)
    customer = CrmCustomer(**values, name_key=name_key(values["customer_name"]), owner_id=owner, dept_id=dept,
                           created_by=principal.user_id, status="active")
    customer.tags = [CrmCustomerTag(tag=t) for t in tags]
    current_tenant.session.add(customer)
    return customer


def update(customer, values, tags, principal, owner_id=None, confirmed=False, status=None):
    """``status``: active or inactive (None: as it is); the public pool's own actions move a customer in and out."""
    if status and status != customer.status:
        if "in_pool" in (status, customer.status):
            raise Invalid({"status": [_("A customer enters and leaves the public pool by the pool's own actions "
                                        "(return to the pool, claim, assign).")]})
        values = {**values, "status": status}
    planned, sent = customer.next_follow_up_at, values.get("next_follow_up_at")
    if planned and sent and planned.replace(second=0, microsecond=0) == sent.replace(second=0, microsecond=0):
        # the edit page shows a time to the minute: saved back, its seconds were not a change (nor history)
        values = {**values, "next_follow_up_at": planned}
    changed = {k: v for k, v in values.items() if getattr(customer, k) != v}
    if {"phone", "tax_id", "customer_name"} & changed.keys():
        # only what changes is checked: a record is never a duplicate of itself
        check_duplicates(principal, {"customer_type": values["customer_type"], **{
            k: changed.get(k) for k in ("phone", "tax_id", "customer_name")}}, exclude_id=customer.id,
                         confirmed=confirmed)
    for key, value in changed.items():
        setattr(customer, key, value)
    customer.name_key = name_key(customer.customer_name)
    if owner_id and owner_id != customer.owner_id:
        transfer(customer, owner_id, principal)
    set_tags(customer, tags)
    return customer


def transfer(customer, owner_id, principal):
    """A new owner (转移), one the principal may assign: not while a handover of the customer is open (its owner
    changes when that completes), nor for a customer in the public pool (the pool's 分配 gives it one)."""
    from ..handovers.locks import locked

    if owner_id == customer.owner_id:
        return
    if customer.status == "in_pool":
        raise Conflict("in_pool", _("This customer is in the public pool: assign it from the pool."),
                       {"owner_id": [_("The customer is in the public pool.")]})
    if locked(current_tenant.session, [customer.id]):
        raise Conflict("customer_in_handover", _("This customer is in an open handover: its owner changes "
                                                 "when the handover completes."), {"owner_id": [
            _("The customer is in an open handover.")]})
    customer.owner_id, customer.dept_id = _resolve_owner(owner_id, principal)
    customer.owned_since = utcnow()  # a new owner restarts the pool clock
    _contacts_follow(customer)


def _contacts_follow(customer):
    """The customer's contacts belong to its owner, as a handover leaves them (each change in their history)."""
    from ..contacts.models import CrmContact

    for contact in current_tenant.session.scalars(select(CrmContact).where(
            CrmContact.customer_id == customer.id, CrmContact.deleted_at.is_(None),
            or_(CrmContact.owner_id.is_(None), CrmContact.owner_id != customer.owner_id))):
        contact.owner_id = customer.owner_id


def set_tags(customer, tags):
    old = customer.tag_names
    if old == sorted(tags) or old == list(tags):
        return
    customer.tags = [CrmCustomerTag(tag=t) for t in tags]
    history.record(current_tenant.session, customer, "update", [{"field": "tags", "old": old, "new": list(tags)}])


def delete(customer, principal):
    """Soft delete: the row, its phone and tax id stay (nothing is freed until an administrator purges it). Not
    while a handover of the customer is open: its checklist and receiver are waiting for it."""
    from ..handovers.locks import locked

    if locked(current_tenant.session, [customer.id]):
        raise Conflict("customer_in_handover", _("This customer is in an open handover: finish or cancel the "
                                                 "handover before deleting it."))
    customer.deleted_at, customer.deleted_by = utcnow(), principal.user_id


def region_of(customer):
    """省市 as one reads it: 上海市, 广东省深圳市."""
    return region_name(customer.province_code, customer.city_code)


def region_name(province_code, city_code):
    """``region_of`` from the codes."""
    province = province_name(province_code) if province_code else ""
    city = city_name(province_code, city_code) if city_code else ""
    return province + (city if city and city != province else "")
