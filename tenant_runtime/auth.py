"""Tenant users sign in against their own tenant's database. A session or token is bound to exactly one
tenant: another tenant refuses it before looking anything up.

A browser session is a row in the tenant's ``sys_session`` (the cookie carries a random key, the row its
hash), so signing out, changing the password or disabling the user ends it for good, copied cookies
included. Checking it is one indexed lookup per request."""

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, session
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import defer, joinedload, lazyload, load_only, object_session
from werkzeug.security import check_password_hash, generate_password_hash

from common.errors import ApiError, Invalid

from .context import current_tenant
from .models import USER_STATUS_ENABLED, SysDept, SysSession, SysToken, SysUser, utcnow
from .people.models import SysRole

SESSION_KEY = "tenant_auth"
TOKEN_TTL = timedelta(hours=12)
# The password hash of a user who has none yet (the first administrator until the set-password link is
# used): no hash method produces it, so no password matches it.
NO_PASSWORD = "!"
# A user's row as a request needs it: the password hash and timestamps are left out (a column's description
# costs as much to parse as a short value) and load on first use, which only signing in and changing a
# password do.
USER_COLUMNS = (defer(SysUser.password_hash), defer(SysUser.last_login_time), defer(SysUser.created_at),
                defer(SysUser.updated_at))
# A user as others see them (an owner's name on a list, whether they are still enabled): those columns and
# not their roles, which would otherwise come along with the roles' departments (two more statements).
SHOWN_USER = (lazyload(SysUser.roles), *USER_COLUMNS)
# The signed-in user is read with their roles and each role's departments joined in the same statement
# (instead of two more "selectin" round trips): the request's permissions and data scope come from them.
# Their own department comes along (a list of their own customers names it without reading it again).
# Of the roles and departments only what a request uses: the role's code, scope and permissions, the
# department's name.
WITH_ROLES = (*USER_COLUMNS,
              joinedload(SysUser.roles).load_only(SysRole.code, SysRole.data_scope, SysRole.permissions)
              .joinedload(SysRole.depts),
              joinedload(SysUser.dept).load_only(SysDept.dept_name, SysDept.parent_id))
TOKEN_COLUMNS = load_only(SysToken.user_id, SysToken.expires_at, SysToken.revoked_at, SysToken.last_used_at)
# Every API request's first statement, and every signed-in page's, built once with the hash as a parameter:
# SQLAlchemy finds a statement's compiled form by a key it computes from the whole statement, loader options
# included, once per statement object (about 0.3 ms for these, more than the round trip itself).
TOKEN_LOOKUP = (select(SysToken, SysUser).join(SysUser, SysUser.id == SysToken.user_id)
                .where(SysToken.token_hash == bindparam("token_hash")).options(TOKEN_COLUMNS, *WITH_ROLES))
SESSION_LOOKUP = (select(SysUser).join(SysSession, SysSession.user_id == SysUser.id)
                  .where(SysSession.session_hash == bindparam("session_hash"), SysSession.revoked_at.is_(None),
                         SysSession.expires_at > bindparam("now")).options(*WITH_ROLES))


