"""Per-request work only where it can matter: the app-wide hooks of extensions, scoped to the requests they
serve, and a session that costs nothing when the request carries no cookie.

Every request to the app runs every app-wide ``before_request``/``after_request``/``teardown_request``
hook. A tenant API read (``GET /t/<code>/api/v1/...``, bearer token, no cookie) has no use for the rate
limiter's three hooks (every limit of this app guards a POST and is checked by its decorator), nor for
loading a cookie session it does not send; measured in ``bench/bench_routed_read.py``, they were a good
part of what a routed read cost more than the same read in a plain Flask app.
"""

from __future__ import annotations

import functools

from flask import request
from flask.sessions import SecureCookieSessionInterface

READS = frozenset({"GET", "HEAD", "OPTIONS"})

_HOOK_LISTS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


def scoped_hooks(app, applies, install):
    """Run ``install(app)`` (an extension's ``init_app``) and make the app-wide request hooks it registers run
    only on requests for which ``applies()`` is true. Nothing else the extension does is changed (decorators,
    blueprint hooks, error handlers)."""
    before = {name: list(getattr(app, name).get(None, ())) for name in _HOOK_LISTS}
    result = install(app)
    for name in _HOOK_LISTS:
        funcs = getattr(app, name).get(None)
        if not funcs:
            continue
        known = before[name]
        for i, fn in enumerate(funcs):
            if fn not in known:
                funcs[i] = _only_when(applies, fn, passthrough=name == "after_request_funcs")
    return result


def _only_when(applies, fn, passthrough):
    @functools.wraps(fn)
    def hook(*args):
        if applies():
            return fn(*args)
        return args[0] if passthrough else None  # an after_request hook hands the response on

    return hook


def not_a_read():
    """The request may change something (the only requests the rate limiter has anything to do for)."""
    return request.method not in READS


def not_tenant_api():
    """Anything but a tenant's API (its blueprint: bearer tokens only, no cookie session, CSRF-exempt)."""
    return request.blueprint != "tenant_api"


def not_tenant():
    """Anything but a tenant's pages and API (where nobody signs in with Flask-Login)."""
    return not request.path.startswith("/t/")


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, except that a request without the cookie gets an empty session without
    building the signing serializer (a key derivation and several objects per request) first, and a session
    nobody looked at is not saved."""

    def save_session(self, app, session, response):
        if not session and not session.accessed and not session.modified:
            return  # exactly what Flask's would do for it (nothing), without first reading six settings
        super().save_session(app, session, response)

    def open_session(self, app, request):
        if app.secret_key and (not request.environ.get("HTTP_COOKIE")
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)
