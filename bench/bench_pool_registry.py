"""Benchmark the per-process pool registry against many real MariaDB tenant databases.

    python bench/bench_pool_registry.py [--tenants 1000] [--budget 60] [--threads 8] [--rounds 2]
                                        [--fresh 200] [--tls off|preferred|required]

Creates N small databases (a table with one row naming the database, and the identity marker the app
checks) under a unique prefix, hits them round-robin from T threads through ONE PoolRegistry built with
the app's defaults (identity check on every new connection, TLS ``preferred``, 60 s idle timeout;
targets min 1 / max 5 connections), then hits a small hot set of tenants that fits in the budget, then
measures cold against warm requests from one thread. Every tenant database is reached with the same account,
so an evicted engine's idle connection is handed to the engine admitted in its place, as the app does by
default (``--no-reuse`` measures new logins instead). It prints:

* total requests and errors (a request is an error if it raises or reads another tenant's row);
* the highest reservation seen and the highest number of real server connections to the benchmark's
  databases (information_schema.PROCESSLIST polled from a side thread);
* evictions, engines created, capacity waits; p50/p95 latency of the round-robin requests;
* the median latency of a tenant's very first request (cold: new engine, new connection, identity
  check, usually an eviction) against a warm request (engine and pooled connection ready), and their
  ratio, all from the same run: with T threads (round 1 of the round-robin against the hot-set phase;
  latencies under contention for the GIL and 2 CPUs), and from one thread, interleaved (a warm request on
  a hot tenant, then the first request of a tenant never used before, ``--fresh`` times: what a cold
  request costs, with no other thread in the way). Goal: cold <= 3 x warm.

All databases are dropped at the end, also on Ctrl-C or SIGTERM. Server: --server or TEST_MYSQL_URL
(default mysql+pymysql://root@127.0.0.1:3306).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sqlalchemy as sa
from _harness import DEFAULT_SERVER, admin_connection, ms, pct, run_main, stamp_head
from tqdm import tqdm

from datasource_registry.pool import PoolRegistry, Target
from datasource_registry.registry import _identity_check
from datasource_registry.tls import MODES, TlsSetting

GOAL = 3.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--budget", type=int, default=60)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2, help="round-robin passes over every tenant")
    p.add_argument("--warm-requests", type=int, default=2000, help="requests on the hot set")
    p.add_argument("--wait-timeout", type=float, default=2.0)
    p.add_argument("--fresh", type=int, default=200, help="tenants kept aside for the one-thread cold/warm phase")
    p.add_argument("--tls", choices=MODES, default="preferred",
                   help="TLS to the tenant databases (TENANT_DB_TLS; the app's default is preferred)")
    p.add_argument("--no-reuse", dest="reuse", action="store_false",
                   help="never hand an evicted engine's connection over (TENANT_POOL_REUSE_CONNECTIONS=0)")
    p.add_argument("--server", default=DEFAULT_SERVER)
    return p.parse_args()


class Databases:
    def __init__(self, server: sa.engine.URL, n: int, threads: int):
        self.server = server
        self.prefix = f"bench_pool_{secrets.token_hex(3)}_"
        self.names = [f"{self.prefix}{i}" for i in range(n)]
        self.threads = max(1, min(threads, 8))

    def tenant_id(self, name):
        return int(name[len(self.prefix):])

    def create(self):
        def make(chunk):
            conn = admin_connection(self.server)
            try:
                with conn.cursor() as cur:
                    for name in chunk:
                        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                        cur.execute(f"CREATE TABLE `{name}`.whoami (name VARCHAR(64) NOT NULL)")
                        cur.execute(f"INSERT INTO `{name}`.whoami VALUES (%s)", (name,))
                        cur.execute(f"CREATE TABLE `{name}`.tenant_identity (id INT PRIMARY KEY, tenant_id BIGINT)")
                        cur.execute(f"INSERT INTO `{name}`.tenant_identity VALUES (1, %s)", (self.tenant_id(name),))
                        stamp_head(cur, name)
                        bar.update(1)
            finally:
                conn.close()

        chunks = [self.names[i :: self.threads] for i in range(self.threads)]
        with (
            tqdm(total=len(self.names), desc="create databases", file=sys.stderr, unit="db") as bar,
            ThreadPoolExecutor(self.threads) as pool,
        ):
            for f in [pool.submit(make, c) for c in chunks]:
                f.result()

    def drop_all(self):
        """Drop every database carrying our prefix (also the ones a Ctrl-C left half made)."""
        conn = admin_connection(self.server)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE LEFT(SCHEMA_NAME, %s) = %s",
                            (len(self.prefix), self.prefix))
                existing = [row[0] for row in cur.fetchall()]
        finally:
            conn.close()
        if not existing:
            return 0

        def drop(chunk):
            c = admin_connection(self.server)
            try:
                with c.cursor() as cur:
                    for name in chunk:
                        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
                        bar.update(1)
            finally:
                c.close()

        chunks = [existing[i :: self.threads] for i in range(self.threads)]
        with (
            tqdm(total=len(existing), desc="drop databases", file=sys.stderr, unit="db") as bar,
            ThreadPoolExecutor(self.threads) as pool,
        ):
            for f in [pool.submit(drop, c) for c in chunks]:
                f.result()
        return len(existing)


class Monitor(threading.Thread):
    """Polls the server's real connections to the benchmark databases and the registry's reservation."""

    def __init__(self, server, prefix, registry, interval=0.01):
        super().__init__(daemon=True)
        self.conn = admin_connection(server)
        self.prefix, self.registry, self.interval = prefix, registry, interval
        self.stop = threading.Event()
        self.max_real = self.max_reserved = self.samples = 0

    def run(self):
        try:
            with self.conn.cursor() as cur:
                while not self.stop.is_set():
                    cur.execute(
                        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE LEFT(DB, %s) = %s",
                        (len(self.prefix), self.prefix),
                    )
                    self.max_real = max(self.max_real, cur.fetchone()[0])
                    self.max_reserved = max(self.max_reserved, self.registry.stats()["reserved"])
                    self.samples += 1
                    self.stop.wait(self.interval)
        finally:
            self.conn.close()


def run(args):
    server = sa.engine.make_url(args.server)
    dbs = Databases(server, args.tenants + args.fresh, args.threads)
    print(f"prefix {dbs.prefix}: {args.tenants} tenants (+{args.fresh} fresh), budget {args.budget}, "
          f"{args.threads} threads, {args.rounds} round(s), targets min 1 / max 5, TLS {args.tls}", file=sys.stderr)
    started = time.monotonic()
    try:
        dbs.create()
        setup_s = time.monotonic() - started
        probe = admin_connection(server)
        try:
            with probe.cursor() as cur:
                cur.execute("SELECT @@table_open_cache, @@table_definition_cache")
                table_caches = cur.fetchone()
        finally:
            probe.close()
        # the app's registry (datasource_registry.registry.init_app) with its default settings
        registry = PoolRegistry(budget=args.budget, wait_timeout=args.wait_timeout, identity_check=_identity_check,
                                connect_timeout=5, idle_timeout=60.0, tls_setting=TlsSetting(args.tls),
                                reuse_connections=args.reuse)
        all_targets = [
            Target(i, i, server.set(database=name, query={"charset": "utf8mb4"}), 1, 5)
            for i, name in enumerate(dbs.names)
        ]
        targets, fresh = all_targets[: args.tenants], all_targets[args.tenants :]
        monitor = Monitor(server, dbs.prefix, registry)
        monitor.start()
        errors, error_kinds = 0, {}
        lock = threading.Lock()
        interrupted = threading.Event()

        def run_workers(fn):
            workers = [threading.Thread(target=fn, daemon=True) for _ in range(args.threads)]
            for w in workers:
                w.start()
            try:
                for w in workers:
                    while w.is_alive():
                        w.join(0.2)  # short joins keep Ctrl-C responsive
            except BaseException:
                interrupted.set()  # workers stop after their current request
                for w in workers:
                    w.join(10)
                monitor.stop.set()
                registry.close()
                raise

        def request(t: Target):
            nonlocal errors
            t0 = time.perf_counter()
            try:
                with registry.engine_for(t).connect() as conn:
                    name = conn.execute(sa.text("SELECT name FROM whoami")).scalar_one()
                if name != t.url.database:
                    raise AssertionError(f"tenant {t.tenant_id} read {name}")
                return time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001 - every failure counts as an error
                with lock:
                    errors += 1
                    kind = type(exc).__name__
                    error_kinds[kind] = error_kinds.get(kind, 0) + 1
                return None

        # phase 1: round-robin over every tenant
        total = args.tenants * args.rounds
        cold_first, rr_latencies = [], []
        next_index = iter(range(total))
        bar = tqdm(total=total, desc="round-robin", file=sys.stderr, unit="req")

        def rr_worker():
            while not interrupted.is_set():
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                latency = request(targets[i % args.tenants])
                with lock:
                    bar.update(1)
                    if latency is not None:
                        rr_latencies.append(latency)
                        if i < args.tenants:
                            cold_first.append(latency)

        rr_started = time.monotonic()
        run_workers(rr_worker)
        bar.close()
        rr_s = time.monotonic() - rr_started
        after_rr = registry.stats()

        # phase 2: warm requests on a hot set that fits in the budget (engines and connections ready)
        hot = targets[: max(1, min(8, args.budget // 5))]
        for t in hot:
            request(t)
        warm_latencies = []
        warm_index = iter(range(args.warm_requests))
        wbar = tqdm(total=args.warm_requests, desc="warm", file=sys.stderr, unit="req")

        def warm_worker():
            while not interrupted.is_set():
                with lock:
                    i = next(warm_index, None)
                if i is None:
                    return
                latency = request(hot[i % len(hot)])
                with lock:
                    wbar.update(1)
                    if latency is not None:
                        warm_latencies.append(latency)

        run_workers(warm_worker)
        wbar.close()

        # phase 3: one thread, interleaved: a warm request on a hot tenant, then a tenant's first request
        seq_warm, seq_cold = [], []
        for t in tqdm(fresh, desc="one thread: warm, cold", file=sys.stderr, unit="pair"):
            if interrupted.is_set():
                break
            for sink, tenant in ((seq_warm, hot[0]), (seq_cold, t)):  # hot[0] stays the most recently used
                latency = request(tenant)
                if latency is not None:
                    sink.append(latency)

        monitor.stop.set()
        monitor.join(5)
        final = registry.stats()
        registry.close()

        cold_med = statistics.median(cold_first) if cold_first else float("nan")
        warm_med = statistics.median(warm_latencies) if warm_latencies else float("nan")
        seq_cold_med = statistics.median(seq_cold) if seq_cold else float("nan")
        seq_warm_med = statistics.median(seq_warm) if seq_warm else float("nan")

        def verdict(ratio):
            return "MET" if ratio <= GOAL else "NOT MET"

        lines = [
            (f"tenants {args.tenants}, budget {args.budget}, threads {args.threads}, rounds {args.rounds}, "
            f"targets min 1 / max 5, identity check on, TLS {args.tls}, load average "
            f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end"),
            f"setup (create {args.tenants} databases): {setup_s:.1f} s",
            (f"server table caches: table_open_cache {table_caches[0]}, table_definition_cache {table_caches[1]} "
             f"(the run uses {2 * (args.tenants + args.fresh)} tables: a cold tenant's two tables are opened anew by "
             f"the server when they no longer fit)"),
            f"round-robin requests: {total} in {rr_s:.1f} s ({total / rr_s:.0f} req/s)",
            f"warm requests (hot set of {len(hot)} tenants): {len(warm_latencies)}",
            f"total requests: {total + len(hot) + args.warm_requests + len(seq_warm) + len(seq_cold)}",
            f"errors: {errors}" + (f" {error_kinds}" if error_kinds else ""),
            (f"max reserved seen: {max(monitor.max_reserved, final['max_reserved'])} (budget {args.budget}; "
            f"registry high-water mark {final['max_reserved']})"),
            (f"max real server connections to the benchmark databases: {monitor.max_real} "
            f"({monitor.samples} PROCESSLIST samples)"),
            (f"evictions: {final['evictions']} (round-robin {after_rr['evictions']}), engines created: "
            f"{final['created']}, capacity waits: {final['capacity_waits']}, capacity errors: "
            f"{final['capacity_errors']}"),
            (f"connections handed over from an evicted engine to the one admitted in its place (no new login): "
             f"{final['handed_over']}" + ("" if args.reuse else " (off: --no-reuse)")),
            (f"round-robin latency: p50 {ms(pct(rr_latencies, 50))}, p95 {ms(pct(rr_latencies, 95))}, "
            f"max {ms(max(rr_latencies) if rr_latencies else float('nan'))}"),
            f"cold first request median: {ms(cold_med)} ({len(cold_first)} tenants, round 1, {args.threads} threads)",
            f"warm request median: {ms(warm_med)} (p95 {ms(pct(warm_latencies, 95))}, {args.threads} threads)",
            f"cold / warm ratio, {args.threads} threads: {cold_med / warm_med:.1f}x; goal <= {GOAL:g}: "
            f"{verdict(cold_med / warm_med)}",
            (f"one thread, interleaved: cold {ms(seq_cold_med)} vs warm {ms(seq_warm_med)} "
             f"({len(seq_cold)} fresh tenants): {seq_cold_med / seq_warm_med:.1f}x; goal <= {GOAL:g}: "
             f"{verdict(seq_cold_med / seq_warm_med)}"),
        ]
        print("\n".join(lines))
        return 0 if errors == 0 else 1
    finally:
        dropped = dbs.drop_all()
        print(f"dropped {dropped} databases; wall time {time.monotonic() - started:.1f} s", file=sys.stderr)


def main():
    run_main(parse_args, run)


if __name__ == "__main__":
    main()
