"""Tenant users' passwords: changing one's own (page and API) and choosing one through a set-password
link (page and API). Both throttled like sign-in: a wrong current password or a wrong link is a
failed guess."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from common.apidoc import declared_body, endpoint
from common.errors import ApiError, Invalid
from common.forms import apply_form_errors

from . import auth, password_links
from .context import current_tenant
from .forms import ChangePasswordForm, ChangePasswordPageForm, SetPasswordForm, SetPasswordPageForm
from .routing import TenantError
from .schemas import TenantTokenSchema
from .throttle import failed, password_check_limits, per_ip
from .views import api, bp


def _link_invalid():
    return _("This link is invalid, used or expired. Ask your company's administrator for a new one.")


@bp.route("/password", methods=["GET", "POST"])
@password_check_limits
def password():
    form, status = ChangePasswordPageForm(), 200
    if form.validate_on_submit():
        try:
            auth.change_password(g.tenant_user, form.current_password.data, form.new_password.data,
                                 keep_session=auth.current_session_key())
        except ApiError as exc:
            current_tenant.session.rollback()
            if exc.status == 422:
                failed()  # a wrong current password is a guess
            apply_form_errors(form, exc.fields or {"": [exc.message]})
            status = exc.status
        else:
            current_tenant.session.commit()
            flash(_("Your password is changed. You are signed out everywhere else."), "success")
            return redirect(url_for("tenant.home"))
    elif form.errors:
        status = 422
    return render_template("tenant/password.html", form=form), status


@api.post("/me/password")
@endpoint("Change your own password; every other sign-in of yours ends", status=204, body=ChangePasswordForm,
          errors=(422, 429))
@password_check_limits
def password_change():
    form = declared_body()
    try:
        auth.change_password(g.tenant_user, form.current_password.data, form.new_password.data,
                             keep_token=g.tenant_token)
    except ApiError as exc:
        if exc.status == 422:
            failed()  # a wrong current password is a guess
        raise
    current_tenant.session.commit()


@bp.route("/set-password", methods=["GET", "POST"])
@per_ip
def set_password():
    form = SetPasswordPageForm(data={"token": request.args.get("token", "")})
    link = password_links.find(current_tenant.session, form.token.data)
    if link is None:
        failed("bad_link")
        raise TenantError(404, "link_invalid", _link_invalid())
    if form.validate_on_submit():
        user = password_links.redeem(current_tenant.session, form.token.data, form.new_password.data)
        if user is None:  # used a moment ago by someone else
            failed("bad_link")
            raise TenantError(404, "link_invalid", _link_invalid())
        auth.login_session(user)  # commits the password with the new session
        flash(_("Your password is set. Welcome!"), "success")
        return redirect(url_for("tenant.home"))
    return render_template("tenant/set_password.html", form=form, user=link.user), 422 if form.errors else 200


@api.post("/auth/set-password")
@endpoint("Choose a password through a set-password link; signs in", body=SetPasswordForm,
          response=TenantTokenSchema, errors=(422, 429))
@per_ip
def password_set():
    form = declared_body()
    user = password_links.redeem(current_tenant.session, form.token.data, form.new_password.data)
    if user is None:
        failed("bad_link")
        raise Invalid({"token": [_link_invalid()]})
    raw = auth.issue_token(user)
    current_tenant.session.commit()
    return {"token": raw, "user": user}
