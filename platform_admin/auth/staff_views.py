"""Admin pages for staff accounts."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select

from common.db import commit, get_or_404
from common.errors import ApiError
from common.forms import apply_form_errors
from common.pagination import html_page
from extensions import db

from .api import apply_staff_update
from .forms import StaffCreateForm, StaffUpdateForm
from .models import StaffUser
from .services import create_staff, find_staff

bp = Blueprint("staff", __name__, url_prefix="/staff")


@bp.get("/")
def staff_list():
    from flask import request

    query = select(StaffUser)
    q = request.args.get("q", "").strip()
    if q:
        query = query.where(or_(StaffUser.username.contains(q, autoescape=True), StaffUser.full_name.contains(q, autoescape=True)))
    return render_template("staff/list.html", page=html_page(query, [StaffUser.username]), q=q)


@bp.route("/new", methods=["GET", "POST"])
def staff_new():
    form = StaffCreateForm()
    if form.validate_on_submit():
        if find_staff(form.username.data):
            form.username.errors.append(_("Already in use."))
        else:
            create_staff(form.username.data, form.password.data, form.roles.data, form.full_name.data,
                         form.phone.data, form.email.data)
            commit()
            flash(_("Staff account created."), "success")
            return redirect(url_for("staff.staff_list"))
    return render_template("staff/form.html", form=form, user=None)


@bp.route("/<int:staff_id>/edit", methods=["GET", "POST"])
def staff_edit(staff_id):
    user = get_or_404(StaffUser, staff_id)
    form = StaffUpdateForm(obj=user, data={"roles": user.roles, "is_active": user.is_active})
    if form.validate_on_submit():
        try:
            apply_staff_update(user, form)
            commit()
        except ApiError as exc:
            db.session.rollback()
            apply_form_errors(form, exc.fields or {"roles": [exc.message]})
        else:
            flash(_("Staff account saved."), "success")
            return redirect(url_for("staff.staff_list"))
    return render_template("staff/form.html", form=form, user=user)
