"""The CRM each tenant's users work in, always on that tenant's own database."""


def init_app(app):
    from common.errors import PAGE_RENDERERS
    from datasource_registry.provisioning import PROVISION_HOOKS
    from datasource_registry.tenant_users import USER_FINDERS
    from extensions import csrf

    from . import password_views  # noqa: F401 - adds the password pages and API to the blueprints
    from .auth import user_for_support
    from .bulkhead import Bulkhead
    from .provisioning import create_first_admin
    from .routing import TenantRoutingMiddleware
    from .views import api, bp, render_error_page

    if create_first_admin not in PROVISION_HOOKS:
        PROVISION_HOOKS.append(create_first_admin)
    if user_for_support not in USER_FINDERS:
        USER_FINDERS.append(user_for_support)
    PAGE_RENDERERS["/t/"] = render_error_page  # every error under a tenant's path, in the tenant's own look
    app.extensions["tenant_bulkhead"] = Bulkhead()
    csrf.exempt(api)  # bearer tokens only
    app.register_blueprint(bp)
    app.register_blueprint(api)
    app.wsgi_app = TenantRoutingMiddleware(app.wsgi_app, app)

    @app.context_processor
    def tenant_globals():
        from flask import g

        info = g.get("tenant_info")
        return {"tenant_name": info.name if info else None, "tenant_user": g.get("tenant_user"),
                "impersonator": g.get("impersonator")}
