"""Ops pages: applications, return visits, conversion, the follow-up list."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import apply_form_errors
from common.pagination import html_page
from common.timeutil import from_local, to_local
from extensions import db

from . import services
from .api import filtered_applications
from .forms import ApplicationUpdateForm, FollowUpForm, OfflineApplicationForm
from .models import CHANNELS, STATUSES, Application

bp = Blueprint("onboarding", __name__, url_prefix="/applications")


@bp.get("/")
def application_list():
    try:
        query = filtered_applications()
    except ApiError as exc:
        flash(exc.message, "warning")
        return redirect(url_for("onboarding.application_list"))
    page = html_page(query, [Application.id.desc()])
    return render_template("onboarding/list.html", page=page, statuses=STATUSES, channels=CHANNELS, args=request.args)


@bp.route("/new", methods=["GET", "POST"])
def application_new():
    form = OfflineApplicationForm(data={"owner_id": g.staff.id})
    if form.validate_on_submit():
        data = {k: form[k].data for k in ("name", "phone", "company_name", "owner_id", "remarks")}
        application = services.create_offline(data, by=g.staff)
        commit()
        flash(_("Application recorded."), "success")
        return redirect(url_for("onboarding.application_detail", app_id=application.id))
    return render_template("onboarding/form.html", form=form, application=None)


@bp.get("/<int:app_id>")
def application_detail(app_id):
    application = get_or_404(Application, app_id)
    return render_template("onboarding/detail.html", application=application, visit_form=FollowUpForm())


@bp.route("/<int:app_id>/edit", methods=["GET", "POST"])
def application_edit(app_id):
    application = get_or_404(Application, app_id)
    form = ApplicationUpdateForm(obj=application)
    if application.status == "converted":
        form.status.choices = [("converted", application.status_label)]
    if form.validate_on_submit():
        data = {k: form[k].data for k in ("name", "phone", "company_name", "owner_id", "remarks")}
        if application.status != "converted":
            data["status"] = form.status.data
        try:
            services.update(application, data)
            commit()
        except ApiError as exc:
            db.session.rollback()
            apply_form_errors(form, exc.fields or {"status": [exc.message]})
        else:
            flash(_("Application saved."), "success")
            return redirect(url_for("onboarding.application_detail", app_id=application.id))
    return render_template("onboarding/form.html", form=form, application=application)


@bp.post("/<int:app_id>/follow-ups")
def follow_up_create(app_id):
    application = get_or_404(Application, app_id)
    form = FollowUpForm()
    if form.validate_on_submit():
        try:
            services.add_follow_up(application, form.content.data, form.intent_level.data,
                                   from_local(form.next_follow_up_at.data), by=g.staff, outcome=form.outcome.data or None)
            commit()
        except ApiError as exc:
            db.session.rollback()
            apply_form_errors(form, exc.fields or {"outcome": [exc.message]})
        else:
            flash(_("Return visit recorded."), "success")
            return redirect(url_for("onboarding.application_detail", app_id=application.id))
    return render_template("onboarding/detail.html", application=application, visit_form=form), 422


@bp.post("/<int:app_id>/convert")
def application_convert(app_id):
    application = get_or_404(Application, app_id)
    try:
        enterprise = services.convert(application, by=g.staff)
        commit()
    except ApiError as exc:
        db.session.rollback()
        flash(exc.message, "danger")
        return redirect(url_for("onboarding.application_detail", app_id=application.id))
    flash(_("Converted. Complete the enterprise profile next."), "success")
    return redirect(url_for("enterprises.enterprise_edit", ent_id=enterprise.id))


@bp.get("/follow-ups")
def follow_ups_due():
    mine = request.args.get("mine") == "1"
    query = services.due_follow_ups_query(g.staff.id if mine else None)
    page = html_page(query, [Application.next_follow_up_at.asc(), Application.id.asc()])
    return render_template("onboarding/due.html", page=page, mine=mine, to_local=to_local)
