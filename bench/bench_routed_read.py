"""Benchmark a tenant-routed API read against the same read in a plain single-database Flask app.

    python bench/bench_routed_read.py [--rounds 30] [--per-round 200] [--http-rounds 8] [--http-seconds 5]
                                      [--quick] [--no-http] [--no-instructions] [--callgrind-requests 200]
                                      [--profile] [--redis URL]

Set-up (not timed): a control database with the real migrations, the real app (``create_app``), one
enterprise with a MySQL datasource (min 1 / max 5 connections) on a temporary non-root account, provisioned
by the real job and opened by the real service (open checks included). The tenant's first administrator
gets a known password (its hash written into ``sys_user``; provisioning only mails a random one), and a
bearer token comes from ``POST /t/<code>/api/v1/auth/token``.

The baseline is a minimal Flask app with ONE SQLAlchemy engine on the SAME tenant database and account that
keeps its connections (QueuePool, pool_size 5, no overflow, pool_pre_ping), with the driver's read and
write timeouts the routed app gives its tenant engines (``TENANT_READ_TIMEOUT``/``TENANT_WRITE_TIMEOUT``:
with a socket timeout Python polls the socket before every send and receive, 8 system calls per request
here, which the baseline would otherwise be spared for a setting every production app should have), and
does what the routed app's token check and view do, with the same ORM models and serializer: bearer header
parsed, tenant prefix of the token compared, the token with its user and the user's roles selected by the SHA-256 of the token in the
routed app's own statement (``tenant_runtime.auth.TOKEN_LOOKUP``, built once), revoked/expiry
checked, ``last_used_at`` written when older than ``TENANT_TOKEN_TOUCH_INTERVAL`` (so, like the routed app,
almost never), the user's enabled flag checked, JSON from ``tenant_runtime.views.user_json`` plus the tenant's code and name
(constants), committed only if it wrote, closed in teardown. What it does NOT do is everything that makes the
app multi-tenant: path routing middleware, tenant resolution (the resolver cache; with
``TENANT_CACHE_TTL = 0`` also the ``Datasource`` lookup and password decryption), the pool registry, and the
control plane's global hooks (permissions, locale, CSRF, security headers).

Timed, part 1, in this one process with Flask's test client, in interleaved rounds (each round runs every
side ``--per-round`` times, the order rotating from round to round), per-request wall time:

* ``routed``: ``GET /t/<code>/api/v1/me`` on the real app with its default config (resolver cache warm).
* ``routed, resolver cache off`` (information): the same with ``TENANT_CACHE_TTL = 0``.
* ``baseline``: ``GET /api/v1/me`` on the plain app. Both apps run in this one process, so the app's ORM
  listeners registered on SQLAlchemy's ``Session`` class (audit recorder, tenant-change signals,
  datasource guards) also fire on the baseline's sessions.
* ``bare Flask`` (information): a constant JSON answer, no database: the test client's and Flask's floor.

Timed, part 2, over HTTP: each app served by gunicorn in its own processes, with sync workers (``-w 2``,
2 concurrent clients) and with threads (``-w 1 --threads 4``, 4 concurrent clients), loaded by ``wrk`` for
``--http-seconds`` per run, routed and baseline alternating for ``--http-rounds`` rounds, both gunicorns
started afresh for each round (``--same-servers``: once): how fast one process runs the same code varies by
10 % and more from one start to the next on a shared machine, so one pair of starts is one sample. Printed: requests
per second of each, the baseline / routed throughput ratio per round (median and range), and how many new
server connections each app opened while loaded (the bench account's connection ids in PROCESSLIST, polled
every 20 ms, that were not there when the run started). Both gunicorns run with the repository's
``gunicorn.conf.py`` (as deployed: its access log to stdout, which the script discards, on both sides) and the
same command-line options; the routed app's rate limiter stores its counts in Redis (``--redis``, default
``$TEST_REDIS_SERVER/13``), which that configuration requires for more than one worker process (a read
never touches it), and its per-tenant bulkhead (``TENANT_REQUEST_LIMIT``) is set to the thread count: the
default, half the threads, would answer most of one tenant's concurrent requests with 503 by design. Without ``wrk`` on the PATH (``apt-get install wrk``) part 2 is skipped and the output
says so.

Counted, part 3 (information; ``--no-instructions`` skips it): the instructions this process executes per
request, routed and baseline, counted by valgrind's callgrind in a child process that makes both apps on the
same databases (``--callgrind-child``), 50 uncounted warm-up requests each, then ``--callgrind-requests``
(default 200) raw WSGI calls per count, four counts (routed, baseline, baseline, routed). An instruction count
does not depend on what else the machine is doing, so this ratio is the one figure here that two runs on a
busy machine agree on; it covers this process's CPU only (the database server's work is the same for both).
Needs valgrind and a C compiler (for a 4-line library that switches counting on and off); without them part 3
says it was skipped.

Goal: routed <= 1.05 x baseline (the in-process time ratio; the HTTP throughput ratios). With ``--profile``
the routed request is also run under cProfile and the functions with the largest cumulative time are printed.

All databases and the account are dropped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from functools import partial

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import (
    DEFAULT_SERVER,
    BenchEnv,
    admin_connection,
    median,
    ms,
    pct,
    run_main,
)

GOAL = 1.05
# the rate limiter's shared storage, so that the app's gunicorn.conf.py lets the routed app run 2 worker processes
DEFAULT_REDIS = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379") + "/13"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# gunicorn set-ups of part 2: label, workers, threads, concurrent clients
HTTP_SETUPS = {"sync": ("sync workers (-w 2)", 2, 1, 2), "threads": ("threads (-w 1 --threads 4)", 1, 4, 4)}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    p.add_argument("--per-round", type=int, default=200, help="requests per side per round")
    p.add_argument("--warmup", type=int, default=200, help="untimed requests per side first")
    p.add_argument("--http-rounds", type=int, default=8, help="HTTP rounds (each: both servers started, then routed and baseline loaded once)")
    p.add_argument("--http-seconds", type=float, default=5, help="seconds of wrk load per HTTP run")
    p.add_argument("--no-http", action="store_true", help="skip part 2 (gunicorn + wrk)")
    p.add_argument("--http-setup", choices=["both", *HTTP_SETUPS], default="both", help="gunicorn set-ups of part 2")
    p.add_argument("--redis", default=DEFAULT_REDIS,
                   help="rate-limit storage of the routed app under gunicorn (2 sync workers need a shared one)")
    p.add_argument("--quick", action="store_true", help="smoke run: 6 rounds of 60 requests, 1 HTTP round of 2 s")
    p.add_argument("--profile", action="store_true", help="also profile routed requests with cProfile")
    p.add_argument("--no-instructions", action="store_true", help="skip part 3 (instructions under callgrind)")
    p.add_argument("--same-servers", action="store_true",
                   help="part 2: start each gunicorn once, not afresh for every round")
    p.add_argument("--callgrind-requests", type=int, default=200, help="requests per callgrind count (part 3)")
    p.add_argument("--server", default=DEFAULT_SERVER)
    args = p.parse_args()
    if args.quick:
        args.rounds, args.per_round, args.warmup = 6, 60, 40
        args.http_rounds, args.http_seconds = 1, 2
        args.callgrind_requests = 50
    return args


def make_baseline_app(url, code, name, tenant_id, touch_interval=60.0, read_timeout=None, write_timeout=None):
    """The plain single-database app: see the module docstring for exactly what it does. ``read_timeout`` and
    ``write_timeout``: the driver's socket timeouts, as the routed app gives its tenant engines."""
    from datetime import timedelta

    import sqlalchemy as sa
    from flask import Flask, g, jsonify, request
    from sqlalchemy.orm import Session

    from tenant_runtime.auth import TOKEN_LOOKUP
    from tenant_runtime.models import utcnow
    from tenant_runtime.schemas import TenantUserSchema

    timeouts = {key: value for key, value in (("read_timeout", read_timeout), ("write_timeout", write_timeout))
                if value}
    engine = sa.create_engine(url, pool_size=5, max_overflow=0, pool_pre_ping=True, pool_recycle=3600, pool_timeout=2,
                              connect_args=timeouts)
    app = Flask("baseline")
    app.json.sort_keys = False  # as the routed app writes its JSON (app.py): the same work
    interval = timedelta(seconds=touch_interval)

    def unauthorized():
        resp = jsonify({"error": {"code": "not_authenticated", "message": "Sign in first."}})
        resp.status_code = 401
        return resp

    @app.before_request
    def require_token():
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return unauthorized()
        raw = header[7:].strip()
        if raw.partition(".")[0] != str(tenant_id):
            return unauthorized()
        g.db = Session(bind=engine, expire_on_commit=False)
        # the routed app's one statement: the token, its user and the user's roles (with their departments)
        found = g.db.execute(TOKEN_LOOKUP,
                             {"token_hash": hashlib.sha256(raw.encode()).hexdigest()}).unique().first()
        now = utcnow()
        if found is None:
            return unauthorized()
        token, user = found
        if token.revoked_at is not None or token.expires_at <= now:
            return unauthorized()
        if token.last_used_at is None or now - token.last_used_at >= interval:
            token.last_used_at = now
            g.wrote = True
        if not user.is_enabled:
            return unauthorized()
        g.user = user
        return None

    user_schema = TenantUserSchema()

    @app.get("/api/v1/me")
    def me():
        return jsonify({**user_schema.dump(g.user), "tenant": {"code": code, "name": name}})

    @app.after_request
    def commit(resp):
        if g.get("wrote") and resp.status_code < 400:
            g.db.commit()
        return resp

    @app.teardown_request
    def close(exc=None):
        s = g.pop("db", None)
        if s is not None:
            s.close()

    return app, engine


