"""The workspace (工作台): what needs doing today, for the signed-in user."""

from datetime import timedelta

from flask import g, render_template
from sqlalchemy import func, select

from common.timeutil import end_of_local_day_utc, local_today, start_of_local_day_utc

from .auth import SHOWN_USER
from .context import current_tenant
from .core.lookups import attach
from .core.scope import current_principal
from .customers.models import CrmCustomer
from .followups.models import CrmFollowUp
from .models import SysImpersonation, SysUser


def due_follow_ups(principal, limit=50):
    """My customers whose next follow-up is today or already past, most overdue first; not those set aside
    (非活跃: kept, not worked for now), whose plan would otherwise head the list as overdue."""
    today = local_today()
    end_of_today = end_of_local_day_utc(today)
    rows = current_tenant.session.scalars(
        select(CrmCustomer).where(CrmCustomer.owner_id == principal.user_id, CrmCustomer.deleted_at.is_(None),
                                  CrmCustomer.next_follow_up_at < end_of_today, CrmCustomer.status != "inactive")
        .order_by(CrmCustomer.next_follow_up_at).limit(limit)).all()
    start_of_today = start_of_local_day_utc(today)
    overdue = [c for c in rows if c.next_follow_up_at < start_of_today]
    due_today = [c for c in rows if c.next_follow_up_at >= start_of_today]
    return overdue, due_today


def handover_tasks(principal):
    """Open handovers waiting for me (to prepare, choose a receiver, review or confirm)."""
    if not principal.can("handover.view"):
        return []
    from .handovers.resource import decorate
    from .handovers.services import pending_for

    return decorate(pending_for(principal), principal)


def recycle_soon(principal):
    """My customers the public pool's recycling takes within the reminder days unless followed up."""
    if not principal.can("pool.view"):
        return None
    from .pool.services import soon_for_owner

    return soon_for_owner(current_tenant.session, principal.user_id)


def my_leads_due(principal):
    """The "my leads to follow up" panel: my open leads due by the end of today or never followed up."""
    if not principal.can("lead.view"):
        return None
    from .leads.services import my_leads_to_follow_up

    return my_leads_to_follow_up(principal, end_of_local_day_utc(local_today()))


def recent_follow_ups(principal, limit=10):
    """The newest follow-ups on customers and leads the user may see (as the follow-up list shows them). One
    statement per kind, each a semi-join MariaDB may start from the visible records' side (a user with few
    customers) or from the newest follow-ups (one who sees many); an OR of the two would only scan."""
    from .followups.resource import follow_ups
    from .leads.models import CrmLead
    from .leads.services import visible_clause

    session = current_tenant.session
    customers = select(CrmCustomer.id).where(CrmCustomer.deleted_at.is_(None),
                                             principal.scope_clause(CrmCustomer.owner_id, CrmCustomer.dept_id))
    kinds = [("customer", customers)]
    if principal.can("lead.view"):
        kinds.append(("lead", select(CrmLead.id).where(visible_clause(principal, session))))
    rows = []
    for kind, visible in kinds:
        rows += session.scalars(select(CrmFollowUp).where(CrmFollowUp.relation_type == kind,
                                                          CrmFollowUp.relation_id.in_(visible))
                                .order_by(CrmFollowUp.id.desc()).limit(limit)).all()
    rows = sorted(rows, key=lambda f: f.id, reverse=True)[:limit]
    follow_ups.preload(rows)  # names, attachments and the record of each, as the follow-ups list has them
    return rows


def home():
    principal = current_principal()
    session = current_tenant.session
    stats = {}
    if principal.can("customer.view"):
        mine = select(func.count(CrmCustomer.id)).where(CrmCustomer.owner_id == principal.user_id,
                                                         CrmCustomer.deleted_at.is_(None))
        stats["my_customers"] = session.scalar(mine)
        week_from = local_today() - timedelta(days=6)
        stats["new_this_week"] = session.scalar(mine.where(CrmCustomer.created_at >= start_of_local_day_utc(week_from)))
        stats["week_from"] = week_from.isoformat()  # the card's link lists exactly the customers it counts
        overdue, due_today = due_follow_ups(principal)
    else:
        overdue, due_today = [], []
    recent = recent_follow_ups(principal) if principal.can("followup.view") else []
    impersonations = session.scalars(select(SysImpersonation).order_by(SysImpersonation.id.desc()).limit(10)).all() \
        if g.tenant_user.is_admin else []
    # the users acted as, in one query (each line names one)
    attach(session, impersonations, "user", SysUser, "user_id", *SHOWN_USER)
    return render_template("tenant/home.html", user=g.tenant_user, stats=stats, overdue=overdue, due_today=due_today,
                           recent=recent, impersonations=impersonations, handover_tasks=handover_tasks(principal),
                           recycle_soon=recycle_soon(principal), my_leads=my_leads_due(principal))
