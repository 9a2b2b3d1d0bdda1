"""One scheduled pass of the CRM's per-tenant tasks over 1,000 small MariaDB tenants under a 60-connection
budget, the way production runs it: rq's own scheduler (``rq cron tenant_runtime.core.cron``) and real rq
workers (``TenantWorker`` on the ``crm`` queue), against a real control database; then the same pass inline
(``flask crm run-tasks``'s code path) for comparison.

    python bench/bench_scheduler.py [--tenants 1000] [--workers 4] [--budget 60] [--quick]

Set-up (not timed): the real app on a control database with the real migrations; ``--tenants`` enterprises
created and configured through the real services (a non-root account, passwords encrypted), open, each with
a small database of its own (the identity marker and one table) and a finished provisioning job row (the
full tenant schema takes seconds per database on a loaded machine, and the pass does not touch it). The
task run for every tenant (``bench/_sched_task.py``) reads its identity and writes one row.

Measured: the pass time (from starting ``rq cron`` until every tenant's run has ended), errors (runs not
finished, rq jobs failed), each tenant's executions (must be exactly one), the peak number of real server
connections the tenants' account holds (``information_schema.PROCESSLIST`` polled every 10 ms), and the peak
number of runs queued or running at once (the control database, polled every 20 ms) against
``CRM_SCHEDULE_CONCURRENCY`` (= the budget). Redis: ``--redis`` (default ``$TEST_REDIS_SERVER/14``), a database
of its own, flushed at start and end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench._harness import BenchEnv, admin_connection, run_main, stamp_head

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REDIS = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379") + "/14"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", type=int, default=1000)
    p.add_argument("--workers", type=int, default=4, help="rq worker processes on the crm queue")
    p.add_argument("--budget", type=int, default=60, help="TENANT_CONNECTION_BUDGET and CRM_SCHEDULE_CONCURRENCY")
    p.add_argument("--redis", default=DEFAULT_REDIS)
    p.add_argument("--timeout", type=float, default=1800, help="seconds the pass may take before the bench gives up")
    p.add_argument("--quick", action="store_true", help="50 tenants, 2 workers: a smoke run")
    args = p.parse_args()
    if args.quick:
        args.tenants, args.workers = min(args.tenants, 50), min(args.workers, 2)
    return args


SETTINGS = {"CRM_TASKS": "bench_touch", "CRM_TASK_MODULES": "bench._sched_task"}


class Peaks(threading.Thread):
    """Polls the tenants' real server connections and the runs in flight."""

    def __init__(self, env):
        super().__init__(daemon=True)
        self.env, self.stop = env, threading.Event()
        self.connections = self.in_flight = self.samples = 0

    def run(self):
        conn = admin_connection(self.env.server)
        try:
            with conn.cursor() as cur:
                last_runs = 0.0
                while not self.stop.is_set():
                    cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s",
                                (self.env.account["username"],))
                    self.connections = max(self.connections, cur.fetchone()[0])
                    if time.monotonic() - last_runs > 0.02:
                        cur.execute(f"SELECT COUNT(*) FROM `{self.env.control_db}`.scheduled_run "
                                    "WHERE status IN ('queued', 'running')")
                        self.in_flight = max(self.in_flight, cur.fetchone()[0])
                        last_runs = time.monotonic()
                    self.samples += 1
                    self.stop.wait(0.01)
        finally:
            conn.close()