def baseline_wsgi():
    """``gunicorn 'bench_routed_read:baseline_wsgi()'``: the baseline app, configured by part 2's environment."""
    import sqlalchemy as sa

    from config import config_from_env

    env, config = os.environ, config_from_env()  # the routed app's settings, from the same environment
    app, _engine = make_baseline_app(sa.engine.make_url(env["BENCH_BASELINE_URL"]), env["BENCH_BASELINE_CODE"],
                                     env["BENCH_BASELINE_NAME"], int(env["BENCH_BASELINE_TENANT"]),
                                     config.TENANT_TOKEN_TOUCH_INTERVAL, config.TENANT_READ_TIMEOUT,
                                     config.TENANT_WRITE_TIMEOUT)
    return app


def make_bare_app():
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.get("/ping")
    def ping():
        return jsonify({"id": "1", "username": "admin", "tenant": {"code": "x", "name": "y"}})

    return app


def run(args):
    env = BenchEnv("read", args.server)
    started = time.monotonic()
    engines, procs = [], []
    try:
        print(f"prefix {env.prefix}: setting up the control database, app and one tenant", file=sys.stderr)
        env.setup()
        app = env.app
        from sqlalchemy import text
        from werkzeug.security import generate_password_hash

        from datasource_registry.models import Datasource
        from extensions import db

        with app.test_request_context():
            ent_id, ds_id, code = env.make_enterprise(0)
            env.provision(ds_id)
            env.open(ent_id)
            ds = db.session.get(Datasource, ds_id)
            database, name = ds.database, ds.enterprise.name
        password = "Bench-Admin-42x"
        with env.tenant_engine(database).begin() as conn:
            conn.execute(text("UPDATE sys_user SET password_hash = :h WHERE username = 'admin'"),
                         {"h": generate_password_hash(password, method=app.config["PASSWORD_HASH_METHOD"])})
        routed_client = app.test_client()
        resp = routed_client.post(f"/t/{code}/api/v1/auth/token", json={"username": "admin", "password": password})
        if resp.status_code != 200:
            raise RuntimeError(f"token request failed: {resp.status_code} {resp.get_data(as_text=True)[:500]}")
        token = resp.json["token"]
        headers = {"Authorization": f"Bearer {token}"}

        touch = app.config["TENANT_TOKEN_TOUCH_INTERVAL"]
        base_app, base_engine = make_baseline_app(env.tenant_url(database), code, name, ent_id, touch,
                                                  app.config["TENANT_READ_TIMEOUT"], app.config["TENANT_WRITE_TIMEOUT"])
        engines.append(base_engine)
        base_client, bare_client = base_app.test_client(), make_bare_app().test_client()
        default_ttl = app.config["TENANT_CACHE_TTL"]

        from tenant_runtime import resolver

        def set_ttl(value):
            def prepare():
                # the TTL applies when an entry is stored: drop the entry cached under another TTL
                if app.config["TENANT_CACHE_TTL"] != value:
                    resolver.invalidate()
                app.config["TENANT_CACHE_TTL"] = value
            return prepare

        sides = [
            # key, label, client, path, prepare
            ("routed", f"routed (resolver cache on, TENANT_CACHE_TTL={default_ttl:g} s)", routed_client,
             f"/t/{code}/api/v1/me", set_ttl(default_ttl)),
            ("routed_nocache", "routed, resolver cache off (TENANT_CACHE_TTL=0)", routed_client,
             f"/t/{code}/api/v1/me", set_ttl(0)),
            ("baseline", "baseline: plain Flask + one engine keeping 5 connections, same token check",
             base_client, "/api/v1/me", None),
            ("bare", "bare Flask, constant JSON, no database", bare_client, "/ping", None),
        ]

        # correctness: both apps return the same body
        routed_body = routed_client.get(sides[0][3], headers=headers).json
        base_body = base_client.get("/api/v1/me", headers=headers).json
        if routed_body != base_body:
            raise RuntimeError(f"bodies differ: routed {routed_body} vs baseline {base_body}")

        errors = {key: 0 for key, *_ in sides}

        def one(client, path):
            t0 = time.perf_counter()
            r = client.get(path, headers=headers)
            dt = time.perf_counter() - t0
            return dt, r.status_code

        for key, _label, client, path, prepare in sides:
            if prepare:
                prepare()
            for _ in range(args.warmup):
                _dt, status = one(client, path)
                if status != 200:
                    errors[key] += 1

        samples = {key: [] for key, *_ in sides}
        round_medians = {key: [] for key, *_ in sides}
        cpu = {key: [] for key, *_ in sides}  # this process's CPU time per request, per round (load-proof)
        rounds_started = time.monotonic()
        for r in range(args.rounds):
            k = r % len(sides)
            order = sides[k:] + sides[:k]
            if (r // len(sides)) % 2:
                order = order[::-1]
            for key, _label, client, path, prepare in order:
                if prepare:
                    prepare()
                vals = []
                cpu0 = time.process_time()
                for _ in range(args.per_round):
                    dt, status = one(client, path)
                    if status != 200:
                        errors[key] += 1
                    vals.append(dt)
                cpu[key].append((time.process_time() - cpu0) / args.per_round)
                samples[key] += vals
                round_medians[key].append(median(vals))
            print(f"round {r + 1}/{args.rounds}: routed {ms(round_medians['routed'][-1])}, baseline "
                  f"{ms(round_medians['baseline'][-1])}", file=sys.stderr)
        timed_s = time.monotonic() - rounds_started
        app.config["TENANT_CACHE_TTL"] = default_ttl

        profile_lines = []
        if args.profile:
            n_prof = max(500, args.per_round)

            def profiled(client, path):
                prof = cProfile.Profile(time.process_time)  # CPU time: waits on the database and load excluded
                prof.enable()
                for _ in range(n_prof):
                    client.get(path, headers=headers)
                prof.disable()
                return pstats.Stats(prof)

            set_ttl(default_ttl)()
            routed_stats = profiled(routed_client, sides[0][3])
            base_stats = profiled(base_client, "/api/v1/me")
            out = io.StringIO()
            routed_stats.stream = out
            routed_stats.sort_stats("cumulative")
            routed_stats.print_stats(25)
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            routed_stats.print_stats(rf"^{root}/(tenant_runtime|datasource_registry|platform_admin|extensions|app)", 30)
            routed_stats.print_stats(r"(flask_limiter|flask_login|flask_wtf|flask_babel|cryptography|fernet)", 15)

            def by_package(stats):
                totals = {}
                for (filename, _line, _fn), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
                    if "site-packages/" in filename:
                        key = filename.split("site-packages/")[1].split("/")[0]
                    elif filename.startswith(root):
                        key = "app:" + filename[len(root) + 1:].split("/")[0]
                    else:
                        key = "stdlib/builtins"
                    totals[key] = totals.get(key, 0.0) + tottime
                return totals

            routed_pkg, base_pkg = by_package(routed_stats), by_package(base_stats)
            rows = sorted(set(routed_pkg) | set(base_pkg),
                          key=lambda k: -(routed_pkg.get(k, 0) - base_pkg.get(k, 0)))
            diff = ["own time per request by package under cProfile (routed - baseline = difference), ms:"]
            for key in rows[:15]:
                r_ms, b_ms = 1000 * routed_pkg.get(key, 0) / n_prof, 1000 * base_pkg.get(key, 0) / n_prof
                diff.append(f"  {key:32s} {r_ms:7.3f} - {b_ms:7.3f} = {r_ms - b_ms:+7.3f}")
            def by_function(stats, package):
                return {(fn, line, name): tt for (fn, line, name), (_cc, _nc, tt, _ct, _c) in stats.stats.items()
                        if package in fn}

            for package in ("werkzeug", "flask_limiter", f"{root}/tenant_runtime", f"{root}/common",
                            f"{root}/datasource_registry"):
                r_fn, b_fn = by_function(routed_stats, package), by_function(base_stats, package)
                top = sorted(set(r_fn) | set(b_fn), key=lambda k: -(r_fn.get(k, 0) - b_fn.get(k, 0)))[:6]
                diff.append(f"  top {package.replace(root + '/', '')} functions by difference:")
                for key in top:
                    delta = 1000 * (r_fn.get(key, 0) - b_fn.get(key, 0)) / n_prof
                    where = key[0].split('site-packages/')[-1].replace(root + '/', '')
                    diff.append(f"    {where}:{key[1]}({key[2]}) {delta:+7.3f}")
            diff.append(f"  Python function calls per request (machine-independent): routed "
                        f"{routed_stats.total_calls / n_prof:.0f}, baseline {base_stats.total_calls / n_prof:.0f}")

            def calls(stats):
                return {f"{fn.split('site-packages/')[-1].replace(root + '/', '')}:{line}({name})": nc
                        for (fn, line, name), (_cc, nc, _tt, _ct, _c) in stats.stats.items()}

            r_calls, b_calls = calls(routed_stats), calls(base_stats)
            extra = sorted(((r_calls.get(k, 0) - b_calls.get(k, 0)) / n_prof, k) for k in set(r_calls) | set(b_calls))
            diff.append("  functions called more often per request, routed - baseline:")
            diff += [f"    {n:+6.1f} {k}" for n, k in reversed(extra[-25:]) if n > 0]
            profile_lines = ["", ("cProfile of routed requests (cumulative; the app's own functions and extensions "
                                  "listed separately):"), out.getvalue(), *diff]

        med = {key: median(v) for key, v in samples.items()}
        base = med["baseline"]

        def round_ratios(key, ref="baseline"):
            rr = [a / b for a, b in zip(round_medians[key], round_medians[ref])]
            return median(rr), min(rr), max(rr)

        lines = [
            (f"tenant-routed read vs plain single-database app: GET /me, {args.rounds} interleaved rounds x "
             f"{args.per_round} requests per side (+{args.warmup} warm-up), Flask test client, one process"),
            (f"server {env.server.render_as_string(hide_password=True)}, tenant database {database}, "
             f"account {env.account['username']} (non-root), tenant pool min 1 / max 5, pool_pre_ping, "
             f"last_used_at written at most every {touch:g} s"),
            "",
        ]
        width = max(len(label) for _k, label, *_ in sides)
        for key, label, *_ in sides:
            lines.append(f"{label:<{width}}  median {ms(med[key])}  p95 {ms(pct(samples[key], 95))}  "
                         f"CPU {ms(median(cpu[key]))}  (n={len(samples[key])}, errors {errors[key]})")
        lines.append("")
        ratio = med["routed"] / base
        rm, rlo, rhi = round_ratios("routed")
        lines += [
            (f"routed / baseline (medians): {ratio:.2f}x  (per-round ratios: median {rm:.2f}x, range "
             f"{rlo:.2f}-{rhi:.2f}); goal <= {GOAL:.2f}: {'MET' if ratio <= GOAL else 'NOT MET'}"),
            (f"routed overhead per request: {ms(med['routed'] - base)} "
             f"(routed {ms(med['routed'])} - baseline {ms(base)})"),
            (f"this process's CPU per request, routed / baseline: "
             f"{median(cpu['routed']) / median(cpu['baseline']):.2f}x "
             f"({ms(median(cpu['routed']))} vs {ms(median(cpu['baseline']))}; the database server's work is the "
             f"same for both and not counted)"),
        ]
        ratio_nc = med["routed_nocache"] / base
        nm, nlo, nhi = round_ratios("routed_nocache")
        lines += [
            (f"routed with resolver cache off / baseline: {ratio_nc:.2f}x  (per-round median {nm:.2f}x, range "
             f"{nlo:.2f}-{nhi:.2f}); cache off costs {ms(med['routed_nocache'] - med['routed'])} per request"),
            f"bare Flask floor (test client + Flask, no database): {ms(med['bare'])}",
            f"timed rounds: {timed_s:.1f} s",
            "",
        ]
        print("\n".join(lines), flush=True)
        http_errors = 0
        if args.no_http:
            print("HTTP (gunicorn + wrk): skipped (--no-http)")
        elif shutil.which("wrk") is None:
            print("HTTP (gunicorn + wrk): skipped: wrk is not installed (apt-get install wrk)")
        else:
            http_lines, http_errors = http_figures(args, env, database, code, name, ent_id, token, procs)
            print("\n".join(http_lines))
        if args.no_instructions:
            print("instructions (callgrind): skipped (--no-instructions)")
        else:
            print("\n".join(instruction_figures(args, env, database, code, name, ent_id, token)))
        if profile_lines:
            print("\n".join(profile_lines))
        return 0 if not any(errors.values()) and not http_errors else 1
    finally:
        for proc in procs:
            stop(proc)
        for e in engines:
            e.dispose()
        env.cleanup()
        print(f"wall time {time.monotonic() - started:.1f} s", file=sys.stderr)


# ------------------------------------------------------------------ part 2: HTTP under gunicorn, loaded by wrk


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app_spec, env, workers, threads, token, path):
    """Start gunicorn for ``app_spec`` and wait until ``path`` answers 200. Returns (process, url)."""
    port = free_port()
    # both apps with the repository's gunicorn.conf.py, as deployed (access log included), and the same options
    cmd = [sys.executable, "-m", "gunicorn", "--config", os.path.join(ROOT, "gunicorn.conf.py"),
           "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--threads", str(threads), "--log-level", "warning", "--pythonpath", f"{ROOT},{ROOT}/bench", app_spec]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}{path}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}),
                                        timeout=5) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"gunicorn {app_spec} did not come up: {proc.stderr.read()[-2000:]}")
        time.sleep(0.2)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def wrk(url, token, connections, seconds):
    """Requests per second and non-2xx responses of one wrk run."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-H", f"Authorization: Bearer {token}",
                          url], capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    bad += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out.split("Socket errors:")[1])) \
        if "Socket errors:" in out else 0
    return rps, bad


def cpu_seconds(proc):
    """CPU time (user + system) so far of gunicorn's workers: the children of its master process."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == proc.pid:  # ppid
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


