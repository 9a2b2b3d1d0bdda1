"""Handover rules (交接): start (by hand, or automatically when a user leaves or moves department), the three
stages 准备 / 审核 / 确认, send-back, cancel, and the owner switch with its customer notices.

Who does what:

- **start**: a user with ``handover.start`` who manages the original owner (the owner's department is in
  their data scope), by hand, with a receiver; or the system, when an administrator disables a user
  (``resignation``) or moves them to another department (``position_change``): one handover with all of
  that user's customers not already in one, and no receiver yet.
- **reviewer** (审核人): the starter when they hold ``handover.review``; otherwise (and for automatic
  handovers) the manager of the original owner's department: the first enabled user holding
  ``handover.review`` in that department or the nearest one above it, else an enabled administrator.
  An administrator (all-records scope and ``handover.review``) may always act as the reviewer.
- **preparation** (准备): the original owner confirms and annotates each checklist item, then submits.
  When the original owner is disabled (they left), the reviewer prepares in their place.
- **review** (审核): the reviewer approves (a receiver must be chosen by then) or sends it back to
  preparation with a reason. The reviewer or the starter chooses or changes the receiver while the
  handover is in preparation or review.
- **confirmation** (确认): the receiver confirms; in one transaction every customer of the handover, its
  contacts and its open follow-up plan (the customer's next follow-up, which belongs to the customer's
  owner) move to the receiver, the change history records it, the pool clock restarts and the customers
  are unlocked; the notices to the customers' contacts go out afterwards through a job.
- **cancel**: the starter or the reviewer, while the handover is open.

Every stage change is a compare-and-set on ``current_stage`` (two confirmations at once: one wins, the
other gets 409 ``stage_changed``) and is recorded as a ``crm_handover_event``. Services add to the tenant
session; the caller commits.
"""

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, exists, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from common.db import savepoint
from common.errors import ApiError, Conflict, Invalid
from common.i18n import list_join
from common.timeutil import to_local
from common.validators import display_phone

from ..auth import SHOWN_USER
from ..contacts.models import CrmContact
from ..context import current_tenant
from ..core.models import CrmChangeLog
from ..customers.models import CrmCustomer
from ..models import USER_STATUS_ENABLED, SysDept, SysUser, utcnow
from . import checklist
from .locks import locked
from .models import (
    OPEN_STAGES,
    REASONS,
    CrmHandover,
    CrmHandoverCustomer,
    CrmHandoverEvent,
    CrmHandoverItem,
)

REVIEW = "handover.review"


def _session():
    return current_tenant.session


def _forbidden(message):
    return ApiError(403, "forbidden", message)


# ---------------------------------------------------------------------- who is who


def is_administrator(principal):
    return principal.sees_all and principal.can(REVIEW)


def is_reviewer(handover, principal):
    return principal.user_id == handover.reviewer_id or is_administrator(principal)


def is_assigned_reviewer(handover, principal):
    """The reviewer the handover waits for (an administrator when it names nobody)."""
    return principal.user_id == handover.reviewer_id or (handover.reviewer_id is None and is_administrator(principal))


def owner_is_away(handover):
    # only the status matters (SHOWN_USER: not the roles)
    owner = _session().get(SysUser, handover.from_owner_id, options=SHOWN_USER)
    return owner is None or not owner.is_enabled


def is_preparer(handover, principal):
    """The original owner; when they are disabled (they left), the reviewer in their place."""
    if principal.user_id == handover.from_owner_id:
        return True
    return owner_is_away(handover) and is_reviewer(handover, principal)


def manages(principal, user):
    """Whether the principal manages ``user``: all-seeing, or the user's department is in their scope."""
    return principal.sees_all or user.dept_id in principal.dept_ids