def make_tenants(env, n):
    """``n`` open enterprises with configured datasources (real services) and small databases."""
    from tqdm import tqdm

    from common.timeutil import utcnow
    from datasource_registry.models import Datasource, TenantJob
    from extensions import db
    from platform_admin.enterprises.models import STATUS_OPEN, Enterprise

    made = []
    with env.app.test_request_context():
        for i in tqdm(range(n), desc="enterprises", file=sys.stderr, unit="ent"):
            ent_id, ds_id, _code = env.make_enterprise(i)
            made.append((ent_id, ds_id))
        for ent_id, ds_id in made:
            db.session.get(Enterprise, ent_id).status = STATUS_OPEN
            db.session.get(Enterprise, ent_id).opened_at = utcnow()
            db.session.add(TenantJob(id=f"{ds_id:032x}", kind="provision", tenant_id=ent_id, datasource_id=ds_id,
                                     status="finished", progress=100, finished_at=utcnow()))
        db.session.commit()
        databases = {ds.enterprise_id: ds.database for ds in db.session.query(Datasource)}

    def create(chunk):
        conn = admin_connection(env.server)
        try:
            with conn.cursor() as cur:
                for ent_id in chunk:
                    name = databases[ent_id]
                    cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
                    cur.execute(f"CREATE TABLE `{name}`.tenant_identity (id INT PRIMARY KEY, tenant_id BIGINT NOT NULL, "
                                "enterprise_no VARCHAR(20), created_at DATETIME)")
                    cur.execute(f"INSERT INTO `{name}`.tenant_identity VALUES (1, %s, NULL, NOW())", (ent_id,))
                    stamp_head(cur, name)
                    cur.execute(f"CREATE TABLE `{name}`.bench_run (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                                "tenant_id BIGINT NOT NULL, ran_at DATETIME NOT NULL)")
                    bar.update(1)
        finally:
            conn.close()

    ids = [ent_id for ent_id, _ in made]
    with tqdm(total=n, desc="databases", file=sys.stderr, unit="db") as bar, ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(create, ids[i::4]) for i in range(4)]:
            f.result()
    return ids, databases


def executions(env, databases):
    """How many times the task ran in each tenant's database: {count: tenants}."""
    seen = {}
    conn = admin_connection(env.server)
    try:
        with conn.cursor() as cur:
            for name in databases.values():
                cur.execute(f"SELECT COUNT(*) FROM `{name}`.bench_run")
                count = cur.fetchone()[0]
                seen[count] = seen.get(count, 0) + 1
    finally:
        conn.close()
    return seen


def process_env(env, args):
    config = env.app.config
    return {**os.environ, "APP_ENV": "development", "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": config["SECRET_KEY"], "INSTANCE_PATH": env.tmp, "UPLOAD_DIR": os.path.join(env.tmp, "uploads"),
            "TENANT_DATABASE_PREFIX": env.tenant_prefix, "REDIS_URL": args.redis,
            "TENANT_CONNECTION_BUDGET": str(args.budget), "CRM_SCHEDULE_CONCURRENCY": str(args.budget),
            "CRM_SCHEDULE_INTERVAL": "10", **SETTINGS}


