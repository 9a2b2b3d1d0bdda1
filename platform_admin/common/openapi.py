"""A machine-readable OpenAPI 3 document of the control-plane API, built from the routes themselves.

Request bodies come from the same WTForms classes that validate them, so the document cannot drift
from the rules. Served at ``GET /api/v1/openapi.json``.
"""

import re

from apispec import APISpec
from flask import current_app, jsonify

from common.openapi import form_schema

from .api import api

ERROR = {"$ref": "#/components/schemas/Error"}


def _forms():
    from platform_admin.auth.forms import StaffCreateForm, StaffUpdateForm
    from platform_admin.contracts.forms import ContractForm
    from platform_admin.enterprises.forms import EnterpriseForm
    from platform_admin.fleet.forms import FleetRunForm
    from platform_admin.onboarding.forms import (
        ApplicationUpdateForm,
        FollowUpForm,
        OfflineApplicationForm,
        RegistrationForm,
        SmsCodeForm,
    )

    return {
        "api.staff_create": StaffCreateForm, "api.staff_update": StaffUpdateForm,
        "api.sms_code_create": SmsCodeForm, "api.public_application_create": RegistrationForm,
        "api.application_create": OfflineApplicationForm, "api.application_update": ApplicationUpdateForm,
        "api.follow_up_create": FollowUpForm, "api.enterprise_create": EnterpriseForm,
        "api.enterprise_update": EnterpriseForm, "api.contract_create": ContractForm, "api.contract_update": ContractForm,
        "api.fleet_run_create": FleetRunForm,
    }


SUMMARIES = {
    "api.token_create": "Staff login: returns a bearer token",
    "api.token_revoke": "Revoke the token used for this request",
    "api.me": "The signed-in staff member",
    "api.staff_list": "List staff accounts", "api.staff_create": "Create a staff account",
    "api.staff_update": "Change roles, details, password or active flag",
    "api.sms_code_create": "Send a registration code by SMS (throttled per phone and IP)",
    "api.public_application_create": "Self-service registration (web, wechat, qrcode)",
    "api.application_list": "List applications (filters: status, channel, owner_id, q)",
    "api.application_create": "Record an offline application",
    "api.application_get": "An application with its return visits",
    "api.application_update": "Edit an application or move its status",
    "api.follow_up_list": "Return visits of an application",
    "api.follow_up_create": "Record a return visit",
    "api.application_convert": "Create the enterprise profile from an application",
    "api.follow_ups_due": "Applications whose follow-up is due today or overdue",
    "api.enterprise_list": "List enterprises (filters: status, province_code, complete, q)",
    "api.enterprise_create": "Create an enterprise profile (a draft may be incomplete)",
    "api.enterprise_get": "An enterprise profile", "api.enterprise_update": "Edit an enterprise profile",
    "api.enterprise_license_scan": "Upload the licence scan (multipart field 'file': JPG, PNG or PDF)",
    "api.enterprise_completeness": "Whether the profile is complete enough to open or contract",
    "api.enterprise_open": "Open the enterprise (tenant)", "api.enterprise_close": "Close the enterprise (tenant)",
    "api.regions": "Provinces and cities (GB/T 2260)",
    "api.contract_list": "Contracts of an enterprise", "api.contract_create": "Add a contract",
    "api.contract_get": "A contract", "api.contract_update": "Edit a contract",
    "api.contract_scan": "Upload the contract scan (multipart field 'file')",
    "api.audit_event_list": "Audit events (filters: actor, action, record_type, record_id, since, until)",
    "api.outbox_list": "Every SMS and email sent or tried (filters: to, channel)",
    "api.fleet_run_list": "Fleet upgrades of the tenant databases, newest first",
    "api.fleet_run_create": "Upgrade every tenant database to the schema head: canary wave first, then in parallel",
    "api.fleet_run_get": "A fleet upgrade: counts, progress and the tenants that failed",
    "api.fleet_run_resume": "Resume a fleet upgrade: skip its upgraded tenants, retry the others",
    "api.openapi": "This document",
}
# Answered before the work is done; the work is followed with a GET.
ACCEPTED = frozenset({"api.sms_code_create", "api.fleet_run_create", "api.fleet_run_resume"})

STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Malformed body",
               401: "Not authenticated", 403: "Not allowed", 404: "Not found", 409: "Conflict",
               422: "Invalid fields", 429: "Throttled"}


def build_spec(blueprint_name="api"):
    spec = APISpec(title="绘管家 platform admin API", version="1.0.0", openapi_version="3.0.3",
                   info={"description": "Control plane: onboarding, enterprises, contracts, staff, audit."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}},
        "required": ["code", "message"]}}})
    from platform_admin.permissions import MATRIX, PUBLIC

    forms = _forms()
    paths = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith(f"{blueprint_name}."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            roles = MATRIX.get(rule.endpoint)
            op = {
                "operationId": rule.endpoint.split(".", 1)[1] + ("" if method == "GET" else f"_{method.lower()}"),
                "summary": SUMMARIES.get(rule.endpoint, rule.endpoint),
                "description": "Public." if roles == PUBLIC else f"Roles: {', '.join(sorted(roles or []))}.",
                "responses": {"default": {"description": "Error", "content": {"application/json": {"schema": ERROR}}}},
            }
            ok = 201 if rule.endpoint.endswith(("_create", "_convert")) and method == "POST" else 200
            if rule.endpoint in ACCEPTED:
                ok = 202
            if method == "DELETE":
                ok = 204
            op["responses"][str(ok)] = {"description": STATUS_TEXT[ok]}
            if roles != PUBLIC:
                op["security"] = [{"bearer": []}]
            params = [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}} for a in rule.arguments]
            if method == "GET" and rule.endpoint.endswith("_list"):
                params += [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 200}},
                           {"name": "cursor", "in": "query", "schema": {"type": "string"}}]
            if params:
                op["parameters"] = params
            if rule.endpoint in forms:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": form_schema(forms[rule.endpoint])}}}
            elif rule.endpoint == "api.token_create":
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string", "format": "password"}}}}}}
            elif rule.endpoint.endswith(("_scan",)):
                op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}}
            paths.setdefault(path, {})[method.lower()] = op
    for path, ops in sorted(paths.items()):
        spec.path(path=path, operations=ops)
    return spec.to_dict()


@api.get("/openapi.json")
def openapi():
    return jsonify(build_spec())
