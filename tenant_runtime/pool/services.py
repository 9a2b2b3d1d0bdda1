"""The pool's rules in action: the candidates of the next recycling (one query for the dry run, the real
run and the reminders), set-based recycling, and the single moves (claim, assign, return).

Services add to the tenant session; the caller (a view, a task) commits. Recycling locks the tenant's
settings row first, so two runs never overlap and the second finds nothing left to take.
"""

import uuid
from datetime import timedelta
from functools import cached_property

from flask_babel import gettext as _
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

from common.errors import ApiError, Conflict, Invalid
from common.timeutil import start_of_local_day_utc, to_local

from ..core import history, moves
from ..core.models import CrmChangeLog
from ..customers.models import CrmCustomer
from ..handovers.locks import locked, unlocked
from ..models import USER_STATUS_ENABLED, SysUser, utcnow
from . import exemptions, rules
from .models import CrmPoolRule, CrmPoolSetting, CustomerPool

C = CrmCustomer
REASON_LENGTH = 90
POOL_ACTIONS = ("recycle", "claim", "assign", "return")


# ---------------------------------------------------------------------- settings and rules


def get_settings(session, lock=False):
    query = select(CrmPoolSetting).where(CrmPoolSetting.id == 1)
    if lock:
        query = query.with_for_update()
    settings = session.scalar(query)
    if settings is None:  # a tenant whose row was removed: the defaults again
        settings = CrmPoolSetting(id=1)
        session.add(settings)
        session.flush()
    return settings


def enabled_rules(session):
    return session.scalars(select(CrmPoolRule).where(CrmPoolRule.enabled.is_(True))
                           .order_by(CrmPoolRule.sort, CrmPoolRule.id)).all()


def all_rules(session):
    return session.scalars(select(CrmPoolRule).order_by(CrmPoolRule.sort, CrmPoolRule.id)).all()


def checked_conditions(conditions, field="conditions"):
    """The conditions normalised, or 422 naming the bad part."""
    normalised, errors = rules.validate(conditions)
    if errors:
        if field != "conditions":
            errors = {field: [f"{k}: {' '.join(v)}" for k, v in errors.items()]}
        raise Invalid(errors)
    return normalised


def save_rule(session, rule, values):
    """Create (``rule`` None) or change a rule from checked values."""
    values = dict(values)
    values["conditions"] = checked_conditions(values["conditions"])
    if rule is None:
        rule = CrmPoolRule(**values)
        session.add(rule)
    else:
        for key, value in values.items():
            setattr(rule, key, value)
    return rule


# ---------------------------------------------------------------------- the candidates


def _base(session, settings):
    """Customers recycling may take at all: owned, not deleted, not in an open handover, not exempt."""
    clauses = [C.deleted_at.is_(None), C.owner_id.is_not(None), C.status != "in_pool", unlocked(C.id)]
    clauses += [~e.predicate(C.id) for e in exemptions.active(session, settings)]
    return clauses


def candidates(session, as_of, settings=None, rule_list=None, owner_id=None):
    """The customers the recycling run at ``as_of`` takes: a SELECT of (customer_id, owner_id, old_status,
    rule_id, reason, days). The dry run lists it, the real run inserts it, so they cannot disagree."""
    settings = settings or get_settings(session)
    rule_list = enabled_rules(session) if rule_list is None else rule_list
    where, rule_id, reason = rules.match(rule_list, as_of)
    query = select(C.id.label("customer_id"), C.owner_id.label("owner_id"), C.status.label("old_status"),
                   rule_id.label("rule_id"), reason.label("reason"),
                   rules.inactive_days(as_of).label("days")).where(*_base(session, settings), where)
    if owner_id is not None:
        query = query.where(C.owner_id == owner_id)
    return query


def preview(session, now, after_id=0, limit=200):
    """One page (by customer id) of the dry run: what the next recycling takes, with the rule and the days,
    and the total."""
    settings = get_settings(session)
    rule_list = enabled_rules(session)
    query = candidates(session, now, settings, rule_list)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page = query.add_columns(C.customer_name, C.level).where(C.id > after_id).order_by(C.id).limit(limit + 1)
    rows = session.execute(page).all()
    names = {r.id: r.rule_name for r in rule_list}
    from ..core.lookups import user_names

    owners = user_names(session, {r.owner_id for r in rows})
    items = [{"customer_id": r.customer_id, "customer_name": r.customer_name, "level": r.level,
              "owner_id": r.owner_id, "owner_name": owners.get(r.owner_id), "rule_id": r.rule_id,
              "rule_name": names.get(r.rule_id), "inactive_days": r.days} for r in rows[:limit]]
    next_cursor = str(rows[limit - 1].customer_id) if len(rows) > limit else None
    return items, next_cursor, total


