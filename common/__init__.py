"""Neutral web plumbing shared by the control plane, the registry and the tenant CRM: the error shape,
forms that validate HTML posts and JSON bodies alike, pagination, forms-to-OpenAPI, time, field rules.
It imports none of ``platform_admin``, ``datasource_registry`` or ``tenant_runtime``."""
