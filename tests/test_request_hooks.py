"""What every request runs around its view: the hook plan (common.hooks + app.PlatformFlask) must run exactly
the hooks plain Flask runs, in Flask's order, minus the extension hooks scoped off that kind of request; and
the security headers (common.headers) must reach every answer, whoever built it."""

import pytest
from flask import Blueprint, Flask, after_this_request, g

from app import PlatformFlask
from common.headers import SecurityHeadersMiddleware
from common.hooks import Scope, not_a_read, not_tenant, not_tenant_api, scoped_hooks

SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def build(cls, calls):
    """An app with hooks at every level Flask has: the app, a blueprint, a blueprint nested in it; several per
    level; a before hook that answers for the view; after_this_request; teardown seeing the exception."""
    app = cls(__name__)
    app.config["TESTING"] = False  # an unhandled error becomes a 500, and teardown sees it
    outer, inner = Blueprint("outer", __name__), Blueprint("inner", __name__)

    def hooks(target, level):
        target.url_value_preprocessor(lambda endpoint, values: calls.append(f"{level}:url"))
        for n in (1, 2):
            target.before_request(lambda n=n: calls.append(f"{level}:before{n}"))

            def after(resp, n=n):
                calls.append(f"{level}:after{n}")
                resp.headers[f"X-{level}-{n}"] = str(len(calls))  # the order the answer went through them
                return resp

            target.after_request(after)
            target.teardown_request(lambda exc, n=n: calls.append(f"{level}:teardown{n}:{type(exc).__name__}"))

    hooks(app, "app")
    hooks(outer, "outer")
    hooks(inner, "inner")

    @app.get("/plain")
    def plain():
        calls.append("view")
        return "plain"

    @outer.route("/o", methods=["GET", "POST"])
    def in_outer():
        @after_this_request
        def once(resp):
            calls.append("after_this_request")
            return resp

        calls.append("view")
        return "outer"

    @inner.get("/i")
    def in_inner():
        calls.append("view")
        return "inner"

    @inner.get("/boom")
    def boom():
        raise RuntimeError("boom")

    @inner.before_request
    def answer_early():
        if g.get("stop"):
            return "stopped"
        return None

    @app.before_request
    def maybe_stop():
        from flask import request

        g.stop = request.args.get("stop") == "1"

    outer.register_blueprint(inner, url_prefix="/in")
    app.register_blueprint(outer, url_prefix="/out")
    return app


REQUESTS = [("GET", "/plain"), ("GET", "/out/o"), ("POST", "/out/o"), ("GET", "/out/in/i"),
            ("GET", "/out/in/i?stop=1"), ("GET", "/out/in/boom"), ("GET", "/nowhere"), ("DELETE", "/plain")]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_the_plan_runs_what_flask_runs_in_flasks_order(method, path):
    seen = {}
    for cls in (Flask, PlatformFlask):
        calls = []
        app = build(cls, calls)
        for _attempt in range(2):  # the second request of a kind runs from the plan made by the first
            calls.clear()
            resp = app.test_client().open(path, method=method)
            headers = sorted((k, v) for k, v in resp.headers.items() if k.startswith("X-"))
            seen.setdefault(cls.__name__, []).append((resp.status_code, resp.get_data(), list(calls), headers))
    assert seen["PlatformFlask"] == seen["Flask"]
    status, _body, calls, _headers = seen["Flask"][0]
    assert calls and calls[-1].startswith("app:teardown")  # the hooks did run (this test can fail)
    if path == "/out/in/boom":
        assert status == 500 and "app:teardown1:RuntimeError" in calls


class Extension:
    """Stands in for Flask-Limiter, CSRFProtect, Flask-Login: registers app-wide hooks in init_app."""

    def __init__(self, name, calls):
        self.name, self.calls = name, calls

    def init_app(self, app):
        app.before_request(self.before)
        app.after_request(self.after)
        app.teardown_request(self.teardown)

    def before(self):
        self.calls.append(f"{self.name}:before")

    def after(self, resp):
        self.calls.append(f"{self.name}:after")
        return resp

    def teardown(self, exc):
        self.calls.append(f"{self.name}:teardown")