# ---------------------------------------------------------------------- recycling, set-based

_batch = Table("pool_recycle_batch", MetaData(),
               Column("customer_id", BigInteger, primary_key=True, autoincrement=False),
               Column("owner_id", BigInteger), Column("old_status", String(20)), Column("reason", String(100)),
               Column("days", Integer), prefixes=["TEMPORARY"])


def _drop_batch(session):
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DROP TABLE IF EXISTS temp.pool_recycle_batch"))
    else:
        session.execute(text("DROP TEMPORARY TABLE IF EXISTS pool_recycle_batch"))


def recycle(session, now=None, actor_id=None):
    """Recycle every candidate at ``now`` in one transaction, set-based: the customers leave their owners
    (status in_pool, sea_time), each gets its pool row (available, the rule, the days) and a change-history
    entry. Idempotent: a second run finds nothing. Returns ``{"recycled": n}``."""
    now = now or utcnow()
    settings = get_settings(session, lock=True)  # one run per tenant at a time
    query = candidates(session, now, settings)
    _drop_batch(session)
    _batch.create(session.connection())
    try:
        b = _batch.c
        session.execute(insert(_batch).from_select(["customer_id", "owner_id", "old_status", "reason", "days"],
                                                   query.with_only_columns(
                                                       *[c for c in query.selected_columns if c.name != "rule_id"])))
        taken = session.scalar(select(func.count()).select_from(_batch))
        if taken:
            _move_batch(session, b, now, actor_id)
    finally:
        _drop_batch(session)
    return {"recycled": taken}


def _move_batch(session, b, now, actor_id):
    # joins driven by the batch (MariaDB's UPDATE ... IN (subquery) would scan every customer; SQLite has
    # UPDATE ... FROM but no multi-table DELETE)
    session.execute(update(C).where(C.id == b.customer_id).values(owner_id=None, status="in_pool", sea_time=now,
                                                                  updated_at=now)
                    .execution_options(synchronize_session=False))
    pool = CustomerPool.__table__
    if session.get_bind().dialect.name == "sqlite":
        session.execute(delete(pool).where(pool.c.customer_id.in_(select(rules.id_text(b.customer_id)))))
    else:
        session.execute(delete(pool).where(pool.c.customer_id == rules.id_text(b.customer_id)))
    session.execute(insert(pool).from_select(
        ["id", "customer_id", "original_owner_id", "recycle_reason", "inactive_days", "recycled_at", "pool_status",
         "created_at"],
        # numbered by customer id: ascending in the primary key (the unique index on the text of the id
        # then fills out of order, which measured cheaper than sorting 100k rows to fill both in order)
        select(rules.pool_row_id(b.customer_id, now), rules.id_text(b.customer_id), rules.id_text(b.owner_id),
               b.reason, b.days, literal(now), literal("available"), literal(now))))
    log = CrmChangeLog.__table__

    # the entry as history.record writes it, built as text (JSON_QUOTE for the strings): the JSON
    # functions cost a second per 100k rows more
    changes = (literal('[{"field": "owner_id", "old": ') + cast(b.owner_id, String(20))
               + literal(', "new": null}, {"field": "status", "old": ') + func.json_quote(b.old_status)
               + literal(', "new": "in_pool"}, {"field": "recycle_reason", "old": null, "new": ')
               + func.json_quote(b.reason) + literal("}]"))
    session.execute(insert(log).from_select(
        ["entity_type", "entity_id", "action", "changes", "user_id", "created_at"],
        select(literal("customer"), b.customer_id, literal("recycle"), changes, literal(actor_id, BigInteger),
               literal(now))))


# ---------------------------------------------------------------------- single moves


