from flask import g
from sqlalchemy import select

from common.apidoc import declared_body, endpoint
from common.db import commit, get_or_404
from common.pagination import cursor_page
from datasource_registry import fleet
from datasource_registry.models import FleetRun
from extensions import db
from platform_admin.common.api import api

from .forms import FleetRunForm
from .schemas import FleetRunDetailSchema, FleetRunSchema


def _as_started(fleet_run):
    """Load the run now, before its coordinator is launched: the answer shows it as started, not half-way."""
    db.session.refresh(fleet_run)


@api.get("/fleet-runs")
@endpoint("Fleet upgrades of the tenant databases, newest first", response=FleetRunSchema, page=True)
def fleet_run_list():
    return cursor_page(select(FleetRun), FleetRun.id)


@api.post("/fleet-runs")
@endpoint("Upgrade every tenant database to the schema head: canary wave first, then in parallel", status=202,
          body=FleetRunForm, response=FleetRunSchema, errors=(409,),
          description="Only one run is open at a time: 409 fleet_run_in_progress. Follow it with GET.")
def fleet_run_create():
    form = declared_body()
    fleet_run = fleet.start(by=g.staff, canary=form.canary.data, parallelism=form.parallelism.data)
    commit()
    _as_started(fleet_run)
    fleet.launch(fleet_run.id)
    return fleet_run


@api.get("/fleet-runs/<int:run_id>")
@endpoint("A fleet upgrade: counts, progress and the tenants that failed", response=FleetRunDetailSchema)
def fleet_run_get(run_id):
    return get_or_404(FleetRun, run_id)


@api.post("/fleet-runs/<int:run_id>/resume")
@endpoint("Resume a fleet upgrade: skip its upgraded tenants, retry the others", status=202, response=FleetRunSchema,
          errors=(409,))
def fleet_run_resume(run_id):
    get_or_404(FleetRun, run_id)
    fleet_run = fleet.resume(run_id)
    commit()
    _as_started(fleet_run)
    fleet.launch(run_id)
    return fleet_run
