"""Benchmark upgrading a fleet of tenant databases that are one schema revision behind.

    python bench/bench_fleet_upgrade.py [--tenants 20] [--parallelism 4] [--canary 1] [--rounds 3] [--quick]
                                        [--tls MODE]

Set-up (not timed): a control database with the real migrations, the real app, and N enterprises each
with a MySQL datasource on a temporary non-root account, provisioned by the real job (so at the real
head, ``0001_tenant_initial``).

Making tenants "behind": the tenant schema has one revision, and the upgrade job cannot bring a database
at base up (it checks the ``tenant_identity`` marker before migrating, and that table is created by 0001
itself: the job fails with "Table ... tenant_identity doesn't exist"). So the benchmark copies
``migrations/tenant`` to a temporary directory, adds a bench-only revision ``0002_bench_fleet`` on top
(add a nullable column and an index to ``sys_user``, create a small table with a foreign key to
``sys_user``), and points ``tenant_schema.SCRIPT_LOCATION`` at the copy for this process
(``_script_directory`` cache cleared). Every tenant is then one revision behind the head the app sees,
and the real upgrade job applies 0002. Before each timed pass every tenant is put back to 0001 with
``alembic downgrade`` (not timed).

Timed passes over all N tenants, in a rotating order per round:

* ``sequential``: a loop of ``jobs.enqueue("upgrade", ds)`` (inline, no ``REDIS_URL``), one tenant after
  the other in this thread;
* ``fleet, parallelism 1`` and ``fleet, parallelism P``: ``datasource_registry.fleet.start(by, canary=C,
  parallelism=...)`` committed, then ``fleet.run(run_id)`` (a canary wave of C tenants, then the rest
  through a thread pool). If the fleet module is missing, a bench thread pool over ``jobs.enqueue`` (one
  app context per thread) stands in and says so.

The benchmark also records how long each upgrade holds ``tenant_schema._process_lock`` (the lock that
serializes Alembic within one process; a bench wrapper around the same lock), which bounds what threads in
one process can gain.

Plus, once per round after the sequential pass, a ``no-op`` pass of the same loop on tenants already at
head (the fixed per-tenant cost of the upgrade job: job rows, connection, identity check, Alembic
environment, version read).

Printed: wall seconds per tenant of each mode (pass wall time / N, median over rounds), the per-tenant
job time medians, the sequential / parallel ratio (the speed-up), and the real upgrade / no-op ratio.

``--tls`` sets the app's ``TENANT_DB_TLS`` (default ``preferred``, one SSL context per process whatever the
mode; PyMySQL on its own built one per connection, ~25-30 ms of CPU); the upgrade job opens one connection
per tenant.

All databases and the account are dropped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import DEFAULT_SERVER, BenchEnv, median, run_main

BENCH_REVISION = "0002_bench_fleet"
BENCH_REVISION_SOURCE = '''"""bench only: a typical small tenant migration (never part of the app)

Revision ID: 0002_bench_fleet
Revises: 0001_tenant_initial
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_bench_fleet"
down_revision = "0001_tenant_initial"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("sys_user", sa.Column("bench_nickname", sa.String(length=50), nullable=True))
    op.create_index("ix_sys_user_bench_nickname", "sys_user", ["bench_nickname"], unique=False)
    op.create_table(
        "bench_note",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("body", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["sys_user.id"], name="fk_bench_note_user_id_sys_user"),
        sa.PrimaryKeyConstraint("id", name="pk_bench_note"),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_ci", mysql_engine="InnoDB",
    )
    op.create_index("ix_bench_note_user_id", "bench_note", ["user_id"], unique=False)


def downgrade():
    op.drop_table("bench_note")
    op.drop_index("ix_sys_user_bench_nickname", table_name="sys_user")
    op.drop_column("sys_user", "bench_nickname")
