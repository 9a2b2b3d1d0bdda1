"""The per-process pool registry against real MariaDB databases (and a few SQLite files).

No Flask app here: these tests build their own databases ``pool_<random>_<n>``, each with a one-row
table naming itself, and drop them at the end. MariaDB is required (the module fails, never skips).
"""

import json
import logging
import os
import random
import secrets
import threading
import time
import warnings

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from datasource_registry.pool import (
    CapacityExceeded,
    EngineRetired,
    IdentityMismatch,
    PoolRegistry,
    Target,
    check_database_name,
    make_registry,
)
from tests.netfaults import FreezableProxy, SilentServer

SERVER_URL = sa.engine.make_url(os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"))
N_DATABASES = 6


# ---------------------------------------------------------------------------------------- fixtures


class Server:
    """The test databases plus a monitoring connection that counts the server's real connections."""

    def __init__(self):
        self.prefix = f"pool_{secrets.token_hex(4)}_"
        self.names = [f"{self.prefix}{n}" for n in range(N_DATABASES)]
        self.admin = sa.create_engine(SERVER_URL, poolclass=NullPool)
        self._monitor = None
        self._monitor_lock = threading.Lock()

    def create(self):
        try:
            with self.admin.begin() as conn:
                for name in self.names:
                    conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
                    conn.execute(sa.text(f"CREATE TABLE `{name}`.whoami (name VARCHAR(64) NOT NULL)"))
                    conn.execute(sa.text(f"INSERT INTO `{name}`.whoami VALUES (:n)"), {"n": name})
        except sa.exc.OperationalError as exc:
            pytest.fail(f"MariaDB is required for these tests and is not reachable at {SERVER_URL!r}: {exc}")
        self._monitor = pymysql.connect(
            host=SERVER_URL.host, port=SERVER_URL.port or 3306, user=SERVER_URL.username,
            password=SERVER_URL.password or "", autocommit=True,
        )

    def drop(self):
        if self._monitor is not None:
            self._monitor.close()
        with self.admin.begin() as conn:
            for name in self.names:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        self.admin.dispose()

    def connections(self, name=None):
        """Server-side connections whose current database is ``name`` (or any test database)."""
        with self._monitor_lock, self._monitor.cursor() as cur:
            if name is None:
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE LEFT(DB, %s) = %s",
                    (len(self.prefix), self.prefix),
                )
            else:
                cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s", (name,))
            return cur.fetchone()[0]

    def wait_connections(self, expected, name=None, timeout=5.0):
        """The server notices closed connections a moment later: poll until the count matches."""
        deadline = time.monotonic() + timeout
        while True:
            count = self.connections(name)
            if count == expected or time.monotonic() > deadline:
                return count
            time.sleep(0.02)

    def url(self, n, **query):
        return SERVER_URL.set(database=self.names[n], query={"charset": "utf8mb4", **query})


@pytest.fixture(scope="module")
def server():
    srv = Server()
    srv.create()
    yield srv
    srv.drop()


@pytest.fixture
def registries():
    """``registries(budget=..., ...)`` builds a PoolRegistry; all are closed after the test."""
    made = []

    def make(*args, factory=PoolRegistry, **kw):
        reg = factory(*args, **kw)
        made.append(reg)
        return reg

    yield make
    for reg in made:
        reg.close()


def target(server, tenant_id, db=None, *, ds=None, min_c=1, max_c=3, **query):
    db = tenant_id % N_DATABASES if db is None else db
    return Target(tenant_id, ds if ds is not None else tenant_id, server.url(db, **query), min_c, max_c)


