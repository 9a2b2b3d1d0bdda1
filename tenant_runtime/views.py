"""Tenant pages (sign-in, home) and the tenant API's authentication. The CRM modules build on these."""

import sqlalchemy.exc
from flask import Blueprint, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from common.errors import ApiError, error_response, wants_json
from common.forms import json_body
from datasource_registry.pool import IdentityMismatch
from extensions import limiter

from . import auth
from .context import current_tenant
from .forms import TenantLoginForm
from .models import SysImpersonation, SysUser
from .routing import TenantError, close_tenant_session, pull_tenant_code, push_tenant_code

bp = Blueprint("tenant", __name__, url_prefix="/t/<tenant_code>")
api = Blueprint("tenant_api", __name__, url_prefix="/t/<tenant_code>/api/v1")

PUBLIC_ENDPOINTS = {"tenant.login", "tenant.impersonate", "tenant_api.token_create", "tenant_api.openapi"}

for blueprint in (bp, api):
    blueprint.url_value_preprocessor(pull_tenant_code)
    blueprint.url_defaults(push_tenant_code)
    blueprint.teardown_request(close_tenant_session)


def _login_key():
    data = request.get_json(silent=True) if request.is_json else None
    username = (data or {}).get("username") if isinstance(data, dict) else request.form.get("username")
    tenant = g.get("tenant")  # resolved by the url_value_preprocessor before the limit is checked
    return f"tenant-login:{tenant.tenant_id if tenant else '-'}:{str(username or '').lower()}"


def _failed(response):
    return response.status_code == 401


def login_limit(view):
    return limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_USER"], key_func=_login_key,
                         deduct_when=_failed, methods=["POST"])(view)


@bp.before_request
def require_page_login():
    g.tenant_user = auth.user_from_session()
    if request.endpoint not in PUBLIC_ENDPOINTS and g.tenant_user is None:
        return redirect(url_for("tenant.login", next=request.full_path if request.method == "GET" else None))
    return None


@api.before_request
def require_token():
    g.tenant_user = auth.user_from_token(request.headers.get("Authorization", ""))
    if request.endpoint not in PUBLIC_ENDPOINTS and g.tenant_user is None:
        raise ApiError(401, "not_authenticated", _("Sign in first: send a bearer token of this company."))


@api.after_request
def commit_api(resp):
    tenant = g.get("tenant")
    if tenant is not None and resp.status_code < 400:
        tenant.commit_if_written()
    return resp


def _tenant_error(exc):
    if wants_json():
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.extra)
    return render_template("tenant/error.html", status=exc.status, code=exc.code, message=exc.message), exc.status


def _database_down(exc):
    current_app.logger.warning("tenant database error on %s: %s", request.path, type(exc).__name__)
    return _tenant_error(TenantError(503, "tenant_unavailable", _("This company's database is not available right now.")))


for blueprint in (bp, api):
    blueprint.register_error_handler(TenantError, _tenant_error)
    blueprint.register_error_handler(IdentityMismatch, _database_down)
    blueprint.register_error_handler(sqlalchemy.exc.OperationalError, _database_down)
    blueprint.register_error_handler(sqlalchemy.exc.InterfaceError, _database_down)


@bp.route("/login", methods=["GET", "POST"])
@login_limit
def login():
    form = TenantLoginForm()
    if form.validate_on_submit():
        user = auth.authenticate(form.username.data, form.password.data)
        if user is not None:
            current_tenant.session.commit()
            auth.login_session(user)
            return redirect(url_for("tenant.home"))
        form.password.errors = [_("Wrong username or password.")]
        return render_template("tenant/login.html", form=form), 401
    return render_template("tenant/login.html", form=form)


@bp.post("/logout")
def logout():
    auth.logout_session()
    return redirect(url_for("tenant.login"))


@bp.get("/")
def home():
    session = current_tenant.session
    impersonations = session.scalars(select(SysImpersonation).order_by(SysImpersonation.id.desc()).limit(10)).all() \
        if g.tenant_user.is_admin else []
    people = session.scalar(select(func.count(SysUser.id)))
    return render_template("tenant/home.html", user=g.tenant_user, impersonations=impersonations, people=people)


@bp.get("/impersonate")
def impersonate():
    from .impersonation import redeem

    user = redeem(request.args.get("token", ""), request.remote_addr)
    auth.login_session(user, impersonator=g.impersonator)
    return redirect(url_for("tenant.home"))


def user_json(user):
    return {"id": str(user.id), "username": user.username, "full_name": user.full_name, "dept_id": str(user.dept_id),
            "phone": user.phone, "email": user.email, "is_admin": user.is_admin, "status": user.status}


@api.post("/auth/token")
@login_limit
def token_create():
    data = json_body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ApiError(422, "invalid_fields", _("Username and password are required."),
                       {k: [_("This field is required.")] for k in ("username", "password")
                        if not isinstance(data.get(k), str) or not data.get(k)})
    user = auth.authenticate(username, password)
    if user is None:
        raise ApiError(401, "invalid_credentials", _("Wrong username or password."))
    raw = auth.issue_token(user)
    current_tenant.session.commit()
    return jsonify({"token": raw, "user": {**user_json(user), "roles": ["admin"] if user.is_admin else []}})


@api.get("/me")
def me():
    return jsonify({**user_json(g.tenant_user), "tenant": {"code": current_tenant.code, "name": current_tenant.info.name}})


@api.get("/openapi.json")
def openapi():
    from .openapi import build

    return jsonify(build())
