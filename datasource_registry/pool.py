"""Per-process pool registry: one SQLAlchemy Engine per tenant under one connection budget.

Plain Python and SQLAlchemy (no Flask, no app imports) so the web app, rq workers and CLIs share it.

Guarantees
----------
* One Engine per tenant, created lazily. Many threads asking for the same tenant at once get the
  same Engine (per-tenant creation lock plus a double-checked lookup under the registry lock). The
  registry lock is never held while a database is contacted.
* A changed target (other datasource or URL, or other pool sizes) replaces the tenant's Engine; the
  old one is retired: it refuses new connections (``EngineRetired``) and closes every connection
  handed back to it.
* Budget: each admitted Engine reserves its ``max_connections`` (clamped to the budget) and the sum
  of reservations never exceeds ``budget``. A tenant's pool never holds more than that many
  connections, so the process never holds more than ``budget`` connections.
  Retired engines keep a reservation for every connection still checked out until it is returned
  (and closed), so those count too.
* Pool sizes mean what they mean in pools that define min and max (HikariCP's ``minimumIdle`` and
  ``maximumPoolSize``): a connection opened for a request, up to max, stays pooled for the next one;
  connections idle for longer than ``idle_timeout`` are closed down to min by ``trim_idle()``, which a
  housekeeping thread (one per registry) runs. The pool hands out the most recently used connection
  first, so under a steady load the surplus ones go idle and are trimmed.
* Past the budget the least recently used engines with nothing checked out are evicted (their idle
  connections closed, their reservation handed over). If no engine is idle the caller waits up to
  ``wait_timeout`` for one to become idle, then gets ``CapacityExceeded`` (a 503 for the caller).
* An evicted (or released) Engine object stays usable by whoever still holds it: its next new
  connection re-admits it under the budget first (waiting, evicting or raising
  ``CapacityExceeded`` exactly like ``engine_for``), so a request that fetched its Engine before an
  eviction does not fail because of it.
* ``identity_check(dbapi_connection, target)`` runs on every new DBAPI connection; whatever it raises
  reaches the caller, the connection is closed and nothing else is tried (fail closed). An
  ``IdentityQuery`` (one query and a judgement of its rows) is sent with the session's set-up instead.
* ``connect_guard(target, cparams)`` runs before every new DBAPI connection opens its socket: it may
  rewrite the driver's connect arguments (the host allow-list pins the address it checked) and
  whatever it raises reaches the caller before anything is contacted.
* The cold path is kept short: TLS follows ``tls_setting`` (``tls.TlsSetting``) with one SSL context per process
  and setting, and what SQLAlchemy's MySQL dialect learns about a server on an engine's first connection
  (five queries) is learned once per server and version and copied into later engines. A PyMySQL engine
  registers no event listeners (its connect function does admission, guard, TLS and identity; the
  ``_BudgetPool`` class's listeners count checkouts) and is put together without ``create_engine``'s keyword
  analysis; its connections set up their session and, for an ``IdentityQuery``, run the identity check in
  one round trip (``mysql_connection.TenantConnection``).
* An evicted engine's idle connection is handed to the engine admitted in its place when both reach the
  server with the same account and options (``reuse_connections``, on by default, with an ``IdentityQuery``):
  the new engine's first connection switches it to its own database in one round trip (session reset
  with ``COM_RESET_CONNECTION``, ``COM_INIT_DB``, session set-up, identity probe), where a new login costs a
  TCP handshake, the authentication and a server thread. The server enforces the account's rights on the
  new database and the identity probe judges it like any new connection's; whatever fails closes that
  connection and a fresh login follows. Nothing of one tenant's session survives the reset.
* ``reset_after_fork()`` (called automatically in children for registries from ``make_registry``)
  forgets every Engine without closing the parent's sockets.

Passwords: ``Target.url`` carries the decrypted password. Nothing here logs or formats a URL other
than through ``render_as_string(hide_password=True)``; ``repr(Target)`` hides it as well.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import QueuePool, StaticPool
from sqlalchemy.sql import compiler as sql_compiler
from sqlalchemy.util import queue as sqla_queue

from common.sqlite import use_wal

from . import tls
from .mysql_connection import TenantConnection

__all__ = [
    "CapacityExceeded",
    "EngineRetired",
    "IdentityMismatch",
    "IdentityQuery",
    "PoolRegistry",
    "Target",
    "check_database_name",
    "make_registry",
]

log = logging.getLogger(__name__)

_ACTIVE = "active"  # admitted: holds its full reservation, served by engine_for
_PARKED = "parked"  # evicted or released: no reservation, no connections; re-admitted on next use
_DEAD = "dead"  # retired for good (target changed, dispose(), close(), fork): refuses connections

_FLAG = "datasource_registry.pool.checked_out"
_RETURNED_AT = "datasource_registry.pool.returned_at"  # time.monotonic() of the last check-in
_POLL = 0.05  # waits re-check at least this often, so a missed notification costs little
_pid = os.getpid()  # this process's id, kept current across forks: os.getpid() is a system call every time


def _note_pid_after_fork() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_pid_after_fork)  # before the registries' reset, registered below


class CapacityExceeded(Exception):
    """No room in the connection budget even after eviction and a brief wait (callers answer 503)."""


class IdentityMismatch(Exception):
    """Raised by an identity check: the connection does not reach the tenant's own database."""


class EngineRetired(Exception):
    """The Engine was retired by the registry (target changed, disposed, closed, or inherited from
    the parent process); call ``engine_for`` again for a current one."""


