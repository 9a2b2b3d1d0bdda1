"""Devops pages: the scheduled tasks' runs, each tenant's latest first, and one tenant's history."""

from flask import Blueprint, current_app, render_template, request
from redis import RedisError
from sqlalchemy import case, select

from common.db import get_or_404
from common.pagination import html_page
from datasource_registry import schedule as runs
from datasource_registry.models import SCHEDULED_RUN_STATUSES, ScheduledRun
from platform_admin.enterprises.models import Enterprise

from .schemas import task_outcomes

bp = Blueprint("schedule", __name__, url_prefix="/schedule")

# Failures first, then what is still under way, then the rest.
_ORDER = case({"failed": 0, "skipped": 1, "running": 2, "queued": 3, "pending": 4}, value=ScheduledRun.status, else_=5)


@bp.get("/")
def run_list():
    day = runs.due_day()
    status = request.args.get("status")
    query = runs.latest_per_tenant()
    if status in SCHEDULED_RUN_STATUSES:
        query = query.where(ScheduledRun.status == status)
    else:
        status = None
    page = html_page(query, [_ORDER, ScheduledRun.tenant_id])
    config = current_app.config
    try:
        alive, queue_down = runs.schedulers(), False
    except RedisError:
        alive, queue_down = [], True
    return render_template("schedule/list.html", page=page, day=day, counts=runs.day_counts(day),
                           eligible=len(runs.eligible_tenant_ids()), status=status, statuses=SCHEDULED_RUN_STATUSES,
                           tasks=runs.task_catalog(), outcomes=task_outcomes, at=config.get("CRM_SCHEDULE_AT"),
                           concurrency=config.get("CRM_SCHEDULE_CONCURRENCY"), redis=bool(config.get("REDIS_URL")),
                           schedulers=alive, queue_down=queue_down,
                           last_seen=max((beat for _name, beat in alive or () if beat), default=None))


@bp.get("/tenants/<int:ent_id>")
def tenant_runs(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    page = html_page(select(ScheduledRun).where(ScheduledRun.tenant_id == ent_id),
                     [ScheduledRun.run_date.desc(), ScheduledRun.id.desc()])
    return render_template("schedule/tenant.html", enterprise=enterprise, page=page, outcomes=task_outcomes,
                           tasks=dict(runs.task_catalog()))
