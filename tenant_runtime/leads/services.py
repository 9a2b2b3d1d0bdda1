"""Lead rules: who sees which lead, its pools (public or a department's), claim, assign, return and the
scheduled recycle, and conversion to a customer.

A lead is owned (``owner_id`` and the owner's department set) or sits in its pool (``owner_id`` NULL,
``dept_id`` NULL); it always belongs to one pool, the one it goes back to. Moves between the two are
conditional UPDATEs (``... WHERE owner_id IS NULL``), so of concurrent claims exactly one changes the row
and the others meet 409; each move is recorded in the lead's history in the same transaction.

Services add to the tenant session; the caller (a view, a task) commits.
"""

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from common.db import savepoint
from common.errors import ApiError, Conflict, Invalid

from ..context import current_tenant
from ..core import moves
from ..core.lookups import user_names
from ..core.models import CrmChangeLog
from ..core.scope import dept_children, subtree
from ..customers import services as customer_services
from ..customers.models import CrmCustomer
from ..models import utcnow
from .forms import INTENT_CODES, STATUS_CODES
from .models import (
    STATUS_CONVERTED,
    STATUS_FOLLOWING,
    STATUS_INVALID,
    STATUS_NEW,
    CrmLead,
    CrmLeadPool,
)

DEFAULT_POOL_NAME = "公共线索池"
LEAD_WORKER = "lead.edit"  # what an owner of a lead must be allowed: a lead is given only to someone who can work it
OPEN_STATUSES = (STATUS_NEW, STATUS_FOLLOWING)

# ---------------------------------------------------------------------- pools


def default_pool(session=None):
    """The tenant's default public pool, 公共线索池 (the migration seeds it; made again if it was renamed or
    removed). A locking read after a lost insert race sees the winner's row, which a snapshot read would not."""
    session = session or current_tenant.session
    pool = session.scalar(select(CrmLeadPool).where(CrmLeadPool.pool_name == DEFAULT_POOL_NAME))
    if pool is not None:
        return pool
    try:
        with savepoint(session):
            pool = CrmLeadPool(pool_name=DEFAULT_POOL_NAME, is_public=True, created_at=utcnow())
            session.add(pool)
        return pool
    except IntegrityError:
        return session.scalar(select(CrmLeadPool).where(CrmLeadPool.pool_name == DEFAULT_POOL_NAME)
                              .with_for_update(read=True))


def visible_dept_ids(principal):
    return set(principal.dept_ids) | {principal.dept_id}


def accessible_pools(principal, session=None):
    """Pools whose unowned leads the user sees: public ones, and the pools of departments in their scope."""
    session = session or current_tenant.session
    query = select(CrmLeadPool).order_by(CrmLeadPool.id)
    if not principal.sees_all:
        query = query.where(or_(CrmLeadPool.is_public.is_(True),
                                CrmLeadPool.dept_id.in_(sorted(visible_dept_ids(principal)))))
    return session.scalars(query).all()


def may_claim_from(pool, principal, session=None):
    """A public pool is everyone's; a department's pool only its users' (its sub-departments included)."""
    if pool.is_public or pool.dept_id is None:
        return True
    session = session or current_tenant.session
    return principal.dept_id in subtree(dept_children(session), pool.dept_id)


LIVE = CrmLead.deleted_at.is_(None)


def visible_clause(principal, session=None):
    """The leads the user may see: owned ones by the data scope, unowned ones in pools open to them; never a
    deleted one (lists, details, follow-ups and their attachments all read through this)."""
    if principal.sees_all:
        return LIVE
    pools = [p.id for p in accessible_pools(principal, session)]
    return and_(LIVE, or_(and_(CrmLead.owner_id.is_not(None),
                               principal.scope_clause(CrmLead.owner_id, CrmLead.dept_id)),
                          and_(CrmLead.owner_id.is_(None), CrmLead.pool_id.in_(pools))))


# How long a lead someone took from a pool still answers a claim with 409 ``already_claimed`` to a user who
# cannot see it now: long enough for one who saw it in the pool to lose the race; after it, 404 as if absent,
# so a claim does not tell which ids are other departments' leads.
RECENTLY_TAKEN = timedelta(minutes=10)