class IdentityQuery:
    """An identity check that is one query and a judgement of its rows: ``judge(rows, error, target)`` raises
    (``IdentityMismatch``) unless ``rows`` (or the ``error`` the server answered the query with) show the
    connection reached ``target``'s own database. The registry sends ``sql`` in the same round trip as a new
    PyMySQL connection's session set-up; called as ``check(dbapi_connection, target)`` it runs the query
    itself, like any other identity check."""

    def __init__(self, sql: str, judge):
        self.sql = sql
        self.judge = judge

    def __call__(self, dbapi_connection, target) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql)
            rows, error = cursor.fetchall(), None
        except Exception as exc:  # noqa: BLE001 - the judgement decides what a failed query means
            rows, error = None, exc
        finally:
            cursor.close()
        self.judge(rows, error, target)


@dataclass(frozen=True)
class Target:
    tenant_id: int
    datasource_id: int
    url: URL  # contains the decrypted password: never str() it, never log it
    min_connections: int  # kept open when idle
    max_connections: int  # open at most (and reserved in the budget)

    def __post_init__(self):
        if not isinstance(self.url, URL):
            raise TypeError("Target.url must be a sqlalchemy.engine.URL")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.min_connections < 0 or self.min_connections > self.max_connections:
            raise ValueError("min_connections must be between 0 and max_connections")

    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:  # the dataclass repr would do, but be explicit about the password
        return (
            f"Target(tenant_id={self.tenant_id!r}, datasource_id={self.datasource_id!r}, "
            f"url={self.safe_url()!r}, min_connections={self.min_connections!r}, "
            f"max_connections={self.max_connections!r})"
        )

    __str__ = __repr__


class _BudgetPool(QueuePool):
    """QueuePool (sized to the tenant's max, no overflow, most recently used first) that can close its
    idle connections in place, all of them or only the ones idle for long, and, once retired, closes
    every connection handed back instead of keeping it (no pool swap, so no orphaned connections)."""

    _retired = False
    _after_return = None  # set by the registry: wakes capacity waiters once the pool is idle
    _entry = None  # set by the registry: the pool's class-level listeners count its checkouts on it

    def recreate(self):  # engine.dispose(): the new pool still belongs to the same entry
        pool = super().recreate()
        pool._entry, pool._after_return = self._entry, self._after_return
        return pool

    def close_idle(self) -> int:
        closed = 0
        while True:
            try:
                record = self._pool.get(False)
            except sqla_queue.Empty:
                return closed
            try:
                record.close()
            finally:
                self._dec_overflow()
                closed += 1

    def take_idle(self, n: int) -> list:
        """Up to ``n`` idle DBAPI connections, taken out of the pool open (their records end here): for the
        registry to hand to the tenant admitted in this pool's place."""
        taken = []
        while len(taken) < n:
            try:
                record = self._pool.get(False)
            except sqla_queue.Empty:
                break
            connection, record.dbapi_connection = record.dbapi_connection, None
            self._dec_overflow()
            if connection is not None:
                taken.append(connection)
        return taken

    def close_idle_since(self, cutoff: float, keep: int) -> int:
        """Close connections checked in at or before ``cutoff`` (``time.monotonic()``), the longest idle
        first, while more than ``keep`` are open."""
        victims = []
        with self._pool.mutex:
            idle = self._pool.queue  # a deque; with use_lifo the pool hands out from its right end
            open_now = self._overflow + self.size()  # pool_size is max, so this counts every connection
            while idle and open_now - len(victims) > keep and idle[0].record_info.get(_RETURNED_AT, 0) <= cutoff:
                victims.append(idle.popleft())
            if victims:
                self._pool.not_full.notify(len(victims))
        for record in victims:
            try:
                record.close()
            finally:
                self._dec_overflow()
        return len(victims)

    def retire(self) -> None:
        self._retired = True
        self.close_idle()

    def _do_return_conn(self, record) -> None:
        record.record_info[_RETURNED_AT] = time.monotonic()
        super()._do_return_conn(record)
        # retire() sets the flag before it sweeps; we look at it after putting the record back, so
        # one of the two always sees the record and closes it
        if self._retired:
            self.close_idle()
        callback = self._after_return
        if callback is not None:
            callback(self)


class _Entry:
    __slots__ = (
        "__weakref__",
        "checked_out",
        "disposing",
        "engine",
        "keep",
        "last_used",
        "pid",
        "registry",
        "reservation",
        "reserved",
        "spares",
        "state",
        "target",
    )

    def __init__(self, registry, target: Target, reservation: int, keep: int):
        self.registry = registry
        self.target = target
        self.reservation = reservation  # max connections, clamped to the budget
        self.keep = keep  # connections idle trimming leaves open
        self.engine: Engine | None = None
        self.state = _PARKED  # not admitted yet
        self.reserved = 0
        self.checked_out = 0
        self.last_used = time.time()
        self.disposing = False
        self.pid = os.getpid()
        self.spares: list = []  # open connections of an evicted engine, for this one's first connect

    @property
    def tenant_id(self):
        return self.target.tenant_id