class ConnectionIds(threading.Thread):
    """The bench account's server connection ids, polled from PROCESSLIST every 20 ms."""

    def __init__(self, server, user):
        super().__init__(daemon=True)
        self.conn, self.user = admin_connection(server), user
        self.seen, self.lock, self.done = set(), threading.Lock(), threading.Event()

    def now(self):
        with self.lock, self.conn.cursor() as cur:
            cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (self.user,))
            return {row[0] for row in cur.fetchall()}

    def run(self):
        while not self.done.wait(0.02):
            ids = self.now()
            with self.lock:
                self.seen |= ids

    def opened_during(self, fn):
        """Runs ``fn``; returns its result and how many connection ids appeared that were not there before."""
        before = self.now()
        with self.lock:
            self.seen = set()
        result = fn()
        with self.lock:
            return result, len(self.seen - before)

    def close(self):
        self.done.set()
        self.join(5)
        self.conn.close()


def app_env(args, env, database, code, name, ent_id):
    """The environment that makes both apps in another process: the routed app (``wsgi:app``) on this run's
    control database, the baseline (``baseline_wsgi()``) on the tenant's database."""
    return {**os.environ, "APP_ENV": "development", "PYTHONPATH": ROOT,
            "DATABASE_URL": env.app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": env.app.config["SECRET_KEY"],
            "INSTANCE_PATH": env.tmp, "UPLOAD_DIR": os.path.join(env.tmp, "uploads"),
            "TENANT_DATABASE_PREFIX": env.tenant_prefix, "REDIS_URL": "", "RATELIMIT_STORAGE_URI": args.redis,
            "BENCH_BASELINE_URL": env.tenant_url(database).render_as_string(hide_password=False),
            "BENCH_BASELINE_CODE": code, "BENCH_BASELINE_NAME": name, "BENCH_BASELINE_TENANT": str(ent_id)}