def hash_token(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def hash_password(password):
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def find_user(username):
    """The user signing in as ``username``, its case ignored: MariaDB's collation ignores it (and the column's
    index serves the comparison); on SQLite, which compares bytes, both sides are lowered."""
    name, session = (username or "").strip(), current_tenant.session
    if session.get_bind().dialect.name == "sqlite":
        return session.scalar(select(SysUser).where(func.lower(SysUser.username) == name.lower()).limit(1))
    return session.scalar(select(SysUser).where(SysUser.username == name))


def password_matches(user, password):
    if user.password_hash == NO_PASSWORD:
        hash_password(password or "x")  # equal timing: an account without a password looks like any other
        return False
    return check_password_hash(user.password_hash, password or "")


def authenticate(username, password):
    user = find_user(username)
    if user is None:
        hash_password(password or "x")  # equal timing
        return None
    if not user.is_enabled or not password_matches(user, password):
        return None
    user.last_login_time = utcnow()
    return user


def login_session(user, impersonator=None):
    """Start a browser session for ``user`` (committed at once: the cookie must never name a row that
    is not there). ``impersonator`` names the support staff acting as the user, for the banner."""
    db, now, raw = current_tenant.session, utcnow(), secrets.token_urlsafe(32)
    db.execute(delete(SysSession).where(SysSession.user_id == user.id, SysSession.expires_at <= now))
    db.add(SysSession(user_id=user.id, session_hash=hash_token(raw), created_at=now,
                      expires_at=now + current_app.config["PERMANENT_SESSION_LIFETIME"]))
    db.commit()
    session.pop(SESSION_KEY, None)
    session[SESSION_KEY] = {"tenant_id": current_tenant.tenant_id, "key": raw, "impersonator": impersonator}


def current_session_key():
    auth = session.get(SESSION_KEY)
    return auth.get("key") if isinstance(auth, dict) else None


def logout_session():
    raw = current_session_key()
    if isinstance(raw, str) and g.get("tenant") is not None:
        db = current_tenant.session
        db.execute(update(SysSession).where(SysSession.session_hash == hash_token(raw), SysSession.revoked_at.is_(None))
                   .values(revoked_at=utcnow()))
        db.commit()
    session.pop(SESSION_KEY, None)


def sign_out_everywhere(user, keep_session=None, keep_token=None):
    """Revoke every session and token of ``user`` except ``keep_session`` (a cookie key) and
    ``keep_token`` (a SysToken): the ones the user is changing the password from. The caller commits."""
    db, now = object_session(user) or current_tenant.session, utcnow()
    sessions = update(SysSession).where(SysSession.user_id == user.id, SysSession.revoked_at.is_(None))
    if keep_session:
        sessions = sessions.where(SysSession.session_hash != hash_token(keep_session))
    db.execute(sessions.values(revoked_at=now))
    tokens = update(SysToken).where(SysToken.user_id == user.id, SysToken.revoked_at.is_(None))
    if keep_token is not None:
        tokens = tokens.where(SysToken.id != keep_token.id)
    db.execute(tokens.values(revoked_at=now))


def set_password(user, password, keep_session=None, keep_token=None):
    """A new password, and whoever signed in with the old one is out (but the caller's own sign-in)."""
    user.password_hash = hash_password(password)
    sign_out_everywhere(user, keep_session, keep_token)


def change_password(user, current_password, new_password, keep_session=None, keep_token=None):
    """Users change their own password: the current one first (422 naming it when wrong), then the new
    one, and every other session and token of theirs is revoked. The caller commits."""
    if g.get("impersonator"):
        raise ApiError(403, "forbidden", _("Support staff cannot change a user's password."))
    if not password_matches(user, current_password):
        raise Invalid({"current_password": [_("This is not your current password.")]})
    set_password(user, new_password, keep_session, keep_token)


def issue_token(user):
    raw = f"{current_tenant.tenant_id}.{secrets.token_urlsafe(32)}"
    current_tenant.session.add(SysToken(user_id=user.id, token_hash=hash_token(raw), expires_at=utcnow() + TOKEN_TTL))
    return raw


def user_from_session():
    auth = session.get(SESSION_KEY)
    if not isinstance(auth, dict) or auth.get("tenant_id") != current_tenant.tenant_id:
        return None  # another tenant's session is nobody here
    raw = auth.get("key")
    if not isinstance(raw, str):
        return None  # a cookie from before sessions were recorded
    user = current_tenant.session.scalars(
        SESSION_LOOKUP, {"session_hash": hash_token(raw), "now": utcnow()}).unique().first()
    if user is None or not user.is_enabled:
        return None
    g.impersonator = auth.get("impersonator")
    return user


def signed_in_to(tenant_id):
    """Whether this browser holds a sign-in for ``tenant_id`` (not checked against the tenant's users: for
    choosing a link, never for access)."""
    auth = session.get(SESSION_KEY)
    return bool(auth) and auth.get("tenant_id") == tenant_id


def user_from_token(header):
    if not header.lower().startswith("bearer "):
        return None
    raw = header[7:].strip()
    ctx = g._get_current_object()  # the hot path of every API call: one lookup instead of a proxy per use
    tenant = ctx.tenant
    prefix, _, _rest = raw.partition(".")
    if prefix != str(tenant.tenant_id):
        return None  # another tenant's token: refused without a lookup
    # the token, its user and the user's roles with their departments (what the data scope is built
    # from, core/scope.py) in one round trip: every API request starts here
    found = tenant.session.execute(TOKEN_LOOKUP, {"token_hash": hash_token(raw)}).unique().first()
    now = utcnow()
    if found is None:
        return None
    token, user = found
    if token.revoked_at is not None or token.expires_at <= now:
        return None
    # At most once per TENANT_TOKEN_TOUCH_INTERVAL: a read must not cost a write and a disk flush.
    interval = timedelta(seconds=current_app.config.get("TENANT_TOKEN_TOUCH_INTERVAL", 60))
    if token.last_used_at is None or now - token.last_used_at >= interval:
        token.last_used_at = now
    ctx.tenant_token = token
    return user if user.is_enabled else None


def user_for_support(connection, username):
    """(username, full name, enabled) of the user ``username`` names, or None: the control plane asks
    before handing out a support pass (registered with ``datasource_registry.tenant_users``)."""
    users = SysUser.__table__
    row = connection.execute(select(users.c.username, users.c.full_name, users.c.status)
                             .where(users.c.username == (username or "").strip())).first()
    if row is None:
        return None
    from datasource_registry.tenant_users import TenantUser

    return TenantUser(username=row.username, full_name=row.full_name, enabled=row.status == USER_STATUS_ENABLED)