def department_manager(session, user, dept_id=None):
    """The user who reviews a handover of ``user``'s customers: an enabled holder of ``handover.review`` in
    the department (``dept_id``, default the user's) or the nearest one above it; else an enabled
    administrator; else nobody (an administrator reviews it then)."""
    parents = dict(session.execute(select(SysDept.id, SysDept.parent_id)).all())
    chain, node = [], dept_id or user.dept_id
    while node is not None and node not in chain:
        chain.append(node)
        node = parents.get(node)
    candidates = session.scalars(select(SysUser).where(SysUser.status == USER_STATUS_ENABLED, SysUser.id != user.id,
                                                       SysUser.dept_id.in_(chain)).order_by(SysUser.id)).all()
    for dept in chain:
        for candidate in candidates:
            if candidate.dept_id == dept and any(REVIEW in r.permission_set for r in candidate.roles):
                return candidate
    from ..people.models import SysRole, SysUserRole

    return session.scalar(select(SysUser).join(SysUserRole, SysUserRole.user_id == SysUser.id)
                          .join(SysRole, SysRole.id == SysUserRole.role_id)
                          .where(SysRole.code == "admin", SysUser.status == USER_STATUS_ENABLED, SysUser.id != user.id)
                          .order_by(SysUser.id).limit(1))


# ---------------------------------------------------------------------- what a user sees and has to do


def visible_clause(principal):
    """Handovers the principal may see: theirs (as owner, receiver, reviewer or starter), and those of the
    owners they manage."""
    if principal.sees_all:
        return true()
    uid = principal.user_id
    conditions = [CrmHandover.from_owner_id == uid, CrmHandover.to_owner_id == uid, CrmHandover.reviewer_id == uid,
                  CrmHandover.created_by == uid]
    if principal.dept_ids:
        conditions.append(CrmHandover.from_owner_id.in_(
            select(SysUser.id).where(SysUser.dept_id.in_(sorted(principal.dept_ids)))))
    return or_(*conditions)


def pending_clause(user_id, administrator=False):
    """Open handovers waiting for ``user_id``: to prepare (their own, or a departed owner's they review), to
    choose a receiver for, to review, to confirm."""
    owner_away = exists().where(SysUser.id == CrmHandover.from_owner_id, SysUser.status != USER_STATUS_ENABLED)
    reviewer = CrmHandover.reviewer_id == user_id
    if administrator:
        reviewer = or_(reviewer, CrmHandover.reviewer_id.is_(None))
    return or_(
        and_(CrmHandover.current_stage == "preparation", CrmHandover.from_owner_id == user_id),
        and_(CrmHandover.current_stage == "preparation", reviewer, owner_away),
        and_(CrmHandover.current_stage.in_(("preparation", "review")), reviewer, CrmHandover.to_owner_id.is_(None)),
        and_(CrmHandover.current_stage == "review", reviewer),
        and_(CrmHandover.current_stage == "confirmation", CrmHandover.to_owner_id == user_id),
    )


def next_step(handover, principal):
    """What ``principal`` has to do on this handover now (None: nothing)."""
    stage, assigned = handover.current_stage, is_assigned_reviewer(handover, principal)
    if stage == "preparation" and (principal.user_id == handover.from_owner_id or (assigned and owner_is_away(handover))):
        return "prepare"
    if stage in ("preparation", "review") and handover.to_owner_id is None and assigned:
        return "choose_receiver"
    if stage == "review" and assigned:
        return "review"
    if stage == "confirmation" and principal.user_id == handover.to_owner_id:
        return "confirm"
    return None


def pending_for(principal, limit=20):
    """Open handovers waiting for the principal, oldest first, with their customers and events (what
    ``resource.decorate`` reads) loaded for all of them at once."""
    return _session().scalars(select(CrmHandover).where(
        pending_clause(principal.user_id, is_administrator(principal)))
        .options(selectinload(CrmHandover.customers), selectinload(CrmHandover.events))
        .order_by(CrmHandover.id).limit(limit)).all()


# ---------------------------------------------------------------------- start


def _user(user_id, field, message):
    user = _session().get(SysUser, int(user_id)) if user_id and 0 < int(user_id) < 2**63 else None
    if user is None:
        raise Invalid({field: [message]})
    return user


def _receiver(principal, to_owner_id, from_owner_id):
    from ..customers.services import assignable_users

    to_owner_id = int(to_owner_id)
    if to_owner_id == from_owner_id:
        raise Invalid({"to_owner_id": [_("The receiver must be someone other than the current owner.")]})
    if to_owner_id not in {uid for uid, _name, _dept in assignable_users(principal)}:
        raise Invalid({"to_owner_id": [_("Choose an enabled user you manage.")]})
    return to_owner_id