'''


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=20)
    p.add_argument("--parallelism", type=int, default=4)
    p.add_argument("--canary", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smoke run: 4 tenants, 1 round")
    p.add_argument("--tls", choices=("off", "preferred", "required"), default="preferred",
                   help="TENANT_DB_TLS for the tenant databases")
    p.add_argument("--server", default=DEFAULT_SERVER)
    args = p.parse_args()
    if args.quick:
        args.tenants, args.rounds = min(args.tenants, 4), 1
    return args


def install_bench_revision(tmp):
    """Copy migrations/tenant with an extra revision and point tenant_schema at the copy."""
    from datasource_registry import tenant_schema

    original = tenant_schema.SCRIPT_LOCATION
    copy = os.path.join(tmp, "tenant_migrations")
    shutil.copytree(original, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(copy, "versions", f"{BENCH_REVISION}.py"), "w", encoding="utf-8") as f:
        f.write(BENCH_REVISION_SOURCE)
    tenant_schema.SCRIPT_LOCATION = copy
    tenant_schema._script_directory.cache_clear()
    if tenant_schema.head_revision() != BENCH_REVISION:
        raise RuntimeError(f"bench revision not at head: {tenant_schema.head_revision()}")

    def restore():
        tenant_schema.SCRIPT_LOCATION = original
        tenant_schema._script_directory.cache_clear()

    return restore


class TimedLock:
    """Stands in for ``tenant_schema._process_lock`` (same lock inside) and records how long each holder
    kept it: the part of an upgrade that no two threads of one process can run at once."""

    def __init__(self, inner):
        self.inner, self.held, self._local = inner, [], threading.local()

    def acquire(self, *a, **kw):
        got = self.inner.acquire(*a, **kw)
        if got:
            self._local.t0 = time.perf_counter()
        return got

    def release(self):
        self.held.append(time.perf_counter() - self._local.t0)
        self.inner.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def load_fleet():
    try:
        fleet = importlib.import_module("datasource_registry.fleet")
    except ImportError:
        return None
    if not (callable(getattr(fleet, "start", None)) and callable(getattr(fleet, "run", None))):
        return None
    return fleet


def run(args):
    env = BenchEnv("fleet", args.server, config_overrides={"TENANT_DB_TLS": args.tls})
    started = time.monotonic()
    restore = None
    try:
        print(f"prefix {env.prefix}: setting up the control database, app and {args.tenants} tenants",
              file=sys.stderr)
        env.setup()
        app = env.app
        from alembic import command
        from sqlalchemy import text

        from datasource_registry import jobs, tenant_schema
        from datasource_registry.models import Datasource, TenantJob
        from extensions import db

        tenants = []  # (datasource id, database)
        with app.test_request_context():
            for i in range(args.tenants):
                _ent, ds_id, _code = env.make_enterprise(i)
                env.provision(ds_id)
                tenants.append((ds_id, db.session.get(Datasource, ds_id).database))
        real_head = tenant_schema.head_revision()
        restore_revision = install_bench_revision(env.tmp)
        original_lock = tenant_schema._process_lock
        timed_lock = tenant_schema._process_lock = TimedLock(original_lock)

        def restore():
            tenant_schema._process_lock = original_lock
            restore_revision()
        fleet = load_fleet()

        def revisions():
            out = []
            for _ds_id, database in tenants:
                engine = env.tenant_engine(database)
                try:
                    with engine.connect() as conn:
                        out.append(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
                finally:
                    engine.dispose()
            return out

        def reset():
            """Every tenant back to the real head (one revision behind the bench head); not timed."""
            for _ds_id, database in tenants:
                engine = env.tenant_engine(database)
                try:
                    with engine.connect() as conn:
                        if tenant_schema.current_revision(conn) != real_head:
                            command.downgrade(tenant_schema.alembic_config(conn), real_head)
                            if conn.in_transaction():
                                conn.commit()
                finally:
                    engine.dispose()
            revs = revisions()
            if set(revs) != {real_head}:
                raise RuntimeError(f"reset left revisions {sorted(set(map(str, revs)))}")

        def check_head(mode):
            revs = revisions()
            behind = sum(1 for r in revs if r != BENCH_REVISION)
            if behind:
                raise RuntimeError(f"{mode}: {behind} tenant(s) not at {BENCH_REVISION} after the pass")

        failures = {}

        def loop_pass(mode):
            per = []
            t0 = time.perf_counter()
            with app.test_request_context():
                staff = env.staff()
                for ds_id, _database in tenants:
                    a = time.perf_counter()
                    row = jobs.enqueue("upgrade", db.session.get(Datasource, ds_id), by=staff)
                    per.append(time.perf_counter() - a)
                    if row.status != "finished":
                        failures[mode] = failures.get(mode, 0) + 1
                        print(f"{mode}: upgrade failed: {row.error}", file=sys.stderr)
            return time.perf_counter() - t0, per

        def fleet_pass(mode, parallelism):
            per = []
            t0 = time.perf_counter()
            with app.test_request_context():
                staff = env.staff()
                if fleet is not None:
                    kwargs = {"canary": args.canary, "parallelism": parallelism}
                    params = inspect.signature(fleet.start).parameters
                    fleet_run = fleet.start(staff, **{k: v for k, v in kwargs.items() if k in params})
                    db.session.commit()
                    run_id = getattr(fleet_run, "id", fleet_run)

                    def progress(done, total, outcome=None):
                        if outcome is not None and getattr(outcome, "seconds", None) is not None:
                            per.append(outcome.seconds)

                    if "progress" in inspect.signature(fleet.run).parameters:
                        ended = fleet.run(run_id, progress=progress)
                    else:
                        ended = fleet.run(run_id)
                    db.session.commit()
                    bad = db.session.query(TenantJob).filter(TenantJob.fleet_run_id == run_id,
                                                             TenantJob.status != "finished").count()
                    status = getattr(ended, "status", "?")
                    if bad or status not in ("finished", "?"):
                        failures[mode] = failures.get(mode, 0) + max(bad, 1)
                        print(f"{mode}: fleet run {run_id} ended {status}, {bad} job(s) not finished",
                              file=sys.stderr)
                else:
                    def one(ds_id):
                        with app.app_context():
                            a = time.perf_counter()
                            try:
                                row = jobs.enqueue("upgrade", db.session.get(Datasource, ds_id))
                                return time.perf_counter() - a, row.status
                            finally:
                                db.session.remove()

                    with ThreadPoolExecutor(parallelism) as pool:
                        for seconds, status in pool.map(one, [ds_id for ds_id, _ in tenants]):
                            per.append(seconds)
                            if status != "finished":
                                failures[mode] = failures.get(mode, 0) + 1
            return time.perf_counter() - t0, per

        engine_label = "fleet.start + fleet.run" if fleet is not None else \
            "bench thread pool over jobs.enqueue (datasource_registry.fleet absent)"
        modes = [
            ("sequential", "sequential: loop of jobs.enqueue(\"upgrade\")", lambda m: loop_pass(m)),
            ("p1", f"{engine_label}, parallelism 1", lambda m: fleet_pass(m, 1)),
            ("pN", f"{engine_label}, parallelism {args.parallelism}", lambda m: fleet_pass(m, args.parallelism)),
        ]
        walls = {key: [] for key, *_ in modes}
        pers = {key: [] for key, *_ in modes}
        walls["noop"], pers["noop"] = [], []
        held = {key: [] for key in walls}
        for r in range(args.rounds):
            k = r % len(modes)
            for key, _label, fn in modes[k:] + modes[:k]:
                reset()
                timed_lock.held.clear()
                wall, per = fn(key)
                held[key] += timed_lock.held
                check_head(key)
                walls[key].append(wall)
                pers[key] += per
                print(f"round {r + 1}/{args.rounds} {key}: {wall:.2f} s ({wall / len(tenants):.3f} s/tenant)",
                      file=sys.stderr)
                if key == "sequential":
                    timed_lock.held.clear()
                    wall, per = loop_pass("noop")
                    held["noop"] += timed_lock.held
                    walls["noop"].append(wall)
                    pers["noop"] += per
        n = len(tenants)
        spt = {key: median(v) / n for key, v in walls.items()}
        labels = {key: label for key, label, _fn in modes}
        labels["noop"] = "no-op: the same loop on tenants already at head"
        width = max(len(v) for v in labels.values())
        lines = [
            (f"fleet upgrade: {n} MariaDB tenants one revision behind ({real_head} -> {BENCH_REVISION}, bench "
             f"revision: add column + index, create table + index), {args.rounds} round(s), canary {args.canary}, "
             f"jobs inline, TLS {args.tls}"),
            "",
        ]
        for key in ("sequential", "p1", "pN", "noop"):
            job = f"per-tenant job median {median(pers[key]):.3f} s" if pers[key] else "per-tenant job n/a"
            lines.append(f"{labels[key]:<{width}}  {spt[key]:.3f} s/tenant (wall {median(walls[key]):.2f} s "
                         f"for {n}); {job}")
        lines += [
            "",
            (f"sequential / parallelism {args.parallelism}: {spt['sequential'] / spt['pN']:.2f}x "
             f"(speed-up of the parallel run, per tenant wall time)"),
            f"sequential / parallelism 1: {spt['sequential'] / spt['p1']:.2f}x",
            f"upgrade / no-op upgrade (sequential): {spt['sequential'] / spt['noop']:.2f}x",
            (f"tenant_schema process lock held per upgrade (sequential pass): median {median(held['sequential']):.3f} s "
             f"= {median(held['sequential']) / spt['sequential'] * 100:.0f}% of the sequential per-tenant time, so "
             f"threads in one process can speed the fleet up by at most "
             f"{spt['sequential'] / median(held['sequential']):.1f}x (Amdahl)"),
            f"failures: {sum(failures.values())}" + (f" {failures}" if failures else ""),
        ]
        print("\n".join(lines))
        return 0 if not failures else 1
    finally:
        if restore is not None:
            restore()
        env.cleanup()
        print(f"wall time {time.monotonic() - started:.1f} s", file=sys.stderr)


def main():
    run_main(parse_args, run)


if __name__ == "__main__":
    main()
