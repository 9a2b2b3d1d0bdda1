"""Devops pages: configure a datasource once, provision it, check it, move its status, delete it."""

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import apply_form_errors
from datasource_registry import jobs, services
from extensions import db
from platform_admin.enterprises.models import Enterprise

from .forms import DatasourceForm

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
    if form.validate_on_submit():
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
    return render_template("datasources/form.html", form=form, enterprise=enterprise, name=name, database=database), \
        422 if form.errors else 200


def _act(ent_id, action, success, show_job=False):
    enterprise = get_or_404(Enterprise, ent_id)
    if enterprise.datasource is None:
        flash(_("No datasource configured yet"), "warning")
        return _back(ent_id)
    try:
        result = action(enterprise.datasource)
        commit()
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
    return _act(ent_id, lambda ds: jobs.enqueue("provision", ds, by=g.staff, commit=False), _provision_outcome,
                show_job=True)


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
    return _act(ent_id, services.delete, _("Datasource deleted."))
