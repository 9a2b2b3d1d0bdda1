from flask import g
from flask_babel import gettext as _
from sqlalchemy import select

from common.apidoc import declared_body, endpoint
from common.db import commit, get_or_404
from common.errors import ApiError, Conflict
from common.forms import json_body
from common.pagination import cursor_page
from extensions import db
from platform_admin.audit.recorder import record
from platform_admin.common.api import api

from .forms import LoginForm, StaffCreateForm, StaffUpdateForm
from .models import StaffUser
from .schemas import StaffSchema, TokenSchema
from .services import (
    authenticate,
    create_staff,
    deactivate_staff,
    find_staff,
    issue_token,
    reset_password,
    revoke_token,
)
from .throttle import login_limits, record_failure
from .views import current_session_key


@api.post("/auth/token")
@endpoint("Staff login: returns a bearer token", body=LoginForm, response=TokenSchema, errors=(401, 429),
          description="Only failed attempts count against the per-username and per-IP limits.")
@login_limits
def token_create():
    data = json_body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise ApiError(422, "invalid_fields", _("Username and password are required."),
                       {k: [_("This field is required.")] for k in ("username", "password") if not isinstance(data.get(k), str) or not data.get(k)})
    user = authenticate(username, password)
    if user is None:
        record_failure(username)
        raise ApiError(401, "invalid_credentials", _("Wrong username or password."))
    g.audit_actor = user
    raw, token = issue_token(user)
    record(db.session, "token_issued", "staff_user", user.id)
    db.session.commit()
    return {"token": raw, "expires_at": token.expires_at, "user": user}


@api.delete("/auth/token")
@endpoint("Revoke the token used for this request", status=204)
def token_revoke():
    if g.get("api_token") is not None:
        revoke_token(g.api_token)
        db.session.commit()


@api.get("/me")
@endpoint("The signed-in staff member", response=StaffSchema)
def me():
    return g.staff


@api.get("/staff")
@endpoint("List staff accounts", response=StaffSchema, page=True)
def staff_list():
    return cursor_page(select(StaffUser), StaffUser.id)


@api.post("/staff")
@endpoint("Create a staff account", status=201, body=StaffCreateForm, response=StaffSchema, errors=(409,))
def staff_create():
    form = declared_body()
    if find_staff(form.username.data):
        raise Conflict("duplicate", _("This username is taken."), {"username": [_("Already in use.")]})
    user = create_staff(form.username.data, form.password.data, form.roles.data, form.full_name.data,
                        form.phone.data, form.email.data)
    commit()
    return user


@api.patch("/staff/<int:staff_id>")
@endpoint("Change roles, details, password or active flag", body=StaffUpdateForm, partial=True, response=StaffSchema,
          errors=(409,), description="Deactivating an account revokes all its tokens at once.")
def staff_update(staff_id):
    user = get_or_404(StaffUser, staff_id)
    base = {"full_name": user.full_name, "phone": user.phone, "email": user.email, "roles": user.roles,
            "is_active": user.is_active}
    form = declared_body(base=base)
    apply_staff_update(user, form)
    commit()
    return user


def apply_staff_update(user, form):
    if user.id == g.staff.id and ("admin" not in form.roles.data or not form.is_active.data):
        raise Conflict("illegal_state", _("You cannot remove your own administrator role or deactivate yourself."))
    user.full_name, user.phone, user.email = form.full_name.data or "", form.phone.data, form.email.data
    user.roles = form.roles.data
    if form.password.data:
        reset_password(user, form.password.data, *_own_sign_in(user))
    if not form.is_active.data and user.is_active:
        deactivate_staff(user)
    elif form.is_active.data:
        user.is_active_flag = True


def _own_sign_in(user):
    """(session key, token) this request signed in with, when it changes its own account: kept on a
    password change, while every other session and token of the account is revoked."""
    if g.get("staff") is None or g.staff.id != user.id:
        return None, None
    if g.get("api_token") is not None:
        return None, g.api_token
    return current_session_key(), None
