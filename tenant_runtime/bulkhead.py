"""A per-tenant bulkhead: how many requests one tenant may have in progress in this process.

A tenant whose database hangs keeps every request that reaches it waiting (up to the read timeouts). Without a
cap, enough of them would occupy all of a process's threads and nobody else, not even the control plane, would
be answered. With it, that tenant holds at most ``TENANT_REQUEST_LIMIT`` threads; its requests beyond that get a
503 ``tenant_busy`` instead of queuing, and everybody else keeps the rest of the threads.

A burst is not a hang: six people of one company opening lists in the same instant finish in milliseconds. So a
request that finds every slot taken waits for one (at most ``wait`` seconds) while the tenant is moving, that is
while one of its requests began or ended within the last ``progress`` seconds; a tenant whose requests all sit on
a hung database has moved for none of that time, and its next request is refused at once, as before.
"""

import threading
import time


class Bulkhead:
    """Counts requests in progress per tenant. Thread-safe; a slot is taken without waiting or not at all."""

    def __init__(self):
        self._lock = threading.Condition()
        self._in_use: dict[int, int] = {}
        self._moved: dict[int, float] = {}  # tenant -> when one of its requests last took or gave back a slot
        self._waiting: dict[int, int] = {}

    def try_enter(self, tenant_id, limit, wait=0.0, progress=0.0) -> bool:
        """Take a slot. All in use: wait for one up to ``wait`` seconds, for as long as the tenant has moved
        within the last ``progress`` seconds (module docstring); else, or when the wait is over, False."""
        deadline = time.monotonic() + wait
        with self._lock:
            while self._in_use.get(tenant_id, 0) >= limit:
                now = time.monotonic()
                remaining = min(deadline, self._moved.get(tenant_id, now) + progress) - now
                if remaining <= 0:
                    return False
                self._waiting[tenant_id] = self._waiting.get(tenant_id, 0) + 1
                try:
                    self._lock.wait(remaining)
                finally:
                    self._waiting[tenant_id] -= 1
                    if not self._waiting[tenant_id]:
                        del self._waiting[tenant_id]
            self._in_use[tenant_id] = self._in_use.get(tenant_id, 0) + 1
            self._moved[tenant_id] = time.monotonic()
            return True

    def waiting(self, tenant_id) -> int:
        """Requests waiting for one of the tenant's slots now."""
        with self._lock:
            return self._waiting.get(tenant_id, 0)

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
                self._moved[tenant_id] = time.monotonic()
            else:
                self._in_use.pop(tenant_id, None)
                self._moved.pop(tenant_id, None)
            self._lock.notify_all()

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