def scoped_app(calls):
    app = PlatformFlask(__name__)
    app.before_request(lambda: calls.append("app:before"))  # registered outside scoped_hooks: always runs
    scoped_hooks(app, not_a_read, Extension("limiter", calls).init_app)
    scoped_hooks(app, not_tenant_api, Extension("csrf", calls).init_app)
    scoped_hooks(app, not_tenant, Extension("login", calls).init_app)
    api = Blueprint("tenant_api", __name__)
    api.route("/t/<code>/api/v1/me", methods=["GET", "POST"])(lambda code: "me")
    pages = Blueprint("tenant", __name__)
    pages.route("/t/<code>/", methods=["GET", "POST"])(lambda code: "home")
    app.register_blueprint(api)
    app.register_blueprint(pages)
    app.route("/staff", methods=["GET", "POST"])(lambda: "staff")
    return app


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/t/a/api/v1/me", set()),
    ("POST", "/t/a/api/v1/me", {"limiter"}),
    ("GET", "/t/a/", {"csrf"}),
    ("POST", "/t/a/", {"csrf", "limiter"}),
    ("GET", "/staff", {"csrf", "login"}),
    ("POST", "/staff", {"csrf", "login", "limiter"}),
    ("GET", "/t/a/nowhere", {"csrf"}),  # no route: no blueprint, but still a tenant's path
])
def test_scoped_extension_hooks_run_only_on_the_requests_they_serve(method, path, expected):
    calls = []
    app = scoped_app(calls)
    client = app.test_client()
    for _attempt in range(2):
        calls.clear()
        client.open(path, method=method)
        ran = {c.split(":")[0] for c in calls} - {"app"}
        assert ran == expected
        assert calls[0] == "app:before"
        for name in expected:  # each scoped extension ran all three of its hooks
            assert [c for c in calls if c.startswith(name)] == [f"{name}:before", f"{name}:after", f"{name}:teardown"]


def test_a_scope_sees_only_the_kind_of_request():
    seen = []
    app = PlatformFlask(__name__)
    scoped_hooks(app, lambda scope: seen.append(scope) or True, Extension("x", []).init_app)
    app.route("/t/a/x", methods=["POST"])(lambda: "x")
    client = app.test_client()
    client.post("/t/a/x?any=thing", headers={"Cookie": "c=1"})
    client.post("/t/a/x?other=query")
    assert seen == [Scope(blueprint=None, method="POST", tenant_path=True)] * 3  # asked once per hook, then planned


# ---------------------------------------------------------------------------- security headers


def wsgi_answer(path, headers, exc_info=None):
    def inner_app(environ, start_response):
        if exc_info:
            start_response("500 INTERNAL SERVER ERROR", list(headers), exc_info)
        else:
            start_response("200 OK", list(headers))
        return [b"ok"]

    got = {}

    def start_response(status, response_headers, exc=None):
        got.update(status=status, headers=response_headers, exc_info=exc)

    body = SecurityHeadersMiddleware(inner_app)({"PATH_INFO": path}, start_response)
    assert b"".join(body) == b"ok"
    return got


def test_security_headers_are_added_once_and_a_views_own_are_kept():
    got = wsgi_answer("/enterprises/", [("Content-Type", "text/html"), ("x-frame-options", "SAMEORIGIN")])
    names = [name.lower() for name, _v in got["headers"]]
    assert len(names) == len(set(names))  # nothing twice
    assert dict(got["headers"])["x-frame-options"] == "SAMEORIGIN"  # the view's own, whatever its spelling
    assert dict(got["headers"])["X-Content-Type-Options"] == "nosniff"
    assert "cache-control" not in names  # a page: the browser's normal caching rules


@pytest.mark.parametrize("path", ["/api/v1/enterprises", "/t/qy1/api/v1/me"])
def test_api_answers_are_not_stored_unless_they_say_how(path):
    assert dict(wsgi_answer(path, [])["headers"])["Cache-Control"] == "no-store"
    kept = wsgi_answer(path, [("Cache-Control", "private, max-age=60")])["headers"]
    assert [v for k, v in kept if k.lower() == "cache-control"] == ["private, max-age=60"]


