"""Application factory."""

import os
import weakref

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import datasource_registry
import platform_admin
import tenant_runtime
from common.db import control_engine_options
from common.hooks import (
    CookieSessionInterface,
    not_a_read,
    not_tenant,
    not_tenant_api,
    scoped_hooks,
)
from config import config_from_env
from datasource_registry.tls import TlsSetting
from datasource_registry.tls import install as install_tls
from extensions import babel, csrf, db, limiter, login_manager, migrate


class PlatformFlask(Flask):
    """Flask that remembers, per function, what ``ensure_sync`` answered: Flask asks it (through
    ``inspect.iscoroutinefunction``) of every hook, preprocessor and view on every request, and the answer
    for a function never changes. Functions are held weakly, so bound methods made per call do not pile up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync = weakref.WeakKeyDictionary()

    def ensure_sync(self, func):
        try:
            return self._sync[func]
        except KeyError:
            pass
        except TypeError:  # neither hashable nor weakly referable: ask every time
            return super().ensure_sync(func)
        sync = self._sync[func] = super().ensure_sync(func)
        return sync


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
    # The control database's new connections: TLS as CONTROL_DB_TLS says with the process's one SSL context
    # (PyMySQL would build one per connection, ~25 ms of CPU each) and the session set up in one round trip.
    control_tls = TlsSetting.from_config(app.config, "CONTROL_DB_TLS")
    with app.app_context():
        for engine in db.engines.values():
            install_tls(engine, control_tls)
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
