"""The CRM each tenant's users work in, always on that tenant's own database."""


def init_app(app):
    from datasource_registry.provisioning import PROVISION_HOOKS
    from extensions import csrf

    from .bulkhead import Bulkhead
    from .provisioning import create_first_admin
    from .routing import TenantRoutingMiddleware
    from .views import api, bp

    if create_first_admin not in PROVISION_HOOKS:
        PROVISION_HOOKS.append(create_first_admin)
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
