"""The CRM each tenant's users work in, always on that tenant's own database."""


def init_app(app):
    """Tenant routing and CRM blueprints register here (tenancy milestone)."""