def claimable_lead(lead_id, principal):
    """The lead a claim names: one the user sees, or one in a pool open to them that someone has just taken
    (so a claim that lost the race hears 409, not 404). Others are 404, as if absent."""
    from flask import abort

    if not 0 < lead_id < 2**63:
        abort(404)
    session = current_tenant.session
    pools = [p.id for p in accessible_pools(principal, session)]
    taken = select(CrmChangeLog.id).where(CrmChangeLog.entity_type == "lead", CrmChangeLog.entity_id == CrmLead.id,
                                          CrmChangeLog.action.in_(("claim", "assign")),
                                          CrmChangeLog.created_at >= utcnow() - RECENTLY_TAKEN).exists()
    just_taken = and_(CrmLead.pool_id.in_(pools), taken)
    lead = session.scalar(select(CrmLead).where(CrmLead.id == lead_id, LIVE,
                                                or_(visible_clause(principal, session), just_taken)))
    if lead is None:
        abort(404)
    return lead


def _pool_for(pool_id, principal):
    if not pool_id:
        return default_pool()
    pool = current_tenant.session.get(CrmLeadPool, pool_id)
    if pool is None or pool.id not in {p.id for p in accessible_pools(principal)}:
        raise Invalid({"pool_id": [_("Choose a lead pool you can use.")]})
    return pool


# ---------------------------------------------------------------------- create, update, delete

FIELDS = ("lead_name", "phone", "company", "position", "source", "intent_product", "intent_level", "status",
          "remark")


def values_from(form):
    values = {f: (getattr(form, f).data or None) for f in FIELDS}
    values["intent_level"] = INTENT_CODES.get(values["intent_level"])
    values["status"] = STATUS_CODES[values["status"] or "new"]
    return values


def _owner(choice, principal):
    """``""`` is the user, ``"pool"`` nobody, else a user the principal may give leads to."""
    if choice == "pool":
        return None, None
    owner_id = int(choice) if choice else principal.user_id
    for uid, _name, dept_id in customer_services.assignable_users(principal, permission=LEAD_WORKER):
        if uid == owner_id:
            return uid, dept_id
    raise Invalid({"owner_id": [_("Choose an owner you manage.")]})


def check_phone(phone, principal, exclude_id=None):
    """A phone already on a lead is a 409 ``duplicate`` naming the field and the lead (its owner masked where
    the user may not see it). A deleted lead keeps its phone until it is purged (restore it instead), shown as
    not visible. The unique index is the real guard; this only says who has it."""
    if not phone:
        return
    query = select(CrmLead).where(CrmLead.phone == phone)
    if exclude_id:
        query = query.where(CrmLead.id != exclude_id)
    lead = current_tenant.session.scalar(query.limit(1))
    if lead is None:
        return
    visible = current_tenant.session.scalar(select(CrmLead.id).where(CrmLead.id == lead.id,
                                                                     visible_clause(principal))) is not None
    owner = user_names(current_tenant.session, {lead.owner_id}).get(lead.owner_id)
    raise Conflict("duplicate", _("A lead with this phone already exists."), {"phone": [_("Already in use.")]},
                   duplicates=[{"id": str(lead.id) if visible else None, "lead_name": lead.lead_name,
                                "owner_name": (owner if visible else customer_services.mask_name(owner))
                                if owner else None, "in_pool": lead.owner_id is None, "visible": visible,
                                "deleted": lead.deleted_at is not None}])


def check_customers(values, principal):
    """A new lead whose phone or company is already a customer's: 409 ``possible_duplicate`` listing the
    customers (masked where the user may not see them), so that the customer is followed up rather than a
    second record started, unless the user confirms it is a new lead."""
    matches = customer_services.find_duplicates(principal, phone=values.get("phone"), name=values.get("company"))
    if matches:
        said = {"phone": _("A customer has this number."),
                "company": _("A customer has this name once 有限公司, spaces and full-width letters are set aside.")}
        fields = {name: [said[name]] for name, reason in (("phone", "phone"), ("company", "name"))
                  if any(reason in m["matched_on"] for m in matches)}
        raise Conflict("possible_duplicate", _("This is already a customer: follow the customer up, or save the "
                                               "lead anyway if it is someone new."), fields, duplicates=matches)


