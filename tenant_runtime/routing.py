"""Taking a request to its tenant: ``/t/<tenant_code>/`` (canonical), or a subdomain, or the
``X-Tenant-Code`` header (API clients), as TENANT_ROUTING allows. Fail closed at every step."""

from flask import current_app, g, request
from flask_babel import gettext as _

from common.errors import DATABASE_UNAVAILABLE, ApiError, log_database_unavailable
from datasource_registry.pool import CapacityExceeded

from .context import TenantContext
from .resolver import lookup

# WSGI environ key: the tenant the request's host names (subdomain routing), set by the middleware.
HOST_TENANT = "tenant_runtime.host_tenant"


class TenantError(ApiError):
    """Rendered as the tenant's friendly page (or JSON for its API)."""


def _lookup(code):
    """The tenant's cached lookup; a 503 when it needs the control database and that does not answer (a
    warm tenant, one looked up within TENANT_CACHE_TTL, is served from the cache without it)."""
    try:
        return lookup(code)
    except DATABASE_UNAVAILABLE as exc:
        log_database_unavailable(exc)
        raise TenantError(503, "platform_unavailable",
                          _("The platform is not available right now. Please try again in a moment.")) from None


def resolve(code):
    info = _lookup(code)
    if info is None:
        raise TenantError(404, "tenant_not_found", _("There is no such company on this platform."))
    ctx = g._get_current_object()  # the hot path of every tenant request: no proxy per use
    ctx.tenant_info = info  # so even a refusal page can name the company
    if not info.is_open:
        if info.opened_before:
            raise TenantError(403, "tenant_closed", _("This company's account is closed. Contact your administrator."))
        # provisioned, its first login sent, not opened yet: the link's page said "closed" to a new client
        error = TenantError(403, "tenant_closed", _("This company's account is not open yet. The link you were "
                                                    "sent works once it is; try again later."))
        error.title = _("Not open yet")
        raise error
    if info.suspended:
        raise TenantError(503, "tenant_suspended", info.suspend_message or _("Under maintenance. Please come back later."))
    if info.target is None:
        raise TenantError(503, "tenant_unavailable", _("This company's database is not available yet."))
    app = current_app._get_current_object()
    _take_slot(app, ctx, info.tenant_id)
    try:
        engine = app.extensions["pool_registry"].engine_for(info.target)
    except CapacityExceeded:
        raise _busy() from None
    tenant = ctx.tenant = TenantContext(info=info, engine=engine)
    return tenant


def _busy():
    return TenantError(503, "tenant_busy", _("Too many requests right now. Please try again in a moment."))


def _take_slot(app, ctx, tenant_id):
    """One of the tenant's request slots in this process (the bulkhead), held until teardown; none free: 503."""
    if ctx.get("tenant_slot") is not None:
        return
    config = app.config
    limit = config.get("TENANT_REQUEST_LIMIT", 4)
    bulkhead = app.extensions["tenant_bulkhead"]
    if not bulkhead.try_enter(tenant_id, limit, config.get("TENANT_SLOT_WAIT", 0.0),
                              config.get("TENANT_SLOT_PROGRESS", 0.0)):
        app.logger.warning("tenant %s busy: %s requests in progress in this process", tenant_id, limit)
        raise _busy()
    ctx.tenant_slot = (bulkhead, tenant_id)  # given back in teardown without looking the bulkhead up again


def pull_tenant_code(endpoint, values):
    """url_value_preprocessor for tenant blueprints."""
    code = values.pop("tenant_code", None) if values else None
    environ = request.environ
    header = environ.get("HTTP_X_TENANT_CODE")  # what request.headers.get("X-Tenant-Code") reads
    if header and code and header.strip().lower() != code.lower():
        raise TenantError(400, "tenant_mismatch", _("The X-Tenant-Code header names another company."))
    host = environ.get(HOST_TENANT)
    if host and code and host != code.lower():
        # /t/<b>/ on a.<base>: the host's cookies and links belong to a; never serve b there.
        raise TenantError(400, "tenant_mismatch", _("The path names a different company from the host name."))
    resolve(code)


def push_tenant_code(endpoint, values):
    """url_defaults: links inside a tenant stay inside it."""
    if "tenant_code" not in values and g.get("tenant") is not None:
        values["tenant_code"] = g.tenant.code


def close_tenant_session(exc=None):
    ctx = g._get_current_object()
    tenant = ctx.pop("tenant", None)
    try:
        if tenant is not None:
            tenant.close()  # may itself wait on a hung database: the slot is still in use until it returns
    finally:
        slot = ctx.pop("tenant_slot", None)
        if slot is not None:
            bulkhead, tenant_id = slot
            bulkhead.leave(tenant_id)


class TenantRoutingMiddleware:
    """Maps ``<code>.<TENANT_BASE_DOMAIN>/...`` (subdomain) and ``/tenant/...`` + ``X-Tenant-Code``
    (header) onto the canonical ``/t/<code>/...`` before Flask routes the request."""

    def __init__(self, wsgi_app, app):
        self.wsgi_app, self.app = wsgi_app, app

    def __call__(self, environ, start_response):
        modes = self.app.config.get("TENANT_ROUTING", ("path",))
        path = environ.get("PATH_INFO", "")
        host_code = self._host_tenant(environ) if "subdomain" in modes else None
        if host_code:
            environ[HOST_TENANT] = host_code  # a /t/<code>/ path must then name this same tenant
        if not path.startswith("/t/"):
            code = host_code
            if code is None and "header" in modes and path.startswith("/tenant/") and environ.get("HTTP_X_TENANT_CODE"):
                code, path = environ["HTTP_X_TENANT_CODE"].strip().lower(), path[len("/tenant"):]
            if code and code.isalnum():
                environ["PATH_INFO"] = f"/t/{code}{path}"
        return self.wsgi_app(environ, start_response)

    def _host_tenant(self, environ):
        """The tenant code of a ``<code>.<TENANT_BASE_DOMAIN>`` host, or None."""
        base = self.app.config.get("TENANT_BASE_DOMAIN")
        host = environ.get("HTTP_HOST", "").split(":")[0].lower()
        if base and host.endswith("." + base.lower()):
            code = host[: -len(base) - 1]
            return code if code.isalnum() else None
        return None


__all__ = ["TenantError", "TenantRoutingMiddleware", "resolve"]