def start(principal, from_owner_id, to_owner_id, customer_ids=(), reason="manual", note=None):
    """Start a handover by hand: some (default all) customers of one owner, to one receiver."""
    session = _session()
    owner = _user(from_owner_id, "from_owner_id", _("Choose an existing user."))
    if not manages(principal, owner):
        raise Invalid({"from_owner_id": [_("Choose a user you manage.")]})
    receiver = _receiver(principal, to_owner_id, owner.id)
    if reason not in REASONS:
        raise Invalid({"handover_reason": [_("Not a valid choice.")]})
    query = select(CrmCustomer).where(CrmCustomer.owner_id == owner.id, CrmCustomer.deleted_at.is_(None))
    wanted = sorted({int(c) for c in customer_ids or ()})
    if wanted:
        customers = session.scalars(query.where(CrmCustomer.id.in_(wanted)).order_by(CrmCustomer.id)).all()
        if len(customers) != len(wanted):
            raise Invalid({"customer_ids": [_("Choose customers the current owner owns.")]})
    else:
        customers = session.scalars(query.order_by(CrmCustomer.id)).all()
        if not customers:
            raise Invalid({"from_owner_id": [_("This user owns no customers.")]})
    busy = locked(session, [c.id for c in customers])
    if busy and wanted:
        names = list_join([c.customer_name for c in customers if c.id in busy])
        raise Conflict("customer_in_handover", _("Already in an open handover: %(names)s.", names=names),
                       customer_ids=[str(i) for i in sorted(busy)])
    if busy:  # none chosen: all the owner's customers that are not already being handed over
        customers = [c for c in customers if c.id not in busy]
        if not customers:
            raise Invalid({"from_owner_id": [_("All of this user's customers are already in open handovers.")]})
    reviewer = principal.user_id if principal.can(REVIEW) else getattr(department_manager(session, owner), "id", None)
    return _create(owner, customers, reason, note, created_by=principal.user_id, to_owner_id=receiver,
                   reviewer_id=reviewer, automatic=False)


def start_automatic(user, reason, actor_id=None, dept_id=None):
    """The handover of everything ``user`` owns when they are disabled (``resignation``) or move department
    (``position_change``, ``dept_id`` being the department they leave): no receiver yet, reviewed by the
    manager of that department. Customers already in an open handover stay where they are. Returns the
    handover, or None when the user owns nothing to hand over."""
    session = _session()
    customers = session.scalars(select(CrmCustomer).where(CrmCustomer.owner_id == user.id,
                                                          CrmCustomer.deleted_at.is_(None))
                                .order_by(CrmCustomer.id)).all()
    busy = locked(session, [c.id for c in customers])
    customers = [c for c in customers if c.id not in busy]
    if not customers:
        return None
    reviewer = department_manager(session, user, dept_id)
    return _create(user, customers, reason, None, created_by=actor_id, to_owner_id=None,
                   reviewer_id=getattr(reviewer, "id", None), automatic=True)


def _create(owner, customers, reason, note, created_by, to_owner_id, reviewer_id, automatic):
    session = _session()
    handover = CrmHandover(from_owner_id=owner.id, to_owner_id=to_owner_id, reviewer_id=reviewer_id,
                           handover_reason=reason, reason_note=note, current_stage="preparation",
                           started_automatically=automatic, created_by=created_by)
    handover.customers = [CrmHandoverCustomer(customer_id=c.id, open_marker=1) for c in customers]
    handover.items = [CrmHandoverItem(customer_id=cid, item_type=kind, item_description=text, item_detail=detail)
                      for cid, kind, text, detail in checklist.generate(session, customers)]
    handover.events = [CrmHandoverEvent(action="start", stage="preparation", note=note, user_id=created_by)]
    session.add(handover)
    try:
        with savepoint(session):
            session.flush()
    except IntegrityError:  # another handover took one of these customers a moment ago
        raise Conflict("customer_in_handover", _("Some of these customers are already in an open handover.")) from None
    return handover


