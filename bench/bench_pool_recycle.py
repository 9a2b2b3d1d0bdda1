"""Benchmark the public pool's recycling over 100k customers in one MariaDB tenant, against a bare SQL UPDATE
of the same rows in the same run.

    python bench/bench_pool_recycle.py [--customers 100000] [--rounds 3] [--users 50] [--quiet-percent 100]

Set-up (not timed): a control database with the real migrations, the real app, one enterprise with a MySQL
datasource on a temporary non-root account, provisioned by the real job (tenant migrations included) and
opened by the real service. ``--users`` sales users, ``--customers`` customers spread over them and over the
three levels, each owned for 61 to 160 days with no follow-up (or one 61+ days ago), and 100 of them in an
open handover (locked). One enabled rule: 60 / 30 / 15 days without follow-up for important / normal /
potential customers, so every customer but the locked ones is taken (with ``--quiet-percent 10`` only one in
ten: the others were followed up in the last ten days, a more usual night).

Timed, per round (the two sides alternate which goes first):

* ``dry run``: ``services.preview`` (the count of the candidates and the first page).
* ``recycle``: ``services.recycle`` in a tenant bound as a scheduled job binds it, and its COMMIT: the
  candidates into a temporary table, the customers updated, their ``customer_pool`` rows replaced and a
  ``crm_change_log`` row each, in one transaction.
* ``bare UPDATE``: ``UPDATE crm_customer SET owner_id = NULL, status = 'in_pool', sea_time = NOW()`` of
  exactly the rows the recycling takes (every unlocked customer, here) and its COMMIT: the floor of moving
  these rows at all, without the rules, their pool rows or their history.

Between the sides the rows are restored from a copy (not timed). Goal: recycle < 5 s for 100k customers.
Printed: each round's times, the medians, and recycle / bare UPDATE. Everything is dropped at the end, also
on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import DEFAULT_SERVER, BenchEnv, median, run_main


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet-percent", type=int, default=100,
                        help="the share of customers past their level's days (the others were followed up lately)")
    parser.add_argument("--server", default=DEFAULT_SERVER)
    return parser.parse_args()


def seed(conn, customers, users, quiet_percent=100):
    from sqlalchemy import text

    root = conn.execute(text("SELECT id FROM sys_dept WHERE parent_id IS NULL ORDER BY id LIMIT 1")).scalar()
    conn.execute(text(
        f"INSERT INTO sys_user (username, full_name, dept_id, status, password_hash, created_at, updated_at) "
        f"SELECT CONCAT('sales', seq), CONCAT('销售', seq), {root}, 1, 'x', NOW(), NOW() FROM seq_1_to_{users}"))
    first = conn.execute(text("SELECT MIN(id) FROM sys_user WHERE username LIKE 'sales%'")).scalar()
    conn.execute(text(
        "INSERT INTO crm_customer (customer_name, name_key, customer_type, phone, level, status, deal_status, "
        "owner_id, dept_id, owned_since, last_follow_up_at, created_by, created_at, updated_at) "
        f"SELECT CONCAT('基准客户', seq), CONCAT('基准客户', seq), 'enterprise', CONCAT('+86139', LPAD(seq, 8, '0')), "
        "ELT(1 + seq % 3, 'important', 'normal', 'potential'), 'active', 'potential', "
        f"{first} + seq % {users}, {root}, NOW() - INTERVAL (61 + seq % 100) DAY, "
        f"IF(seq % 100 >= {quiet_percent}, NOW() - INTERVAL (seq % 10) DAY, "
        "IF(seq % 2 = 0, NULL, NOW() - INTERVAL (61 + seq % 50) DAY)), "
        f"{first}, NOW() - INTERVAL 200 DAY, NOW() FROM seq_1_to_{customers}"))
    conn.execute(text("INSERT INTO crm_handover (from_owner_id, handover_reason, current_stage, "
                      "started_automatically, created_at, updated_at) "
                      f"VALUES ({first}, 'manual', 'preparation', 0, NOW(), NOW())"))
    handover = conn.execute(text("SELECT MAX(id) FROM crm_handover")).scalar()
    conn.execute(text("INSERT INTO crm_handover_customer (handover_id, customer_id, open_marker) "
                      f"SELECT {handover}, id, 1 FROM crm_customer ORDER BY id LIMIT 100"))
    conn.execute(text("INSERT INTO crm_pool_rule (rule_name, enabled, conditions, sort, created_at, updated_at) "
                      "VALUES ('按级别', 1, :c, 0, NOW(), NOW())"),
                 {"c": '{"match": "all", "items": [{"field": "inactive_days", "op": "gte", '
                       '"value": {"important": 60, "normal": 30, "potential": 15}}]}'})
    conn.execute(text("CREATE TABLE bench_backup AS SELECT id, owner_id, status, sea_time FROM crm_customer"))
    conn.execute(text("ALTER TABLE bench_backup ADD PRIMARY KEY (id)"))
    conn.execute(text("ANALYZE TABLE crm_customer, crm_handover_customer"))


def restore(engine):
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE crm_customer c JOIN bench_backup b ON b.id = c.id "
                          "SET c.owner_id = b.owner_id, c.status = b.status, c.sea_time = b.sea_time"))
        conn.execute(text("DELETE FROM customer_pool"))
        conn.execute(text("DELETE FROM crm_change_log WHERE action = 'recycle'"))


def run(args):
    env = BenchEnv("pool", args.server)
    started = time.monotonic()
    try:
        print(f"prefix {env.prefix}: setting up the control database, app and one tenant", file=sys.stderr)
        env.setup()
        app = env.app
        from sqlalchemy import text

        from datasource_registry.models import Datasource
        from extensions import db
        from tenant_runtime.core import jobs
        from tenant_runtime.models import utcnow
        from tenant_runtime.pool import services

        with app.test_request_context():
            ent_id, ds_id, _code = env.make_enterprise(0)
            env.provision(ds_id)
            env.open(ent_id)
            database = db.session.get(Datasource, ds_id).database
        engine = env.tenant_engine(database)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            seed(conn, args.customers, args.users, args.quiet_percent)
        print(f"seeded {args.customers} customers in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        with engine.connect() as conn:
            expected = conn.execute(text(
                "SELECT COUNT(*) FROM crm_customer c WHERE (c.last_follow_up_at IS NULL OR c.last_follow_up_at < "
                "NOW() - INTERVAL 60 DAY) AND NOT EXISTS (SELECT 1 FROM crm_handover_customer h "
                "WHERE h.customer_id = c.id AND h.open_marker = 1)")).scalar()

        def recycle():
            with app.app_context():
                tenant = jobs.bind(ent_id)
                try:
                    t = time.perf_counter()
                    result = services.recycle(tenant.session, utcnow())
                    tenant.session.commit()
                    return time.perf_counter() - t, result["recycled"]
                finally:
                    tenant.close()

        def dry_run():
            with app.test_request_context():
                tenant = jobs.bind(ent_id)
                try:
                    t = time.perf_counter()
                    _items, _cursor, total = services.preview(tenant.session, utcnow(), 0, 50)
                    return time.perf_counter() - t, total
                finally:
                    tenant.close()

        times = {"dry run": [], "recycle": [], "bare UPDATE": []}
        for r in range(args.rounds):
            order = ("recycle", "bare UPDATE") if r % 2 == 0 else ("bare UPDATE", "recycle")
            seconds, total = dry_run()
            times["dry run"].append(seconds)
            if total != expected:
                raise RuntimeError(f"the dry run lists {total}, expected {expected}")
            line = [f"round {r + 1}: dry run {seconds:.2f} s ({total} customers)"]
            for side in order:
                if side == "recycle":
                    seconds, n = recycle()
                    again, n2 = recycle()
                    if n != expected or n2 != 0:
                        raise RuntimeError(f"recycled {n} (expected {expected}), then {n2} (expected 0)")
                    line.append(f"recycle {seconds:.2f} s ({n}; a second run {again:.2f} s, 0)")
                else:
                    seconds, n = bare_update(engine, text)
                    if n != expected:
                        raise RuntimeError(f"the bare UPDATE changed {n}, expected {expected}")
                    line.append(f"bare UPDATE {seconds:.2f} s ({n})")
                times[side].append(seconds)
                restore(engine)
            print(", ".join(line), flush=True)
        rec, bare = median(times["recycle"]), median(times["bare UPDATE"])
        print(f"\n{args.customers} customers, {expected} recycled per run (100 locked, "
              f"{100 - args.quiet_percent}% followed up lately), {args.users} owners, "
              f"{args.rounds} rounds, medians:")
        print(f"  dry run (count + first page): {median(times['dry run']):.2f} s")
        print(f"  recycle (services.recycle + COMMIT): {rec:.2f} s   goal < 5 s: {'met' if rec < 5 else 'NOT met'}")
        print(f"  bare UPDATE of the same rows + COMMIT: {bare:.2f} s")
        print(f"  recycle / bare UPDATE: {rec / bare:.2f}x")
        engine.dispose()
        return 0
    finally:
        env.cleanup()
        print(f"wall time {time.monotonic() - started:.1f} s", file=sys.stderr)


def bare_update(engine, text):
    """The same rows (every unlocked customer) moved by one UPDATE, timed with its COMMIT."""
    t = time.perf_counter()
    with engine.begin() as conn:
        n = conn.execute(text(
            "UPDATE crm_customer c SET c.owner_id = NULL, c.status = 'in_pool', c.sea_time = NOW() "
            "WHERE c.status = 'active' AND (c.last_follow_up_at IS NULL OR c.last_follow_up_at < NOW() - INTERVAL 60 DAY) "
            "AND NOT EXISTS (SELECT 1 FROM crm_handover_customer h "
            "WHERE h.customer_id = c.id AND h.open_marker = 1)")).rowcount
    return time.perf_counter() - t, n


if __name__ == "__main__":
    run_main(parse_args, run)
