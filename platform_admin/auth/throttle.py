"""Login throttling: only failed attempts count, per username and per client IP; a breach is audited."""

from flask import current_app, g, request

from extensions import db, limiter
from platform_admin.audit.recorder import record


def _username_key():
    data = request.get_json(silent=True) if request.is_json else None
    username = (data or {}).get("username") if isinstance(data, dict) else request.form.get("username")
    return f"login-user:{str(username or '').strip().lower()}"


def _ip_key():
    return f"login-ip:{request.remote_addr}"


def _failed(response):
    return response.status_code == 401 or g.get("login_failed", False)


def _breach(limit):
    record(db.session, "login_throttled", "staff_user", None,
           after={"username": _username_key().split(":", 1)[1], "limit": str(limit.limit)})
    db.session.commit()


def login_limits(view):
    view = limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_USER"], key_func=_username_key,
                         deduct_when=_failed, on_breach=_breach, methods=["POST"])(view)
    return limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], key_func=_ip_key,
                         deduct_when=_failed, on_breach=_breach, methods=["POST"])(view)


def record_failure(username):
    g.login_failed = True
    record(db.session, "login_failed", "staff_user", None, after={"username": str(username or "")[:64]})
    db.session.commit()