# ---------------------------------------------------------------------- stages


def _advance(handover, expected, new, action, principal, note=None):
    """Move ``expected`` -> ``new`` only if nobody moved it meanwhile (the row lock decides between two
    concurrent requests), and record the event."""
    session = _session()
    now = utcnow()
    values = {"current_stage": new, "updated_at": now}
    if new == "completed":
        values["completed_at"] = now
    # Lock the row by its primary key first. Otherwise MariaDB may run the UPDATE below through
    # ix_crm_handover_stage (current_stage, id), which matches `id AND current_stage` exactly and is the
    # index the UPDATE changes. Two concurrent moves then deadlock on that index (seen in the suite: one lost
    # with 409 concurrent_change). Waiting on the primary key instead, the second move finds the stage
    # changed.
    session.execute(select(CrmHandover.id).where(CrmHandover.id == handover.id).with_for_update())
    result = session.execute(update(CrmHandover).where(CrmHandover.id == handover.id,
                                                       CrmHandover.current_stage == expected)
                             .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict("stage_changed", _("Someone else has just moved this handover on. Reload it."))
    for key, value in values.items():
        set_committed(handover, key, value)
    handover.events.append(CrmHandoverEvent(action=action, stage=new, note=note, user_id=principal.user_id,
                                            created_at=now))
    if new not in OPEN_STAGES:  # completed or cancelled: the customers are free again
        session.execute(update(CrmHandoverCustomer).where(CrmHandoverCustomer.handover_id == handover.id)
                        .values(open_marker=None).execution_options(synchronize_session=False))
        for row in handover.customers:
            set_committed(row, "open_marker", None)


def set_committed(obj, key, value):
    """Tell the ORM the row already holds ``value`` (written by a core UPDATE), without a new change."""
    from sqlalchemy.orm.attributes import set_committed_value

    set_committed_value(obj, key, value)


def _expect(handover, *stages):
    if handover.current_stage not in stages:
        raise Conflict("wrong_stage", _("This handover is not at that stage."), stage=handover.current_stage)


def annotate(handover, item_id, is_completed, note, principal):
    """The original owner confirms (or un-confirms) one checklist item and notes what the receiver should know."""
    if not is_preparer(handover, principal):
        raise _forbidden(_("Only the original owner prepares the checklist."))
    _expect(handover, "preparation")
    item = next((i for i in handover.items if i.id == item_id), None)
    if item is None:
        from flask import abort

        abort(404)
    item.is_completed = bool(is_completed)
    item.owner_note = note or None
    return item


def submit_preparation(handover, principal, note=None):
    """准备完成: every item confirmed, on to review."""
    if not is_preparer(handover, principal):
        raise _forbidden(_("Only the original owner prepares the checklist."))
    _expect(handover, "preparation")
    _session().flush()
    open_items = [str(i.id) for i in handover.items if not i.is_completed]
    if open_items:
        raise Conflict("checklist_incomplete", _("Confirm every item of the checklist first."), items=open_items)
    _advance(handover, "preparation", "review", "prepare", principal, note)
    return handover


def set_receiver(handover, to_owner_id, principal):
    """The reviewer or the starter chooses (or changes) who receives the customers, before approval."""
    if not (is_reviewer(handover, principal) or principal.user_id == handover.created_by):
        raise _forbidden(_("Only the reviewer or whoever started the handover chooses the receiver."))
    _expect(handover, "preparation", "review")
    receiver = _receiver(principal, to_owner_id, handover.from_owner_id)
    if receiver != handover.to_owner_id:
        handover.events.append(CrmHandoverEvent(action="receiver", stage=handover.current_stage,
                                                user_id=principal.user_id, note=_user_name(receiver)))
        handover.to_owner_id = receiver
    return handover


def approve(handover, principal, note=None, to_owner_id=None):
    """审核通过: on to the receiver's confirmation (a receiver must be chosen by now)."""
    if not is_reviewer(handover, principal):
        raise _forbidden(_("Only the reviewer approves a handover."))
    _expect(handover, "review")
    if to_owner_id:
        set_receiver(handover, to_owner_id, principal)
    if handover.to_owner_id is None:
        raise Conflict("receiver_missing", _("Choose who receives the customers first."),
                       {"to_owner_id": [_("Choose who receives the customers first.")]})
    _session().flush()
    _advance(handover, "review", "confirmation", "approve", principal, note)
    return handover


def reject(handover, principal, reason):
    """Sent back to preparation with a reason."""
    if not is_reviewer(handover, principal):
        raise _forbidden(_("Only the reviewer sends a handover back."))
    if not (reason or "").strip():
        raise Invalid({"reason": [_("Say why it goes back.")]})
    _expect(handover, "review")
    _advance(handover, "review", "preparation", "reject", principal, reason.strip())
    return handover


def cancel(handover, principal, note=None):
    if not (is_reviewer(handover, principal) or principal.user_id == handover.created_by):
        raise _forbidden(_("Only the reviewer or whoever started the handover cancels it."))
    _expect(handover, *OPEN_STAGES)
    _advance(handover, handover.current_stage, "cancelled", "cancel", principal, note)
    return handover


def confirm(handover, principal, note=None):
    """交接确认 by the receiver: in this one transaction the stage completes and every customer, its contacts
    and its open plan move to the receiver, recorded in the history, with the pool clock restarted. The
    caller commits, then queues ``send_notices``."""
    if principal.user_id != handover.to_owner_id:
        raise _forbidden(_("Only the receiver confirms a handover."))
    _expect(handover, "confirmation")
    receiver = _session().get(SysUser, handover.to_owner_id)
    if receiver is None or not receiver.is_enabled:
        raise Conflict("receiver_disabled", _("The receiver's account is disabled."))
    _advance(handover, "confirmation", "completed", "confirm", principal, note)
    customer_ids = [row.customer_id for row in handover.customers]
    now = utcnow()
    _move_customers(customer_ids, receiver, principal.user_id, now)
    _move_contacts(customer_ids, receiver, principal.user_id, now)
    return handover


def _history(entity_type, rows, user_id, now):
    if rows:
        _session().execute(insert(CrmChangeLog), [
            {"entity_type": entity_type, "entity_id": entity_id, "action": "handover", "changes": changes,
             "user_id": user_id, "created_at": now} for entity_id, changes in rows])


def _move_customers(customer_ids, receiver, user_id, now):
    session = _session()
    old = session.execute(select(CrmCustomer.id, CrmCustomer.owner_id, CrmCustomer.dept_id)
                          .where(CrmCustomer.id.in_(customer_ids)).with_for_update()).all()
    session.execute(update(CrmCustomer).where(CrmCustomer.id.in_(customer_ids))
                    .values(owner_id=receiver.id, dept_id=receiver.dept_id, owned_since=now, updated_at=now)
                    .execution_options(synchronize_session="fetch"))
    _history("customer", [(cid, [{"field": "owner_id", "old": owner, "new": receiver.id},
                                 {"field": "dept_id", "old": dept, "new": receiver.dept_id}])
                          for cid, owner, dept in old], user_id, now)


def _move_contacts(customer_ids, receiver, user_id, now):
    session = _session()
    old = session.execute(select(CrmContact.id, CrmContact.owner_id).where(
        CrmContact.customer_id.in_(customer_ids), CrmContact.deleted_at.is_(None))).all()
    session.execute(update(CrmContact).where(CrmContact.customer_id.in_(customer_ids),
                                             CrmContact.deleted_at.is_(None))
                    .values(owner_id=receiver.id, updated_at=now).execution_options(synchronize_session="fetch"))
    _history("contact", [(cid, [{"field": "owner_id", "old": owner, "new": receiver.id}])
                         for cid, owner in old if owner != receiver.id], user_id, now)


def _user_name(user_id):
    user = _session().get(SysUser, user_id)
    return user.full_name if user else None


# ---------------------------------------------------------------------- customer notices (a job)


def queue_notices(handover):
    """After the confirmation is committed: the notices go out through a job (inline without Redis)."""
    from flask import current_app
    from redis import RedisError

    from ..core.jobs import enqueue

    try:
        return enqueue(send_notices, current_tenant.tenant_id, handover.id)
    except RedisError as exc:  # the handover stands; the scheduled catch-up (tasks.py) sends them later
        current_app.logger.warning("handover %s: notices not queued (%s); the scheduled task sends them",
                                   handover.id, type(exc).__name__)
        return None


def send_notices(handover_id):
    """Tell every contact of the handed-over customers, by SMS and (where there is an address) e-mail, who
    their new account manager is. Each message is a ``crm_notice`` row with a dedupe key, so a job run
    twice sends once; a do-not-contact contact gets a row with status ``skipped`` and no message."""
    from common import messaging
    from extensions import db

    from ..notices.models import CrmNotice

    session = _session()
    handover = session.get(CrmHandover, handover_id)
    if handover is None or handover.current_stage != "completed":
        return {"sent": 0, "failed": 0, "skipped": 0}
    receiver = session.get(SysUser, handover.to_owner_id)
    customer_ids = [row.customer_id for row in handover.customers]
    names = dict(session.execute(select(CrmCustomer.id, CrmCustomer.customer_name)
                                 .where(CrmCustomer.id.in_(customer_ids))).all())
    contacts = session.scalars(select(CrmContact).where(CrmContact.customer_id.in_(customer_ids),
                                                        CrmContact.deleted_at.is_(None))
                               .order_by(CrmContact.id)).all()
    for contact in contacts:
        for channel, address in (("sms", contact.phone), ("email", contact.email)):
            if not address:
                continue
            key = f"handover:{handover.id}:{contact.id}:{channel}"
            if session.scalar(select(CrmNotice.id).where(CrmNotice.dedupe_key == key)) is not None:
                continue
            body = _notice_body(contact, names.get(contact.customer_id), receiver, handover)
            notice = CrmNotice(customer_id=contact.customer_id, contact_id=contact.id, purpose="handover",
                               reference_id=handover.id, channel=channel, to_address=address, body=body,
                               status="skipped" if contact.do_not_contact else "queued", dedupe_key=key,
                               error="do_not_contact" if contact.do_not_contact else None)
            try:
                with savepoint(session):
                    session.add(notice)
            except IntegrityError:  # a concurrent run wrote it first
                continue
    session.commit()
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    queued = session.scalars(select(CrmNotice).where(CrmNotice.purpose == "handover",
                                                     CrmNotice.reference_id == handover.id,
                                                     CrmNotice.status == "queued").order_by(CrmNotice.id)).all()
    for notice in queued:
        claimed = session.execute(update(CrmNotice).where(CrmNotice.id == notice.id, CrmNotice.status == "queued")
                                  .values(status="sending").execution_options(synchronize_session=False))
        session.commit()
        if claimed.rowcount != 1:
            continue
        try:
            messaging.send(notice.channel, notice.to_address, notice.body,
                           subject=_subject() if notice.channel == "email" else None, purpose="crm_handover_notice")
            status, error = "sent", None
            db.session.commit()  # the control plane's outbox record of it
        except Exception as exc:  # noqa: BLE001 - a failed send is recorded, the others still go out
            db.session.rollback()
            status, error = "failed", str(exc)[:300]
        session.execute(update(CrmNotice).where(CrmNotice.id == notice.id)
                        .values(status=status, error=error, sent_at=utcnow() if status == "sent" else None))
        session.commit()
        counts[status] += 1
    counts["skipped"] = sum(1 for c in contacts if c.do_not_contact)
    return counts


def _subject():
    with force_locale("zh_CN"):
        return _("Your account manager has changed")


def _notice_body(contact, customer_name, receiver, handover):
    with force_locale("zh_CN"):
        text = _("%(company)s: Dear %(contact)s, from %(date)s %(name)s is the account manager of %(customer)s.",
                 company=current_tenant.info.name, contact=contact.contact_name,
                 date=to_local(handover.completed_at or utcnow()).strftime("%Y-%m-%d"),
                 name=receiver.full_name if receiver else "", customer=customer_name or "")
        if receiver is not None and receiver.phone:
            text += " " + _("Phone: %(phone)s.", phone=display_phone(receiver.phone))  # 13967446522, not +86…
        return text

