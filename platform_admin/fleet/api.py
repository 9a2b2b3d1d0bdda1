from flask import g, jsonify
from sqlalchemy import select

from common.db import commit, get_or_404
from common.forms import form_from_json, validate_or_422
from common.pagination import cursor_page
from common.timeutil import isoformat
from datasource_registry import fleet
from datasource_registry.models import FleetRun
from platform_admin.common.api import api, sid

from .forms import FleetRunForm


def fleet_run_json(fleet_run, with_failures=False):
    body = {
        "id": sid(fleet_run.id), "status": fleet_run.status, "target_revision": fleet_run.target_revision,
        "canary": fleet_run.canary_size, "parallelism": fleet_run.parallelism, "total": fleet_run.total,
        "succeeded": fleet_run.succeeded, "failed": fleet_run.failed,
        "pending": fleet_run.total - fleet_run.done, "progress": fleet_run.percent,
        "resumable": fleet.resumable(fleet_run),
        "started_by": fleet_run.started_by.username if fleet_run.started_by else None,
        "created_at": isoformat(fleet_run.created_at), "updated_at": isoformat(fleet_run.updated_at),
        "finished_at": isoformat(fleet_run.finished_at),
    }
    if with_failures:
        body["failures"] = [{**f, "tenant_id": sid(f["tenant_id"]), "datasource_id": sid(f["datasource_id"]),
                             "finished_at": isoformat(f["finished_at"])} for f in fleet.failures(fleet_run)]
    return body


@api.get("/fleet-runs")
def fleet_run_list():
    return jsonify(cursor_page(select(FleetRun), FleetRun.id, fleet_run_json))


@api.post("/fleet-runs")
def fleet_run_create():
    form = validate_or_422(form_from_json(FleetRunForm))
    fleet_run = fleet.start(by=g.staff, canary=form.canary.data, parallelism=form.parallelism.data)
    commit()
    body = fleet_run_json(fleet_run)  # before the coordinator starts changing it
    fleet.launch(fleet_run.id)
    return jsonify(body), 202


@api.get("/fleet-runs/<int:run_id>")
def fleet_run_get(run_id):
    return jsonify(fleet_run_json(get_or_404(FleetRun, run_id), with_failures=True))


@api.post("/fleet-runs/<int:run_id>/resume")
def fleet_run_resume(run_id):
    get_or_404(FleetRun, run_id)
    fleet_run = fleet.resume(run_id)
    commit()
    body = fleet_run_json(fleet_run)
    fleet.launch(run_id)
    return jsonify(body), 202
