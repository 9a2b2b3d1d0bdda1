"""OpenAPI 3 document of the tenant CRM API, built from its routes."""

import re

from apispec import APISpec
from flask import current_app

SUMMARIES = {
    "tenant_api.token_create": "Tenant user login: returns a bearer token valid for this company only",
    "tenant_api.me": "The signed-in tenant user",
    "tenant_api.password_change": "Change your own password: {current_password, new_password}; 204, other sign-ins end",
    "tenant_api.password_set": "Choose a password through a set-password link: {token, new_password}; signs in",
    "tenant_api.openapi": "This document",
}


def build():
    spec = APISpec(title="绘管家 tenant CRM API", version="1.0.0", openapi_version="3.0.3",
                   info={"description": "Every path is under /t/{tenant_code}/api/v1; a token works for one company only."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("tenant_api."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        ops = {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = {"summary": SUMMARIES.get(rule.endpoint, rule.endpoint), "operationId": rule.endpoint.split(".")[1],
                  "parameters": [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}} for a in rule.arguments],
                  "responses": {"200": {"description": "OK"}, "default": {"description": "Error"}}}
            if rule.endpoint not in ("tenant_api.token_create", "tenant_api.password_set", "tenant_api.openapi"):
                op["security"] = [{"bearer": []}]
            ops[method.lower()] = op
        spec.path(path=path, operations=ops)
    return spec.to_dict()
