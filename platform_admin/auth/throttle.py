"""Login throttling: only failed attempts count, per account and per client IP; a breach is audited.

The per-account key is the folded name of the account the attempt reaches, so every spelling the
lookup accepts (``" admin"``, ``"ADMIN"``, ``"ádmin"`` on MariaDB) counts against that account. When no
account matches, the key is the folded typed name, which is at least as coarse as the lookup: a name
behaves the same under the throttle whether or not an account has it.
"""

from flask import current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from common.usernames import fold_username, submitted_username
from extensions import db, limiter
from platform_admin.audit.recorder import record

from .services import find_staff


def _account_key():
    if "login_account_key" not in g:
        name = submitted_username()
        try:
            user = find_staff(name) if name.strip() else None
        except SQLAlchemyError:  # a key function must not fail (the limiter would blame its storage)
            db.session.rollback()
            user = None
        g.login_account_key = f"login-user:{fold_username(user.username if user else name)}"
    return g.login_account_key


def _ip_key():
    return f"login-ip:{request.remote_addr}"


def _failed(response):
    return response.status_code == 401 or g.get("login_failed", False)


def _breach(limit):
    record(db.session, "login_throttled", "staff_user", None,
           after={"username": submitted_username()[:64], "key": _account_key().split(":", 1)[1],
                  "limit": str(limit.limit)})
    db.session.commit()


def login_limits(view):
    """The sign-in page and the token endpoint share one count (a shared scope), so a locked account
    gets no fresh tries through the other door."""
    view = limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_USER"], scope="staff-login",
                                key_func=_account_key, deduct_when=_failed, on_breach=_breach, methods=["POST"])(view)
    return limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], scope="staff-login",
                                key_func=_ip_key, deduct_when=_failed, on_breach=_breach, methods=["POST"])(view)


def record_failure(username):
    g.login_failed = True
    record(db.session, "login_failed", "staff_user", None, after={"username": str(username or "")[:64]})
    db.session.commit()
