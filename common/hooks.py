"""Per-request work only where it can matter: the app-wide hooks of extensions, scoped to the requests they
serve, a hook plan made once per kind of request, and a session that costs nothing when the request carries
no cookie.

Flask runs every app-wide ``before_request``/``after_request``/``teardown_request`` hook on every request,
and asks ``ensure_sync`` about each one every time. A tenant API read (``GET /t/<code>/api/v1/...``, bearer
token, no cookie) has no use for the rate limiter's three hooks (every limit of this app guards a POST and
is checked by its decorator), for CSRF's, or for Flask-Login's; measured in ``bench/bench_routed_read.py``,
such per-request work was most of what a routed read cost more than the same read in a plain Flask app.

So ``scoped_hooks`` records, for each app-wide hook an extension registers, the *scope* of requests it
serves: a function of a ``Scope`` (the request's blueprint, method and whether its path is under ``/t/``;
nothing else, so that the answer is the same for every request of that kind). ``PlatformFlask`` (app.py)
then builds, per kind of request, the one list of hooks to run, made sync once (``HookPlans``), and runs
exactly what Flask would run, in Flask's order, minus the hooks whose scope says no.
"""

from __future__ import annotations

from itertools import chain
from typing import NamedTuple

from flask.sessions import SecureCookieSessionInterface

READS = frozenset({"GET", "HEAD", "OPTIONS"})

_HOOK_LISTS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")
_PLAN = "common.hooks.plan"  # where a request keeps its plan


class Scope(NamedTuple):
    """What a hook's scope may know of a request: all requests with the same three values get the same hooks."""

    blueprint: str | None  # the endpoint's blueprint (None: the app itself, or no route matched)
    method: str
    tenant_path: bool  # the path is under /t/ (a tenant's pages and API)


def scoped_hooks(app, applies, install):
    """Run ``install(app)`` (an extension's ``init_app``) and run the app-wide request hooks it registers only
    on requests whose ``Scope`` ``applies(scope)`` accepts. Nothing else the extension does is changed
    (decorators, blueprint hooks, error handlers). ``app`` is a ``PlatformFlask``: its ``hook_plans`` keep the
    scopes."""
    before = {name: list(getattr(app, name).get(None, ())) for name in _HOOK_LISTS}
    result = install(app)
    for name in _HOOK_LISTS:
        for fn in getattr(app, name).get(None, ()):
            if fn not in before[name]:
                app.hook_plans.scopes[fn] = applies
    return result


def not_a_read(scope):
    """The request may change something (the only requests the rate limiter has anything to do for)."""
    return scope.method not in READS


def not_tenant_api(scope):
    """Anything but a tenant's API (its blueprint: bearer tokens only, no cookie session, CSRF-exempt)."""
    return scope.blueprint != "tenant_api"


def not_tenant(scope):
    """Anything but a tenant's pages and API (where nobody signs in with Flask-Login)."""
    return not scope.tenant_path


class HookPlan(NamedTuple):
    """The hooks one kind of request runs, in the order Flask runs them, each already made sync."""

    url_value_preprocessors: tuple
    before: tuple
    after: tuple
    teardown: tuple


class HookPlans:
    """Hook plans per ``Scope``, made on first use. Hooks are registered before the first request (Flask
    refuses setup methods after it), so a plan never goes stale."""

    def __init__(self, app):
        self.app = app
        self.scopes = {}  # hook function -> applies(scope); hooks not in it run on every request
        self._plans = {}

    def for_request(self, req):
        """The request's plan (kept on it: its hooks run in three phases)."""
        plan = req.__dict__.get(_PLAN)
        if plan is None:
            key = (req.blueprint, req.method, req.path.startswith("/t/"))
            plan = self._plans.get(key)
            if plan is None:
                plan = self._plans[key] = self._make(Scope(*key), req.blueprints)
            req.__dict__[_PLAN] = plan
        return plan

    def _make(self, scope, blueprints):
        app, scopes = self.app, self.scopes

        def hooks(funcs_by_name, names, newest_first=False):
            found = []
            for name in names:
                funcs = funcs_by_name.get(name, ())
                for fn in reversed(funcs) if newest_first else funcs:
                    applies = scopes.get(fn)
                    if applies is None or applies(scope):
                        found.append(app.ensure_sync(fn))
            return tuple(found)

        down = (None, *reversed(blueprints))  # app first, then the blueprints from the outermost in
        up = tuple(chain(blueprints, (None,)))  # the innermost blueprint first, the app last
        return HookPlan(
            url_value_preprocessors=tuple(fn for name in down for fn in app.url_value_preprocessors.get(name, ())),
            before=hooks(app.before_request_funcs, down),
            after=hooks(app.after_request_funcs, up, newest_first=True),
            teardown=hooks(app.teardown_request_funcs, up, newest_first=True),
        )


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
