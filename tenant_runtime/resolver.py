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
    opened_before: bool = True  # False while the company was never opened (开通): its page says "not open yet"
    # Where the tenant's database is (its password decrypted, in memory only): the datasource is immutable,
    # so routing a request needs no control-database read until the tenant changes.
    target: object = field(default=None, repr=False, compare=False)


_cache: dict[str, tuple[float, TenantInfo | None]] = {}
_lock = threading.Lock()
_loading: dict = {}  # code -> the _Flight reading it from the control database now
_generation = 0  # bumped by every invalidation: a lookup that began before one does not fill the cache
CACHE_LIMIT = 10_000  # past this many entries the expired ones are dropped (unknown codes are cached too)


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
    from datasource_registry.secrets import SecretUnreadable

    target = None
    if provisioned and ds.enterprise_id == enterprise.id:
        try:
            target = target_for(ds)
        except SecretUnreadable:  # a key rotated away from this process: the tenant is unavailable (503), not a 500
            current_app.logger.error("tenant %s: datasource %s's password cannot be decrypted with this process's "
                                     "SECRET_MASTER_KEYS", enterprise.id, ds.id)
    return TenantInfo(tenant_id=enterprise.id, code=code.lower(), name=enterprise.name or code,
                      is_open=enterprise.is_open, opened_before=enterprise.opened_at is not None,
                      suspended=enterprise.suspended_at is not None,
                      suspend_message=enterprise.suspend_message, datasource_id=ds.id if ds else None,
                      provisioned=provisioned,
                      target=target)


class _Flight:
    """The one control-database read in progress for a code; those who wait for it take its answer."""

    __slots__ = ("answer", "done", "ok")

    def __init__(self):
        self.done, self.ok, self.answer = threading.Event(), False, None


def lookup(code):
    """The tenant ``code`` names (None: no such tenant), from the cache while its entry is fresh. When it is
    not, one thread per process reads the control database and the others asking for the same code at the
    same moment take its answer instead of each opening a control-database connection of their own (it is
    no older than theirs would be: it was read while they asked)."""
    code = (code or "").strip().lower()
    if not code or len(code) > 40 or not (code.isascii() and code.isalnum()):
        return None  # enterprise numbers are ASCII; the database would fold full-width ones into another key
    hit = _cache.get(code)  # the hot path, without the lock (entries are replaced whole, never changed)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    ttl = current_app.config.get("TENANT_CACHE_TTL", 5)
    while True:
        with _lock:
            hit = _cache.get(code)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            flight = _loading.get(code)
            if flight is None:
                flight = _loading[code] = _Flight()
                generation = _generation
                break
        if not flight.done.wait(current_app.config.get("CONTROL_DB_READ_TIMEOUT") or 20):
            return _load(code)  # that read is stuck: ours answers (or fails) for this request alone
        if flight.ok:
            return flight.answer
        # that read failed: the next one is ours (its error, if it fails too, is this request's answer)
    try:
        info = _load(code)
        flight.answer, flight.ok = info, True
        with _lock:
            if generation == _generation:  # no change was announced while we read
                if len(_cache) >= CACHE_LIMIT:
                    _drop_expired_locked()
                _cache[code] = (time.monotonic() + ttl, info)
        return info
    finally:
        with _lock:
            if _loading.get(code) is flight:
                del _loading[code]
        flight.done.set()


def _drop_expired_locked():
    now = time.monotonic()
    for code in [c for c, (expires, _info) in _cache.items() if expires <= now]:
        del _cache[code]


def invalidate(tenant_id=None):
    global _generation
    with _lock:
        _generation += 1
        if tenant_id is None:
            _cache.clear()
            return
        for code, (_exp, info) in list(_cache.items()):
            if info is None or info.tenant_id == tenant_id:
                _cache.pop(code, None)


@tenant_changed.connect
def _on_tenant_changed(sender, tenant_id=None, **extra):
    invalidate(tenant_id)