class PoolRegistry:
    """Engines for every tenant of one process, under one connection budget. Thread-safe."""

    _FORBIDDEN_OPTIONS = frozenset({"pool_size", "max_overflow", "poolclass", "pool", "pool_use_lifo"})

    def __init__(
        self,
        budget: int,
        wait_timeout: float = 2.0,
        identity_check=None,
        engine_options: dict | None = None,
        connect_timeout: int = 5,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        connect_guard=None,
        idle_timeout: float | None = 60.0,
        tls_setting: tls.TlsSetting | None = None,
        reuse_connections: bool = True,
    ):
        if int(budget) < 1:
            raise ValueError("budget must be at least 1")
        if wait_timeout < 0:
            raise ValueError("wait_timeout must not be negative")
        if idle_timeout is not None and idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive (or None: never trim)")
        options = dict(engine_options or {})
        bad = self._FORBIDDEN_OPTIONS & options.keys()
        if bad:
            raise ValueError(f"engine_options may not set {sorted(bad)}: pools are sized by the registry")
        self.budget = int(budget)
        self.wait_timeout = float(wait_timeout)
        self._identity_check = identity_check
        self._connect_guard = connect_guard
        self._engine_options = options
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.idle_timeout = idle_timeout
        self.tls = tls_setting or tls.TlsSetting()
        # hand evicted engines' idle connections to the engine admitted in their place (same server, account
        # and options; switched and identity-checked in one round trip): only with a pipelined identity probe
        self.reuse_connections = bool(reuse_connections)
        self._identity_probe = identity_check if isinstance(identity_check, IdentityQuery) else None
        self._dialects = _ServerProfiles()  # plain data: survives a fork
        self._init_state()

    def _init_state(self) -> None:
        # re-entrant: a connection garbage-collected without close() is checked in from a weakref
        # callback, which may run in a thread that already holds the lock
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # threads in _wait_locked: returns notify only when somebody waits
        self._tenant_locks: dict = {}
        self._active: OrderedDict = OrderedDict()  # tenant_id -> _Entry, least recently used first
        self._parked = weakref.WeakValueDictionary()  # tenant_id -> _Entry still referenced somewhere
        self._draining: set = set()  # retired entries still holding a reservation
        self._reserved = 0
        self._max_reserved = 0
        self._evictions = 0
        self._created = 0
        self._capacity_waits = 0
        self._capacity_errors = 0
        self._adopted = 0
        self._pid = os.getpid()
        self._housekeeper = None  # started with the first engine (a forked child starts its own)

    # ------------------------------------------------------------------ public API

    def engine_for(self, target: Target) -> Engine:
        if not isinstance(target, Target):
            raise TypeError("engine_for() takes a Target")
        tid = target.tenant_id
        entry = self._active.get(tid)  # the hot path, without the lock: the entry's LRU place moves at checkout
        if entry is not None and entry.target is target:
            return entry.engine
        with self._lock:
            entry = self._active.get(tid)
            if entry is not None and (entry.target is target or entry.target == target):
                # an equal Target read again (the resolver cache refilled): keep the new one, so that the
                # next requests, which carry it, take the hot path above
                entry.target = target
                self._touch_locked(entry)
                return entry.engine
            tlock = self._tenant_lock_locked(tid)
        deadline = time.monotonic() + self.wait_timeout
        if not tlock.acquire(timeout=max(self.wait_timeout, 0.001)):
            self._capacity_error(tid, "another request for this tenant is still waiting for capacity")
        try:
            return self._engine_for_slow(target, deadline)
        finally:
            tlock.release()

    def release(self, tenant_id) -> bool:
        """Give back the tenant's connections and reservation if nothing is checked out."""
        with self._lock:
            entry = self._active.get(tenant_id)
            if entry is None or not self._idle_locked(entry):
                return False
            del self._active[tenant_id]
            entry.state = _PARKED
            entry.disposing = True  # keeps its reservation until the sockets are closed
            self._parked[tenant_id] = entry
        self._close_idle(entry)
        return True

    def dispose(self, tenant_id, drain_timeout: float = 5.0) -> None:
        """Retire the tenant's engine for good: refuse new checkouts, close idle connections now and
        wait up to ``drain_timeout`` for checked-out ones to come back (they are closed on return;
        their reservation is held until then even if the wait times out)."""
        with self._lock:
            tlock = self._tenant_lock_locked(tenant_id)
        with tlock, self._lock:
            victims = [e for e in (self._active.get(tenant_id), self._parked.get(tenant_id)) if e is not None]
            for e in victims:
                self._kill_locked(e)
        for e in victims:
            self._finish_kill(e)
        deadline = time.monotonic() + max(drain_timeout, 0.0)
        with self._cond:
            for e in victims:
                while e.checked_out > 0:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        log.warning(
                            "tenant %s: %d connection(s) still checked out after %.1fs drain; "
                            "they will be closed when returned",
                            tenant_id,
                            e.checked_out,
                            drain_timeout,
                        )
                        break
                    self._wait_locked(min(remaining, _POLL))

    def trim_idle(self, now: float | None = None) -> int:
        """Close the connections idle for longer than ``idle_timeout``, down to each tenant's min (the
        housekeeping thread calls this; ``now`` is a ``time.monotonic()`` value, for tests). Returns how
        many were closed."""
        if self.idle_timeout is None:
            return 0
        cutoff = (time.monotonic() if now is None else now) - self.idle_timeout
        with self._lock:
            entries = [e for e in self._active.values() if isinstance(e.engine.pool, _BudgetPool)]
        return sum(e.engine.pool.close_idle_since(cutoff, e.keep) for e in entries)

    def reset_after_fork(self) -> None:
        """In a forked child: forget every engine without touching the parent's sockets."""
        entries = list(self._active.values()) + list(self._draining)
        try:
            entries += list(self._parked.values())
        except RuntimeError:  # pragma: no cover - weak dict changed size; only one thread in a child
            pass
        self._init_state()  # new locks (the parent's may have been held at fork time), zero counters
        for e in entries:
            e.state = _DEAD
            try:
                e.engine.dispose(close=False)
            except Exception:
                log.debug("tenant %s: dispose(close=False) failed after fork", e.tenant_id, exc_info=True)

    def stats(self) -> dict:
        with self._lock:
            entries = list(self._active.values())
            draining = list(self._draining)
            out = {
                "budget": self.budget,
                "reserved": self._reserved,
                "max_reserved": self._max_reserved,
                "checked_out": sum(e.checked_out for e in entries) + sum(e.checked_out for e in draining),
                "evictions": self._evictions,
                "created": self._created,
                "capacity_waits": self._capacity_waits,
                "capacity_errors": self._capacity_errors,
                "handed_over": self._adopted,
                "draining": len(draining),
                "parked": len(self._parked),
            }
            rows = [
                (e, e.tenant_id, e.target.datasource_id, e.keep, e.reservation, e.checked_out, e.last_used)
                for e in entries
            ]
        out["engines"] = [
            {
                "tenant_id": tid,
                "datasource_id": dsid,
                "pool_size": keep,  # kept open when idle (min); up to max_connections while busy
                "max_connections": reservation,
                "checked_out": checked_out,
                "idle": _idle_count(e.engine),
                "last_used": last_used,
            }
            for e, tid, dsid, keep, reservation, checked_out, last_used in rows
        ]
        return out

    def close(self) -> None:
        """Retire every engine. Connections still checked out are closed when returned."""
        with self._lock:
            entries = list(self._active.values()) + list(self._parked.values())
            for e in entries:
                self._kill_locked(e)
            housekeeper, self._housekeeper = self._housekeeper, None
        if housekeeper is not None:
            housekeeper.stop()
        for e in entries:
            self._finish_kill(e)

    # ------------------------------------------------------------------ creation and admission

    def _engine_for_slow(self, target: Target, deadline: float) -> Engine:
        tid = target.tenant_id
        stale = []
        with self._lock:
            entry = self._active.get(tid)
            if entry is not None and entry.target == target:  # created while we waited for the lock
                self._touch_locked(entry)
                return entry.engine
            if entry is not None:
                log.info("tenant %s: target changed, retiring its engine (%s)", tid, entry.target.safe_url())
                self._kill_locked(entry)
                stale.append(entry)
            parked = self._parked.get(tid)
            if parked is not None and parked.target != target:
                self._kill_locked(parked)
                stale.append(parked)
        for e in stale:  # sockets closed before the new engine gets the reservation
            self._finish_kill(e)

        reservation, keep = self._sizing(target)
        with self._cond:
            entry = self._parked.get(tid)
            if entry is not None:
                self._wait_not_disposing_locked(entry, deadline)
                if entry.state != _PARKED or entry.target != target:
                    entry = None
            new = entry is None
            if new:
                entry = _Entry(self, target, reservation, keep)
            victims = self._admit_locked(entry, deadline)
        try:
            if new and victims:
                self._hand_over(victims, entry)
            self._close_victims(victims)
            if new:
                entry.engine = self._build_engine(entry)
        except BaseException:
            _close_spares(entry)
            with self._cond:
                entry.state = _DEAD
                self._give_back_locked(entry, 0)
            raise
        with self._lock:
            if new:
                self._created += 1
            self._activate_locked(entry)
        return entry.engine

    def _revive(self, entry: _Entry) -> None:
        """A parked engine is about to open a connection: admit it under the budget first."""
        tid = entry.tenant_id
        deadline = time.monotonic() + self.wait_timeout
        with self._lock:
            tlock = self._tenant_lock_locked(tid)
        if not tlock.acquire(timeout=max(self.wait_timeout, 0.001)):
            self._capacity_error(tid, "another request for this tenant is still waiting for capacity")
        try:
            with self._cond:
                self._wait_not_disposing_locked(entry, deadline)
                if entry.state == _ACTIVE:
                    return
                current = self._active.get(tid)
                if entry.state == _DEAD or (current is not None and current is not entry):
                    raise EngineRetired(f"the engine for tenant {tid} was retired; call engine_for() again")
                victims = self._admit_locked(entry, deadline)
            self._close_victims(victims)
            with self._lock:
                self._activate_locked(entry)
        finally:
            tlock.release()

    def _admit_locked(self, entry: _Entry, deadline: float) -> list:
        """Reserve ``entry.reservation`` (registry lock held), evicting LRU idle engines if needed.
        Returns the evicted entries, whose idle connections the caller closes before using the
        reservation."""
        need = entry.reservation
        waited = False
        while True:
            shortfall = self._reserved + need - self.budget
            if shortfall <= 0:
                victims = []
                break
            victims = self._pick_victims_locked(shortfall)
            if victims is not None:
                for v in victims:
                    del self._active[v.tenant_id]
                    v.state = _PARKED
                    v.disposing = True
                    self._parked[v.tenant_id] = v
                    self._reserved -= v.reserved  # handed over to the new entry
                    v.reserved = 0
                    self._evictions += 1
                break
            if not waited:
                waited = True
                self._capacity_waits += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._capacity_errors += 1
                raise CapacityExceeded(
                    f"no connection capacity for tenant {entry.tenant_id}: {self._reserved} of "
                    f"{self.budget} reserved by busy engines, {need} needed "
                    f"(waited {self.wait_timeout:.1f}s)"
                )
            self._wait_locked(min(remaining, _POLL))
        entry.reserved = need
        self._reserved += need
        self._max_reserved = max(self._max_reserved, self._reserved)
        return victims

    def _hand_over(self, victims, entry: _Entry) -> None:
        """Idle connections of evicted engines that reach the same server with the same account (and the
        same driver options) go to ``entry`` instead of being closed: its first connections switch them to
        its own database in one round trip (``TenantConnection.switch_database``: session reset, database,
        set-up, identity probe) instead of a new login. At most its ``keep`` (min) connections, so none lingers
        outside a pool; the victims' reservation they were counted in is the one ``entry`` now holds."""
        if not self.reuse_connections or self._identity_probe is None:
            return
        account = _account(entry.target.url)
        if account is None:
            return
        want = max(1, entry.keep)
        for v in victims:
            pool = v.engine.pool if v.engine is not None else None
            if isinstance(pool, _BudgetPool) and _account(v.target.url) == account:
                entry.spares += pool.take_idle(want - len(entry.spares))
                if len(entry.spares) >= want:
                    return

    def _pick_victims_locked(self, shortfall: int):
        victims, freed = [], 0
        for e in self._active.values():  # least recently used first
            if self._idle_locked(e):
                victims.append(e)
                freed += e.reserved
                if freed >= shortfall:
                    return victims
        return None

    def _activate_locked(self, entry: _Entry) -> None:
        entry.state = _ACTIVE
        tid = entry.tenant_id
        if self._parked.get(tid) is entry:
            del self._parked[tid]
        self._active[tid] = entry
        self._touch_locked(entry)
        if self.idle_timeout is not None and self._housekeeper is None:
            self._housekeeper = _Housekeeper(self, interval=min(30.0, self.idle_timeout / 2))
            self._housekeeper.start()

    def _sizing(self, target: Target):
        reservation = min(target.max_connections, self.budget)
        return reservation, min(target.min_connections, reservation)

    def _build_engine(self, entry: _Entry) -> Engine:
        url = entry.target.url
        options = {"pool_pre_ping": True, "pool_recycle": 3600, "hide_parameters": True}
        connect_args = {}
        if url.get_backend_name() == "mysql":
            # An unreachable server must cost a request seconds, not the OS's minutes-long TCP timeout; one that
            # accepts and then never answers (frozen, paused) must cost no more than the read/write timeouts.
            connect_args = self._driver_timeouts()
        sized = True
        if url.get_backend_name() == "sqlite":
            # sqlite keeps its default pool; a file database defaults to a QueuePool, which we size
            sized = issubclass(url.get_dialect().get_pool_class(url), QueuePool)
        if sized:
            # Sized to max with no overflow: a QueuePool closes overflow connections on check-in, so a
            # tenant busier than its min would open and close a server connection per request. Idle
            # ones are closed down to min by trim_idle(); most recently used first lets them go idle.
            options.update(
                poolclass=_BudgetPool,
                pool_size=entry.reservation,
                max_overflow=0,
                pool_use_lifo=True,
                pool_timeout=self.wait_timeout,
            )
        extra = dict(self._engine_options)
        connect_args = {**connect_args, **extra.pop("connect_args", {})}  # add to the timeouts, never drop them
        options.update(extra)
        if url.get_driver_name() == "pymysql":
            # The cold path: no per-engine event listeners (registering them costs more than the rest of
            # building the engine); one connect function does the admission, the host guard, TLS, the session
            # set-up and the identity check, and the pool's checkouts are counted by _BudgetPool's class-level
            # listeners.
            engine = self._dialects.create_engine(url, creator=self._connector(entry, connect_args), **options)
        else:
            engine = self._dialects.create_engine(url, connect_args=connect_args, **options) if connect_args \
                else self._dialects.create_engine(url, **options)
            self._instrument(engine, entry)
        if isinstance(engine.pool, _BudgetPool):
            engine.pool._entry = entry
            engine.pool._after_return = self._pool_returned
        return engine

    def _driver_timeouts(self) -> dict:
        timeouts = {"connect_timeout": self.connect_timeout, "read_timeout": self.read_timeout,
                    "write_timeout": self.write_timeout}
        return {name: value for name, value in timeouts.items() if value is not None}

    def _admit_connection(self, entry: _Entry) -> None:
        """Before any socket is opened: only an admitted engine of this process may connect."""
        if entry.pid != _pid:
            raise EngineRetired(f"the engine for tenant {entry.tenant_id} belongs to the parent process")
        state = entry.state
        if state == _DEAD:
            raise EngineRetired(f"the engine for tenant {entry.tenant_id} was retired; call engine_for() again")
        if state != _ACTIVE:
            self._revive(entry)

    def _connector(self, entry: _Entry, connect_args: dict):
        """The ``creator`` of a PyMySQL tenant engine: admission, host guard, TLS, then a connection whose session
        set-up and identity query share one round trip (``mysql_connection.TenantConnection``), the identity
        judged, and on the engine's first connection the server's dialect profile copied in. Whatever fails
        closes the connection and reaches the caller."""
        registry, guard, check, target = self, self._connect_guard, self._identity_check, entry.target
        probe_sql = getattr(check, "sql", None)  # an IdentityQuery is pipelined; any other check runs after
        fixed = {**connect_args, **tls.connect_options(self.tls), "probe_sql": probe_sql}
        driver_args = None  # the dialect's connect arguments, worked out on the first connection
        first = threading.Lock()  # other threads' first connections wait until the dialect is set up
        ready = []

        def connect(connection_record):
            nonlocal driver_args
            registry._admit_connection(entry)
            dialect = entry.engine.dialect
            if driver_args is None:
                driver_args = {**dialect.create_connect_args(target.url)[1], **fixed}
            cparams = dict(driver_args)
            if guard is not None:
                guard(target, cparams)
            conn = registry._adopt(entry, target) if entry.spares else None
            try:
                if conn is None:
                    conn = TenantConnection(**cparams)
                    if check is not None:
                        if probe_sql:
                            check.judge(conn.probe_rows, conn.probe_error, target)
                        else:
                            check(conn, target)
                if not ready:
                    with first:
                        if not ready:
                            registry._dialects.set_up(dialect, target.url, conn)
                            ready.append(True)
            except BaseException:
                if conn is not None:
                    _close_quietly(conn)
                raise
            return conn

        return connect

    def _adopt(self, entry: _Entry, target: Target):
        """One of ``entry``'s handed-over connections switched to its database and judged by the identity
        probe, or None (none left, or the switch or the judgement failed: that connection is closed and the
        caller logs in anew, which checks everything again). A server that let the switch time out is not
        asked again: its error is the caller's, as a new login's would be after as long a wait."""
        try:
            conn = entry.spares.pop()
        except IndexError:
            return None
        try:
            conn.switch_database(target.url.database)
            self._identity_probe.judge(conn.probe_rows, conn.probe_error, target)
        except Exception as exc:  # noqa: BLE001 - a fresh login follows and reports what is really wrong
            _close_quietly(conn)
            if isinstance(exc.__context__, TimeoutError):  # PyMySQL's "lost connection" over a socket timeout
                raise
            log.info("tenant %s: a handed-over connection could not be switched (%s); logging in anew",
                     entry.tenant_id, type(exc).__name__)
            return None
        with self._lock:
            self._adopted += 1
        return conn

    def _instrument(self, engine: Engine, entry: _Entry) -> None:
        """Event listeners for engines other than PyMySQL's (SQLite, in tests and the embedded default)."""
        registry = self
        identity_check = self._identity_check
        connect_guard = self._connect_guard
        use_wal(engine)  # an SQLite file: readers and the writer do not lock each other out

        @event.listens_for(engine, "do_connect")
        def _before_connect(dialect, conn_rec, cargs, cparams):
            registry._admit_connection(entry)
            if connect_guard is not None:
                connect_guard(entry.target, cparams)

        if identity_check is not None:

            @event.listens_for(engine, "connect")
            def _check_identity(dbapi_connection, connection_record):
                # whatever this raises reaches the caller; SQLAlchemy closes the connection
                identity_check(dbapi_connection, entry.target)

        if not isinstance(engine.pool, _BudgetPool):  # a _BudgetPool's are counted by its class's listeners

            @event.listens_for(engine, "checkout")
            def _on_checkout(dbapi_connection, connection_record, connection_proxy):
                _checked_out(entry, connection_record, connection_proxy)

            @event.listens_for(engine, "checkin")
            def _on_checkin(dbapi_connection, connection_record):
                _returned(connection_record)

            @event.listens_for(engine, "detach")
            def _on_detach(dbapi_connection, connection_record):
                _returned(connection_record)

    # ------------------------------------------------------------------ retirement

    def _kill_locked(self, entry: _Entry) -> None:
        tid = entry.tenant_id
        if self._active.get(tid) is entry:
            del self._active[tid]
        if self._parked.get(tid) is entry:
            del self._parked[tid]
        entry.state = _DEAD
        entry.disposing = True
        self._draining.add(entry)

    def _finish_kill(self, entry: _Entry) -> None:
        self._shut(entry, retire=True)

    def _close_idle(self, entry: _Entry) -> None:
        """Close a parked entry's idle connections, then give back its reservation."""
        self._shut(entry, retire=False)

    def _shut(self, entry: _Entry, retire: bool) -> None:
        """Retire the engine (every connection, once returned) or close only its idle connections; then
        settle the entry's reservation and wake whoever waits for room."""
        _close_spares(entry)
        try:
            if entry.engine is not None:
                pool = entry.engine.pool
                if not isinstance(pool, _BudgetPool):
                    entry.engine.dispose()
                elif retire:
                    pool.retire()
                else:
                    pool.close_idle()
        except Exception:
            log.exception("tenant %s: error while %s", entry.tenant_id,
                          "closing a retired engine" if retire else "closing idle connections")
        finally:
            with self._cond:
                entry.disposing = False
                self._settle_locked(entry)
                self._cond.notify_all()

    def _close_victims(self, victims) -> None:
        for v in victims:
            self._close_idle(v)

    def _settle_locked(self, entry: _Entry) -> None:
        """Shrink a non-active entry's reservation to what it still needs."""
        if entry.disposing or entry.state == _ACTIVE:
            return
        keep = max(entry.checked_out, 0) if entry.state == _DEAD else 0
        self._give_back_locked(entry, keep)
        if entry.state == _DEAD and keep == 0:
            self._draining.discard(entry)

    def _give_back_locked(self, entry: _Entry, keep: int) -> None:
        if entry.reserved > keep:
            self._reserved -= entry.reserved - keep
            entry.reserved = keep
            self._cond.notify_all()

    # ------------------------------------------------------------------ helpers

    def _idle_locked(self, entry: _Entry) -> bool:
        if entry.checked_out or entry.state != _ACTIVE:
            return False
        pool = entry.engine.pool
        # counts connections being created or handed out before our checkout event sees them
        return not isinstance(pool, QueuePool) or pool.checkedout() == 0

    def _touch_locked(self, entry: _Entry) -> None:
        entry.last_used = time.time()
        if self._active.get(entry.tenant_id) is entry:
            self._active.move_to_end(entry.tenant_id)

    def _tenant_lock_locked(self, tid) -> threading.Lock:
        tlock = self._tenant_locks.get(tid)
        if tlock is None:
            tlock = self._tenant_locks[tid] = threading.Lock()
        return tlock

    def _wait_not_disposing_locked(self, entry: _Entry, deadline: float) -> None:
        while entry.disposing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._capacity_errors += 1
                raise CapacityExceeded(f"tenant {entry.tenant_id}: engine still closing its connections")
            self._wait_locked(min(remaining, _POLL))

    def _capacity_error(self, tid, why: str):
        with self._lock:
            self._capacity_errors += 1
        raise CapacityExceeded(f"no connection capacity for tenant {tid}: {why}")

    def _wait_locked(self, timeout: float) -> None:
        self._waiting += 1
        try:
            self._cond.wait(timeout)
        finally:
            self._waiting -= 1

    def _notify(self) -> None:
        # read without the lock: a thread that starts waiting just after is woken by its poll (_POLL) instead
        if self._waiting:
            with self._lock:
                self._cond.notify_all()

    def _pool_returned(self, pool) -> None:
        """A pool took a connection back: wake capacity waiters once it is idle (only if somebody waits)."""
        if self._waiting and pool.checkedout() == 0:
            self._notify()


