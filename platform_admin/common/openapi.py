"""The OpenAPI 3 document of the control-plane API, served at ``GET /api/v1/openapi.json``.

Built only from the endpoints' declarations (``common/apidoc.py``), with who may call each one from
``platform_admin/permissions.py``, so it says what the API takes, answers and allows.
"""

from common.apidoc import DocumentSource, build_document, endpoint

from .api import api

OPENAPI_DOCUMENT = {"type": "object", "description": "an OpenAPI 3 document"}


def access(endpoint_name):
    from platform_admin.permissions import MATRIX, PUBLIC

    roles = MATRIX.get(endpoint_name)
    if roles == PUBLIC:
        return True, "Public."
    return False, f"Roles: {', '.join(sorted(roles or []))}."


def build_spec():
    return build_document(DocumentSource(
        blueprint=api.name, title="绘管家 platform admin API", access=access,
        description="Control plane: onboarding, enterprises, contracts, datasources, staff, audit."))


@api.get("/openapi.json")
@endpoint("This document", response=OPENAPI_DOCUMENT)
def openapi():
    return build_spec()
