"""Fixtures of the CRM tests: real Redis and a real rq worker on the ``crm`` queue (crm_rq.py)."""

from tests.tenant_runtime.crm_rq import crm_redis, crm_worker  # noqa: F401 - fixtures