def job_timings(conn):
    """Medians over the tenants' finished rq jobs: seconds from enqueue to start, and from start to end."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    from bench._harness import median

    waits, runs = [], []
    ids = FinishedJobRegistry("crm", connection=conn).get_job_ids()
    for job in Job.fetch_many(ids, connection=conn):
        if job is None or job.func_name != "tenant_runtime.core.jobs.run" or not job.started_at or not job.ended_at:
            continue
        waits.append((job.started_at - job.enqueued_at).total_seconds())
        runs.append((job.ended_at - job.started_at).total_seconds())
    return {"jobs": len(runs), "wait": median(waits), "run": median(runs)}


def rq_pass(env, args, databases):
    import redis
    from rq import Queue
    from rq import Worker as RqWorker
    from rq.registry import FailedJobRegistry

    conn = redis.Redis.from_url(args.redis)
    conn.flushdb()
    environment = process_env(env, args)
    workers = [subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "-w", "datasource_registry.worker.TenantWorker",
                                 "--url", args.redis, "crm"], cwd=ROOT, env=environment,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(args.workers)]
    cron = None
    peaks = Peaks(env)
    try:
        deadline = time.monotonic() + 120
        while len(RqWorker.all(connection=conn)) < args.workers:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError("the rq workers did not start")
            time.sleep(0.1)
        peaks.start()
        t0 = time.perf_counter()
        cron = subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "tenant_runtime.core.cron", "--url", args.redis],
                                cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counts = {}
        with env.app.app_context():
            from sqlalchemy import func, select

            from datasource_registry.models import ScheduledRun
            from extensions import db

            shown = t0
            while time.perf_counter() - t0 < args.timeout:
                counts = dict(db.session.execute(select(ScheduledRun.status, func.count(ScheduledRun.id))
                                                 .group_by(ScheduledRun.status)).all())
                db.session.commit()
                ended = sum(counts.get(s, 0) for s in ("finished", "failed", "skipped"))
                if time.perf_counter() - shown > 10:
                    print(f"  pass: {ended}/{len(databases)} ended after {time.perf_counter() - t0:.0f} s {counts}",
                          file=sys.stderr)
                    shown = time.perf_counter()
                if ended >= len(databases):
                    break
                time.sleep(0.2)
        seconds = time.perf_counter() - t0
        failed_jobs = FailedJobRegistry("crm", connection=conn).count
        left = Queue("crm", connection=conn).count
        timings = job_timings(conn)
    finally:
        peaks.stop.set()
        for proc in ([cron] if cron else []) + workers:
            proc.terminate()
        for proc in ([cron] if cron else []) + workers:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        conn.flushdb()
    peaks.join(timeout=5)
    return {"seconds": seconds, "counts": counts, "failed_jobs": failed_jobs, "left_in_queue": left, "timings": timings,
            "peak_connections": peaks.connections, "peak_in_flight": peaks.in_flight, "samples": peaks.samples}


def inline_pass(env, args, databases):
    from tenant_runtime.core.schedule import run_inline

    peaks = Peaks(env)
    peaks.start()
    t0 = time.perf_counter()
    with env.app.app_context():
        rows = run_inline(again=True)
        counts = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
    seconds = time.perf_counter() - t0
    peaks.stop.set()
    peaks.join(timeout=5)
    return {"seconds": seconds, "counts": counts, "peak_connections": peaks.connections}


def run(args):
    env = BenchEnv("sched", config_overrides={"TENANT_CONNECTION_BUDGET": args.budget,
                                              "CRM_SCHEDULE_CONCURRENCY": args.budget, **SETTINGS})
    try:
        env.setup()
        t = time.perf_counter()
        _ids, databases = make_tenants(env, args.tenants)
        print(f"set-up: {len(databases)} tenants in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        result = rq_pass(env, args, databases)
        once = executions(env, databases)
        errors = sum(v for k, v in result["counts"].items() if k != "finished") + result["failed_jobs"]
        print(f"\nScheduled pass over {len(databases)} tenants: rq cron + {args.workers} TenantWorker processes, "
              f"budget {args.budget} connections (TENANT_CONNECTION_BUDGET = CRM_SCHEDULE_CONCURRENCY)")
        print(f"  pass time                       {result['seconds']:.1f} s "
              f"({len(databases) / result['seconds']:.1f} tenants/s)")
        print(f"  runs by status                  {result['counts']}")
        print(f"  errors                          {errors} (failed rq jobs: {result['failed_jobs']}, "
              f"left in queue: {result['left_in_queue']})")
        print(f"  executions per tenant           {once}  (every tenant exactly once: {once == {1: len(databases)}})")
        print(f"  peak tenant server connections  {result['peak_connections']} / budget {args.budget} "
              f"({result['samples']} samples)")
        print(f"  peak runs queued or running     {result['peak_in_flight']} / {args.budget}")
        t = result["timings"]
        print(f"  a tenant's job (median of {t['jobs']})  {t['run'] * 1000:.0f} ms from start to end in its work horse, "
              f"{t['wait']:.1f} s queued before a worker took it")
        inline = inline_pass(env, args, databases)
        print("Inline (flask crm run-tasks --again), one process, one tenant after another:")
        print(f"  pass time                       {inline['seconds']:.1f} s "
              f"({len(databases) / inline['seconds']:.1f} tenants/s)")
        print(f"  runs by status                  {inline['counts']}")
        print(f"  peak tenant server connections  {inline['peak_connections']}")
        ok = errors == 0 and once == {1: len(databases)} and result["peak_connections"] <= args.budget \
            and result["peak_in_flight"] <= args.budget
        print(f"\n0 errors, once per tenant, never above budget: {'MET' if ok else 'NOT MET'}")
        return 0 if ok else 1
    finally:
        env.cleanup()


if __name__ == "__main__":
    run_main(parse_args, run)
