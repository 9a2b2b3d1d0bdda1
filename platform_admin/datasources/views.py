"""Devops pages: configure a datasource once (after testing the connection), provision it, check it, move its
status, delete it; administrators can delete one whose database cannot be reached."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import apply_form_errors
from datasource_registry import jobs, services
from extensions import db
from platform_admin.enterprises.models import Enterprise

from . import start_provision
from .forms import DatasourceForm, ForceDeleteForm

bp = Blueprint("datasources", __name__, url_prefix="/enterprises/<int:ent_id>/datasource")


def _back(ent_id, **args):
    return redirect(url_for("enterprises.enterprise_detail", ent_id=ent_id, **args) + "#datasource")


@bp.route("/new", methods=["GET", "POST"])
def datasource_new(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is not None:
        flash(_("The datasource is already configured and cannot be changed."), "warning")
        return _back(ent_id)
    form = DatasourceForm()
    tested = None
    if form.validate_on_submit():
        if request.form.get("action") == "test":
            tested = _try_connection(enterprise, form)
        else:
            try:
                services.configure(enterprise, form.datasource_data(), by=g.staff)
                commit()
            except ApiError as exc:
                db.session.rollback()
                apply_form_errors(form, exc.fields or {"host": [exc.message]})
            else:
                flash(_("Datasource saved. It can no longer be changed; provision it next."), "success")
                return _back(ent_id)
    name, database = services.generated_names(enterprise)
    return render_template("datasources/form.html", form=form, enterprise=enterprise, name=name, database=database,
                           tested=tested), 422 if form.errors else 200


def _try_connection(enterprise, form):
    """The test button: ``{"ok": True, "report": ...}`` or ``{"ok": False, "message": ...}``; a refused
    field (the host outside the allow-list) goes onto the form instead."""
    try:
        return {"ok": True, "report": services.try_connection(enterprise, form.datasource_data())}
    except ApiError as exc:
        if exc.fields:
            apply_form_errors(form, exc.fields)
            return None
        return {"ok": False, "code": exc.code, "message": exc.message}


def _act(ent_id, action, success, show_job=False):
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is None:
        flash(_("No datasource configured yet"), "warning")
        return _back(ent_id)
    try:
        result = action(enterprise.datasource)
        commit()
    except jobs.QueueUnavailable:
        raise  # nothing was started: a 503 page saying why, not a redirect that looks like success
    except ApiError as exc:
        db.session.rollback()
        found = exc.extra.get("found")
        detail = "; ".join(f"{k}: {v}" for k, v in found.items()) if found else ""
        flash(f"{exc.message} {detail}".strip(), "danger")
    else:
        outcome = success(result) if callable(success) else success
        message, category = outcome if isinstance(outcome, tuple) else (outcome, "success")
        flash(message, category)
        if show_job:  # that job, even when another one started within the same second
            return _back(ent_id, job=result.id)
    return _back(ent_id)


def _provision_outcome(job):
    """Jobs run inline without Redis: by now they have ended, so say how, not that they started."""
    if job.status == "finished":
        return _("The database is provisioned."), "success"
    if job.status == "failed":
        return _("Provisioning failed; the reason is shown below."), "danger"
    return _("Provisioning started; this page shows its progress."), "info"


@bp.post("/provision")
def datasource_provision(ent_id):
    # The row is committed before the job is queued, so a worker never looks for a row not yet written.
    return _act(ent_id, start_provision, _provision_outcome, show_job=True)


@bp.post("/check")
def datasource_check(ent_id):
    def text(r):
        return _("Connected in %(ms)s ms · server %(version)s · schema %(schema)s",
                 ms=r["latency_ms"], version=r["server_version"], schema=r["schema_version"] or "-")
    return _act(ent_id, services.probe, text)


@bp.post("/status/<status>")
def datasource_status(ent_id, status):
    return _act(ent_id, lambda ds: services.advance(ds, status, by=g.staff), _("Implementation status updated."))


@bp.post("/delete")
def datasource_delete(ent_id):
    return _act(ent_id, lambda ds: services.delete(ds, by=g.staff), _("Datasource deleted."))


@bp.route("/force-delete", methods=["GET", "POST"])
def datasource_force_delete(ent_id):
    """Administrators: delete a datasource whose database cannot be reached, confirmed, with a reason."""
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is None:
        flash(_("No datasource configured yet"), "warning")
        return _back(ent_id)
    form = ForceDeleteForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.delete(enterprise.datasource, by=g.staff, force_reason=form.reason.data)
            commit()
        except ApiError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = exc.status
        else:
            flash(_("Datasource deleted."), "success")
            return _back(ent_id)
    elif form.errors:
        status = 422
    return render_template("datasources/force_delete.html", form=form, enterprise=enterprise,
                           ds=enterprise.datasource), status
