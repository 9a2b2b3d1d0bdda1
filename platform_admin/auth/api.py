from flask import g, jsonify
from flask_babel import gettext as _
from sqlalchemy import select

from common.db import commit, get_or_404
from common.errors import ApiError, Conflict
from common.forms import form_from_json, json_body, validate_or_422
from common.pagination import cursor_page
from common.timeutil import isoformat
from extensions import db
from platform_admin.audit.recorder import record
from platform_admin.common.api import api, sid

from .forms import StaffCreateForm, StaffUpdateForm
from .models import StaffUser
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


def user_json(user):
    return {"id": sid(user.id), "username": user.username, "roles": user.roles}


def staff_json(user):
    return {
        **user_json(user), "full_name": user.full_name, "phone": user.phone, "email": user.email,
        "is_active": user.is_active, "created_at": isoformat(user.created_at),
        "last_login_at": isoformat(user.last_login_at),
    }


@api.post("/auth/token")
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
    return jsonify({"token": raw, "expires_at": isoformat(token.expires_at), "user": user_json(user)})


@api.delete("/auth/token")
def token_revoke():
    if g.get("api_token") is not None:
        revoke_token(g.api_token)
        db.session.commit()
    return "", 204


@api.get("/me")
def me():
    return jsonify(staff_json(g.staff))


@api.get("/staff")
def staff_list():
    return jsonify(cursor_page(select(StaffUser), StaffUser.id, staff_json))


@api.post("/staff")
def staff_create():
    form = validate_or_422(form_from_json(StaffCreateForm))
    if find_staff(form.username.data):
        raise Conflict("duplicate", _("This username is taken."), {"username": [_("Already in use.")]})
    user = create_staff(form.username.data, form.password.data, form.roles.data, form.full_name.data,
                        form.phone.data, form.email.data)
    commit()
    return jsonify(staff_json(user)), 201


@api.patch("/staff/<int:staff_id>")
def staff_update(staff_id):
    user = get_or_404(StaffUser, staff_id)
    base = {"full_name": user.full_name, "phone": user.phone, "email": user.email, "roles": user.roles,
            "is_active": user.is_active}
    form = validate_or_422(form_from_json(StaffUpdateForm, base=base))
    apply_staff_update(user, form)
    commit()
    return jsonify(staff_json(user))


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