class _Housekeeper(threading.Thread):
    """The registry's one background thread: trims idle connections every ``interval`` seconds. Holds the
    registry weakly, so a registry nobody uses any more is collected and the thread ends."""

    def __init__(self, registry: PoolRegistry, interval: float):
        super().__init__(name="pool-registry-housekeeper", daemon=True)
        self._registry = weakref.ref(registry)
        self._interval = max(interval, 0.05)
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            registry = self._registry()
            if registry is None:
                return
            try:
                registry.trim_idle()
            except Exception:
                log.exception("pool registry: trimming idle connections failed")
            del registry


def _checked_out(entry: _Entry, connection_record, connection_proxy) -> None:
    registry = entry.registry
    if entry.pid != _pid:
        # inherited from the parent: drop it without closing the parent's socket
        connection_record.dbapi_connection = connection_proxy.dbapi_connection = None
        raise sa_exc.DisconnectionError("connection belongs to the parent process")
    with registry._lock:
        state = entry.state
        if state == _ACTIVE:
            connection_record.record_info[_FLAG] = entry
            entry.checked_out += 1
            registry._touch_locked(entry)  # last used now, most recently used in the LRU order
            return
    if state == _PARKED:
        # taken from the pool just as the engine was evicted: close it and reconnect, which
        # re-admits the engine under the budget first
        raise sa_exc.DisconnectionError("engine was evicted; reconnecting within the budget")
    raise EngineRetired(f"the engine for tenant {entry.tenant_id} was retired; call engine_for() again")