def start_pair(base_env, workers, threads, clients, token, code, warm_seconds, procs):
    """Both apps under gunicorn, warmed up. Returns ({side: process}, {side: url})."""
    # The bulkhead lets one tenant hold half of a process's threads by default; here one tenant is all the
    # load, so its limit is the thread count (the bulkhead's bookkeeping is still paid).
    routed, routed_url = serve("wsgi:app", {**base_env, "TENANT_REQUEST_LIMIT": str(threads)}, workers, threads,
                               token, f"/t/{code}/api/v1/me")
    procs.append(routed)
    baseline, baseline_url = serve("bench_routed_read:baseline_wsgi()", base_env, workers, threads, token,
                                   "/api/v1/me")
    procs.append(baseline)
    sides = {"routed": routed_url, "baseline": baseline_url}
    for url in sides.values():  # warm-up: every worker has its connections and caches
        wrk(url, token, clients, min(2, warm_seconds))
    return {"routed": routed, "baseline": baseline}, sides


def http_figures(args, env, database, code, name, ent_id, token, procs):
    base_env = app_env(args, env, database, code, name, ent_id)
    how = ("the same two servers in every round" if args.same_servers else
           "both servers started afresh for each round (a process's speed varies from one start to the next)")
    lines = [(f"HTTP: gunicorn, wrk -t1 for {args.http_seconds:g} s per run, {args.http_rounds} rounds alternating "
              f"routed and baseline, {how}; throughput (requests/s, higher is better)")]
    ids = ConnectionIds(env.server, env.account["username"])
    ids.start()
    errors = 0
    try:
        setups = HTTP_SETUPS.values() if args.http_setup == "both" else [HTTP_SETUPS[args.http_setup]]
        for label, workers, threads, clients in setups:
            setup = (base_env, workers, threads, clients, token, code, args.http_seconds, procs)
            servers = sides = None
            rps = {key: [] for key in ("routed", "baseline")}
            cpu = {key: [] for key in rps}  # the workers' CPU seconds per request, per run
            opened = {key: 0 for key in rps}
            if args.same_servers:
                servers, sides = start_pair(*setup)
            for r in range(args.http_rounds):
                if not args.same_servers:
                    servers, sides = start_pair(*setup)
                for key in (("routed", "baseline") if r % 2 == 0 else ("baseline", "routed")):
                    cpu0 = cpu_seconds(servers[key])
                    (value, bad), new = ids.opened_during(partial(wrk, sides[key], token, clients, args.http_seconds))
                    cpu[key].append((cpu_seconds(servers[key]) - cpu0) / (value * args.http_seconds))
                    rps[key].append(value)
                    opened[key] += new
                    errors += bad
                if not args.same_servers:
                    for proc in servers.values():
                        stop(proc)
                print(f"{label} round {r + 1}: routed {rps['routed'][-1]:.0f}/s, baseline {rps['baseline'][-1]:.0f}/s",
                      file=sys.stderr)
            ratios = [b / a for a, b in zip(rps["routed"], rps["baseline"])]
            total = median(rps["baseline"]) / median(rps["routed"])
            lines += [
                f"  {label}, {clients} concurrent clients:",
                (f"    routed {median(rps['routed']):.0f}/s, baseline {median(rps['baseline']):.0f}/s (medians); "
                 f"baseline / routed {total:.3f}x, per round median {median(ratios):.3f}x, range "
                 f"{min(ratios):.3f}-{max(ratios):.3f}; goal <= {GOAL:.2f}: {'MET' if total <= GOAL else 'NOT MET'}"),
                (f"    gunicorn workers' CPU per request: routed {ms(median(cpu['routed']))}, baseline "
                 f"{ms(median(cpu['baseline']))} ({median(cpu['routed']) / median(cpu['baseline']):.3f}x)"),
                (f"    new server connections while loaded ({args.http_rounds} x {args.http_seconds:g} s): routed "
                 f"{opened['routed']}, baseline {opened['baseline']}"),
            ]
            if args.same_servers:
                for proc in servers.values():
                    stop(proc)
    finally:
        ids.close()
    lines.append(f"  HTTP errors (non-2xx, socket errors): {errors}")
    return lines, errors