def whoami(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT name FROM whoami")).scalar_one()


def sqlite_tenant(tmp_path, tenant_id, *, max_c=2):
    path = tmp_path / f"tenant{tenant_id}.sqlite3"
    eng = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE TABLE whoami (name VARCHAR(64) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO whoami VALUES (:n)"), {"n": f"sqlite-{tenant_id}"})
    eng.dispose()
    return Target(tenant_id, tenant_id, sa.engine.make_url(f"sqlite:///{path}"), 1, max_c)


def run_threads(n, fn):
    errors = []

    def wrapped(i):
        try:
            fn(i)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted by the test
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "worker threads hung"
    return errors


# ------------------------------------------------------------------------------------------- tests


def test_each_tenant_reads_only_its_own_database(server, registries, tmp_path):
    reg = registries(budget=30)
    mysql_targets = [target(server, n) for n in range(N_DATABASES)]
    sqlite_targets = [sqlite_tenant(tmp_path, 100 + n) for n in range(2)]
    for t in mysql_targets:
        assert whoami(reg.engine_for(t)) == t.url.database
    for t in sqlite_targets:
        assert whoami(reg.engine_for(t)) == f"sqlite-{t.tenant_id}"
    # interleaved again, from several threads: still each its own rows
    pairs = [(t, t.url.database) for t in mysql_targets] + [(t, f"sqlite-{t.tenant_id}") for t in sqlite_targets]

    def work(i):
        for _ in range(20):
            t, expected = random.choice(pairs)
            assert whoami(reg.engine_for(t)) == expected

    assert run_threads(8, work) == []
    stats = reg.stats()
    assert stats["created"] == len(pairs)
    assert stats["reserved"] == 6 * 3 + 2 * 2  # sqlite engines count against the budget too
    assert {e["tenant_id"] for e in stats["engines"]} == {t.tenant_id for t, _ in pairs}
    engine = reg.engine_for(mysql_targets[0])
    assert (engine.pool.size(), engine.pool._max_overflow) == (3, 0)  # up to max kept; trimmed to min when idle
    assert reg.engine_for(sqlite_targets[0]).pool.size() == 2


def test_one_engine_per_tenant_under_32_threads(server, registries):
    class SlowBuild(PoolRegistry):
        def _build_engine(self, entry):  # widen the race window
            time.sleep(0.05)
            return super()._build_engine(entry)

    reg = registries(budget=10, factory=SlowBuild)
    t = target(server, 1)
    barrier = threading.Barrier(32)
    engines = []

    def work(i):
        barrier.wait()
        engine = reg.engine_for(t)
        engines.append(engine)
        assert whoami(engine) == t.url.database

    assert run_threads(32, work) == []
    assert len({id(e) for e in engines}) == 1
    stats = reg.stats()
    assert stats["created"] == 1
    assert [e["tenant_id"] for e in stats["engines"]] == [1]
    assert stats["reserved"] == 3
    assert stats["checked_out"] == 0


def test_registry_lock_not_held_while_a_slow_server_answers(server, registries):
    """A caller waiting for a server that has not answered holds nothing anyone else needs: while it is
    provably still waiting, other tenants get new engines and queries, the same tenant gets its engine and
    stats() answers; the waiting caller fails once the server hangs up."""
    silent = SilentServer()
    try:
        reg = registries(budget=20)  # no read timeout: the caller waits until the server hangs up
        slow_target = Target(9, 9, SERVER_URL.set(port=silent.port, database="nowhere"), 1, 2)
        slow_engine = reg.engine_for(slow_target)
        outcome = {}

        def connect_slow():
            try:
                with slow_engine.connect():
                    outcome["result"] = "connected?!"
            except sa.exc.OperationalError as exc:
                outcome["result"] = exc

        stuck = threading.Thread(target=connect_slow)
        stuck.start()
        assert silent.wait_accepted(1), "the slow server was never contacted"

        def others(_):
            for n in range(N_DATABASES):  # other tenants: new engines and queries
                t = target(server, n)
                assert whoami(reg.engine_for(t)) == t.url.database
            assert reg.engine_for(slow_target) is slow_engine  # the same tenant's engine
            reg.stats()

        # in a thread of its own: were a lock held, it would wait for the hang-up that only comes below
        assert run_threads(1, others) == []
        assert stuck.is_alive() and outcome == {}, "the slow caller was not waiting while the others ran"
        silent.hang_up()
        stuck.join(30)
        assert isinstance(outcome["result"], sa.exc.OperationalError)
        assert reg.stats()["checked_out"] == 0
    finally:
        silent.close()


def test_reservations_and_real_connections_never_exceed_budget(server, registries):
    budget = 12
    # PyMySQL >= 1.2 builds a fresh SSL context for every new connection (~30 ms of CPU under the
    # GIL) even though this server has SSL disabled; this test churns hundreds of connections
    reg = registries(budget=budget, wait_timeout=10, engine_options={"connect_args": {"ssl_disabled": True}})
    targets = [target(server, tid, max_c=random.choice([2, 3, 4])) for tid in range(24)]
    done = threading.Event()
    samples = {"reserved": 0, "real": 0, "n": 0}

    def sample():
        while not done.is_set():
            samples["reserved"] = max(samples["reserved"], reg.stats()["reserved"])
            samples["real"] = max(samples["real"], server.connections())
            samples["n"] += 1
            time.sleep(0.003)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:

        def work(i):
            rnd = random.Random(i)
            for _ in range(40):
                t = rnd.choice(targets)
                with reg.engine_for(t).connect() as conn:
                    assert conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == t.url.database
                    time.sleep(rnd.uniform(0, 0.015))

        errors = run_threads(16, work)
    finally:
        done.set()
        sampler.join(10)
    assert errors == []
    stats = reg.stats()
    assert samples["n"] > 20
    assert stats["max_reserved"] <= budget
    assert samples["reserved"] <= budget
    assert 0 < samples["real"] <= budget
    assert stats["evictions"] > 0
    assert stats["checked_out"] == 0
    assert stats["reserved"] == sum(e["max_connections"] for e in stats["engines"]) <= budget


def test_lru_idle_engines_are_evicted_first(server, registries):
    reg = registries(budget=6)  # three engines of two connections
    a, b, c, d, e, f = (target(server, tid, max_c=2) for tid in range(1, 7))
    for t in (a, b, c):
        whoami(reg.engine_for(t))
    whoami(reg.engine_for(a))  # a is now the most recently used: order b, c, a
    whoami(reg.engine_for(d))
    assert [x["tenant_id"] for x in reg.stats()["engines"]] == [3, 1, 4]
    assert server.wait_connections(0, b.url.database) == 0  # the evicted engine's sockets are closed
    whoami(reg.engine_for(e))
    assert [x["tenant_id"] for x in reg.stats()["engines"]] == [1, 4, 5]
    held = reg.engine_for(a).connect()
    try:
        whoami(reg.engine_for(d))
        whoami(reg.engine_for(e))  # order 1, 4, 5: the LRU engine is busy, skipped; 4 goes
        assert [x["tenant_id"] for x in reg.stats()["engines"]] == [1, 4, 5]
        whoami(reg.engine_for(f))
        stats = reg.stats()
        assert [x["tenant_id"] for x in stats["engines"]] == [1, 5, 6]
        assert stats["evictions"] == 3
        assert stats["reserved"] == 6
    finally:
        held.close()


def test_evicted_engine_held_by_a_caller_is_readmitted(server, registries):
    reg = registries(budget=4)
    a, b, c = (target(server, tid, max_c=2) for tid in range(1, 4))
    engine_a = reg.engine_for(a)
    assert whoami(engine_a) == a.url.database
    whoami(reg.engine_for(b))
    whoami(reg.engine_for(c))  # evicts a
    assert [x["tenant_id"] for x in reg.stats()["engines"]] == [2, 3]
    assert whoami(engine_a) == a.url.database  # re-admitted (evicting b), not an error
    stats = reg.stats()
    assert [x["tenant_id"] for x in stats["engines"]] == [3, 1]
    assert stats["evictions"] == 2 and stats["created"] == 3 and stats["reserved"] == 4
    assert reg.engine_for(a) is engine_a  # the same engine, not a second one for the tenant


def test_engines_held_across_evictions_keep_working_under_load(server, registries):
    """Callers that keep an Engine (a request between two statements) while other threads evict it:
    every use re-admits it under the budget; no errors, no second engine per tenant."""
    budget = 12
    reg = registries(budget=budget, wait_timeout=10, engine_options={"connect_args": {"ssl_disabled": True}})
    targets = [target(server, tid, max_c=random.choice([2, 3, 4])) for tid in range(18)]
    peak = {"reserved": 0, "real": 0}
    done = threading.Event()
    keepalive = []  # an engine nobody holds may be collected and built anew: hold them all

    def sample():
        while not done.is_set():
            peak["reserved"] = max(peak["reserved"], reg.stats()["reserved"])
            peak["real"] = max(peak["real"], server.connections())
            time.sleep(0.003)

    def work(i):
        rnd = random.Random(1000 + i)
        held = {}
        for _ in range(60):
            t = rnd.choice(targets)
            engine = held.get(t.tenant_id)
            if engine is None:
                engine = held[t.tenant_id] = reg.engine_for(t)
                keepalive.append(engine)
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == t.url.database
                time.sleep(rnd.uniform(0, 0.005))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        errors = run_threads(12, work)
    finally:
        done.set()
        sampler.join(10)
    assert errors == []
    stats = reg.stats()
    assert stats["created"] == len(targets)
    assert stats["evictions"] > 50
    assert stats["max_reserved"] <= budget and peak["reserved"] <= budget
    assert 0 < peak["real"] <= budget
    assert stats["checked_out"] == 0


def test_capacity_exceeded_when_every_engine_is_busy(server, registries):
    reg = registries(budget=4, wait_timeout=0.5)
    a, b, c = (target(server, tid, max_c=2) for tid in range(1, 4))
    held = [reg.engine_for(t).connect() for t in (a, a, b, b)]
    try:
        started = time.monotonic()
        with pytest.raises(CapacityExceeded):
            reg.engine_for(c)
        elapsed = time.monotonic() - started
        assert 0.45 <= elapsed < 2.0
        stats = reg.stats()
        assert stats["capacity_errors"] == 1 and stats["capacity_waits"] == 1
        assert stats["reserved"] == 4 and stats["checked_out"] == 4
        assert server.connections() == 4
    finally:
        for conn in held:
            conn.close()


def test_capacity_wait_succeeds_when_connections_come_back(server, registries):
    reg = registries(budget=4, wait_timeout=3.0)
    a, b, c = (target(server, tid, max_c=2) for tid in range(1, 4))
    held_a = [reg.engine_for(a).connect() for _ in range(2)]
    held_b = [reg.engine_for(b).connect() for _ in range(2)]
    for conn in held_a + held_b:
        conn.execute(sa.text("SELECT 1"))

    def give_back():
        time.sleep(0.3)
        for conn in held_a:
            conn.close()

    giver = threading.Thread(target=give_back)
    giver.start()
    try:
        started = time.monotonic()
        engine_c = reg.engine_for(c)
        elapsed = time.monotonic() - started
        assert 0.25 <= elapsed < 2.0
        assert whoami(engine_c) == c.url.database
        stats = reg.stats()
        assert stats["capacity_waits"] == 1 and stats["capacity_errors"] == 0
        assert stats["evictions"] == 1
        assert [x["tenant_id"] for x in stats["engines"]] == [2, 3]
    finally:
        giver.join()
        for conn in held_b:
            conn.close()


def test_changed_target_replaces_the_engine(server, registries):
    reg = registries(budget=10)
    old_t = target(server, 1, db=0, ds=1)
    old_engine = reg.engine_for(old_t)
    assert whoami(old_engine) == server.names[0]
    in_flight = old_engine.connect()
    in_flight.execute(sa.text("SELECT 1"))

    new_t = target(server, 1, db=1, ds=2)  # the datasource changed
    new_engine = reg.engine_for(new_t)
    assert new_engine is not old_engine
    assert whoami(new_engine) == server.names[1]
    assert reg.engine_for(new_t) is new_engine
    with pytest.raises(EngineRetired):
        old_engine.connect()  # a retired engine never serves again
    # the in-flight request finishes on its own connection; the budget still counts it
    assert in_flight.execute(sa.text("SELECT name FROM whoami")).scalar_one() == server.names[0]
    stats = reg.stats()
    assert stats["reserved"] == 3 + 1 and stats["draining"] == 1
    assert [(x["tenant_id"], x["datasource_id"]) for x in stats["engines"]] == [(1, 2)]
    in_flight.close()  # closed on return, not pooled
    assert reg.stats()["reserved"] == 3
    assert server.wait_connections(0, server.names[0]) == 0

    same_ds_other_url = target(server, 1, db=2, ds=2)
    assert whoami(reg.engine_for(same_ds_other_url)) == server.names[2]
    stats = reg.stats()
    assert stats["created"] == 3 and stats["reserved"] == 3
    assert server.wait_connections(0, server.names[1]) == 0


def test_identity_check_failure_propagates_and_serves_nothing(server, registries):
    expected = {1: server.names[1], 2: server.names[2], 3: server.names[3]}
    calls = []

    def identity_check(dbapi_connection, t):
        calls.append(t.tenant_id)
        check_database_name(dbapi_connection, t)
        cur = dbapi_connection.cursor()
        try:
            cur.execute("SELECT name FROM whoami")
            (name,) = cur.fetchone()
        finally:
            cur.close()
        if name != expected[t.tenant_id]:
            raise IdentityMismatch(f"tenant {t.tenant_id} reached {name}")

    reg = registries(budget=10, identity_check=identity_check)
    good = target(server, 1, db=1)
    assert whoami(reg.engine_for(good)) == server.names[1]
    wrong = target(server, 2, db=4)  # the datasource points at someone else's database
    engine = reg.engine_for(wrong)
    for _ in range(3):  # fails closed every time: no fallback, no cached connection
        with pytest.raises(IdentityMismatch):
            engine.connect()
    assert calls.count(2) == 3
    assert reg.stats()["checked_out"] == 0
    assert server.wait_connections(0, server.names[4]) == 0  # refused connections were closed
    assert whoami(reg.engine_for(good)) == server.names[1]  # other tenants unaffected
    assert whoami(reg.engine_for(target(server, 3, db=3))) == server.names[3]


def test_release_only_when_idle(server, registries):
    reg = registries(budget=10)
    t = target(server, 1)
    engine = reg.engine_for(t)
    conn = engine.connect()
    conn.execute(sa.text("SELECT 1"))
    assert reg.release(1) is False
    conn.close()
    assert reg.release(1) is True
    assert reg.release(1) is False
    assert reg.release(42) is False
    stats = reg.stats()
    assert stats["reserved"] == 0 and stats["engines"] == []
    assert server.wait_connections(0, t.url.database) == 0
    # a loop over tenants calls engine_for again later: same engine, admitted again
    assert reg.engine_for(t) is engine
    assert whoami(engine) == t.url.database
    assert reg.stats()["reserved"] == 3


def test_dispose_drains_then_forgets(server, registries):
    reg = registries(budget=10)
    t = target(server, 1)
    engine = reg.engine_for(t)
    conn = engine.connect()
    conn.execute(sa.text("SELECT 1"))

    def give_back():
        time.sleep(0.3)
        conn.close()

    giver = threading.Thread(target=give_back)
    giver.start()
    started = time.monotonic()
    reg.dispose(1, drain_timeout=5)
    elapsed = time.monotonic() - started
    giver.join()
    assert 0.25 <= elapsed < 3
    stats = reg.stats()
    assert stats["engines"] == [] and stats["reserved"] == 0 and stats["draining"] == 0
    assert server.wait_connections(0, t.url.database) == 0
    with pytest.raises(EngineRetired):
        engine.connect()
    fresh = reg.engine_for(t)
    assert fresh is not engine and whoami(fresh) == t.url.database


def test_dispose_drain_timeout_keeps_counting_until_returned(server, registries):
    reg = registries(budget=10)
    t = target(server, 2)
    conn = reg.engine_for(t).connect()
    conn.execute(sa.text("SELECT 1"))
    started = time.monotonic()
    reg.dispose(2, drain_timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 2
    assert conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == t.url.database
    stats = reg.stats()
    assert stats["engines"] == [] and stats["reserved"] == 1 and stats["checked_out"] == 1
    conn.close()
    assert reg.stats()["reserved"] == 0
    assert server.wait_connections(0, t.url.database) == 0


def test_reset_after_fork_child_starts_clean_parent_keeps_its_connections(server, registries):
    reg = registries(budget=10, factory=make_registry)
    t = target(server, 1)
    parent_engine = reg.engine_for(t)
    with parent_engine.connect() as conn:
        parent_cid = conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()

    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # multi-threaded fork notice (3.12+)
        pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        code = 1
        try:
            os.close(read_fd)
            before = reg.stats()
            try:
                parent_engine.connect()
                inherited = "connected"
            except EngineRetired:
                inherited = "retired"
            child_engine = reg.engine_for(t)
            with child_engine.connect() as conn:
                row = conn.execute(sa.text("SELECT name, CONNECTION_ID() FROM whoami")).one()
            result = {
                "reserved_before": before["reserved"],
                "engines_before": before["engines"],
                "created_before": before["created"],
                "inherited": inherited,
                "new_engine": child_engine is not parent_engine,
                "name": row[0],
                "cid": row[1],
                "created_after": reg.stats()["created"],
            }
            reg.close()
            os.write(write_fd, json.dumps(result).encode())
            code = 0
        except BaseException as exc:  # noqa: BLE001
            os.write(write_fd, json.dumps({"error": repr(exc)}).encode())
        finally:
            os._exit(code)

    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    result = json.loads(b"".join(chunks))
    assert os.waitstatus_to_exitcode(status) == 0, result
    assert result["reserved_before"] == 0 and result["engines_before"] == [] and result["created_before"] == 0
    assert result["inherited"] == "retired"
    assert result["new_engine"] is True and result["created_after"] == 1
    assert result["name"] == t.url.database and result["cid"] != parent_cid
    # the parent's pooled connection survived the child: same server thread, still working
    with parent_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one() == parent_cid
        assert conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == t.url.database
    assert reg.stats()["created"] == 1


def test_unreachable_tenant_fails_fast_and_alone(server, registries):
    """A tenant whose server refuses connections fails at once, every time, without waiting for capacity; one
    whose server hangs fails when it hangs up. While the hung tenant's callers are blocked, every other tenant
    is served and the refused one still fails straight away."""
    silent = SilentServer()
    reg = registries(budget=20)
    refused = Target(98, 98, SERVER_URL.set(port=1, database="nowhere"), 1, 2)
    hung = Target(99, 99, SERVER_URL.set(port=silent.port, database="nowhere"), 1, 2)
    good = [target(server, n) for n in range(N_DATABASES)]
    failures = []

    def call_hung():
        try:
            with reg.engine_for(hung).connect():
                pass
        except sa.exc.OperationalError as exc:
            failures.append(exc)

    blocked = [threading.Thread(target=call_hung) for _ in range(2)]
    for thread in blocked:
        thread.start()
    try:
        assert silent.wait_accepted(2), "the hung tenant's callers never reached its server"

        def work(i):
            for k in range(10):
                t = good[(i + k) % len(good)]
                assert whoami(reg.engine_for(t)) == t.url.database

        assert run_threads(4, work) == []
        for _ in range(5):
            with pytest.raises(sa.exc.OperationalError), reg.engine_for(refused).connect():
                pass
        assert all(thread.is_alive() for thread in blocked) and failures == [], \
            "the hung tenant's callers were not blocked while the others were served"
    finally:
        silent.hang_up()
        for thread in blocked:
            thread.join(30)
        silent.close()
    assert len(failures) == 2
    stats = reg.stats()
    assert stats["checked_out"] == 0 and stats["capacity_errors"] == 0 and stats["capacity_waits"] == 0
    for tenant_id in (98, 99):
        row = next(x for x in stats["engines"] if x["tenant_id"] == tenant_id)
        assert row["checked_out"] == 0 and row["idle"] == 0


def _fails_within(bound, call):
    """Run ``call`` in a thread; its exception, provided it came within ``bound`` seconds (None if it did not)."""
    outcome = {}

    def wrapped():
        try:
            call()
            outcome["error"] = AssertionError("the call succeeded")
        except Exception as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=wrapped, daemon=True)
    thread.start()
    thread.join(bound)
    return outcome.get("error")


def test_a_server_that_never_answers_fails_within_the_read_timeout(registries):
    """connect_timeout covers only the TCP connect: a server that accepts and then says nothing (not even its
    greeting) must cost no more than the read timeout, not hold the caller's thread for ever."""
    silent = SilentServer()
    read_timeout = 1
    try:
        reg = registries(budget=5, read_timeout=read_timeout)
        engine = reg.engine_for(Target(97, 97, SERVER_URL.set(port=silent.port, database="nowhere"), 1, 2))

        def connect():
            with engine.connect():
                pass

        error = _fails_within(read_timeout * 3 + 10, connect)
        assert isinstance(error, sa.exc.OperationalError), "the caller still waits on the silent server"
        assert error.orig.args[0] == 2013 and "timed out" in error.orig.args[1]  # lost waiting for the greeting
        assert silent.wait_accepted(1, timeout=0)
        assert reg.stats()["checked_out"] == 0
    finally:
        silent.close()


def test_a_server_that_stops_reading_fails_within_the_write_timeout(server, registries):
    """A server that froze mid-connection and no longer reads: a large statement fills the socket buffers and
    fails within the write timeout (the read timeout is far longer here, so it is the write timeout that acts)."""
    proxy = FreezableProxy((SERVER_URL.host, SERVER_URL.port or 3306))
    write_timeout = 1
    reg = registries(budget=5, read_timeout=3600, write_timeout=write_timeout)
    t = Target(96, 96, server.url(0).set(port=proxy.port), 1, 2)
    conn = reg.engine_for(t).connect()
    try:
        assert conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == t.url.database
        proxy.freeze()
        payload = "x" * (32 * 1024 * 1024)  # far more than the socket buffers on both sides hold
        error = _fails_within(write_timeout * 3 + 10, lambda: conn.exec_driver_sql("SELECT LENGTH(%s)", (payload,)))
    finally:
        proxy.close()  # whatever still waits on the frozen server sees it go away
        conn.close()
    assert isinstance(error, sa.exc.OperationalError), "the caller still waits to write to the frozen server"
    assert error.orig.args[0] == 2006 and "timed out" in error.orig.args[1]  # gone away: the write timed out
    assert reg.stats()["checked_out"] == 0


def test_target_larger_than_budget_is_clamped(server, registries):
    reg = registries(budget=3, wait_timeout=0.3)
    big = target(server, 1, min_c=5, max_c=10)
    engine = reg.engine_for(big)
    (row,) = reg.stats()["engines"]
    assert (row["pool_size"], row["max_connections"]) == (3, 3)
    held = [engine.connect() for _ in range(3)]
    try:
        for conn in held:
            conn.execute(sa.text("SELECT 1"))
        with pytest.raises(sa.exc.TimeoutError):  # the pool itself stops at the clamped size
            engine.connect()
        assert server.connections(big.url.database) == 3
    finally:
        for conn in held:
            conn.close()


def test_sqlite_engines_share_the_budget(server, registries, tmp_path):
    reg = registries(budget=4)
    s1, s2 = sqlite_tenant(tmp_path, 201), sqlite_tenant(tmp_path, 202)
    m = target(server, 1, max_c=2)
    assert whoami(reg.engine_for(s1)) == "sqlite-201"
    assert whoami(reg.engine_for(m)) == m.url.database
    assert reg.stats()["reserved"] == 4
    assert whoami(reg.engine_for(s2)) == "sqlite-202"  # evicts the sqlite engine, the LRU one
    stats = reg.stats()
    assert [x["tenant_id"] for x in stats["engines"]] == [1, 202]
    assert stats["evictions"] == 1 and stats["reserved"] == 4

    def work(i):
        for _ in range(10):
            assert whoami(reg.engine_for(s2)) == "sqlite-202"

    assert run_threads(4, work) == []


def test_constructor_and_target_validation():
    url = sa.engine.make_url("sqlite://")
    with pytest.raises(ValueError):
        PoolRegistry(budget=0)
    with pytest.raises(ValueError):
        PoolRegistry(budget=5, engine_options={"pool_size": 50})
    with pytest.raises(ValueError):
        Target(1, 1, url, 3, 2)
    with pytest.raises(ValueError):
        Target(1, 1, url, 0, 0)
    with pytest.raises(TypeError):
        Target(1, 1, "sqlite://", 1, 1)


def test_password_is_never_rendered(server, registries, caplog):
    secret = "s3cret-Pa55"
    t = Target(7, 7, SERVER_URL.set(password=secret, port=1, database="nowhere"), 1, 2)
    assert secret not in repr(t) and secret not in str(t) and "***" in repr(t)
    caplog.set_level(logging.DEBUG)
    reg = registries(budget=2, wait_timeout=0.2)
    engine = reg.engine_for(t)
    with pytest.raises(sa.exc.OperationalError) as failure:
        engine.connect()
    assert secret not in str(failure.value)
    reg.engine_for(Target(7, 8, SERVER_URL.set(password=secret, port=2, database="nowhere"), 1, 2))
    held = reg.engine_for(target(server, 1, max_c=2)).connect()  # busy: no room for tenant 7 again
    try:
        with pytest.raises(CapacityExceeded) as full:
            reg.engine_for(t)
        assert secret not in str(full.value)
    finally:
        held.close()
    assert secret not in repr(reg.stats())
    assert secret not in caplog.text
    assert "***" in caplog.text  # the target change was logged, masked


# ------------------------------------------------------------------ min and max, as HikariCP means them


def concurrent_requests(reg, t, n, rounds):
    """``rounds`` times, ``n`` requests holding a connection at the same moment (a barrier inside each
    request); returns the server connection ids that served them."""
    barrier = threading.Barrier(n)
    ids = []

    def request(i):
        for _ in range(rounds):
            with reg.engine_for(t).connect() as conn:
                ids.append(conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one())
                barrier.wait(timeout=30)
            barrier.wait(timeout=30)  # everyone has handed the connection back before the next round

    assert run_threads(n, request) == []
    return ids


def test_concurrent_requests_up_to_max_reuse_the_connections_they_opened(server, registries):
    reg = registries(budget=10)
    t = target(server, 1, min_c=1, max_c=4)
    ids = concurrent_requests(reg, t, n=3, rounds=6)
    assert len(ids) == 18 and len(set(ids)) == 3  # opened once, then reused: none closed on check-in
    assert server.wait_connections(3, t.url.database) == 3
    (row,) = reg.stats()["engines"]
    assert (row["idle"], row["checked_out"], row["pool_size"], row["max_connections"]) == (3, 0, 1, 4)


def test_connections_idle_past_the_timeout_are_closed_down_to_min(server, registries):
    reg = registries(budget=10, idle_timeout=60)
    t = target(server, 1, min_c=1, max_c=4)
    opened = set(concurrent_requests(reg, t, n=3, rounds=1))
    now = time.monotonic()
    assert reg.trim_idle(now=now) == 0  # just used: kept
    assert reg.trim_idle(now=now + 59) == 0
    assert reg.trim_idle(now=now + 61) == 2  # idle for over a minute: back down to min
    assert server.wait_connections(1, t.url.database) == 1
    assert reg.trim_idle(now=now + 3600) == 0  # min stays, however long it idles
    assert reg.stats()["engines"][0]["idle"] == 1
    assert whoami(reg.engine_for(t)) == t.url.database
    with reg.engine_for(t).connect() as conn:
        assert conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one() in opened  # the kept one
    assert reg.stats()["reserved"] == 4  # the engine keeps its reservation of max


def test_trimming_closes_the_longest_idle_and_never_a_busy_connection(server, registries):
    reg = registries(budget=10, idle_timeout=60)
    t = target(server, 1, min_c=0, max_c=3)
    engine = reg.engine_for(t)
    first, second = engine.connect(), engine.connect()
    first_id = first.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()
    first.close()
    returned = time.monotonic()
    with engine.connect() as again:  # the most recently returned connection is handed out first
        assert again.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one() == first_id
    assert reg.trim_idle(now=returned + 3600) == 1  # the idle one; the one still checked out stays
    second.execute(sa.text("SELECT 1"))
    assert server.wait_connections(1, t.url.database) == 1
    second.close()
    assert reg.trim_idle(now=time.monotonic() + 3600) == 1  # min 0: nothing is kept
    assert server.wait_connections(0, t.url.database) == 0
    assert whoami(engine) == t.url.database  # and the pool opens again on demand


def test_the_housekeeping_thread_trims_idle_connections(server, registries):
    reg = registries(budget=10, idle_timeout=0.2)
    t = target(server, 2, min_c=1, max_c=3)
    concurrent_requests(reg, t, n=3, rounds=1)
    assert server.wait_connections(1, t.url.database, timeout=30) == 1  # nobody called trim_idle()
    assert [(e["tenant_id"], e["idle"]) for e in reg.stats()["engines"]] == [(2, 1)]


def test_idle_timeout_none_keeps_connections_until_evicted(server, registries):
    reg = registries(budget=6, idle_timeout=None)
    a, b = target(server, 1, min_c=1, max_c=3), target(server, 2, min_c=1, max_c=3)
    concurrent_requests(reg, a, n=3, rounds=1)
    assert reg.trim_idle(now=time.monotonic() + 3600) == 0
    assert server.wait_connections(3, a.url.database) == 3
    whoami(reg.engine_for(b))
    whoami(reg.engine_for(target(server, 3, min_c=1, max_c=3)))  # evicts a, the least recently used
    assert server.wait_connections(0, a.url.database) == 0


# ------------------------------------------------------------------ the cold path


@pytest.fixture
def statements(monkeypatch):
    """Every command PyMySQL sends, as (id of the DBAPI connection, SQL)."""
    from pymysql.connections import Connection

    from datasource_registry.mysql_connection import TenantConnection

    sent = []
    send, pipelined = Connection._execute_command, TenantConnection._send_pipelined

    def spy(self, command, sql):
        sent.append((id(self), sql.decode() if isinstance(sql, bytes) else sql))
        return send(self, command, sql)

    def pipelined_spy(self, commands):  # the session set-up's commands, sent in one write
        sent.extend((id(self), sql.decode() if isinstance(sql, bytes) else sql) for _command, sql in commands)
        return pipelined(self, commands)

    monkeypatch.setattr(Connection, "_execute_command", spy)
    monkeypatch.setattr(TenantConnection, "_send_pipelined", pipelined_spy)
    return sent


def test_a_new_tenant_engine_does_not_ask_the_server_what_it_already_knows(server, registries, statements):
    reg = registries(budget=20)
    first = reg.engine_for(target(server, 1, db=1))
    whoami(first)
    assert any("VERSION()" in sql for _, sql in statements)  # the first engine on this server learns
    statements.clear()
    second_target = target(server, 2, db=2)
    second = reg.engine_for(second_target)
    assert whoami(second) == server.names[2]
    sent = [sql for _, sql in statements]
    assert sent[:1] == ["SET NAMES utf8mb4, autocommit = 0"]  # PyMySQL's two session SETs in one statement
    assert sent[1:] == ["SELECT name FROM whoami", "ROLLBACK"]  # then the request: nothing else
    d1, d2 = first.dialect, second.dialect
    learned = ("server_version_info", "_sql_mode", "default_isolation_level", "_casing", "is_mariadb",
               "_server_ansiquotes", "_backslash_escapes", "supports_sequences", "_connection_charset")
    assert all(getattr(d2, name) == getattr(d1, name) for name in learned)
    assert d2.server_version_info is not None
    # what belongs to one engine is its own: reflection reads this tenant's database, not the first one's
    assert d2.default_schema_name == server.names[2] and d1.default_schema_name == server.names[1]
    assert d2.identifier_preparer.dialect is d2
    with second.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["whoami"]
        assert sa.inspect(conn).has_table("whoami")


def test_an_upgraded_server_is_learned_again(server, registries, statements, monkeypatch):
    from pymysql.connections import Connection

    reg = registries(budget=20)
    whoami(reg.engine_for(target(server, 1)))
    real = Connection.get_server_info
    monkeypatch.setattr(Connection, "get_server_info", lambda self: real(self) + "-upgraded")
    statements.clear()
    upgraded = reg.engine_for(target(server, 2))
    assert whoami(upgraded) == server.names[2]
    assert any("VERSION()" in sql for _, sql in statements)
    assert upgraded.dialect.default_schema_name == server.names[2]


def mark(conn, database, tenant):
    """What the app's identity check reads in a tenant database: its identity marker, and the tenant schema
    revision it is at (this code's head: a database behind it is refused, as test_routing shows)."""
    from datasource_registry.tenant_schema import head_revision

    conn.execute(sa.text(f"CREATE TABLE `{database}`.tenant_identity (id INT PRIMARY KEY, tenant_id BIGINT)"))
    conn.execute(sa.text(f"INSERT INTO `{database}`.tenant_identity VALUES (1, {tenant})"))
    conn.execute(sa.text(f"CREATE TABLE `{database}`.alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
    conn.execute(sa.text(f"INSERT INTO `{database}`.alembic_version VALUES (:head)"), {"head": head_revision()})


def unmark(conn, database):
    conn.execute(sa.text(f"DROP TABLE IF EXISTS `{database}`.tenant_identity, `{database}`.alembic_version"))


def test_the_identity_query_shares_the_session_set_up_round_trip_and_still_fails_closed(server, registries,
                                                                                         monkeypatch):
    """The app's identity check (an IdentityQuery) is sent behind the session's SET before either answer is
    read: one round trip for both. A marker naming another tenant, or no marker at all, refuses the
    connection and closes it; the connection that passes answers its own queries correctly afterwards."""
    from pymysql.connections import Connection

    from datasource_registry.mysql_connection import TenantConnection
    from datasource_registry.registry import _identity_check

    events = []  # ("send", connection id, SQL) and ("read", connection id), in order
    send, read, pipelined = Connection._execute_command, Connection._read_packet, TenantConnection._send_pipelined

    def send_spy(self, command, sql):
        events.append(("send", id(self), sql.decode() if isinstance(sql, bytes) else sql))
        return send(self, command, sql)

    def pipelined_spy(self, commands):
        events.extend(("send", id(self), sql.decode() if isinstance(sql, bytes) else sql) for _command, sql in commands)
        return pipelined(self, commands)

    monkeypatch.setattr(TenantConnection, "_send_pipelined", pipelined_spy)

    def read_spy(self, *args, **kwargs):
        events.append(("read", id(self)))
        return read(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "_execute_command", send_spy)
    monkeypatch.setattr(Connection, "_read_packet", read_spy)
    marked = {3: 3, 4: 99}  # database 3 carries tenant 3's marker, database 4 another tenant's; 5 has none
    with server.admin.begin() as conn:
        for db, tenant in marked.items():
            mark(conn, server.names[db], tenant)
    try:
        reg = registries(budget=10, identity_check=_identity_check)
        events.clear()
        with reg.engine_for(target(server, 3, db=3)).connect() as conn:
            start = next(i for i, e in enumerate(events) if e[0] == "send")
            cid = events[start][1]
            mine = [e for e in events[start:] if e[1] == cid]
            # SET, then the identity query, and only then the answers
            assert mine[:3] == [("send", cid, "SET NAMES utf8mb4, autocommit = 0"),
                                ("send", cid, _identity_check.sql), ("read", cid)]
            assert conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == server.names[3]
            assert tuple(conn.execute(sa.text("SELECT @@autocommit, @@character_set_client")).one()) == (0, "utf8mb4")
        for db in (4, 5):  # another tenant's marker; no marker table at all
            engine = reg.engine_for(target(server, db, db=db))
            for _ in range(2):  # every time: nothing is cached
                with pytest.raises(IdentityMismatch):
                    engine.connect()
            assert server.wait_connections(0, server.names[db]) == 0  # refused connections were closed
        assert reg.stats()["checked_out"] == 0
        assert whoami(reg.engine_for(target(server, 3, db=3))) == server.names[3]  # the right one still works
    finally:
        with server.admin.begin() as conn:
            for db in marked:
                unmark(conn, server.names[db])


def test_a_tenant_engine_put_together_directly_is_what_create_engine_would_build():
    """The registry builds PyMySQL tenant engines without create_engine (a third of its time); if a SQLAlchemy
    upgrade changed what create_engine makes of the same options, this says so."""
    from datasource_registry.pool import _BudgetPool, _ServerProfiles

    url = SERVER_URL.set(database="anything", query={"charset": "utf8mb4"})
    options = {"creator": lambda record: None, "poolclass": _BudgetPool, "pool_size": 4, "max_overflow": 0,
               "pool_use_lifo": True, "pool_timeout": 1.5, "pool_pre_ping": True, "pool_recycle": 3600,
               "hide_parameters": True}
    direct, reference = _ServerProfiles().create_engine(url, **options), sa.create_engine(url, _initialize=False,
                                                                                          **options)

    def shape(engine):
        d, p = engine.dialect, engine.pool
        plain = (str, int, float, bool, type(None), tuple, frozenset, dict, type, type(sa))
        # objects of their own per dialect (preparer, type compiler, caches) compare by class
        dialect = {k: v if isinstance(v, plain) else type(v) for k, v in vars(d).items()}
        return (type(d), dialect, type(p), p.size(), p._max_overflow, p._pool.use_lifo, p._timeout, p._pre_ping,
                p._recycle, p._reset_on_return, p._dialect is d, engine.hide_parameters, engine.url, engine.echo,
                engine._compiled_cache.capacity, dict(engine._execution_options), type(d.identifier_preparer),
                type(d.type_compiler_instance))

    assert direct is not reference and direct.dialect is not reference.dialect
    assert shape(direct) == shape(reference)
    assert direct.pool._creator is options["creator"]


# ------------------------------------------------------------- an evicted engine's connection handed over


@pytest.fixture
def marked(server):
    """Databases 0-2 carry the identity markers of tenants 0-2 (the app's identity check reads them)."""
    with server.admin.begin() as conn:
        for db in range(3):
            mark(conn, server.names[db], db)
    yield
    with server.admin.begin() as conn:
        for db in range(3):
            unmark(conn, server.names[db])


def connection_id(conn):
    return conn.execute(sa.text("SELECT CONNECTION_ID()")).scalar_one()


def one_slot_registry(registries, **kw):
    """Room for one tenant at a time (max 1 connection each): every new tenant evicts the last one."""
    from datasource_registry.registry import _identity_check

    return registries(budget=1, identity_check=_identity_check, **kw)


def test_an_evicted_engines_connection_serves_the_tenant_admitted_in_its_place(server, registries, marked):
    """Same server, same account: the tenant admitted in an evicted one's place gets its idle connection,
    switched to its own database and identity-checked, instead of a new login. It reads its own rows, and
    nothing of the first tenant's session is left: variables, temporary tables, session settings, the
    transaction."""
    reg = one_slot_registry(registries)
    with reg.engine_for(target(server, 0, db=0, max_c=1)).connect() as conn:
        first = connection_id(conn)
        conn.execute(sa.text("SET @left_behind = 'tenant 0', SESSION sql_mode = 'ANSI_QUOTES'"))
        conn.execute(sa.text("CREATE TEMPORARY TABLE scratch (n INT)"))
        conn.execute(sa.text("INSERT INTO whoami VALUES ('uncommitted')"))  # rolled back, never committed
    with reg.engine_for(target(server, 1, db=1, max_c=1)).connect() as conn:
        assert connection_id(conn) == first  # the same server connection, no new login
        assert conn.execute(sa.text("SELECT name FROM whoami")).scalars().all() == [server.names[1]]
        assert conn.execute(sa.text("SELECT DATABASE(), @left_behind, @@autocommit, @@character_set_client, "
                                    "@@sql_mode LIKE '%ANSI_QUOTES%'")).one() == (server.names[1], None, 0,
                                                                                   "utf8mb4", 0)
        with pytest.raises(sa.exc.ProgrammingError):
            conn.execute(sa.text("SELECT * FROM scratch"))
    assert reg.stats()["handed_over"] == 1
    assert server.wait_connections(1) == 1  # one real connection all along
    with server.admin.connect() as admin:
        names = admin.execute(sa.text(f"SELECT name FROM `{server.names[0]}`.whoami")).scalars().all()
    assert names == [server.names[0]]  # the first tenant's uncommitted row never landed


def test_a_handed_over_connection_is_identity_checked_and_fails_closed(server, registries, marked):
    """The database the new tenant's target names carries another tenant's marker: the handed-over connection
    is refused like a new one would be (and closed), the fresh login that follows is refused too, and no
    connection is left open."""
    reg = one_slot_registry(registries)
    whoami(reg.engine_for(target(server, 0, db=0, max_c=1)))
    wrong = Target(7, 7, server.url(1), 1, 1)  # tenant 7's target naming tenant 1's database
    with pytest.raises(IdentityMismatch):
        reg.engine_for(wrong).connect()
    assert reg.stats()["handed_over"] == 0
    assert server.wait_connections(0) == 0


def test_a_connection_is_handed_over_only_between_the_same_account_and_options(server, registries, marked):
    reg = one_slot_registry(registries)
    with reg.engine_for(target(server, 0, db=0, max_c=1)).connect() as conn:
        first = connection_id(conn)
    # other driver options (a connect timeout in the URL): a login of its own
    with reg.engine_for(target(server, 1, db=1, max_c=1, connect_timeout="7")).connect() as conn:
        second = connection_id(conn)
        assert second != first and conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == server.names[1]
    assert reg.stats()["handed_over"] == 0
    # and switched off, never
    off = one_slot_registry(registries, reuse_connections=False)
    with off.engine_for(target(server, 0, db=0, max_c=1)).connect() as conn:
        first = connection_id(conn)
    with off.engine_for(target(server, 2, db=2, max_c=1)).connect() as conn:
        assert connection_id(conn) != first
    assert off.stats()["handed_over"] == 0


def test_a_handed_over_connection_that_died_gives_way_to_a_new_login(server, registries, marked):
    """The evicted engine's idle connection was killed on the server: the switch fails, that connection is
    closed and the new tenant logs in anew, without an error reaching the caller."""
    reg = one_slot_registry(registries)
    with reg.engine_for(target(server, 0, db=0, max_c=1)).connect() as conn:
        first = connection_id(conn)
    with server.admin.connect() as admin:
        admin.execute(sa.text(f"KILL {first}"))
    with reg.engine_for(target(server, 1, db=1, max_c=1)).connect() as conn:
        assert connection_id(conn) != first
        assert conn.execute(sa.text("SELECT name FROM whoami")).scalar_one() == server.names[1]
    assert reg.stats()["handed_over"] == 0
    assert server.wait_connections(1) == 1


def test_a_handed_over_connection_to_a_frozen_server_fails_once_not_twice(server, registries, marked, monkeypatch):
    """The server froze (it keeps the connection, answers nothing): the switch of the handed-over connection
    times out and that error reaches the caller; no new login follows, which would wait as long again."""
    from datasource_registry.mysql_connection import TenantConnection

    proxy = FreezableProxy((SERVER_URL.host, SERVER_URL.port or 3306))
    logins = []
    real_init = TenantConnection.__init__

    def counted(self, *args, **kwargs):
        logins.append(kwargs.get("database"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(TenantConnection, "__init__", counted)
    reg = one_slot_registry(registries, read_timeout=1)
    try:
        whoami(reg.engine_for(Target(0, 0, server.url(0).set(port=proxy.port), 1, 1)))
        assert len(logins) == 1
        proxy.freeze()
        error = _fails_within(30, lambda: reg.engine_for(Target(1, 1, server.url(1).set(port=proxy.port), 1, 1))
                              .connect())
    finally:
        proxy.close()
    assert isinstance(error, sa.exc.OperationalError) and error.orig.args[0] == 2013  # lost: the read timed out
    assert len(logins) == 1  # the frozen server was not asked for a second login
    assert reg.stats()["handed_over"] == 0
