"""Staff authentication: passwords, browser sessions, bearer tokens, account administration."""

import secrets

from flask import current_app, has_request_context, request
from sqlalchemy import delete, select, update

from common.errors import Conflict
from common.timeutil import utcnow
from extensions import db

from .models import ApiToken, StaffSession, StaffUser, hash_token


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
        created_ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(token)
    return raw, token


def start_session(user):
    """A new browser session for ``user``: the random key for the cookie (only its hash is stored)."""
    now = utcnow()
    db.session.execute(delete(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.expires_at <= now))
    raw = secrets.token_urlsafe(32)
    db.session.add(StaffSession(staff=user, key_hash=hash_token(raw), created_at=now,
                                expires_at=now + current_app.config["PERMANENT_SESSION_LIFETIME"],
                                created_ip=request.remote_addr if has_request_context() else None))
    return raw


def user_for_session(staff_id, raw):
    """The active staff member whose live session this cookie's key is, or None: one indexed lookup."""
    if not raw or not isinstance(raw, str):
        return None
    return db.session.scalar(
        select(StaffUser).join(StaffSession)
        .where(StaffSession.key_hash == hash_token(raw), StaffSession.staff_id == staff_id,
               StaffSession.revoked_at.is_(None), StaffSession.expires_at > utcnow(),
               StaffUser.is_active_flag.is_(True)))


def end_session(raw):
    """Sign-out: the session's key stops working, also in any copy of the cookie."""
    if raw and isinstance(raw, str):
        db.session.execute(update(StaffSession).where(StaffSession.key_hash == hash_token(raw),
                                                      StaffSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def sign_out_everywhere(user, keep_session=None, keep_token=None):
    """Revoke every session and API token of ``user`` except ``keep_session`` (a cookie key) and
    ``keep_token`` (an ApiToken): the caller's own, when people change their own password."""
    now = utcnow()
    for token in user.tokens:
        if token.revoked_at is None and token is not keep_token:
            token.revoked_at = now
    sessions = update(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.revoked_at.is_(None))
    if keep_session:
        sessions = sessions.where(StaffSession.key_hash != hash_token(keep_session))
    db.session.execute(sessions.values(revoked_at=now))


def reset_password(user, password, keep_session=None, keep_token=None):
    """A new password ends every other sign-in of the account: whoever knew the old one is out."""
    user.set_password(password)
    sign_out_everywhere(user, keep_session, keep_token)


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
    """Deactivate and revoke every session and token, so the account is locked out of pages and API at once."""
    user.is_active_flag = False
    sign_out_everywhere(user)


def staff_with_role(*roles):
    from sqlalchemy import or_

    candidates = db.session.scalars(
        select(StaffUser)
        .where(StaffUser.is_active_flag.is_(True), or_(*[StaffUser.roles_csv.contains(r) for r in roles]))
        .order_by(StaffUser.username)
    ).all()
    # the SQL match is by substring ("ops" is inside "devops"); keep only exact role holders
    return [s for s in candidates if s.has_role(*roles)]
