"""Throttles for the public registration endpoints: per phone and per client IP.

When the throttle store (Redis) does not answer, Flask-Limiter counts in this process's memory instead
(``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``): registration stays possible, still throttled per process,
because a registration costs nothing and needs an SMS code whose wrong guesses the database counts. SMS
codes fail closed: each one costs money and per-process counting would multiply the allowance by the
number of processes, so none is sent until the shared count is back (``counted_in_shared_store``).
"""

from flask import current_app, g, request

from extensions import limiter


def _phone_key():
    data = request.get_json(silent=True) if request.is_json else None
    phone = (data or {}).get("phone") if isinstance(data, dict) else request.form.get("phone")
    return f"sms-phone:{''.join(ch for ch in str(phone or '') if ch.isdigit())[-11:]}"


def _ip_key():
    return f"ip:{request.remote_addr}"


def _action_is(action):
    if action is None:
        return None
    return lambda: request.form.get("action", "register") != action


def sms_limits(only_action=None, on_breach=None):
    """1 code a minute and 5 an hour per phone, 20 an hour per IP (configurable). ``on_breach(limit)`` may
    answer a throttled request itself (the page shows its form again)."""
    exempt = _action_is(only_action)

    def wrap(view):
        # Only codes actually sent count against a phone, so a typo does not lock the number out.
        view = limiter.limit(lambda: current_app.config["SMS_LIMIT_PER_PHONE"], key_func=_phone_key,
                             methods=["POST"], exempt_when=exempt, deduct_when=lambda resp: g.get("sms_sent", False),
                             on_breach=on_breach)(view)
        return limiter.limit(lambda: current_app.config["SMS_LIMIT_PER_IP"], key_func=_ip_key,
                             methods=["POST"], exempt_when=exempt, on_breach=on_breach)(view)
    return wrap


def register_limits(only_action=None, on_breach=None):
    exempt = _action_is(only_action)

    def wrap(view):
        return limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_IP"], key_func=_ip_key,
                             methods=["POST"], exempt_when=exempt, on_breach=on_breach)(view)
    return wrap


def counted_in_shared_store():
    """Whether this request's limits were counted in the configured store, not the in-memory fallback
    Flask-Limiter switches to while that store does not answer (it checks again every few seconds)."""
    return limiter.limiter.storage is limiter.storage