def _returned(connection_record) -> None:
    entry = connection_record.record_info.pop(_FLAG, None)
    if entry is None:
        return
    if entry.pid != _pid:
        return  # the parent's connection: not ours to close
    registry = entry.registry
    with registry._lock:
        if entry.state != _DEAD:
            entry.checked_out -= 1
            if entry.checked_out == 0 and registry._waiting:
                registry._cond.notify_all()
            return
    try:
        connection_record.invalidate()  # retired engine: close instead of pooling
    finally:
        with registry._lock:
            entry.checked_out -= 1
            registry._settle_locked(entry)
            registry._cond.notify_all()


# Registered once for the class, not per engine: a tenant's first request pays for no listener registration.
@event.listens_for(_BudgetPool, "checkout")
def _budget_checkout(dbapi_connection, connection_record, connection_proxy):
    entry = connection_proxy._pool._entry
    if entry is not None:
        _checked_out(entry, connection_record, connection_proxy)


@event.listens_for(_BudgetPool, "checkin")
def _budget_checkin(dbapi_connection, connection_record):
    _returned(connection_record)


@event.listens_for(_BudgetPool, "detach")
def _budget_detach(dbapi_connection, connection_record):
    _returned(connection_record)


def _account(url: URL):
    """What two tenant URLs must share for a connection of one to serve the other after a database switch:
    everything but the database (driver, host, port, user, password, options). None if not PyMySQL."""
    if url.get_driver_name() != "pymysql":
        return None
    return url._replace(database=None)  # (URL.set ignores None)