def _locked_customer(session, customer_id):
    if not 0 < customer_id < 2**63:
        return None
    return session.execute(select(C).where(C.id == customer_id, C.deleted_at.is_(None)).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one_or_none()


def _not_found():
    return ApiError(404, "not_found", _("Not found."))


def _move(session, customer, action, values, extra=(), in_pool=False):
    """Change the customer's columns in one UPDATE and record it as one history entry of ``action``.

    The UPDATE also requires the state just checked (in the pool, or owned by the same owner): the row lock
    already guarantees it on MariaDB; on SQLite, which has no row locks, it is what decides a race."""
    changes = [{"field": k, "old": history.plain(getattr(customer, k)), "new": history.plain(v)}
               for k, v in values.items() if k in ("owner_id", "status", "dept_id") and getattr(customer, k) != v]
    same = (C.owner_id.is_(None) & (C.status == "in_pool")) if in_pool else (C.owner_id == customer.owner_id)
    if not moves.move(session, customer, [same], values, action, changes + list(extra)):
        raise Conflict("not_in_pool" if in_pool else "changed", _("This customer has just been changed by someone "
                                                                  "else; reload and try again."))


def _pool_row(session, customer_id):
    return session.scalar(select(CustomerPool).where(CustomerPool.customer_id == str(customer_id)))


def is_in_pool(customer):
    """Whether ``customer`` is in the public pool now (nobody's, waiting for a claim)."""
    return customer.status == "in_pool" and customer.owner_id is None


def _holding_check(session, user_id, settings):
    if ClaimLimits(session, user_id, settings, lock=True).held >= settings.holding_cap:
        raise Conflict("holding_cap", _("This user already holds %(n)d customers, the most allowed.",
                                        n=settings.holding_cap))


def _lock_user(session, user_id):
    user = session.execute(select(SysUser).where(SysUser.id == user_id).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one_or_none()
    return user


class ClaimLimits:
    """One user's standing against the pool's claim limits at ``now``: the settings, and the claims made today
    and the customers held, each counted when first asked (``lock``: as a claim counts them, FOR UPDATE)."""

    def __init__(self, session, user_id, settings=None, now=None, lock=False):
        self.session, self.user_id, self.lock = session, user_id, lock
        self.settings, self.now = settings or get_settings(session), now or utcnow()

    def _count(self, query):
        return self.session.scalar(query.with_for_update() if self.lock else query)

    @cached_property
    def claimed_today(self):
        # claims made today, from the history (a pool row forgets a claim when the customer goes back)
        day_start = start_of_local_day_utc(to_local(self.now).date())
        return self._count(select(func.count()).select_from(CrmChangeLog).where(
            CrmChangeLog.user_id == self.user_id, CrmChangeLog.created_at >= day_start,
            CrmChangeLog.action == "claim", CrmChangeLog.entity_type == "customer"))

    @cached_property
    def held(self):
        return self._count(select(func.count()).select_from(C).where(C.owner_id == self.user_id,
                                                                     C.deleted_at.is_(None)))


def claim_refusal(customer, row, is_locked, limits):
    """Why ``limits.user_id`` may not claim ``customer`` (its pool row ``row``; ``is_locked``: in an open handover)
    now: the 409 a claim answers, or None. The one rule the claim enforces and the pages' 领取 buttons show."""
    settings, now = limits.settings, limits.now
    if not is_in_pool(customer):
        return Conflict("not_in_pool", _("This customer is no longer in the public pool."))
    if is_locked:
        return Conflict("locked", _("This customer is in an open handover."))
    cooldown = settings.reclaim_cooldown_days
    if (row is not None and row.original_owner_id == str(limits.user_id) and cooldown
            and row.recycled_at > now - timedelta(days=cooldown)):
        until = to_local(row.recycled_at + timedelta(days=cooldown))
        return Conflict("reclaim_cooldown", _("You owned this customer until it went to the pool; you may claim it "
                                              "again from %(when)s.", when=until.strftime("%Y-%m-%d %H:%M")),
                        claimable_from=until.isoformat(timespec="seconds"))
    if limits.claimed_today >= settings.daily_claim_cap:
        return Conflict("daily_claim_cap", _("You have claimed %(n)d customers today, the most allowed.",
                                             n=settings.daily_claim_cap))
    if limits.held >= settings.holding_cap:
        return Conflict("holding_cap", _("You already hold %(n)d customers, the most allowed.",
                                         n=settings.holding_cap))
    return None


def claim_refusals(session, customers, user_id, now=None):
    """``{customer id: 409}`` for the ``customers`` (pairs of a pool customer and its pool row) that ``user_id``
    may not claim now, by ``claim_refusal``: the user's counts read once, the customers' locks at once."""
    if not customers:
        return {}
    limits = ClaimLimits(session, user_id, now=now)
    busy = locked(session, [c.id for c, _row in customers])
    refusals = {c.id: claim_refusal(c, row, c.id in busy, limits) for c, row in customers}
    return {cid: refusal for cid, refusal in refusals.items() if refusal is not None}


def claim(session, customer_id, principal, now=None):
    """A sales user takes a customer from the pool: caps and the previous owner's cool-down enforced
    (``claim_refusal``); of many claims of one customer at once exactly one wins (the customer's row is locked,
    the others then find it claimed: 409 ``not_in_pool``)."""
    now = now or utcnow()
    settings = get_settings(session)
    user = _lock_user(session, principal.user_id)  # one claim of this user at a time: the caps hold
    customer = _locked_customer(session, customer_id)
    if customer is None:
        raise _not_found()
    in_pool = is_in_pool(customer)
    row = _pool_row(session, customer.id) if in_pool else None
    refusal = claim_refusal(customer, row, in_pool and bool(locked(session, [customer.id])),
                            ClaimLimits(session, user.id, settings, now, lock=True))
    if refusal is not None:
        raise refusal
    _take(session, customer, row, user, "claim", "claimed", now)
    return customer


def assign(session, customer_id, user_id, principal, now=None):
    """A manager gives a pool customer to a user they manage (the holding cap applies to that user)."""
    from ..customers.services import assignable_users

    now = now or utcnow()
    settings = get_settings(session)
    if not any(uid == user_id for uid, _n, _d in assignable_users(principal, session)):
        raise Invalid({"to_user_id": [_("Choose a user you manage.")]})
    user = _lock_user(session, user_id)
    if user is None or user.status != USER_STATUS_ENABLED:
        raise Invalid({"to_user_id": [_("Choose a user you manage.")]})
    customer = _locked_customer(session, customer_id)
    if customer is None:
        raise _not_found()
    if not is_in_pool(customer):
        raise Conflict("not_in_pool", _("This customer is no longer in the public pool."))
    if locked(session, [customer.id]):
        raise Conflict("locked", _("This customer is in an open handover."))
    _holding_check(session, user.id, settings)
    _take(session, customer, _pool_row(session, customer.id), user, "assign", "assigned", now)
    return customer


def _take(session, customer, row, user, action, pool_status, now):
    _move(session, customer, action, {"owner_id": user.id, "dept_id": user.dept_id, "status": "active",
                                      "owned_since": now, "sea_time": None}, in_pool=True)
    if row is None:  # a customer put in the pool before the pool had rows (never by this code)
        row = CustomerPool(id=uuid.uuid4().hex, customer_id=str(customer.id), original_owner_id="",
                           recycle_reason="manual", recycled_at=customer.sea_time or now)
        session.add(row)
    row.pool_status, row.assigned_to, row.assigned_at = pool_status, str(user.id), now
    session.expire(customer)


def return_to_pool(session, customer, reason, principal, now=None):
    """The owner (or a manager who sees the customer) puts it back in the pool, saying why."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise Invalid({"reason": [_("Say why the customer goes back to the pool.")]})
    if len(reason) > REASON_LENGTH:
        raise Invalid({"reason": [_("At most %(n)d characters.", n=REASON_LENGTH)]})
    customer = _locked_customer(session, customer.id)
    if customer is None:
        raise _not_found()
    if is_in_pool(customer):
        raise Conflict("already_in_pool", _("This customer is already in the public pool."))
    if customer.owner_id != principal.user_id and not (
            principal.can("pool.assign") and principal.sees(customer.owner_id, customer.dept_id)):
        raise ApiError(403, "forbidden", _("Only the owner or their manager can return this customer to the pool."))
    if locked(session, [customer.id]):
        raise Conflict("locked", _("This customer is in an open handover."))
    days = session.scalar(select(rules.inactive_days(now)).where(C.id == customer.id))
    old_owner = customer.owner_id
    _move(session, customer, "return", {"owner_id": None, "status": "in_pool", "sea_time": now},
          extra=[{"field": "recycle_reason", "old": None, "new": f"manual:{reason}"}])
    row = _pool_row(session, customer.id)
    if row is None:
        row = CustomerPool(id=uuid.uuid4().hex, customer_id=str(customer.id))
        session.add(row)
    row.original_owner_id, row.recycle_reason, row.inactive_days = str(old_owner), f"manual:{reason}", days
    row.recycled_at, row.pool_status, row.assigned_to, row.assigned_at = now, "available", None, None
    session.expire(customer)
    return customer


# ---------------------------------------------------------------------- reminders


def recycle_soon(session, now, owner_id=None, days_ahead=None):
    """Customers the recycling will take within ``days_ahead`` days (default: the reminder setting) but not
    today: (customer_id, owner_id, customer_name, reason, days)."""
    settings = get_settings(session)
    ahead = settings.remind_days_before if days_ahead is None else days_ahead
    if not ahead:
        return []
    rule_list = enabled_rules(session)
    later, _rule, reason = rules.match(rule_list, now + timedelta(days=ahead))
    today, _rule, _why = rules.match(rule_list, now)
    query = select(C.id.label("customer_id"), C.owner_id.label("owner_id"), C.customer_name,
                   rules.inactive_days(now).label("days"), reason.label("reason")
                   ).where(*_base(session, settings), later, ~today)
    if owner_id is not None:
        query = query.where(C.owner_id == owner_id)
    return session.execute(query.order_by(C.owner_id, C.id)).all()


def soon_for_owner(session, owner_id, now=None, limit=20):
    """The owner's customers about to be recycled, each with the days left (for the home page)."""
    now = now or utcnow()
    settings = get_settings(session)
    ahead = settings.remind_days_before
    if not ahead:
        return []
    rows = recycle_soon(session, now, owner_id)[:limit]
    left = {}
    for d in range(1, ahead + 1):  # a few small owner-scoped queries: the first day each one would be taken
        pending = [r.customer_id for r in rows if r.customer_id not in left]
        if not pending:
            break
        taken = candidates(session, now + timedelta(days=d), settings, None, owner_id).where(C.id.in_(pending))
        for cid in session.scalars(taken.with_only_columns(C.id)):
            left[cid] = d
    return [{"customer_id": r.customer_id, "customer_name": r.customer_name, "days": r.days,
             "days_left": left.get(r.customer_id, ahead), "reason": r.reason} for r in rows]


def remind(session, now, tenant_id=None):
    """In-app notices (one per customer and day) and, per owner and day, one SMS/e-mail through a job."""
    from ..notices.models import CrmNotification

    day = to_local(now).date().isoformat()
    rows = recycle_soon(session, now)
    if not rows:
        return {"reminded": 0, "owners": 0}
    keys = {r.customer_id: f"recycle_soon:{r.customer_id}:{day}" for r in rows}
    existing = set()
    values = list(keys.values())
    for i in range(0, len(values), 1000):
        existing |= set(session.scalars(select(CrmNotification.dedupe_key).where(
            CrmNotification.dedupe_key.in_(values[i:i + 1000]))))
    ahead = get_settings(session).remind_days_before
    fresh = [r for r in rows if keys[r.customer_id] not in existing]
    if fresh:
        session.execute(insert(CrmNotification), [
            {"user_id": r.owner_id, "kind": "recycle_soon", "dedupe_key": keys[r.customer_id], "created_at": now,
             "title": _("%(name)s goes to the public pool within %(n)d days without a follow-up.",
                        name=r.customer_name, n=ahead)[:200],
             "link": f"customers/{r.customer_id}"} for r in fresh])
    owners = {}
    for r in fresh:
        owners[r.owner_id] = owners.get(r.owner_id, 0) + 1
    session.commit()
    if tenant_id is not None:
        from ..core.jobs import enqueue

        for owner_id, count in owners.items():
            enqueue(send_recycle_digest, tenant_id, owner_id, day, count)
    return {"reminded": len(fresh), "owners": len(owners)}


def send_recycle_digest(owner_id, day, count):
    """Job: tell the owner by SMS and e-mail how many of their customers go to the pool soon, once a day."""
    from sqlalchemy.exc import IntegrityError

    from common import messaging

    from ..context import current_tenant
    from ..notices.models import CrmNotification

    session = current_tenant.session
    user = session.get(SysUser, owner_id)
    if user is None or user.status != USER_STATUS_ENABLED:
        return {"sent": 0}
    body = _("%(n)d of your customers go to the public pool within a few days unless followed up. "
             "See your workspace.", n=count)
    session.add(CrmNotification(user_id=owner_id, kind="recycle_digest", title=body[:200], link="",
                                dedupe_key=f"recycle_digest:{owner_id}:{day}"))
    try:
        session.commit()  # the day's mark first: a job run twice (rq may) sends once
    except IntegrityError:
        session.rollback()
        return {"sent": 0, "duplicate": True}
    from extensions import db

    sent = 0
    if user.phone:
        messaging.send("sms", user.phone, body, purpose="pool_reminder")
        sent += 1
    if user.email:
        messaging.send("email", user.email, body, subject=_("Customers about to go to the public pool"),
                       purpose="pool_reminder")
        sent += 1
    db.session.commit()  # the control plane's outbox records each message
    return {"sent": sent}


# ---------------------------------------------------------------------- history


def pool_history(session, customer_id, limit=50, before=None):
    """The customer's moves in and out of the pool, newest first (older than the entry ``before``, when given)."""
    query = select(CrmChangeLog).where(CrmChangeLog.entity_type == "customer", CrmChangeLog.entity_id == customer_id,
                                       CrmChangeLog.action.in_(POOL_ACTIONS))
    if before is not None:
        query = query.where(CrmChangeLog.id < before)
    return session.scalars(query.order_by(CrmChangeLog.id.desc()).limit(limit)).all()
