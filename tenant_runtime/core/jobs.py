"""CRM jobs: work for one tenant outside any request (customer notices after a handover, scheduled tasks).

``enqueue(func, tenant_id, *args)`` puts ``run(path, tenant_id, *args)`` on rq's ``crm`` queue with the
tenant in ``job.meta`` (the contract the control plane's tenant jobs follow), or runs it at once, in an app
context of its own, when there is no ``REDIS_URL`` (the embedded default). ``run`` binds that tenant exactly
as a request does (``current_tenant``), failing closed: a job whose meta names another tenant, or a tenant
that is closed, suspended or not provisioned, runs nothing. It commits what the function wrote, and always
closes the session and releases the tenant's engine, so a loop over a thousand tenants holds none open.

Functions must be importable module-level functions and idempotent (rq may run a job twice after a crash).
Workers: ``rq worker -w datasource_registry.worker.TenantWorker --url "$REDIS_URL" tenants crm``.
"""

import importlib

from flask import current_app, g, has_app_context
from rq import get_current_job

QUEUE = "crm"


class TenantUnavailable(Exception):
    """The job's tenant cannot be served now (closed, suspended, no database): nothing ran."""


class WrongTenant(Exception):
    """The job's meta and its tenant argument disagree: refused, nothing ran."""


def _path(func):
    return f"{func.__module__}:{func.__qualname__}"


def _resolve(path):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def queue():
    from redis import Redis
    from rq import Queue

    timeout = current_app.config.get("REDIS_SOCKET_TIMEOUT")
    return Queue(QUEUE, connection=Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=timeout,
                                                  socket_connect_timeout=timeout))


def enqueue(func, tenant_id, *args, job_id=None, timeout=None, on_failure=None):
    """Run ``func(*args)`` for tenant ``tenant_id``: on rq with ``REDIS_URL`` (returns the rq job), inline
    otherwise (returns the function's result). Raises ``redis.RedisError`` when Redis does not take it.
    ``on_failure``: an rq ``Callback`` for a job that fails in a worker (refused, timed out, raised)."""
    tenant_id = int(tenant_id)
    if not current_app.config.get("REDIS_URL"):
        return run(_path(func), tenant_id, *args)
    return queue().enqueue(run, _path(func), tenant_id, *args, job_id=job_id, meta={"tenant_id": tenant_id},
                           job_timeout=timeout or current_app.config.get("TENANT_JOB_TIMEOUT", 300),
                           result_ttl=86400, failure_ttl=7 * 86400, on_failure=on_failure)


def run(path, tenant_id, *args):
    """The job itself (worker side, or inline): bind the tenant, run, commit, release."""
    job = get_current_job()
    if job is not None and int(job.meta.get("tenant_id") or 0) != int(tenant_id):
        raise WrongTenant(f"job {job.id} refused: its meta names tenant {job.meta.get('tenant_id')!r}, "
                          f"its argument {tenant_id!r}")
    if has_app_context():
        app = current_app._get_current_object()
    else:
        from datasource_registry.jobs import _worker_app

        app = _worker_app()
    with app.app_context():  # a context of its own: an inline job never sees the request's tenant or session
        tenant = bind(int(tenant_id))
        try:
            result = _resolve(path)(*args)
            tenant.commit_if_written()
            return result
        finally:
            tenant.close()
            from datasource_registry.registry import release_tenant

            release_tenant(int(tenant_id))


def bind(tenant_id):
    """Bind tenant ``tenant_id`` as ``current_tenant`` in this app context, as routing does for a request."""
    from datasource_registry.registry import get_registry
    from extensions import db
    from platform_admin.enterprises.models import Enterprise

    from ..context import TenantContext
    from ..resolver import lookup

    enterprise = db.session.get(Enterprise, tenant_id)
    info = lookup(enterprise.enterprise_no) if enterprise is not None else None
    if info is None or info.tenant_id != tenant_id or not info.is_open or info.suspended or info.target is None:
        raise TenantUnavailable(f"tenant {tenant_id} cannot be served now (closed, suspended or not provisioned)")
    g.tenant_info = info
    g.tenant = TenantContext(info=info, engine=get_registry().engine_for(info.target))
    return g.tenant
