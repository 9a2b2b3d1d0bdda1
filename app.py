"""Application factory."""

import os
import sys
import weakref

from flask import Flask
from flask.ctx import _AppCtxGlobals
from flask.globals import request_ctx
from flask.signals import request_tearing_down
from werkzeug.middleware.proxy_fix import ProxyFix

import datasource_registry
import platform_admin
import tenant_runtime
from common.db import control_engine_options
from common.hooks import (
    CookieSessionInterface,
    HookPlans,
    not_a_read,
    not_tenant,
    not_tenant_api,
    scoped_hooks,
)
from common.jsonio import BoundedJSONProvider
from common.sqlite import use_wal
from config import config_from_env
from datasource_registry.tls import TlsSetting
from datasource_registry.tls import install as install_tls
from extensions import babel, csrf, db, limiter, login_manager, migrate

_UNSET = object()


class Globals(_AppCtxGlobals):
    """Flask's ``g``, set and deleted by the interpreter itself: Flask's own ``__setattr__``/``__delattr__`` do
    exactly what ``object``'s do (the attribute goes into, or out of, the instance's ``__dict__``), but as
    Python calls, and a tenant request sets five attributes on ``g``."""

    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__


class PlatformFlask(Flask):
    """Flask that runs each request's hooks from a plan made once per kind of request (``common.hooks``):
    the same hooks Flask would run, in Flask's order, minus app-wide hooks scoped off that kind of request,
    each already made sync. Flask itself, per request, walks the hook dictionaries, asks ``ensure_sync``
    (``inspect.iscoroutinefunction``) of every hook, and would run every extension's app-wide hooks.

    ``ensure_sync`` is also remembered per function for views. Functions are held weakly, so bound methods
    made per call do not pile up."""

    app_ctx_globals_class = Globals
    json_provider_class = BoundedJSONProvider

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync = weakref.WeakKeyDictionary()
        self.hook_plans = HookPlans(self)

    def ensure_sync(self, func):
        try:
            return self._sync[func]
        except KeyError:
            pass
        except TypeError:  # neither hashable nor weakly referable: ask every time
            return super().ensure_sync(func)
        sync = self._sync[func] = super().ensure_sync(func)
        return sync

    # The three methods below are Flask 3.1's, reading the hooks from the request's plan.

    def preprocess_request(self):
        req = request_ctx._get_current_object().request
        plan = self.hook_plans.for_request(req)
        for url_func in plan.url_value_preprocessors:
            url_func(req.endpoint, req.view_args)
        for before_func in plan.before:
            rv = before_func()
            if rv is not None:
                return rv
        return None

    def process_response(self, response):
        ctx = request_ctx._get_current_object()
        for func in ctx._after_request_functions:  # after_this_request: per request, so not in the plan
            response = self.ensure_sync(func)(response)
        for func in self.hook_plans.for_request(ctx.request).after:
            response = func(response)
        if not self.session_interface.is_null_session(ctx._session):
            self.session_interface.save_session(self, ctx._session, response)
        return response

    def do_teardown_request(self, exc=_UNSET):
        if exc is _UNSET:
            exc = sys.exc_info()[1]
        for func in self.hook_plans.for_request(request_ctx._get_current_object().request).teardown:
            func(exc)
        request_tearing_down.send(self, _async_wrapper=self.ensure_sync, exc=exc)


def _remove_control_session_only_if_made(app):
    """Flask-SQLAlchemy ends every app context by removing the control database's session, and for a context
    that never made one (a tenant request served from the resolver cache: most requests) that removal raises
    and catches a KeyError. The same removal, only when a session was made."""
    funcs = app.teardown_appcontext_funcs
    registry = db.session.registry

    def remove_control_session(exc):
        if registry.has():
            db.session.remove()

    funcs[funcs.index(db._teardown_session)] = remove_control_session


def create_app(config_object=None):
    config_object = config_object or config_from_env()
    if hasattr(config_object, "check"):
        config_object.check()
    app = PlatformFlask(__name__, instance_path=config_object.INSTANCE_PATH, template_folder="templates",
                static_folder="platform_admin/static", static_url_path="/static")
    app.config.from_object(config_object)
    app.session_interface = CookieSessionInterface()  # no cookie, no serializer to build
    os.makedirs(app.instance_path, exist_ok=True)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = control_engine_options(app.config)
    db.init_app(app)
    _remove_control_session_only_if_made(app)
    # The control database's new connections: TLS as CONTROL_DB_TLS says with the process's one SSL context
    # (PyMySQL would build one per connection, ~25 ms of CPU each) and the session set up in one round trip.
    control_tls = TlsSetting.from_config(app.config, "CONTROL_DB_TLS")
    with app.app_context():
        for engine in db.engines.values():
            install_tls(engine, control_tls)
            use_wal(engine)  # the embedded default's control database: readers and the writer side by side
    migrate.init_app(app, db, render_as_batch=True, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    # No ``current_user`` in templates (none uses it): rendering a page, an error page above all, must not
    # load the staff user from the control database.
    # Its one hook refreshes the staff's remember-me cookie after a staff sign-in or sign-out: never under /t/.
    scoped_hooks(app, not_tenant, lambda a: login_manager.init_app(a, add_context_processor=False))
    # The tenant API is CSRF-exempt (bearer tokens only), so its requests skip the check's hook altogether.
    scoped_hooks(app, not_tenant_api, csrf.init_app)
    # every limit guards a POST and is checked by its decorator: reads skip the limiter's app-wide hooks
    scoped_hooks(app, not_a_read, limiter.init_app)
    platform_admin.init_babel(app, babel)

    datasource_registry.init_app(app)
    platform_admin.init_app(app)
    tenant_runtime.init_app(app)
    return app
