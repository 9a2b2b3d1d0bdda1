"""Tenant pages (sign-in, home) and the tenant API's authentication. The CRM modules build on these."""

import sqlalchemy.exc
from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from common.apidoc import endpoint
from common.errors import (
    FRIENDLY,
    ApiError,
    driver_error_number,
    error_response,
    lost_race,
    wants_json,
)
from common.forms import json_body, refuse_malformed_body
from common.urls import local_next
from datasource_registry.hostpolicy import HostNotAllowed
from datasource_registry.pool import IdentityMismatch
from datasource_registry.registry import SchemaBehind

from . import auth
from .context import current_tenant
from .forms import TenantLoginForm
from .openapi import OPENAPI_DOCUMENT, build
from .people.permissions import ANY_USER, PUBLIC, permission_for, requires
from .routing import (
    TenantError,
    close_tenant_session,
    pull_tenant_code,
    push_tenant_code,
)
from .schemas import MeSchema, TenantTokenSchema
from .throttle import login_limits

bp = Blueprint("tenant", __name__, url_prefix="/t/<tenant_code>")
api = Blueprint("tenant_api", __name__, url_prefix="/t/<tenant_code>/api/v1")

for _endpoint, _permission in {
    "tenant.login": PUBLIC, "tenant.impersonate": PUBLIC, "tenant.set_password": PUBLIC,
    "tenant_api.token_create": PUBLIC, "tenant_api.password_set": PUBLIC, "tenant_api.openapi": PUBLIC,
    "tenant.password": ANY_USER, "tenant_api.password_change": ANY_USER, "tenant.logout": ANY_USER,
    "tenant.home": ANY_USER, "tenant.account": ANY_USER, "tenant_api.me": ANY_USER,
    "tenant.attachment_download": ANY_USER,
}.items():
    requires(_endpoint, _permission)

for blueprint in (bp, api):
    blueprint.url_value_preprocessor(pull_tenant_code)
    blueprint.url_defaults(push_tenant_code)
    blueprint.teardown_request(close_tenant_session)


def _authorize(ctx):
    """Every tenant endpoint names its permission (people/permissions.py); one that does not is refused.
    ``ctx`` is the request's ``g``."""
    permission = permission_for(request.endpoint)
    if permission == PUBLIC:
        return
    user = ctx.tenant_user
    if user is not None:
        ctx.tenant.session.info["actor_id"] = user.id  # change history names who did it
    if permission is None:
        raise TenantError(403, "forbidden", _("This page is not open to anyone."))
    if user is None:
        return "login"
    if permission != ANY_USER:
        from .core.scope import current_principal

        if not current_principal().can(permission):
            raise TenantError(403, "forbidden", _("Your role does not allow this."))
    return None


@bp.before_request
def require_page_login():
    ctx = g._get_current_object()
    ctx.tenant_user = auth.user_from_session()
    if _authorize(ctx) == "login":
        return redirect(url_for("tenant.login", next=request.full_path if request.method == "GET" else None))
    return None


@api.before_request
def require_token():
    ctx = g._get_current_object()
    ctx.tenant_user = auth.user_from_token(request.environ.get("HTTP_AUTHORIZATION", ""))
    if _authorize(ctx) == "login":
        raise ApiError(401, "not_authenticated", _("Sign in first: send a bearer token of this company."))


api.before_request(refuse_malformed_body)  # after the token: a stranger learns nothing from a 400


@api.after_request
def commit_api(resp):
    tenant = g.get("tenant")
    if tenant is not None and resp.status_code < 400:
        tenant.commit_if_written()
    return resp


def _tenant_error(exc):
    # busy is a moment's state: a client (or a person) may try again after a second
    headers = [("Retry-After", "1")] if exc.code == "tenant_busy" else None
    if wants_json():
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.extra, headers=headers)
    body, status = _error_page(exc.status, exc.message, code=exc.code, title=getattr(exc, "title", None))
    return body, status, headers or {}


def _tenant_from_path():
    """The tenant a failed request's path names, when routing never got to resolve it (no such page)."""
    from .resolver import lookup

    parts = request.path.split("/")
    try:
        return lookup(parts[2]) if len(parts) > 2 else None
    except Exception:  # noqa: BLE001 - the page must render even when the control database is down
        return None


# every page of the company answers so until it passes (maintenance, its database or the platform's down, busy):
# the way on is the page asked for, again, not the sign-in page, which answers the same
RETRY_CODES = frozenset({"tenant_suspended", "tenant_unavailable", "platform_unavailable", "tenant_busy"})