def create(values, principal, owner_choice="", pool_id=None, confirmed=False):
    check_phone(values.get("phone"), principal)
    if not confirmed:
        check_customers(values, principal)
    pool = _pool_for(pool_id, principal)
    owner_id, dept_id = _owner(owner_choice, principal)
    now = utcnow()
    lead = CrmLead(**values, pool_id=pool.id, owner_id=owner_id, dept_id=dept_id,
                   claimed_at=now if owner_id else None, created_by=principal.user_id, created_at=now, updated_at=now)
    current_tenant.session.add(lead)
    return lead


def _refuse_converted(lead):
    if lead.status == STATUS_CONVERTED:
        raise Conflict("lead_converted", _("This lead has been converted to a customer; it no longer changes."))


def may_change(lead, principal):
    """A lead in its pool is everyone's to see there and nobody's to work: it is claimed (or assigned) first.
    Only a user who sees every lead (an administrator tidying the pool) edits or deletes it there."""
    return lead.owner_id is not None or principal.sees_all


def _refuse_unowned(lead, principal):
    if not may_change(lead, principal):
        raise Conflict("lead_unowned", _("This lead is in its pool: claim it before changing it."))


def update_lead(lead, values, principal, pool_id=None):
    """Edit the lead's fields. Status moves by seed 002's codes: 新增 -> 跟进中 or 失效, 跟进中 <-> 失效; once
    followed up (or found invalid) a lead is never 新增 again, and only a conversion makes it 已转化."""
    _refuse_converted(lead)
    _refuse_unowned(lead, principal)
    if values.get("status") == STATUS_NEW and lead.status != STATUS_NEW:
        raise Invalid({"status": [_("A lead that was followed up or found invalid cannot be new again.")]})
    if values.get("phone") and values["phone"] != lead.phone:
        check_phone(values["phone"], principal, exclude_id=lead.id)
    if pool_id and pool_id != lead.pool_id:
        lead.pool_id = _pool_for(pool_id, principal).id
    for key, value in values.items():
        if getattr(lead, key) != value:
            setattr(lead, key, value)
    return lead


def delete_lead(lead, principal):
    """Soft delete: a converted lead stays (its customer links to it); any other is marked deleted, and the row,
    its follow-ups, their attachments and its phone stay until an administrator restores (or purges) it."""
    _refuse_converted(lead)
    _refuse_unowned(lead, principal)
    lead.deleted_at, lead.deleted_by = utcnow(), principal.user_id


def pool_lead_count(pool_id, session=None):
    """Every lead that belongs to the pool (owned, in it, converted or deleted: each goes back to it)."""
    session = session or current_tenant.session
    return session.scalar(select(func.count(CrmLead.id)).where(CrmLead.pool_id == pool_id))


def delete_pool(pool, principal):
    """A pool is deleted only when no lead belongs to it (409 ``pool_not_empty``), and never the default one.
    The lead's foreign key keeps the rule when a lead arrives meanwhile (the commit answers 409)."""
    if pool.pool_name == DEFAULT_POOL_NAME:
        raise Conflict("default_pool", _("The default lead pool cannot be deleted."))
    count = pool_lead_count(pool.id)
    if count:
        raise Conflict("pool_not_empty", _(
            "%(count)s leads belong to this lead pool: those waiting in it, and those claimed, converted or deleted "
            "from it, which return to it. Move them to another pool first.", count=count), count=count)
    current_tenant.session.delete(pool)


# ---------------------------------------------------------------------- claim, assign, return


def _move(lead, expected_owner, values, action, extra=()):
    """Change the lead's owner only if it still has ``expected_owner``: 409 when someone else was first."""
    session = current_tenant.session
    owner_now = CrmLead.owner_id.is_(None) if expected_owner is None else CrmLead.owner_id == expected_owner
    changes = [{"field": "owner_id", "old": expected_owner, "new": values.get("owner_id")}, *extra]
    if not moves.move(session, lead, [owner_now, LIVE, CrmLead.status.in_(OPEN_STATUSES + (STATUS_INVALID,))],
                      values, action, changes):
        session.rollback()
        raise Conflict("already_claimed" if action == "claim" else "lead_changed",
                       _("Someone else took this lead first.") if action == "claim"
                       else _("This lead changed meanwhile; reload it and try again."))
    session.expire(lead)
    return lead


