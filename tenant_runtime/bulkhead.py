"""A per-tenant bulkhead: how many requests one tenant may have in progress in this process.

A tenant whose database hangs keeps every request that reaches it waiting (up to the read timeouts). Without a
cap, enough of them would occupy all of a process's threads and nobody else, not even the control plane, would
be answered. With it, that tenant holds at most ``TENANT_REQUEST_LIMIT`` threads; its requests beyond that get a
fast 503 ``tenant_busy`` instead of queuing, and everybody else keeps the rest of the threads.
"""

import threading


class Bulkhead:
    """Counts requests in progress per tenant. Thread-safe; a slot is taken without waiting or not at all."""

    def __init__(self):
        self._lock = threading.Lock()
        self._in_use: dict[int, int] = {}

    def try_enter(self, tenant_id, limit) -> bool:
        with self._lock:
            taken = self._in_use.get(tenant_id, 0)
            if taken >= limit:
                return False
            self._in_use[tenant_id] = taken + 1
            return True

    def take(self, tenant_id, limit):
        """A slot as the function that gives it back (once, however often it is called), or None when the
        tenant has ``limit`` in use."""
        if not self.try_enter(tenant_id, limit):
            return None
        held = [True]

        def release():
            if held and held.pop():
                self.leave(tenant_id)

        return release

    def leave(self, tenant_id) -> None:
        with self._lock:
            taken = self._in_use.get(tenant_id, 0) - 1
            if taken > 0:
                self._in_use[tenant_id] = taken
            else:
                self._in_use.pop(tenant_id, None)

    def in_use(self, tenant_id) -> int:
        with self._lock:
            return self._in_use.get(tenant_id, 0)


def tenant_slot(bulkhead, limit_key, code, message):
    """One of the request's tenant's slots in ``current_app.extensions[bulkhead]`` (at most ``config[limit_key]``,
    default 1, in this process) as the function that gives it back (once, however often it is called); none
    free: 429 ``code`` saying ``message``. Exports and imports each hold one while they run."""
    from flask import current_app

    from common.errors import ApiError

    from .context import current_tenant

    release = current_app.extensions[bulkhead].take(current_tenant.tenant_id, current_app.config.get(limit_key, 1))
    if release is None:
        raise ApiError(429, code, message)
    return release