def _error_page(status, message, code=None, title=None):
    info = g.get("tenant_info") or _tenant_from_path()
    g.tenant_info = info  # the page names the company even when routing failed before resolving it
    # where to go from here: the company's own sign-in (or home when signed in), never the staff's
    back = None
    if info is not None and code in RETRY_CODES:
        back = (request.full_path.rstrip("?") if request.method == "GET" else request.path, _("Try again"))
    elif info is not None and code not in ("tenant_not_found", "tenant_closed"):
        if g.get("tenant_user") is not None or auth.signed_in_to(info.tenant_id):
            back = (url_for("tenant.home", tenant_code=info.code), _("Back to the start"))
        else:
            back = (url_for("tenant.login", tenant_code=info.code), _("Go to sign-in"))
    default_title = FRIENDLY.get(status, FRIENDLY[503])()[0]  # 403 "Not allowed", 404 "Not found"...
    return render_template("tenant/error.html", status=status, code=code, title=title, message=message,
                           back=back, default_title=default_title), status


def render_error_page(status, title, message):
    """The app's error handlers call this for any error under ``/t/``: a missing page, an expired form,
    too many attempts, a crash."""
    return _error_page(status, message, title=title)


def _database_down(exc):
    if lost_race(exc):  # a deadlock or lock-wait victim: the database answers, this request lost a race
        current_app.logger.info("lost a race on %s: %s", request.path, exc.orig)
        return _tenant_error(TenantError(409, "concurrent_change", _(
            "Someone else changed this at the same moment, so nothing was saved. Reload and try again.")))
    current_app.logger.warning("tenant database error on %s: %s %s", request.path, type(exc).__name__,
                               driver_error_number(exc) or "")
    return _tenant_error(TenantError(503, "tenant_unavailable", _("This company's database is not available right now.")))


def _schema_behind(exc):
    current_app.logger.warning("tenant request refused on %s: %s", request.path, exc)
    return _tenant_error(TenantError(503, "tenant_upgrading", _(
        "This company's data is being upgraded to the new version. Please try again in a few minutes.")))


for blueprint in (bp, api):
    blueprint.register_error_handler(TenantError, _tenant_error)
    blueprint.register_error_handler(SchemaBehind, _schema_behind)
    blueprint.register_error_handler(IdentityMismatch, _database_down)
    blueprint.register_error_handler(HostNotAllowed, _database_down)  # the host left the allow-list
    blueprint.register_error_handler(sqlalchemy.exc.OperationalError, _database_down)
    blueprint.register_error_handler(sqlalchemy.exc.InterfaceError, _database_down)


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    form = TenantLoginForm()
    if form.validate_on_submit():
        user = auth.authenticate(form.username.data, form.password.data)
        if user is not None:
            current_tenant.session.commit()
            auth.login_session(user)  # back to the page that asked for a sign-in, if it is this company's
            home = url_for("tenant.home")
            return redirect(local_next(request.args.get("next"), prefix=home) or home)
        form.password.errors = [_("Wrong username or password.")]
        return render_template("tenant/login.html", form=form), 401
    return render_template("tenant/login.html", form=form)


@bp.post("/logout")
def logout():
    auth.logout_session()
    return redirect(url_for("tenant.login"))


@bp.get("/")
def home():
    from .workspace import home as workspace_home

    return workspace_home()


@bp.get("/account")
def account():
    from .core.scope import current_principal

    return render_template("tenant/account.html", user=g.tenant_user, principal=current_principal())


@bp.get("/attachments/<int:attachment_id>")
def attachment_download(attachment_id):
    from .core.attachments import download

    return download(attachment_id)


@bp.get("/impersonate")
def impersonate():
    from .impersonation import redeem

    user = redeem(request.args.get("token", ""), request.remote_addr)
    auth.login_session(user, impersonator=g.impersonator)
    return redirect(url_for("tenant.home"))


@api.post("/auth/token")
@endpoint("Tenant user login: returns a bearer token valid for this company only", body=TenantLoginForm,
          response=TenantTokenSchema, errors=(401, 429))
@login_limits
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
    return {"token": raw, "user": user}


@api.get("/me")
@endpoint("The signed-in tenant user and their company", response=MeSchema)
def me():
    return g.tenant_user


@api.get("/openapi.json")
@endpoint("This document", response=OPENAPI_DOCUMENT)
def openapi():
    return build()
