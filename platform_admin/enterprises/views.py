"""Ops pages for enterprise profiles: list, detail, create/edit (the completion form), open, close."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import apply_form_errors
from common.pagination import html_page
from common.regions import city_choices, province_choices
from extensions import db
from platform_admin.files.storage import save_upload

from . import services
from .api import filtered_enterprises
from .forms import EnterpriseForm, ImpersonateForm, SuspendForm
from .models import REQUIRED_FOR_ACTIVATION, STATES, Enterprise

bp = Blueprint("enterprises", __name__, url_prefix="/enterprises")


@bp.get("/")
def enterprise_list():
    page = html_page(filtered_enterprises(), [Enterprise.id.desc()])
    states = [("1", STATES["open"]), ("not_opened", STATES["not_opened"]), ("closed", STATES["closed"])]
    return render_template("enterprises/list.html", page=page, args=request.args, provinces=province_choices(), states=states)


@bp.get("/<int:ent_id>")
def enterprise_detail(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    job = None
    if enterprise.datasource is not None:
        from sqlalchemy import select

        from datasource_registry.models import TenantJob

        job = db.session.get(TenantJob, request.args.get("job", ""))  # the one just started, when named
        if job is None or job.datasource_id != enterprise.datasource.id:
            job = db.session.scalars(select(TenantJob).where(TenantJob.datasource_id == enterprise.datasource.id)
                                     .order_by(TenantJob.created_at.desc()).limit(1)).first()
    return _detail_page(enterprise, job=job)


def _detail_page(enterprise, status=200, job=None, suspend_form=None, impersonate_form=None):
    from platform_admin.datasources.feedback import first_login_deliveries

    return render_template("enterprises/detail.html", enterprise=enterprise, required=REQUIRED_FOR_ACTIVATION, job=job,
                           deliveries=first_login_deliveries(enterprise, job),
                           suspend_form=suspend_form or SuspendForm(formdata=None),
                           impersonate_form=impersonate_form or ImpersonateForm(formdata=None)), status


def _save(form, enterprise):
    """Validate, store the scan and save; returns the enterprise or None with errors on the form."""
    if not form.validate_on_submit():
        return None
    try:
        data = form.profile_data()
        if enterprise is None:
            enterprise = services.create(data, by=g.staff)
        else:
            services.update(enterprise, data)
        if form.license_scan.data and getattr(form.license_scan.data, "filename", ""):
            enterprise.license_scan = save_upload(form.license_scan.data, "license_scan", g.staff)
        commit()
    except ApiError as exc:
        db.session.rollback()
        apply_form_errors(form, exc.fields or {"name": [exc.message]})
        return None
    return enterprise


def _form_page(form, enterprise, status=200):
    missing_for = request.args.get("for")  # "open" or "contract": the gate that sent the user here
    missing = enterprise.missing_fields() if enterprise is not None else list(REQUIRED_FOR_ACTIVATION)
    return render_template("enterprises/form.html", form=form, enterprise=enterprise, missing=missing,
                           missing_for=missing_for, required=REQUIRED_FOR_ACTIVATION,
                           cities=city_choices()), status


@bp.route("/new", methods=["GET", "POST"])
def enterprise_new():
    form = EnterpriseForm()
    enterprise = _save(form, None)
    if enterprise is not None:
        flash(_("Enterprise created."), "success")
        return redirect(url_for("enterprises.enterprise_detail", ent_id=enterprise.id))
    return _form_page(form, None, 422 if form.errors else 200)


@bp.route("/<int:ent_id>/edit", methods=["GET", "POST"])
def enterprise_edit(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    form = EnterpriseForm(obj=enterprise)
    if _save(form, enterprise) is not None:
        flash(_("Enterprise profile saved."), "success")
        then = request.args.get("for")
        if then == "contract" and enterprise.is_complete:
            return redirect(url_for("contracts.contract_new", ent_id=enterprise.id))
        return redirect(url_for("enterprises.enterprise_detail", ent_id=enterprise.id))
    return _form_page(form, enterprise, 422 if form.errors else 200)


def _transition(enterprise, change, success, *args):
    """Apply one state change, commit, flash the outcome and go back to the enterprise page."""
    try:
        change(enterprise, *args)
        commit()
    except ApiError as exc:
        db.session.rollback()
        if exc.code == "incomplete_profile":  # the completion form names what is missing
            return redirect(url_for("enterprises.enterprise_edit", ent_id=enterprise.id, **{"for": "open"}))
        flash(exc.message, "danger")
    else:
        flash(success, "success")
    return redirect(url_for("enterprises.enterprise_detail", ent_id=enterprise.id))


@bp.post("/<int:ent_id>/open")
def enterprise_open(ent_id):
    return _transition(get_or_404(Enterprise, ent_id), services.open_enterprise, _("Enterprise opened."))


@bp.post("/<int:ent_id>/close")
def enterprise_close(ent_id):
    return _transition(get_or_404(Enterprise, ent_id), services.close_enterprise, _("Enterprise closed."))


@bp.post("/<int:ent_id>/suspend")
def enterprise_suspend(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    form = SuspendForm()
    if not form.validate_on_submit():
        return _detail_page(enterprise, 422, suspend_form=form)
    return _transition(enterprise, services.suspend_enterprise,
                       _("The company is in maintenance mode; its users see your message."), form.message.data)


@bp.post("/<int:ent_id>/resume")
def enterprise_resume(ent_id):
    return _transition(get_or_404(Enterprise, ent_id), services.resume_enterprise,
                       _("Maintenance mode ended; the company's users are back in."))


@bp.post("/<int:ent_id>/impersonate")
def enterprise_impersonate(ent_id):
    """Support: a single-use pass for one tenant user; the browser goes straight into the tenant with it."""
    from platform_admin.datasources.impersonation import grant, support_url

    enterprise = get_or_404(Enterprise, ent_id)
    form = ImpersonateForm()
    if not form.validate_on_submit():
        return _detail_page(enterprise, 422, impersonate_form=form)
    try:
        raw, _row = grant(enterprise, form.username.data, form.reason.data, g.staff)
        commit()
    except ApiError as exc:
        db.session.rollback()
        if exc.fields:  # no such user: say so on the form
            apply_form_errors(form, exc.fields)
            return _detail_page(enterprise, exc.status, impersonate_form=form)
        flash(exc.message, "danger")
        return redirect(url_for("enterprises.enterprise_detail", ent_id=enterprise.id))
    return redirect(support_url(enterprise, raw))
