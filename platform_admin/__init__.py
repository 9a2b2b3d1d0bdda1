"""Control plane: staff, onboarding, enterprises, contracts, tenant open/close, audit."""

from flask import current_app, g, has_request_context, request, session

from common.errors import wants_json
from common.headers import SecurityHeadersMiddleware
from extensions import csrf


def select_locale():
    if not has_request_context():  # jobs and CLI speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    supported = current_app.config["LANGUAGES"]
    is_api = wants_json()  # the control plane's API or a tenant's
    lang = request.args.get("lang")
    if lang in supported:  # a page's choice is kept for the session by remember_chosen_language, below
        return lang
    if session.get("lang") in supported:
        return session["lang"]
    staff = g.get("staff")
    if staff is not None and staff.locale in supported:
        return staff.locale
    if is_api and request.accept_languages:
        best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
        if best:
            return "zh_CN" if best.startswith("zh") else "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def init_babel(app, babel):
    import os

    from common.i18n import install_form_translations, speed_up_translations

    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=os.path.join(app.root_path, "translations"))
    speed_up_translations()
    install_form_translations()

    @app.before_request
    def remember_chosen_language():
        """``?lang=`` on a page is the reader's choice even when the page only redirects (to the sign-in page,
        the page asked for in ``next``): kept before anything answers, not when a text is first translated."""
        lang = request.args.get("lang")
        if lang in app.config["LANGUAGES"] and session.get("lang") != lang and not wants_json():
            session["lang"] = lang


def init_app(app):
    from common.errors import register_error_handlers
    from datasource_registry.provisioning import NOTIFY_HOOKS
    from extensions import login_manager

    from . import models  # noqa: F401 - every control-plane table registered with the metadata
    from .audit import recorder  # noqa: F401 - the ORM listener
    from .audit.views import bp as audit_bp
    from .auth import api as _auth_api  # noqa: F401
    from .auth.cli import staff_cli
    from .auth.staff_views import bp as staff_bp
    from .auth.views import bp as auth_bp
    from .cli import demo_cli
    from .common import openapi  # noqa: F401 - adds /api/v1/openapi.json
    from .common.api import api
    from .common.templating import register_template_helpers
    from .contracts import api as _contracts_api  # noqa: F401
    from .contracts.views import bp as contracts_bp
    from .dashboard.views import bp as dashboard_bp
    from .datasources import api as _datasources_api  # noqa: F401
    from .datasources import impersonation as _impersonation  # noqa: F401
    from .datasources.notify import send_first_login
    from .datasources.registry_views import bp as registry_bp
    from .datasources.views import bp as datasources_bp
    from .enterprises import api as _enterprises_api  # noqa: F401
    from .enterprises.views import bp as enterprises_bp
    from .files.views import bp as files_bp
    from .fleet import api as _fleet_api  # noqa: F401
    from .fleet.views import bp as fleet_bp
    from .messaging.views import bp as outbox_bp
    from .onboarding import api as _onboarding_api  # noqa: F401
    from .onboarding.public_views import bp as public_bp
    from .onboarding.views import bp as onboarding_bp
    from .permissions import enforce
    from .schedule import api as _schedule_api  # noqa: F401
    from .schedule.views import bp as schedule_bp

    if send_first_login not in NOTIFY_HOOKS:
        NOTIFY_HOOKS.append(send_first_login)
    from common import messaging

    from .messaging.senders import email_sender, sms_sender

    messaging.register("sms", lambda to, body, **kw: sms_sender().send(to, body, **kw))
    messaging.register("email", lambda to, body, **kw: email_sender().send(to, body, **kw))
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    csrf.exempt(api)  # bearer tokens only; cookies never authorise the API
    for bp in (auth_bp, dashboard_bp, public_bp, onboarding_bp, enterprises_bp, contracts_bp, staff_bp, audit_bp,
               outbox_bp, files_bp, datasources_bp, registry_bp, fleet_bp, schedule_bp, api):
        app.register_blueprint(bp)
    # browsers ask for /favicon.ico wherever a page names no icon (and some always do): the static file
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.ico"))
    app.before_request(enforce)
    register_error_handlers(app)
    register_template_helpers(app)
    app.cli.add_command(staff_cli)
    app.cli.add_command(demo_cli)

    app.wsgi_app = SecurityHeadersMiddleware(app.wsgi_app)
