"""The OpenAPI 3 document of the tenant CRM API, served at ``GET /t/<tenant_code>/api/v1/openapi.json``.

Built only from the endpoints' declarations (``common/apidoc.py``). Every path is under the server
``/t/{tenant_code}/api/v1`` (the serving company's code is the default), and every operation may meet
the tenant's own refusals: 404 no such company, 403 closed, 503 suspended or its database unavailable,
400 an ``X-Tenant-Code`` header naming another company.
"""

from common.apidoc import DocumentSource, build_document

from .context import current_tenant

OPENAPI_DOCUMENT = {"type": "object", "description": "an OpenAPI 3 document"}
PREFIX = "/t/<tenant_code>/api/v1"
TENANT_ERRORS = (400, 403, 404, 503)


def access(endpoint_name):
    from .people.permissions import ANY_USER, PUBLIC, permission_for

    permission = permission_for(endpoint_name)
    if permission == PUBLIC:
        return True, "Public."
    if permission == ANY_USER:
        return False, "Any signed-in user of this company."
    return False, f"Needs the permission {permission} (from the user's roles); records outside the data scope are 404."


def build():
    return build_document(DocumentSource(
        blueprint="tenant_api", title="绘管家 tenant CRM API", access=access, prefix=PREFIX,
        description="A company's CRM. A token is valid for the company that issued it only.",
        servers=[{"url": "/t/{tenant_code}/api/v1",
                  "variables": {"tenant_code": {"default": current_tenant.code,
                                                "description": "the company's code: its enterprise number, lower case"}}}],
        server_arguments=("tenant_code",), common_errors=TENANT_ERRORS))
