"""Benchmark provisioning one tenant database on MariaDB, inline and through a real rq worker, against
baselines measured in the same run.

    python bench/bench_provision.py [--tenants 5] [--quick] [--tls off|preferred|required] [--redis URL]
                                    [--plain-worker 2] [--no-worker]

Set-up (not timed): a control database with the real migrations, the real app (``create_app``, default
config: scrypt password hashing as in production), a temporary non-root MariaDB account, per tenant and
per side an enterprise with a configured MySQL datasource, and (unless ``--no-worker``) a real rq worker
process started the way the README starts it (``rq worker -w datasource_registry.worker.TenantWorker``) on
its own Redis database (``--redis``, default ``$TEST_REDIS_SERVER/14`` or ``redis://127.0.0.1:6379/14``),
configured like the app (control database, secret key, tenant database prefix).

Timed per tenant, in a rotating order so drift hits them alike:

* ``provision``, inline: ``jobs.enqueue("provision", ds)`` with no ``REDIS_URL``, from call to return:
  TenantJob row, CREATE DATABASE, the tenant schema through Alembic, the identity marker, the first
  administrator (scrypt hash), the first-login SMS and e-mail recorded in the outbox, the job row finished.
  Each stage is timed from the job's own progress reports (a bench wrapper around ``jobs.Report.__call__``
  records when each report is made; the job itself is unchanged).
* ``provision, worker``: the same ``jobs.enqueue`` with ``REDIS_URL`` set, from the call until the job's row
  reads ``finished`` (polled every 5 ms on a connection of its own): queueing, the worker forking a work
  horse, the job, the row's commit.
* baseline ``create+drop``: one fresh connection with the same account (NullPool, like the job's),
  ``CREATE DATABASE`` + ``DROP DATABASE``: the bare server round trip of making a database.
* baseline ``create_all``: one fresh connection, ``CREATE DATABASE``, ``TenantBase.metadata.create_all``
  (the same tables without Alembic, the app or the job), ``DROP DATABASE``.

Then, for comparison only, ``--plain-worker`` tenants through rq's own ``Worker`` class, which left building
the app to each job's work horse (what the project's workers did before ``TenantWorker``).

Printed: min / median / max seconds of each, the worker / inline ratio, the ratios of the inline median to
each baseline median, the median time of every stage, and whether the median meets the goal (< 3 s per
tenant). Every connection follows ``--tls`` (the app's ``TENANT_DB_TLS``, default ``preferred``).

All databases and the account are dropped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import DEFAULT_SERVER, BenchEnv, admin_connection, median, run_main

GOAL_S = 3.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REDIS = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379") + "/14"

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
    from datasource_registry.tls import MODES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="smoke run: 2 tenants, 1 through the plain worker")
    p.add_argument("--tls", choices=MODES, default="preferred", help="TENANT_DB_TLS for the jobs and baselines")
    p.add_argument("--redis", default=DEFAULT_REDIS, help="Redis database for the worker's queue")
    p.add_argument("--plain-worker", type=int, default=2, help="tenants through rq's plain Worker (0: none)")
    p.add_argument("--no-worker", action="store_true", help="inline only")
    p.add_argument("--server", default=DEFAULT_SERVER)
    args = p.parse_args()
    if args.quick:
        args.tenants, args.plain_worker = min(args.tenants, 2), min(args.plain_worker, 1)
    return args


class Worker:
    """A real rq worker process on the bench's queue, configured like the bench's app."""

    def __init__(self, env, redis_url, worker_class):
        import redis
        from rq import Worker as RqWorker

        self.connection = redis.Redis.from_url(redis_url)
        self.connection.ping()
        before = {w.name for w in RqWorker.all(connection=self.connection)}
        config = env.app.config
        environment = {**os.environ, "APP_ENV": "development", "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
                       "SECRET_KEY": config["SECRET_KEY"], "INSTANCE_PATH": env.tmp,
                       "UPLOAD_DIR": os.path.join(env.tmp, "uploads"), "TENANT_DATABASE_PREFIX": env.tenant_prefix,
                       "TENANT_DB_TLS": config["TENANT_DB_TLS"], "REDIS_URL": redis_url}
        self.proc = subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "-w", worker_class, "--url", redis_url,
                                      "tenants"], cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not ({w.name for w in RqWorker.all(connection=self.connection)} - before):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the rq worker did not start: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # warm shutdown: the current job, if any, finishes
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.connection.close()


def s3(x):
    return f"{x:.3f} s"


def run(args):
    env = BenchEnv("prov", args.server, config_overrides={"TENANT_DB_TLS": args.tls})
    started = time.monotonic()
    workers = []
    try:
        print(f"prefix {env.prefix}: setting up the control database and app", file=sys.stderr)
        env.setup()
        app = env.app
        import sqlalchemy as sa

        from datasource_registry import jobs
        from datasource_registry.tls import TlsSetting, install
        from tenant_runtime.models import TenantBase

        # record when each progress report is made (the job is not changed)
        marks = []
        original_report = jobs.Report.__call__

        def recording_report(self, progress, message):
            marks.append((int(progress), time.perf_counter()))
            return original_report(self, progress, message)

        jobs.Report.__call__ = recording_report

        sides = ["inline"] + ([] if args.no_worker else ["worker"])
        plain_n = 0 if args.no_worker else args.plain_worker
        with app.test_request_context():
            ds_ids = {side: [env.make_enterprise(f"{side}{i}")[1] for i in range(args.tenants)] for side in sides}
            ds_ids["plain"] = [env.make_enterprise(f"plain{i}")[1] for i in range(plain_n)]

        # the baselines connect like the job does: a fresh NullPool connection, same account and TLS setting
        def engine(database):
            e = sa.create_engine(env.tenant_url(database), poolclass=sa.pool.NullPool)
            install(e, TlsSetting(args.tls))
            return e

        server_engine = engine(None)

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
            tenant = engine(name)
            try:
                TenantBase.metadata.create_all(tenant)
            finally:
                tenant.dispose()
            with server_engine.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE `{name}`"))
            return time.perf_counter() - t0

        stage_times = {key: [] for key, _ in STAGES}
        results = {"provision": [], "worker": [], "plain": [], "create_drop": [], "create_all": []}
        failures = 0

        def provision(i):
            nonlocal failures
            marks.clear()
            with app.test_request_context():
                t0 = time.perf_counter()
                try:
                    env.provision(ds_ids["inline"][i])
                except RuntimeError as exc:
                    failures += 1
                    print(f"tenant {i}: {exc}", file=sys.stderr)
                t1 = time.perf_counter()
            points = [("start", t0)] + marks + [("end", t1)]
            for (key, a), (_next, b) in itertools.pairwise(points):
                if key in stage_times:
                    stage_times[key].append(b - a)
            return t1 - t0

        poll = admin_connection(env.server)
        poll.select_db(env.control_db)

        def through_worker(side):
            def timed(i):
                nonlocal failures
                from datasource_registry.models import Datasource
                from extensions import db

                app.config["REDIS_URL"] = args.redis
                try:
                    with app.test_request_context():
                        t0 = time.perf_counter()
                        row = jobs.enqueue("provision", db.session.get(Datasource, ds_ids[side][i]), by=env.staff())
                        status = None
                        while status not in ("finished", "failed"):
                            time.sleep(0.005)
                            with poll.cursor() as cur:
                                cur.execute("SELECT status FROM tenant_job WHERE id = %s", (row.id,))
                                status = cur.fetchone()[0]
                        elapsed = time.perf_counter() - t0
                finally:
                    app.config["REDIS_URL"] = ""
                if status != "finished":
                    failures += 1
                    print(f"{side} tenant {i}: job {row.id} {status}", file=sys.stderr)
                return elapsed
            return timed

        steps = [("provision", provision), ("create_drop", baseline_create_drop), ("create_all", baseline_create_all)]
        if "worker" in sides:
            print("starting an rq worker (TenantWorker)", file=sys.stderr)
            workers.append(Worker(env, args.redis, "datasource_registry.worker.TenantWorker"))
            steps.insert(1, ("worker", through_worker("worker")))
        # warm-up: imports, Alembic script directory, first connections (not counted)
        baseline_create_drop("w")
        baseline_create_all("w")
        for i in range(args.tenants):
            k = i % len(steps)
            for key, fn in steps[k:] + steps[:k]:
                results[key].append(fn(i))
            worker_note = f", worker {s3(results['worker'][-1])}" if results["worker"] else ""
            print(f"tenant {i + 1}/{args.tenants}: provision {s3(results['provision'][-1])}{worker_note}",
                  file=sys.stderr)
        if plain_n:
            workers.pop().stop()
            print("starting an rq worker (rq's plain Worker)", file=sys.stderr)
            workers.append(Worker(env, args.redis, "rq.worker.Worker"))
            for i in range(plain_n):
                results["plain"].append(through_worker("plain")(i))
                print(f"plain worker tenant {i + 1}/{plain_n}: {s3(results['plain'][-1])}", file=sys.stderr)
        jobs.Report.__call__ = original_report
        server_engine.dispose()
        poll.close()

        med = {k: median(v) for k, v in results.items() if v}
        lines = [
            (f"provisioning one tenant on MariaDB: {args.tenants} tenants per side, password hash "
             f"{app.config['PASSWORD_HASH_METHOD']}, account {env.account['username']} (non-root), TLS {args.tls}, "
             f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end"),
            "",
        ]
        labels = {"provision": "provision job, inline (jobs.enqueue)",
                  "worker": "provision job, real rq worker (TenantWorker)",
                  "plain": "provision job, rq's plain Worker (for comparison)",
                  "create_drop": "baseline CREATE+DROP DATABASE",
                  "create_all": "baseline CREATE DATABASE + metadata.create_all + DROP"}
        width = max(len(v) for v in labels.values())
        for key, label in labels.items():
            v = results[key]
            if v:
                lines.append(f"{label:<{width}}  min {s3(min(v))}  median {s3(med[key])}  max {s3(max(v))}")
        lines.append("")
        if results["worker"]:
            lines.append(f"worker / inline: {med['worker'] / med['provision']:.2f}x "
                         f"(+{s3(med['worker'] - med['provision'])} per job)")
        if results["plain"]:
            lines.append(f"rq's plain Worker / inline: {med['plain'] / med['provision']:.2f}x "
                         f"(+{s3(med['plain'] - med['provision'])} per job)")
        lines += [
            f"inline / CREATE+DROP: {med['provision'] / med['create_drop']:.1f}x",
            f"inline / create_all:  {med['provision'] / med['create_all']:.1f}x",
            (f"goal < {GOAL_S:.0f} s per tenant: "
             f"{'MET' if max(med.get('worker', 0), med['provision']) < GOAL_S else 'NOT MET'} "
             f"(median inline {s3(med['provision'])}"
             + (f", through the worker {s3(med['worker'])}" if results["worker"] else "") + ")"),
            "",
            "provision stages, inline (median over tenants, share of the median job):",
        ]
        for key, label in STAGES:
            v = stage_times[key]
            if v:
                lines.append(f"  {label:<44} {s3(median(v))}  {median(v) / med['provision'] * 100:5.1f}%")
        lines.append(f"failures: {failures}")
        print("\n".join(lines))
        return 0 if failures == 0 else 1
    finally:
        for worker in workers:
            worker.stop()
        env.cleanup()
        print(f"wall time {time.monotonic() - started:.1f} s", file=sys.stderr)


def main():
    run_main(parse_args, run)


if __name__ == "__main__":
    main()
