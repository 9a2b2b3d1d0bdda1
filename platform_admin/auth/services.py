"""Staff authentication: passwords, bearer tokens, account administration."""

from flask import current_app, request
from sqlalchemy import select

from common.errors import Conflict
from common.timeutil import utcnow
from extensions import db

from .models import ApiToken, StaffUser, hash_token


def find_staff(username):
    return db.session.scalar(select(StaffUser).where(StaffUser.username == (username or "").strip()))


def authenticate(username, password):
    """The active staff user with these credentials, or None. Timing does not reveal which part was wrong."""
    user = find_staff(username)
    if user is None:
        StaffUser(password_hash="").set_password(password or "x")  # equalise timing
        return None
    if not user.check_password(password or "") or not user.is_active:
        return None
    user.last_login_at = utcnow()
    return user


def issue_token(user):
    raw = ApiToken.new_raw()
    token = ApiToken(
        staff=user,
        token_hash=hash_token(raw),
        expires_at=utcnow() + current_app.config["API_TOKEN_TTL"],
        created_ip=request.remote_addr if request else None,
    )
    db.session.add(token)
    return raw, token


def resolve_token(raw):
    if not raw:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or not token.usable():
        return None
    return token


def revoke_token(token):
    token.revoked_at = utcnow()


def create_staff(username, password, roles, full_name="", phone=None, email=None):
    if find_staff(username):
        raise Conflict("duplicate", "username already exists", {"username": ["already exists"]})
    user = StaffUser(username=username.strip(), full_name=full_name or "", phone=phone, email=email)
    user.roles = roles
    user.set_password(password)
    db.session.add(user)
    return user


def deactivate_staff(user):
    """Deactivate and revoke every token, so the account is locked out of pages and API at once."""
    user.is_active_flag = False
    now = utcnow()
    for token in user.tokens:
        if token.revoked_at is None:
            token.revoked_at = now


def staff_with_role(*roles):
    from sqlalchemy import or_

    candidates = db.session.scalars(
        select(StaffUser)
        .where(StaffUser.is_active_flag.is_(True), or_(*[StaffUser.roles_csv.contains(r) for r in roles]))
        .order_by(StaffUser.username)
    ).all()
    # the SQL match is by substring ("ops" is inside "devops"); keep only exact role holders
    return [s for s in candidates if s.has_role(*roles)]