def claim(lead, principal):
    _refuse_converted(lead)
    if lead.status == STATUS_INVALID:
        raise Conflict("lead_invalid", _("This lead is marked invalid; it cannot be claimed."))
    if lead.owner_id is not None:
        raise Conflict("already_claimed", _("Someone else took this lead first.") if lead.owner_id != principal.user_id
                       else _("You already own this lead."))
    if not may_claim_from(lead.pool, principal):
        raise ApiError(403, "pool_restricted", _("Only the users of this pool's department may claim from it."))
    return _move(lead, None, {"owner_id": principal.user_id, "dept_id": principal.dept_id, "claimed_at": utcnow()},
                 "claim")


def assign(lead, to_user_id, principal):
    """A manager gives a lead (from the pool, or from one of their people) to a user they manage."""
    _refuse_converted(lead)
    target = next(((uid, dept) for uid, _name, dept
                   in customer_services.assignable_users(principal, permission=LEAD_WORKER) if uid == to_user_id), None)
    if target is None:
        raise Invalid({"to_user_id": [_("Choose an owner you manage.")]})
    if lead.owner_id == to_user_id:
        raise Conflict("already_owner", _("This user already owns the lead."))
    return _move(lead, lead.owner_id, {"owner_id": target[0], "dept_id": target[1], "claimed_at": utcnow()},
                 "assign")


def return_to_pool(lead, reason, principal):
    """The owner (or a manager who may assign) puts the lead back into its pool, saying why."""
    _refuse_converted(lead)
    if lead.owner_id is None:
        raise Conflict("already_in_pool", _("This lead is already in its pool."))
    if lead.owner_id != principal.user_id and not principal.can("lead.assign"):
        raise ApiError(403, "not_owner", _("Only the owner or a manager may return this lead to the pool."))
    return _move(lead, lead.owner_id, {"owner_id": None, "dept_id": None, "claimed_at": None}, "return",
                 [{"field": "reason", "old": None, "new": reason}])


def recycle(session, now):
    """Owned open leads not followed up for their pool's ``recycle_days`` (counted from the later of the last
    follow-up and when the owner got the lead) go back to their pool: set-based, history in the same
    transaction, idempotent (a second run finds nothing)."""
    total = 0
    for pool in session.scalars(select(CrmLeadPool).where(CrmLeadPool.recycle_days.is_not(None))).all():
        cutoff = now - timedelta(days=pool.recycle_days)
        got = CrmLead.claimed_at
        stale = and_(CrmLead.pool_id == pool.id, CrmLead.owner_id.is_not(None), CrmLead.status.in_(OPEN_STATUSES),
                     LIVE,
                     or_(got < cutoff, and_(got.is_(None), CrmLead.created_at < cutoff)),
                     or_(CrmLead.last_follow_up_at.is_(None), CrmLead.last_follow_up_at < cutoff))
        rows = session.execute(select(CrmLead.id, CrmLead.owner_id).where(stale).with_for_update()).all()
        if not rows:
            continue
        ids = [row.id for row in rows]
        session.execute(update(CrmLead).where(CrmLead.id.in_(ids), stale)
                        .values(owner_id=None, dept_id=None, claimed_at=None, updated_at=now)
                        .execution_options(synchronize_session=False))
        reason = f"{pool.recycle_days}"
        session.execute(insert(CrmChangeLog), [
            {"entity_type": "lead", "entity_id": row.id, "action": "recycle", "user_id": None, "created_at": now,
             "changes": [{"field": "owner_id", "old": row.owner_id, "new": None},
                         {"field": "reason", "old": None, "new": f"no follow-up for {reason} days"}]}
            for row in rows])
        total += len(rows)
    session.commit()
    return {"recycled": total}


# ---------------------------------------------------------------------- follow-ups


def followed_up(lead, at, next_at):
    """A follow-up on the lead moves its follow-up times, and a new lead becomes one being followed up."""
    from ..followups.services import next_plan

    lead.last_follow_up_at = at
    lead.next_follow_up_at = next_plan(lead.next_follow_up_at, next_at, at)
    if lead.status == STATUS_NEW:
        lead.status = STATUS_FOLLOWING


