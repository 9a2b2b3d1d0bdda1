from datetime import date

from flask import request
from sqlalchemy import select

from common.apidoc import endpoint
from common.db import get_or_404
from common.pagination import cursor_page
from datasource_registry import schedule as runs
from datasource_registry.models import ScheduledRun
from platform_admin.common.api import api

from .forms import ScheduledRunFilters
from .schemas import ScheduledRunSchema


def filtered_runs(args):
    """Scheduled runs filtered by the (already validated) query string."""
    query = runs.latest_per_tenant() if args.get("latest") in ("1", "true") else select(ScheduledRun)
    if args.get("status"):
        query = query.where(ScheduledRun.status == args["status"])
    if args.get("tenant_id"):
        query = query.where(ScheduledRun.tenant_id == int(args["tenant_id"]))
    if args.get("day"):
        query = query.where(ScheduledRun.run_date == date.fromisoformat(args["day"]))
    return query


@api.get("/scheduled-runs")
@endpoint("Runs of the CRM's scheduled tasks, one per tenant and day, newest first", query=ScheduledRunFilters,
          response=ScheduledRunSchema, page=True,
          description="Each run lists its tasks with their summary or failure code; latest=1 keeps each "
                      "tenant's latest run.")
def scheduled_run_list():
    return cursor_page(filtered_runs(request.args), ScheduledRun.id)


@api.get("/scheduled-runs/<int:scheduled_run_id>")
@endpoint("One tenant's run of the scheduled tasks: each task's summary or failure code", response=ScheduledRunSchema)
def scheduled_run_get(scheduled_run_id):
    return get_or_404(ScheduledRun, scheduled_run_id)
