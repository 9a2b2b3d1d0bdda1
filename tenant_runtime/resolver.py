"""Finding the tenant a request names, failing closed.

The tenant code is the enterprise number in lower case (``qy202611000001``). Lookups are cached for a
few seconds per process and dropped at once when the control plane announces a change, so a closed
tenant stops being served immediately in the process that closed it and within the TTL everywhere.
"""

import threading
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from datasource_registry.signals import tenant_changed
from extensions import db


@dataclass(frozen=True)
class TenantInfo:
    tenant_id: int
    code: str
    name: str
    is_open: bool
    suspended: bool
    suspend_message: str | None
    datasource_id: int | None
    provisioned: bool
    # Where the tenant's database is (its password decrypted, in memory only): the datasource is immutable,
    # so routing a request needs no control-database read until the tenant changes.
    target: object = field(default=None, repr=False, compare=False)


_cache: dict[str, tuple[float, TenantInfo | None]] = {}
_lock = threading.Lock()


def _load(code):
    from datasource_registry.models import Datasource, TenantJob
    from platform_admin.enterprises.models import Enterprise

    enterprise = db.session.scalar(select(Enterprise).where(Enterprise.enterprise_no == code.upper()))
    if enterprise is None:
        return None
    ds = db.session.scalar(select(Datasource).where(Datasource.enterprise_id == enterprise.id))
    provisioned = ds is not None and db.session.scalar(
        select(TenantJob.id).where(TenantJob.datasource_id == ds.id, TenantJob.kind == "provision",
                                   TenantJob.status == "finished").limit(1)) is not None
    from datasource_registry.registry import target_for

    return TenantInfo(tenant_id=enterprise.id, code=code.lower(), name=enterprise.name or code,
                      is_open=enterprise.is_open, suspended=enterprise.suspended_at is not None,
                      suspend_message=enterprise.suspend_message, datasource_id=ds.id if ds else None,
                      provisioned=provisioned,
                      target=target_for(ds) if provisioned and ds.enterprise_id == enterprise.id else None)


def lookup(code):
    code = (code or "").strip().lower()
    if not code or len(code) > 40 or not code.isalnum():
        return None
    ttl = current_app.config.get("TENANT_CACHE_TTL", 5)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(code)
        if hit and hit[0] > now:
            return hit[1]
    info = _load(code)
    with _lock:
        _cache[code] = (now + ttl, info)
    return info


def invalidate(tenant_id=None):
    with _lock:
        if tenant_id is None:
            _cache.clear()
            return
        for code, (_exp, info) in list(_cache.items()):
            if info is None or info.tenant_id == tenant_id:
                _cache.pop(code, None)


@tenant_changed.connect
def _on_tenant_changed(sender, tenant_id=None, **extra):
    invalidate(tenant_id)
