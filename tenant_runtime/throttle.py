"""Throttling what guesses a tenant user's password: failed attempts only, per account and per client IP.

Per account: the key is the folded name of the account the attempt reaches in this tenant's database
(every spelling the lookup accepts counts against it), or the folded typed name when none matches, which
is at least as coarse (a name behaves the same whether or not it exists). The sign-in page, the token
endpoint and the password change share that count, so no door gives fresh tries.
Per IP: one count across every tenant (TENANT_LOGIN_LIMIT_PER_IP), so spraying many companies from one
address is throttled too; set-password links count there when they are wrong.
"""

from flask import current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from common.usernames import fold_username, submitted_username
from datasource_registry.pool import CapacityExceeded, IdentityMismatch
from extensions import limiter

from . import auth

SCOPE = "tenant-login"


def account_key(username):
    tenant = g.get("tenant")  # resolved by the url_value_preprocessor before a decorated limit is checked
    return f"tenant-login:{tenant.tenant_id if tenant else '-'}:{fold_username(username)}"


def _attempt_key():
    """The account a sign-in attempt names (looked up once per request)."""
    if "login_account_key" not in g:
        name, user = submitted_username(), None
        if name.strip() and g.get("tenant") is not None:
            try:
                user = auth.find_user(name)
            except (SQLAlchemyError, IdentityMismatch, CapacityExceeded):
                # A key function must not fail (the limiter would blame its storage); the view answers 503.
                g.tenant.session.rollback()
        g.login_account_key = account_key(user.username if user else name)
    return g.login_account_key


def _own_key():
    """The signed-in user's account, for checks of the current password."""
    user = g.get("tenant_user")
    return account_key(user.username if user else "")


def _ip_key():
    return f"tenant-login-ip:{request.remote_addr}"


def failed(reason="wrong_password"):
    """Mark this request a failed guess, so the throttles count it whatever its status code."""
    g.login_failed = reason


def _counts(response):
    return response.status_code == 401 or bool(g.get("login_failed"))


def _per_account(key_func):
    return limiter.shared_limit(lambda: current_app.config["LOGIN_LIMIT_PER_USER"], scope=SCOPE, key_func=key_func,
                                deduct_when=_counts, methods=["POST"])


per_ip = limiter.shared_limit(lambda: current_app.config["TENANT_LOGIN_LIMIT_PER_IP"], scope=SCOPE, key_func=_ip_key,
                              deduct_when=_counts, methods=["POST"])


def login_limits(view):
    return per_ip(_per_account(_attempt_key)(view))


def password_check_limits(view):
    return per_ip(_per_account(_own_key)(view))
