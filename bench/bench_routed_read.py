"""Benchmark a tenant-routed API read against the same read in a plain single-database Flask app.

    python bench/bench_routed_read.py [--rounds 30] [--per-round 200] [--warmup 200] [--quick] [--profile]

Set-up (not timed): a control database with the real migrations, the real app (``create_app``), one
enterprise with a MySQL datasource on a temporary non-root account, provisioned by the real job and
opened by the real service (open checks included). The tenant's first administrator gets a known
password (its hash written into ``sys_user``; provisioning only mails a random one), and a bearer
token comes from ``POST /t/<code>/api/v1/auth/token``.

Timed, all with Flask's test client in this one process, in interleaved rounds (each round runs every
side ``--per-round`` times, the order rotating from round to round), per-request wall time:

* ``routed``: ``GET /t/<code>/api/v1/me`` on the real app with its default config, so the resolver
  cache is warm (``TENANT_CACHE_TTL`` seconds, default 5: the first request after each TTL reloads the tenant
  from the control database). The cached entry holds the datasource's pool ``Target``, so with the cache
  warm a request reads nothing from the control database and decrypts no password.
* ``routed, resolver cache off``: the same with ``TENANT_CACHE_TTL = 0`` (every request loads the
  enterprise, its datasource and its provisioning job from the control database and decrypts the
  datasource's password).
* ``baseline``: a minimal Flask app with ONE SQLAlchemy engine (QueuePool, pool_size 1, max_overflow 4,
  pool_pre_ping, the same sizes and options the registry gives the tenant engine) on the SAME tenant
  database and account. Its ``GET /api/v1/me`` does what the routed app's token check and view do, with
  the same ORM models and serializer: bearer header parsed, tenant prefix of the token compared,
  ``sys_token`` selected by the SHA-256 of the token, revoked/expiry checked, ``last_used_at`` set,
  ``sys_user`` loaded by id (enabled checked), JSON from ``tenant_runtime.schemas.TenantUserSchema`` plus the
  tenant's code and name (constants), session committed in after_request (the UPDATE of
  ``last_used_at``), closed in teardown. What it does NOT do is everything that makes the app
  multi-tenant: path routing middleware, tenant resolution (the resolver cache; with
  ``TENANT_CACHE_TTL = 0`` also the ``Datasource`` lookup and password decryption), the pool registry,
  and the control plane's global hooks (permissions, locale, limiter, CSRF, security headers). Both
  apps run in this one process, so the app's ORM listeners registered on SQLAlchemy's ``Session``
  class (audit recorder, tenant-change signals, datasource guards) also fire on the baseline's
  sessions: a few tens of microseconds that the baseline pays although a truly separate app would not.
* ``baseline, read-only auth`` (information only): the baseline without the ``last_used_at`` write.
* ``bare Flask`` (information only): a Flask app answering a constant JSON, no database: the floor of
  the test client plus Flask per request.

Printed: median and p95 per request for each side, routed / baseline ratios of the medians (goal: routed
<= 1.10 x baseline), and the per-round ratios' median and range. With ``--profile`` the routed request is
also run under cProfile and the functions with the largest cumulative time are printed.

All databases and the account are dropped at the end, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import DEFAULT_SERVER, BenchEnv, median, ms, pct, run_main

GOAL = 1.10


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    p.add_argument("--per-round", type=int, default=200, help="requests per side per round")
    p.add_argument("--warmup", type=int, default=200, help="untimed requests per side first")
    p.add_argument("--quick", action="store_true", help="smoke run: 6 rounds of 60 requests")
    p.add_argument("--profile", action="store_true", help="also profile routed requests with cProfile")
    p.add_argument("--server", default=DEFAULT_SERVER)
    args = p.parse_args()
    if args.quick:
        args.rounds, args.per_round, args.warmup = 6, 60, 40
    return args


def make_baseline_app(url, code, name, tenant_id, write_last_used=True):
    """The plain single-database app: see the module docstring for exactly what it does."""
    import sqlalchemy as sa
    from flask import Flask, g, jsonify, request
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from tenant_runtime.models import SysToken, SysUser, utcnow
    from tenant_runtime.schemas import TenantUserSchema

    engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=1, max_overflow=4, pool_pre_ping=True,
                              pool_recycle=3600, pool_timeout=2)
    app = Flask(f"baseline_{'rw' if write_last_used else 'ro'}")

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
        token = g.db.scalar(select(SysToken).where(SysToken.token_hash == hashlib.sha256(raw.encode()).hexdigest()))
        if token is None or token.revoked_at is not None or token.expires_at <= utcnow():
            return unauthorized()
        if write_last_used:
            token.last_used_at = utcnow()
        user = g.db.get(SysUser, token.user_id)
        if user is None or not user.is_enabled:
            return unauthorized()
        g.user = user
        return None

    user_schema = TenantUserSchema()

    @app.get("/api/v1/me")
    def me():
        return jsonify({**user_schema.dump(g.user), "tenant": {"code": code, "name": name}})

    @app.after_request
    def commit(resp):
        if g.get("db") is not None and resp.status_code < 400:
            g.db.commit()
        return resp

    @app.teardown_request
    def close(exc=None):
        s = g.pop("db", None)
        if s is not None:
            s.close()

    return app, engine


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
    engines = []
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

        base_rw, eng_rw = make_baseline_app(env.tenant_url(database), code, name, ent_id, write_last_used=True)
        base_ro, eng_ro = make_baseline_app(env.tenant_url(database), code, name, ent_id, write_last_used=False)
        engines += [eng_rw, eng_ro]
        base_rw_client, base_ro_client, bare_client = base_rw.test_client(), base_ro.test_client(), \
            make_bare_app().test_client()
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
            ("baseline", "baseline: plain Flask + one engine, same token check and write", base_rw_client,
             "/api/v1/me", None),
            ("baseline_ro", "baseline, read-only auth (no last_used_at write)", base_ro_client, "/api/v1/me", None),
            ("bare", "bare Flask, constant JSON, no database", bare_client, "/ping", None),
        ]

        # correctness: both apps return the same body
        routed_body = routed_client.get(sides[0][3], headers=headers).json
        base_body = base_rw_client.get("/api/v1/me", headers=headers).json
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
                for _ in range(args.per_round):
                    dt, status = one(client, path)
                    if status != 200:
                        errors[key] += 1
                    vals.append(dt)
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
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(n_prof):
                    client.get(path, headers=headers)
                prof.disable()
                return pstats.Stats(prof)

            set_ttl(default_ttl)()
            routed_stats = profiled(routed_client, sides[0][3])
            base_stats = profiled(base_rw_client, "/api/v1/me")
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

            for package in ("werkzeug", "flask_limiter"):
                r_fn, b_fn = by_function(routed_stats, package), by_function(base_stats, package)
                top = sorted(set(r_fn) | set(b_fn), key=lambda k: -(r_fn.get(k, 0) - b_fn.get(k, 0)))[:6]
                diff.append(f"  top {package} functions by difference:")
                for key in top:
                    delta = 1000 * (r_fn.get(key, 0) - b_fn.get(key, 0)) / n_prof
                    diff.append(f"    {key[0].split('site-packages/')[-1]}:{key[1]}({key[2]}) {delta:+7.3f}")
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
             f"account {env.account['username']} (non-root), tenant pool min 1 / max 5, pool_pre_ping"),
            "",
        ]
        width = max(len(label) for _k, label, *_ in sides)
        for key, label, *_ in sides:
            lines.append(f"{label:<{width}}  median {ms(med[key])}  p95 {ms(pct(samples[key], 95))}  "
                         f"(n={len(samples[key])}, errors {errors[key]})")
        lines.append("")
        ratio = med["routed"] / base
        rm, rlo, rhi = round_ratios("routed")
        lines += [
            (f"routed / baseline (medians): {ratio:.2f}x  (per-round ratios: median {rm:.2f}x, range "
             f"{rlo:.2f}-{rhi:.2f}); goal <= {GOAL:.2f}: {'MET' if ratio <= GOAL else 'NOT MET'}"),
            (f"routed overhead per request: {ms(med['routed'] - base)} "
             f"(routed {ms(med['routed'])} - baseline {ms(base)})"),
        ]
        ratio_nc = med["routed_nocache"] / base
        nm, nlo, nhi = round_ratios("routed_nocache")
        lines += [
            (f"routed with resolver cache off / baseline: {ratio_nc:.2f}x  (per-round median {nm:.2f}x, range "
             f"{nlo:.2f}-{nhi:.2f}); cache off costs {ms(med['routed_nocache'] - med['routed'])} per request"),
            (f"routed / baseline read-only auth: {med['routed'] / med['baseline_ro']:.2f}x; the last_used_at "
             f"write costs {ms(base - med['baseline_ro'])} per request in the baseline"),
            f"bare Flask floor (test client + Flask, no database): {ms(med['bare'])}",
        ]
        lines += [
            f"timed rounds: {timed_s:.1f} s",
        ]
        print("\n".join(lines + profile_lines))
        return 0 if not any(errors.values()) else 1
    finally:
        for e in engines:
            e.dispose()
        env.cleanup()
        print(f"wall time {time.monotonic() - started:.1f} s", file=sys.stderr)


def main():
    run_main(parse_args, run)


if __name__ == "__main__":
    main()