def test_an_error_answer_passes_its_exc_info_on():
    error = (RuntimeError, RuntimeError("x"), None)
    got = wsgi_answer("/x", [], exc_info=error)
    assert got["exc_info"] is error and dict(got["headers"])["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/login", 200),  # a staff page
    ("GET", "/static/admin.css", 200),  # a static file
    ("GET", "/no/such/page", 404),  # werkzeug's routing answers, no view ran
    ("DELETE", "/login", 405),
    ("GET", "/api/v1/enterprises", 401),  # the control plane's API, refused
    ("GET", "/t/qy000000000000/api/v1/me", 404),  # a tenant API path naming no company
])
def test_every_answer_of_the_real_app_carries_the_security_headers(client, method, path, status):
    with client.open(path, method=method) as resp:  # a file answer holds the file open until closed
        assert resp.status_code == status
        for name, value in SECURITY.items():
            assert resp.headers.getlist(name) == [value]
        assert (resp.headers.get("Cache-Control") == "no-store") == ("/api/" in path)


def test_the_real_app_plans_its_tenant_api_reads_without_the_extensions(app):
    """A tenant API read runs none of the rate limiter's, CSRF's or Flask-Login's app-wide hooks; a staff POST
    runs all of them."""
    from extensions import csrf, limiter, login_manager

    def owners(funcs):
        return {getattr(getattr(f, "__self__", None), "__class__", type(None)).__name__ for f in funcs} | {
            getattr(f, "__qualname__", "").split(".")[0] for f in funcs}

    with app.test_request_context("/t/qy1/api/v1/me", method="GET") as ctx:
        ctx.request.url_rule, ctx.request.view_args = app.url_map.bind("localhost").match(
            "/t/qy1/api/v1/me", return_rule=True)
        read = app.hook_plans.for_request(ctx.request)
    with app.test_request_context("/login", method="POST") as ctx:
        ctx.request.url_rule, ctx.request.view_args = app.url_map.bind("localhost").match(
            "/login", method="POST", return_rule=True)
        staff_post = app.hook_plans.for_request(ctx.request)
    extension_classes = {type(limiter).__name__, type(login_manager).__name__, "CSRFProtect"}
    assert type(csrf).__name__ == "CSRFProtect"
    for plan_part in ("before", "after", "teardown"):
        assert not owners(getattr(read, plan_part)) & extension_classes
    assert {type(limiter).__name__, "CSRFProtect"} <= owners(staff_post.before)
    assert type(login_manager).__name__ in owners(staff_post.after)


def test_the_control_session_is_still_removed_with_its_app_context(app):
    """Flask-SQLAlchemy's teardown runs only for contexts that made a control-database session (app.py); one
    that made one must still have it closed and forgotten when the context ends."""
    from sqlalchemy import text

    from extensions import db

    registry = db.session.registry
    with app.app_context():
        key = registry.scopefunc()
        assert not registry.has()  # nothing made yet: the teardown will have nothing to do
    with app.app_context():
        key = registry.scopefunc()
        session = db.session()
        session.execute(text("SELECT 1"))
        assert registry.has() and session.in_transaction()
    assert key not in registry.registry  # forgotten
    assert not session.in_transaction()  # and closed: its connection went back to the pool


def test_g_behaves_as_flasks_own(app):
    """``g`` is ``app.Globals``: set and deleted without Flask's Python-level methods, otherwise the same."""
    from flask.ctx import _AppCtxGlobals

    for cls in (_AppCtxGlobals, type(app.app_ctx_globals_class())):
        ns = cls()
        ns.tenant = "a"
        assert ns.tenant == "a" and "tenant" in ns and ns.get("tenant") == "a" and list(ns) == ["tenant"]
        del ns.tenant
        with pytest.raises(AttributeError):
            del ns.tenant
        with pytest.raises(AttributeError):
            _ = ns.tenant
        assert ns.pop("tenant", None) is None and ns.setdefault("x", 1) == 1 and ns.x == 1
    with app.test_request_context("/"):
        g.user = 1
        assert g.get("user") == 1 and g.pop("user") == 1 and "user" not in g