# ------------------------------------------------------------------ part 3: instructions per request (callgrind)

CALLGRIND_CONTROL = r"""#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""
CALLGRIND_ORDER = ("routed", "baseline", "baseline", "routed")  # two of each, the order mirrored


def instruction_figures(args, env, database, code, name, ent_id, token):
    """Runs ``--callgrind-child`` under valgrind's callgrind, which counts the instructions this process
    executes (not seconds: the same count whatever else the machine does). The child makes both apps on the
    same control and tenant databases, warms them up uninstrumented, then counts ``--callgrind-requests``
    requests of each side, twice, each count written to a file of its own."""
    header = "/usr/include/valgrind/callgrind.h"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if shutil.which("valgrind") is None or compiler is None or not os.path.exists(header):
        return ["instructions (callgrind): skipped: needs valgrind (apt-get install valgrind) and a C compiler"]
    tmp = tempfile.mkdtemp(prefix="bench-callgrind-")
    try:
        with open(os.path.join(tmp, "cg.c"), "w") as fh:
            fh.write(CALLGRIND_CONTROL)
        lib = os.path.join(tmp, "libcg.so")
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", lib, os.path.join(tmp, "cg.c")], check=True)
        child_env = {**app_env(args, env, database, code, name, ent_id), "TENANT_CACHE_TTL": "3600",
                     "BENCH_CG_LIB": lib, "BENCH_CG_TOKEN": token, "BENCH_CG_REQUESTS": str(args.callgrind_requests)}
        started = time.monotonic()
        done = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                               f"--callgrind-out-file={tmp}/out.%p", sys.executable, os.path.abspath(__file__),
                               "--callgrind-child"], check=False, cwd=ROOT, env=child_env, capture_output=True,
                              text=True, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(f"the callgrind run failed: {done.stderr[-2000:]}")
        counts = {}
        for fname in os.listdir(tmp):
            if not fname.startswith("out."):
                continue
            label = total = None
            with open(os.path.join(tmp, fname)) as fh:
                for line in fh:
                    if line.startswith("desc: Trigger: Client Request: "):
                        label = line.rsplit(":", 1)[1].strip()
                    elif line.startswith("totals:"):
                        total = int(line.split()[1])
            if label:
                counts[label] = total / args.callgrind_requests
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    per_side = {side: [counts[f"{side}{i}"] for i, s in enumerate(CALLGRIND_ORDER) if s == side]
                for side in ("routed", "baseline")}
    routed, baseline = (sum(v) / len(v) for v in (per_side["routed"], per_side["baseline"]))
    return [
        (f"instructions (callgrind, this process only, machine-independent): {args.callgrind_requests} requests "
         f"per count, {len(CALLGRIND_ORDER)} counts ({', '.join(CALLGRIND_ORDER)}), raw WSGI calls, resolver "
         f"cache kept warm (TENANT_CACHE_TTL=3600 in the counted process), {time.monotonic() - started:.0f} s"),
        (f"  routed {routed:,.0f} instructions per request ({', '.join(f'{v:,.0f}' for v in per_side['routed'])}), "
         f"baseline {baseline:,.0f} ({', '.join(f'{v:,.0f}' for v in per_side['baseline'])})"),
        (f"  routed / baseline: {routed / baseline:.3f}x; routed adds {routed - baseline:,.0f} instructions per "
         f"request (the database server's work, the same for both, is not counted)"),
    ]


def callgrind_child():
    """Under callgrind (see ``instruction_figures``): both apps, configured by the environment."""
    import ctypes
    import gc

    from werkzeug.test import EnvironBuilder

    from app import create_app

    env = os.environ
    app, baseline = create_app(), baseline_wsgi()
    headers = {"Authorization": f"Bearer {env['BENCH_CG_TOKEN']}"}
    sides = {"routed": (app, f"/t/{env['BENCH_BASELINE_CODE']}/api/v1/me"), "baseline": (baseline, "/api/v1/me")}

    def call(wsgi, path):
        status = []
        body = wsgi(EnvironBuilder(path=path, headers=headers).get_environ(),
                    lambda s, h, exc_info=None: status.append(s))
        b"".join(body)
        if hasattr(body, "close"):
            body.close()
        return status[0]

    for wsgi, path in sides.values():
        for _ in range(50):  # warm-up, not counted: connections, caches, compiled statements
            status = call(wsgi, path)
            if not status.startswith("200"):
                raise RuntimeError(f"{path} answered {status}")
    gc.collect()
    gc.freeze()  # as gunicorn.conf.py does in each worker
    cg = ctypes.CDLL(env["BENCH_CG_LIB"])
    n = int(env["BENCH_CG_REQUESTS"])
    for i, side in enumerate(CALLGRIND_ORDER):
        wsgi, path = sides[side]
        cg.cg_zero()
        cg.cg_start()
        for _ in range(n):
            call(wsgi, path)
        cg.cg_stop()
        cg.cg_dump(f"{side}{i}".encode())


def main():
    if sys.argv[1:] == ["--callgrind-child"]:
        callgrind_child()
        return
    run_main(parse_args, run)


if __name__ == "__main__":
    main()