def _close_spares(entry: _Entry) -> None:
    spares, entry.spares = entry.spares, []
    for conn in spares:
        _close_quietly(conn)


def _close_quietly(dbapi_connection) -> None:
    try:
        dbapi_connection.close()
    except Exception:  # closing a connection that failed its checks: the first error is the one that matters
        log.debug("closing a refused connection failed", exc_info=True)


class _ServerProfiles:
    """Tenant engines without SQLAlchemy's per-engine server discovery.

    On an engine's first connection SQLAlchemy's MySQL dialect asks the server five questions (version,
    current database, isolation level, sql_mode, identifier casing), rolls back, and its PyMySQL dialect
    sends a second ``SET NAMES`` (PyMySQL >= 1.1 already sends one while connecting): eight round trips
    that are the same for every tenant database on one server. Here the answers are learned once per
    server and server version (from the connection's handshake, so an upgraded server is learned anew)
    and copied into each new engine on its first connection, with no round trip.

    What belongs to one engine is never shared: its current database (``default_schema_name``) and the
    identifier preparer that reads it. The type-processor cache is shared between the engines of one
    server, as it is between the threads of one engine."""

    _PER_ENGINE = frozenset({"default_schema_name", "identifier_preparer"})

    def __init__(self):
        self._learned: dict = {}  # (driver, host, port, query) -> (server version, {dialect attribute: value})
        self._lock = threading.Lock()

    # What the registry passes for a PyMySQL tenant engine: with nothing else, the engine is put together
    # directly (the parts create_engine would make from these options, in a third of its time: it works out
    # which keyword goes where by inspecting every class involved, on every call).
    _DIRECT = frozenset({"creator", "poolclass", "pool_size", "max_overflow", "pool_use_lifo", "pool_timeout",
                         "pool_pre_ping", "pool_recycle", "hide_parameters"})

    def create_engine(self, url: URL, **options) -> Engine:
        """An engine for ``url``; for PyMySQL one that does no discovery of its own: its connect function calls
        ``set_up`` on its first connection."""
        if url.get_driver_name() != "pymysql":
            return sa.create_engine(url, **options)
        if options.keys() == self._DIRECT and "plugin" not in url.query:
            return self._direct_engine(url, options)
        engine = sa.create_engine(url, _initialize=False, **options)
        isolation_level = engine.dialect._builtin_onconnect()  # what create_engine would install for isolation_level=
        if isolation_level is not None:
            event.listen(engine, "connect", isolation_level)
        return engine

    def _direct_engine(self, url: URL, options: dict) -> Engine:
        """What ``sa.create_engine(url, _initialize=False, **options)`` returns for these options (a test compares
        the two): the URL's dialect class with the DBAPI module and create_engine's default linting, the pool
        class with the translated pool options, an Engine with ``hide_parameters``."""
        dialect_cls = url.get_dialect()
        dialect = dialect_cls(dbapi=dialect_cls.import_dbapi(),
                              compiler_linting=sql_compiler.NO_LINTING ^ sql_compiler.COLLECT_CARTESIAN_PRODUCTS)
        pool = options["poolclass"](options["creator"], pool_size=options["pool_size"],
                                    max_overflow=options["max_overflow"], use_lifo=options["pool_use_lifo"],
                                    timeout=options["pool_timeout"], pre_ping=options["pool_pre_ping"],
                                    recycle=options["pool_recycle"], dialect=dialect)
        return Engine(pool, dialect, url, hide_parameters=options["hide_parameters"])

    def set_up(self, dialect, url: URL, dbapi_connection) -> None:
        key = (url.drivername, url.host, url.port, tuple(sorted(url.query.items())))
        version = dbapi_connection.get_server_info()
        with self._lock:
            known = self._learned.get(key)
        if known is None or known[0] != version:
            known = (version, self._learn(url, dbapi_connection))
            with self._lock:
                self._learned[key] = known
        vars(dialect).update(known[1])
        dialect.default_schema_name = url.database
        dialect.identifier_preparer = dialect.preparer(dialect, server_ansiquotes=dialect._server_ansiquotes)

    def _learn(self, url: URL, dbapi_connection) -> dict:
        """SQLAlchemy's own discovery, run on this (already open) connection through a throwaway engine."""
        probe = sa.create_engine(url, poolclass=StaticPool, creator=lambda: dbapi_connection, hide_parameters=True)
        before = dict(vars(probe.dialect))
        try:
            with probe.connect():
                pass
        finally:
            probe.dispose(close=False)  # the connection belongs to the tenant engine
        return {name: value for name, value in vars(probe.dialect).items()
                if name not in self._PER_ENGINE and before.get(name, _MISSING) is not value}


