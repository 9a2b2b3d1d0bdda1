"""Tenant users sign in against their own tenant's database. A session or token is bound to exactly one
tenant: another tenant refuses it before looking anything up."""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, session
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .context import current_tenant
from .models import SysToken, SysUser, utcnow

SESSION_KEY = "tenant_auth"
TOKEN_TTL = timedelta(hours=12)


def hash_token(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def authenticate(username, password):
    user = current_tenant.session.scalar(select(SysUser).where(SysUser.username == (username or "").strip()))
    if user is None:
        generate_password_hash(password or "x", method=current_app.config["PASSWORD_HASH_METHOD"])  # equal timing
        return None
    if not user.is_enabled or not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_time = utcnow()
    return user


def login_session(user, impersonator=None):
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = {"tenant_id": current_tenant.tenant_id, "user_id": user.id, "impersonator": impersonator}


def logout_session():
    session.pop(SESSION_KEY, None)


def issue_token(user):
    raw = f"{current_tenant.tenant_id}.{secrets.token_urlsafe(32)}"
    current_tenant.session.add(SysToken(user_id=user.id, token_hash=hash_token(raw), expires_at=utcnow() + TOKEN_TTL))
    return raw


def _user(user_id, tenant=None):
    user = (tenant or current_tenant).session.get(SysUser, user_id)
    return user if user is not None and user.is_enabled else None


def user_from_session():
    auth = session.get(SESSION_KEY)
    if not auth or auth.get("tenant_id") != current_tenant.tenant_id:
        return None  # another tenant's session is nobody here
    g.impersonator = auth.get("impersonator")
    return _user(auth["user_id"])


def user_from_token(header):
    if not header.lower().startswith("bearer "):
        return None
    raw = header[7:].strip()
    tenant = g.tenant  # the hot path of every API call: one lookup instead of a proxy per use
    prefix, _, _rest = raw.partition(".")
    if prefix != str(tenant.tenant_id):
        return None  # another tenant's token: refused without a lookup
    token = tenant.session.scalar(select(SysToken).where(SysToken.token_hash == hash_token(raw)))
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    # At most once per TENANT_TOKEN_TOUCH_INTERVAL: a read must not cost a write and a disk flush.
    interval = timedelta(seconds=current_app.config.get("TENANT_TOKEN_TOUCH_INTERVAL", 60))
    if token.last_used_at is None or now - token.last_used_at >= interval:
        token.last_used_at = now
    g.tenant_token = token
    return _user(token.user_id, tenant)
