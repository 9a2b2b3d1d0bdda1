"""Benchmark the customer export (导出): memory stays flat with the number of rows, and its cost per row.

    python bench/bench_export.py [--rows 100000] [--quick]

Set-up (not timed): a fresh environment (``_harness.BenchEnv``: control database with the real migrations,
the real app, a non-root account, one enterprise provisioned by the real job and opened by the real
service), filled by ``tenant_runtime.demo.fill_volume`` with ``--rows`` customers owned by its synthetic
sales organisation; dropped at the end.

Measured, for the sales director (销售经理 over the whole centre: the data scope's per-department branches)
through the real app and Flask's test client, CSV streamed and read piece by piece, and Excel:

* part of the rows (``level=important``, about 2 in 10) and all of them; ``tracemalloc``'s peak of Python
  allocations during each export. Goal: the peak of the full export is at most 1.5 x the peak of the part
  (flat: one chunk at a time; holding every row would grow about 5 x), reported MET / NOT MET;
* wall time per 10,000 rows of each export without tracemalloc (information: the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import DEFAULT_SERVER, BenchEnv, run_main

FLAT_GOAL = 1.5


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000, help="customers in the tenant")
    p.add_argument("--quick", action="store_true", help="smoke run: 8,000 customers")
    p.add_argument("--server", default=DEFAULT_SERVER)
    p.add_argument("--profile", choices=("csv", "xlsx"), help="print a cProfile (CPU) of one full export, "
                   "and measure nothing")
    args = p.parse_args()
    if args.quick:
        args.rows = min(args.rows, 8000)
    return args


def fill(env, rows):
    password = f"Bench-Export-{secrets.token_hex(4)}x"
    code, database = env.volume_tenant(rows, password, tables=("crm_customer", "crm_customer_tag"))
    return code, database, password


def run(args):
    env = BenchEnv("export", args.server, config_overrides={"CRM_EXPORT_MAX_ROWS": args.rows + 1})
    try:
        env.setup()
        print(f"filling a tenant with {args.rows} customers", file=sys.stderr)
        code, database, password = fill(env, args.rows)
        return measure(env, code, database, password, args)
    finally:
        env.cleanup()


def measure(env, code, database, password, args):
    import sqlalchemy as sa

    app = env.app
    with env.tenant_engine(database).connect() as conn:
        total = conn.execute(sa.text("SELECT COUNT(*) FROM crm_customer WHERE deleted_at IS NULL")).scalar()
    client = app.test_client()
    resp = client.post(f"/t/{code}/api/v1/auth/token", json={"username": "vol_director", "password": password})
    if resp.status_code != 200:
        raise RuntimeError(f"token: {resp.status_code}")
    headers = {"Authorization": f"Bearer {resp.json['token']}"}
    base = f"/t/{code}/api/v1/customers/export"
    print(f"{total} customers", file=sys.stderr)

    def export(fmt, query):
        """Rows and bytes of one export, read as a client reads it (piece by piece for CSV)."""
        resp = client.get(f"{base}?format={fmt}{query}", headers=headers)
        if resp.status_code != 200:
            raise RuntimeError(f"{fmt}{query}: {resp.status_code} {resp.get_data()[:300]}")
        size = lines = 0
        for piece in resp.response:
            size += len(piece)
            lines += piece.count(b"\n")
        resp.close()
        return lines - 1 if fmt == "csv" else None, size

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(export, args.profile, "")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(40)
        return 0
    scenarios = {"part": "&level=important", "all": ""}  # about 2 in 10 customers are important
    results = {}
    for fmt in ("csv", "xlsx"):
        for name, query in scenarios.items():
            export(fmt, query)  # warm
            tracemalloc.start()
            rows, size = export(fmt, query)
            _cur, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            started = time.perf_counter()
            export(fmt, query)
            seconds = time.perf_counter() - started
            results[(fmt, name)] = (rows, size, peak, seconds)
    print(f"{'export':<14}{'rows':>9}{'MiB sent':>10}{'peak MiB':>10}{'s':>8}{'s/10k rows':>12}")
    row_counts = {}
    for (fmt, name), (rows, size, peak, seconds) in results.items():
        if rows is not None:
            row_counts[name] = rows
        n = rows if rows is not None else row_counts.get(name, 0)
        per = seconds / n * 10_000 if n else float("nan")
        print(f"{fmt + ' ' + name:<14}{n:>9}{size / 2**20:>10.1f}{peak / 2**20:>10.1f}{seconds:>8.1f}{per:>12.2f}")
    verdicts = []
    for fmt in ("csv", "xlsx"):
        ratio = results[(fmt, "all")][2] / results[(fmt, "part")][2]
        growth = row_counts["all"] / max(row_counts["part"], 1)
        met = ratio <= FLAT_GOAL
        verdicts.append(met)
        print(f"{fmt}: peak memory all / part = {ratio:.2f} for {growth:.1f} x the rows "
              f"(goal <= {FLAT_GOAL}): {'MET' if met else 'NOT MET'}")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    run_main(parse_args, run)
