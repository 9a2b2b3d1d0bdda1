"""Who may call what: one matrix of endpoint -> roles, enforced for every control-plane request.

An endpoint missing from the matrix is refused (fail closed); a test checks every endpoint is listed.
Pages authenticate with the Flask-Login session; the API only with bearer tokens, so a cookie can
never authorise an API call (and CSRF cannot reach the API).
"""

from flask import g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from common.errors import ApiError

PUBLIC = "public"
STAFF = frozenset({"admin", "ops", "devops"})
ADMIN = frozenset({"admin"})
OPS = frozenset({"admin", "ops"})
DEVOPS = frozenset({"admin", "devops"})
OPS_VIEW = frozenset({"admin", "ops", "devops"})

MATRIX = {
    # public
    "favicon": PUBLIC,
    "auth.login": PUBLIC,
    "auth.set_language": PUBLIC,
    "public.register": PUBLIC,
    "public.register_done": PUBLIC,
    "public.qr_page": PUBLIC,
    "public.qr_image": PUBLIC,
    "api.token_create": PUBLIC,
    "api.sms_code_create": PUBLIC,
    "api.public_application_create": PUBLIC,
    "api.openapi": PUBLIC,
    # any staff
    "auth.logout": STAFF,
    "dashboard.index": STAFF,
    "api.token_revoke": STAFF,
    "api.me": STAFF,
    "files.download": STAFF,
    # onboarding
    "onboarding.application_list": OPS,
    "onboarding.application_new": OPS,
    "onboarding.application_detail": OPS,
    "onboarding.application_edit": OPS,
    "onboarding.follow_up_create": OPS,
    "onboarding.application_convert": OPS,
    "onboarding.follow_ups_due": OPS,
    "api.application_list": OPS,
    "api.application_create": OPS,
    "api.application_get": OPS,
    "api.application_update": OPS,
    "api.follow_up_create": OPS,
    "api.follow_up_list": OPS,
    "api.application_convert": OPS,
    "api.follow_ups_due": OPS,
    # enterprises
    "enterprises.enterprise_list": OPS_VIEW,
    "enterprises.enterprise_detail": OPS_VIEW,
    "enterprises.enterprise_new": OPS,
    "enterprises.enterprise_edit": OPS,
    "enterprises.enterprise_open": OPS,
    "enterprises.enterprise_close": OPS,
    "enterprises.enterprise_suspend": STAFF,
    "enterprises.enterprise_resume": STAFF,
    "enterprises.enterprise_impersonate": OPS,
    "api.enterprise_list": OPS,
    "api.enterprise_create": OPS,
    "api.enterprise_get": OPS,
    "api.enterprise_update": OPS,
    "api.enterprise_license_scan": OPS,
    "api.enterprise_completeness": OPS_VIEW,
    "api.enterprise_open": OPS,
    "api.enterprise_close": OPS,
    "api.enterprise_suspend": STAFF,
    "api.enterprise_resume": STAFF,
    "api.regions": STAFF,
    # contracts
    "contracts.contract_new": OPS,
    "contracts.contract_start": OPS,
    "contracts.contract_detail": OPS,
    "contracts.contract_edit": OPS,
    "contracts.contract_list": OPS,
    "api.contract_list": OPS,
    "api.contract_create": OPS,
    "api.contract_get": OPS,
    "api.contract_update": OPS,
    "api.contract_scan": OPS,
    # datasources (devops); ops only see on the enterprise page whether one exists
    "datasources.datasource_new": DEVOPS,
    "datasources.datasource_provision": DEVOPS,
    "datasources.datasource_check": DEVOPS,
    "datasources.datasource_status": DEVOPS,
    "datasources.datasource_delete": DEVOPS,
    "datasources.datasource_force_delete": ADMIN,  # unreachable database: admins only, with a reason
    "api.datasource_configure": DEVOPS,
    "api.datasource_get": DEVOPS,
    "api.datasource_status": DEVOPS,
    "api.datasource_delete": DEVOPS,
    "api.datasource_provision": DEVOPS,
    "api.datasource_check": DEVOPS,
    "api.datasource_test": DEVOPS,
    "api.job_get": STAFF,
    "api.registry_stats": DEVOPS,
    "registry.registry_page": DEVOPS,
    "api.impersonation_create": OPS,
    # fleet migrations of the tenant databases (devops)
    "fleet.run_list": DEVOPS,
    "fleet.run_start": DEVOPS,
    "fleet.run_detail": DEVOPS,
    "fleet.run_resume": DEVOPS,
    "api.fleet_run_list": DEVOPS,
    "api.fleet_run_create": DEVOPS,
    "api.fleet_run_get": DEVOPS,
    "api.fleet_run_resume": DEVOPS,
    # the CRM's scheduled tasks across every tenant (devops)
    "schedule.run_list": DEVOPS,
    "schedule.tenant_runs": DEVOPS,
    "api.scheduled_run_list": DEVOPS,
    "api.scheduled_run_get": DEVOPS,
    # administration
    "staff.staff_list": ADMIN,
    "staff.staff_new": ADMIN,
    "staff.staff_edit": ADMIN,
    "api.staff_list": ADMIN,
    "api.staff_create": ADMIN,
    "api.staff_update": ADMIN,
    "audit.event_list": ADMIN,
    "api.audit_event_list": ADMIN,
    "outbox.message_list": ADMIN,
    "api.outbox_list": ADMIN,
}


def is_platform_endpoint(endpoint):
    return endpoint is not None and endpoint != "static" and not endpoint.startswith("tenant")


def _bearer_staff():
    from .auth.services import resolve_token

    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None, None
    token = resolve_token(header[7:].strip())
    return (token.staff, token) if token else (None, None)


def enforce():
    endpoint = request.endpoint
    if not is_platform_endpoint(endpoint):
        return None
    rule = MATRIX.get(endpoint)
    is_api = endpoint.startswith("api.")
    if is_api:
        g.staff, g.api_token = _bearer_staff()
    else:
        g.staff = current_user._get_current_object() if current_user.is_authenticated else None
    g.audit_actor = g.staff
    if rule == PUBLIC:
        return None
    if rule is None:
        raise ApiError(403, "forbidden", _("This action is not allowed."))
    if g.staff is None:
        if is_api:
            raise ApiError(401, "not_authenticated", _("Sign in first: send a bearer token."))
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    if not g.staff.has_role(*rule):
        raise ApiError(403, "forbidden", _("Your role does not allow this action."))
    return None


def can(endpoint):
    """For templates: whether the signed-in staff may use ``endpoint`` (to hide links they cannot use)."""
    staff = g.get("staff")
    rule = MATRIX.get(endpoint)
    if rule == PUBLIC:
        return True
    return bool(staff and rule and staff.has_role(*rule))