# ---------------------------------------------------------------------- conversion


def convert(lead, form, principal):
    """Turn the lead into a customer (or attach it to an existing one), optionally with a contact, in the
    caller's one transaction. Returns ``(customer, contact or None, attached)``.

    The lead's follow-ups stay recorded on the lead; the customer's timeline shows them through
    ``crm_lead.converted_customer_id`` (linked, not re-pointed), so the lead's own page keeps its record."""
    from ..contacts import services as contact_services
    from ..contacts.models import CrmContact

    _refuse_converted(lead)
    if lead.status == STATUS_INVALID:
        raise Conflict("lead_invalid", _("This lead is marked invalid; set it back to following up first."))
    if lead.owner_id is None:
        raise Conflict("lead_unowned", _("Claim or assign this lead before converting it."))
    session = current_tenant.session
    attached = bool(form.attach_to.data)
    if attached:
        customer = session.get(CrmCustomer, form.attach_to.data)
        if customer is None or customer.deleted_at is not None or not principal.sees(customer.owner_id,
                                                                                   customer.dept_id):
            raise Invalid({"attach_to": [_("Choose a customer you can see.")]})
        if customer.source_lead_id is None:
            customer.source_lead_id = lead.id
    else:
        values = {"customer_type": form.customer_type.data, "customer_name": form.customer_name.data.strip(),
                  "phone": form.phone.data or None, "tax_id": form.tax_id.data or None, "level": form.level.data,
                  "deal_status": "potential", "source": "lead", "remark": lead.remark}
        customer = customer_services.create(values, [], principal, owner_id=lead.owner_id,
                                            confirmed=form.confirm_duplicate.data)
        customer.source_lead_id = lead.id
        session.flush()
    if lead.last_follow_up_at and (customer.last_follow_up_at is None
                                   or customer.last_follow_up_at < lead.last_follow_up_at):
        customer.last_follow_up_at = lead.last_follow_up_at
    if customer.next_follow_up_at is None and lead.next_follow_up_at:
        customer.next_follow_up_at = lead.next_follow_up_at
    contact = None
    if form.with_contact.data:
        phone = form.contact_phone.data
        taken = session.scalar(select(CrmContact.id).where(CrmContact.customer_id == customer.id,
                                                           CrmContact.phone == phone))
        if taken:
            raise Conflict("duplicate", _("This customer already has a contact with this mobile."),
                           {"contact_phone": [_("Already in use.")]})
        contact = contact_services.create({"contact_name": form.contact_name.data.strip(), "phone": phone,
                                           "position": form.contact_position.data or None}, principal, customer.id)
    lead.status = STATUS_CONVERTED
    lead.converted_customer_id = customer.id
    lead.converted_at = utcnow()
    return customer, contact, attached


def convert_defaults(lead):
    """The conversion form pre-filled from the lead."""
    return {"customer_type": "enterprise" if lead.company else "individual",
            "customer_name": lead.company or lead.lead_name, "phone": lead.phone or "", "level": "normal",
            "contact_name": lead.lead_name, "contact_phone": lead.phone or "", "contact_position": lead.position or ""}


def source_leads(customer_id, session=None):
    """Leads converted into (or attached to) this customer, oldest first."""
    session = session or current_tenant.session
    return session.scalars(select(CrmLead).where(CrmLead.converted_customer_id == customer_id, LIVE)
                           .order_by(CrmLead.id)).all()


def my_leads_to_follow_up(principal, end, limit=20):
    """My open leads whose next follow-up is due by ``end``, or never followed up yet, most urgent first."""
    session = current_tenant.session
    rows = session.scalars(select(CrmLead).where(
        CrmLead.owner_id == principal.user_id, CrmLead.status.in_(OPEN_STATUSES), LIVE,
        or_(CrmLead.next_follow_up_at < end, CrmLead.last_follow_up_at.is_(None)))
        .order_by(CrmLead.next_follow_up_at.is_(None), CrmLead.next_follow_up_at, CrmLead.id).limit(limit)).all()
    return rows

