"""Benchmark provisioning one tenant database on MariaDB, against baselines measured in the same run.

    python bench/bench_provision.py [--tenants 5] [--quick] [--ssl-disabled]

Set-up (not timed): a control database with the real migrations, the real app (``create_app``, default
config: scrypt password hashing as in production, jobs inline because ``REDIS_URL`` is empty), a
temporary non-root MariaDB account, and per tenant an enterprise with a configured MySQL datasource.

Timed per tenant, the three in a rotating order so drift hits them alike:

* ``provision``: ``jobs.enqueue("provision", ds)`` from call to return: TenantJob row, CREATE DATABASE,
  the tenant schema through Alembic, the identity marker, the first administrator (scrypt hash), the
  first-login SMS and e-mail recorded in the outbox, the job row finished. Each stage is timed from the
  job's own progress reports (a bench wrapper around ``jobs.Report.__call__`` records when each report
  is made; the job itself is unchanged).
* baseline ``create+drop``: one fresh connection with the same account (NullPool, like the job's),
  ``CREATE DATABASE`` + ``DROP DATABASE``: the bare server round trip of making a database.
* baseline ``create_all``: one fresh connection, ``CREATE DATABASE``, ``TenantBase.metadata.create_all``
  (the same tables without Alembic, the app or the job), ``DROP DATABASE``.

Printed: min / median / max seconds of each, the ratios of the provisioning median to each baseline
median, the median time of every stage, and whether the median meets the goal (< 3 s per tenant).

``--ssl-disabled`` (a bench patch, not the app's code) makes the job's engines, the baselines' and the
control database's pass ``ssl_disabled=True``: PyMySQL >= 1.2 otherwise builds an SSL context for every
new connection (~25-30 ms of CPU), and the job opens two.

All databases and the account are dropped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import (
    DEFAULT_SERVER,
    SSL_DISABLED_CONFIG,
    BenchEnv,
    median,
    patch_job_engines_ssl_disabled,
    run_main,
)

GOAL_S = 3.0

# progress value the job reports when a stage STARTS -> stage name (datasource_registry/provisioning.py)
STAGES = [
    ("start", "job row + status running (control db)"),
    (5, "CREATE DATABASE, connect to it (2 new conns)"),
    (25, "tenant schema (Alembic upgrade to head)"),
    (60, "identity marker"),
    (75, "first administrator (hash, insert, commit)"),
    (90, "first login sent (outbox)"),
    (95, "finish (control db commit, release)"),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="smoke run: 2 tenants")
    p.add_argument(
        "--ssl-disabled",
        action="store_true",
        help="bench patch: the jobs' MySQL engines (and the control database's) pass ssl_disabled=True, so "
        "PyMySQL >= 1.2 builds no SSL context per new connection (~25-30 ms of CPU each)",
    )
    p.add_argument("--server", default=DEFAULT_SERVER)
    args = p.parse_args()
    if args.quick:
        args.tenants = min(args.tenants, 2)
    return args


def s3(x):
    return f"{x:.3f} s"


def run(args):
    env = BenchEnv("prov", args.server, config_overrides=SSL_DISABLED_CONFIG if args.ssl_disabled else None)
    undo_ssl = patch_job_engines_ssl_disabled() if args.ssl_disabled else None
    started = time.monotonic()
    try:
        print(f"prefix {env.prefix}: setting up the control database and app", file=sys.stderr)
        env.setup()
        app = env.app
        import sqlalchemy as sa

        from datasource_registry import jobs
        from tenant_runtime.models import TenantBase

        # record when each progress report is made (the job is not changed)
        marks = []
        original_report = jobs.Report.__call__

        def recording_report(self, progress, message):
            marks.append((int(progress), time.perf_counter()))
            return original_report(self, progress, message)

        jobs.Report.__call__ = recording_report

        with app.test_request_context():
            ds_ids = [env.make_enterprise(i)[1] for i in range(args.tenants)]

        # the baselines connect like the job does: a fresh NullPool connection, same account and SSL setting
        connect_args = {"ssl_disabled": True} if args.ssl_disabled else {}
        server_engine = sa.create_engine(env.tenant_url(None), poolclass=sa.pool.NullPool, connect_args=connect_args)

        def baseline_create_drop(i):
            name = f"{env.tenant_prefix}base_cd{i}"
            t0 = time.perf_counter()
            with server_engine.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
                conn.execute(sa.text(f"DROP DATABASE `{name}`"))
            return time.perf_counter() - t0

        def baseline_create_all(i):
            name = f"{env.tenant_prefix}base_ca{i}"
            t0 = time.perf_counter()
            with server_engine.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
            engine = env.tenant_engine(name, connect_args=connect_args)
            try:
                TenantBase.metadata.create_all(engine)
            finally:
                engine.dispose()
            with server_engine.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE `{name}`"))
            return time.perf_counter() - t0

        stage_times = {key: [] for key, _ in STAGES}
        results = {"provision": [], "create_drop": [], "create_all": []}
        failures = 0

        def provision(i):
            nonlocal failures
            marks.clear()
            with app.test_request_context():
                t0 = time.perf_counter()
                try:
                    env.provision(ds_ids[i])
                except RuntimeError as exc:
                    failures += 1
                    print(f"tenant {i}: {exc}", file=sys.stderr)
                t1 = time.perf_counter()
            points = [("start", t0)] + marks + [("end", t1)]
            for (key, a), (_next, b) in itertools.pairwise(points):
                if key in stage_times:
                    stage_times[key].append(b - a)
            return t1 - t0

        steps = [("provision", provision), ("create_drop", baseline_create_drop), ("create_all", baseline_create_all)]
        # warm-up: imports, Alembic script directory, first connections (not counted)
        baseline_create_drop("w")
        baseline_create_all("w")
        for i in range(args.tenants):
            k = i % len(steps)
            for key, fn in steps[k:] + steps[:k]:
                results[key].append(fn(i))
            print(f"tenant {i + 1}/{args.tenants}: provision {s3(results['provision'][-1])}", file=sys.stderr)
        jobs.Report.__call__ = original_report
        server_engine.dispose()

        med = {k: median(v) for k, v in results.items()}
        lines = [
            (f"provisioning one tenant on MariaDB: {args.tenants} tenants, jobs inline, password hash "
             f"{app.config['PASSWORD_HASH_METHOD']}, account {env.account['username']} (non-root), "
             f"ssl_disabled {args.ssl_disabled}"),
            "",
        ]
        labels = {"provision": "provision job (jobs.enqueue)", "create_drop": "baseline CREATE+DROP DATABASE",
                  "create_all": "baseline CREATE DATABASE + metadata.create_all + DROP"}
        width = max(len(v) for v in labels.values())
        for key, label in labels.items():
            v = results[key]
            lines.append(f"{label:<{width}}  min {s3(min(v))}  median {s3(med[key])}  max {s3(max(v))}")
        lines += [
            "",
            f"provision / CREATE+DROP: {med['provision'] / med['create_drop']:.1f}x",
            f"provision / create_all:  {med['provision'] / med['create_all']:.1f}x",
            (f"goal < {GOAL_S:.0f} s per tenant: {'MET' if med['provision'] < GOAL_S else 'NOT MET'} "
             f"(median {s3(med['provision'])}, max {s3(max(results['provision']))})"),
            "",
            "provision stages (median over tenants, share of the median job):",
        ]
        for key, label in STAGES:
            v = stage_times[key]
            if v:
                lines.append(f"  {label:<44} {s3(median(v))}  {median(v) / med['provision'] * 100:5.1f}%")
        lines.append(f"failures: {failures}")
        print("\n".join(lines))
        return 0 if failures == 0 else 1
    finally:
        if undo_ssl is not None:
            undo_ssl()
        env.cleanup()
        print(f"wall time {time.monotonic() - started:.1f} s", file=sys.stderr)


def main():
    run_main(parse_args, run)


if __name__ == "__main__":
    main()
