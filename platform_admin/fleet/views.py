"""Devops pages: the fleet runs, starting one, following one, resuming one."""

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import apply_form_errors
from common.pagination import html_page
from datasource_registry import fleet, tenant_schema
from datasource_registry.jobs import QueueUnavailable
from datasource_registry.models import FleetRun
from extensions import db

from .forms import FleetRunForm

bp = Blueprint("fleet", __name__, url_prefix="/fleet")


def _list(form, status=200, behind=None):
    page = html_page(select(FleetRun), [FleetRun.id.desc()])
    behind = fleet.tenants_behind() if behind is None else behind
    return render_template("fleet/list.html", page=page, form=form, head=tenant_schema.head_revision(),
                           tenants=fleet.tenant_count(), behind=behind, active=fleet.active_run()), status


@bp.get("/")
def run_list():
    return _list(FleetRunForm())


@bp.post("/")
def run_start():
    form = FleetRunForm()
    if not form.validate_on_submit():
        return _list(form, 422)
    behind = fleet.tenants_behind()
    if not behind:  # the page offers no start then; a stale form or a second tab still gets told why
        form.form_errors.append(_("Every tenant database is already at the latest schema: there is nothing to upgrade."))
        return _list(form, 409, behind)
    try:
        fleet_run = fleet.start(by=g.staff, canary=form.canary.data, parallelism=form.parallelism.data)
        commit()
        fleet.launch(fleet_run.id)  # QueueUnavailable (503) has already closed the run and freed its slot
    except ApiError as exc:
        db.session.rollback()
        if exc.fields:
            apply_form_errors(form, exc.fields)
        else:
            form.form_errors.append(exc.message)
        return _list(form, exc.status)
    flash(_("Fleet upgrade #%(id)s started.", id=fleet_run.id), "success")
    return redirect(url_for("fleet.run_detail", run_id=fleet_run.id))


@bp.get("/<int:run_id>")
def run_detail(run_id):
    fleet_run = get_or_404(FleetRun, run_id)
    return render_template("fleet/detail.html", run=fleet_run, failures=fleet.failures(fleet_run),
                           resumable=fleet.resumable(fleet_run), stale=fleet.is_stale(fleet_run))


@bp.post("/<int:run_id>/resume")
def run_resume(run_id):
    get_or_404(FleetRun, run_id)
    try:
        fleet.resume(run_id)
        commit()
        fleet.launch(run_id)
    except QueueUnavailable as exc:  # the run is interrupted again, resumable once the queue answers
        flash(exc.message, "danger")
        return run_detail(run_id), exc.status
    except ApiError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        flash(_("Fleet upgrade #%(id)s resumed.", id=run_id), "success")
    return redirect(url_for("fleet.run_detail", run_id=run_id))