_MISSING = object()


def _idle_count(engine: Engine | None):
    if engine is None:
        return 0
    checkedin = getattr(engine.pool, "checkedin", None)
    return checkedin() if callable(checkedin) else None


def check_database_name(dbapi_connection, target: Target) -> None:
    """A basic identity check for MySQL/MariaDB: the session's current database must be the one
    the target names. Use as ``identity_check=`` or call it from a stricter one."""
    if target.url.get_backend_name() not in ("mysql", "mariadb"):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT DATABASE()")
        row = cursor.fetchone()
    finally:
        cursor.close()
    actual = row[0] if row else None
    if actual != target.url.database:
        raise IdentityMismatch(
            f"tenant {target.tenant_id}: connected to database {actual!r}, expected {target.url.database!r}"
        )


# ---------------------------------------------------------------------- module-level registries

_REGISTRIES: weakref.WeakSet[PoolRegistry] = weakref.WeakSet()


def make_registry(
    budget: int,
    wait_timeout: float = 2.0,
    identity_check=None,
    engine_options: dict | None = None,
    connect_timeout: int = 5,
    read_timeout: float | None = None,
    write_timeout: float | None = None,
    connect_guard=None,
    idle_timeout: float | None = 60.0,
    tls_setting: tls.TlsSetting | None = None,
    reuse_connections: bool = True,
) -> PoolRegistry:
    """A registry that is reset automatically in every forked child (gunicorn, rq)."""
    registry = PoolRegistry(budget, wait_timeout, identity_check, engine_options, connect_timeout,
                            read_timeout=read_timeout, write_timeout=write_timeout, connect_guard=connect_guard,
                            idle_timeout=idle_timeout, tls_setting=tls_setting, reuse_connections=reuse_connections)
    _REGISTRIES.add(registry)
    return registry


def _reset_registries_after_fork() -> None:
    for registry in list(_REGISTRIES):
        try:
            registry.reset_after_fork()
        except Exception:
            log.debug("pool registry reset after fork failed", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_registries_after_fork)
