"""A tenant whose database hangs stays that tenant's problem: its requests fail within the read timeout, it
never holds more than its share of a process's threads (requests beyond it get a fast 503 ``tenant_busy``),
and the other tenants and the control plane keep answering; once its database resumes it recovers.

The frozen database is a proxy in front of MariaDB that stops forwarding (tests/netfaults.py). Ordering is
proven with events (a request still outstanding while others were answered), never with the clock."""

import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from datasource_registry.models import Datasource
from extensions import db
from tests.conftest import eventually
from tests.netfaults import FreezableProxy
from tests.tenant_runtime.test_routing import bearer, token_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def frozen_tenant(app, tenants):
    """``tenants[2]`` reached through a proxy the test can freeze (``.freeze()``, ``.thaw()``)."""
    proxy = FreezableProxy()
    with app.app_context(), db.engine.begin() as conn:  # below the ORM's immutability guard
        conn.execute(sa.update(Datasource.__table__).where(Datasource.id == tenants[2].datasource_id)
                     .values(port=proxy.port))
    yield proxy
    proxy.close()  # hangs up on whatever still waits, so a failing test ends


def in_background(fn):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", fn()), daemon=True)
    thread.start()
    return thread, box


# ---------------------------------------------------------------- in process


def test_requests_beyond_a_tenants_limit_get_a_fast_503_while_others_are_served(app, client, tenants,
                                                                                frozen_tenant, monkeypatch):
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 2)
    hung, other = tenants[2], tenants[0]
    hung_token, other_token = token_for(client, hung), token_for(client, other)
    bulkhead = app.extensions["tenant_bulkhead"]
    frozen_tenant.freeze()
    stuck = [in_background(lambda: app.test_client().get(f"/t/{hung.code}/api/v1/me", headers=bearer(hung_token)))
             for _ in range(2)]
    assert eventually(lambda: bulkhead.in_use(hung.id) == 2) and frozen_tenant.wait_held(2), \
        "the hung tenant's requests never reached its database"

    busy = client.get(f"/t/{hung.code}/api/v1/me", headers=bearer(hung_token))
    assert busy.status_code == 503 and busy.json["error"]["code"] == "tenant_busy"
    assert busy.headers["Retry-After"] == "1"
    page = client.get(f"/t/{hung.code}/login")
    assert page.status_code == 503 and "当前请求过多" in page.text
    english = client.get(f"/t/{hung.code}/login?lang=en")
    assert english.status_code == 503 and "Too many requests" in english.text
    assert client.get(f"/t/{other.code}/api/v1/me", headers=bearer(other_token)).status_code == 200
    assert client.get("/login").status_code == 200
    assert all(thread.is_alive() for thread, _ in stuck), "the hung tenant's requests ended before the others ran"

    frozen_tenant.thaw()  # the database resumes: the held requests complete and give their slots back
    for thread, box in stuck:
        thread.join(30)
        assert box["result"].status_code == 200
    assert bulkhead.in_use(hung.id) == 0
    assert client.get(f"/t/{hung.code}/api/v1/me", headers=bearer(hung_token)).status_code == 200


def _all_slots_held(app, tenant, monkeypatch, limit, progress):
    """The tenant's ``limit`` slots taken as requests in progress would take them (TENANT_SLOT_WAIT 60 s); its
    next request started in the background: (the bulkhead, the request's thread, the box its answer goes to)."""
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", limit)
    monkeypatch.setitem(app.config, "TENANT_SLOT_WAIT", 60)
    monkeypatch.setitem(app.config, "TENANT_SLOT_PROGRESS", progress)
    token = token_for(app.test_client(), tenant)
    bulkhead = app.extensions["tenant_bulkhead"]
    assert all(bulkhead.try_enter(tenant.id, limit) for _ in range(limit))
    thread, box = in_background(lambda: app.test_client().get(f"/t/{tenant.code}/api/v1/me", headers=bearer(token)))
    return bulkhead, thread, box


def test_a_burst_waits_for_a_slot_that_a_quick_request_gives_back(app, tenants, monkeypatch):
    """Every slot of the company is taken by requests that are moving (they began a moment ago): the next one
    waits for a slot instead of a 503, and gets its answer once one is given back."""
    tenant = tenants[0]
    bulkhead, thread, box = _all_slots_held(app, tenant, monkeypatch, limit=2, progress=60)
    try:
        assert eventually(lambda: bulkhead.waiting(tenant.id) == 1), "the third request did not wait"
        assert "result" not in box
        bulkhead.leave(tenant.id)  # one of them ends
        thread.join(30)
        assert box["result"].status_code == 200, box["result"].json
    finally:
        bulkhead.leave(tenant.id)
    assert bulkhead.in_use(tenant.id) == 0


def test_a_tenant_that_has_not_moved_is_refused_without_waiting(app, tenants, monkeypatch):
    """All slots are held by requests that have made no progress for longer than TENANT_SLOT_PROGRESS (a
    hung database): the next request is refused with 503 ``tenant_busy`` at once, not after TENANT_SLOT_WAIT."""
    tenant = tenants[0]
    bulkhead, thread, box = _all_slots_held(app, tenant, monkeypatch, limit=1, progress=0)
    try:
        thread.join(app.config["TENANT_SLOT_WAIT"] / 2)
        assert not thread.is_alive(), "the request waited for a slot of a tenant that is not moving"
        assert box["result"].status_code == 503 and box["result"].json["error"]["code"] == "tenant_busy"
    finally:
        bulkhead.leave(tenant.id)


def test_a_request_slot_is_given_back_however_the_request_ends(app, client, tenants, monkeypatch):
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 1)
    bulkhead = app.extensions["tenant_bulkhead"]
    a, down = tenants[0], tenants[2]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.update(Datasource.__table__).where(Datasource.id == down.datasource_id).values(port=1))
    for _ in range(3):  # a database error, a bad token, invalid input: each time the one slot comes back
        resp = client.get(f"/t/{down.code}/api/v1/me", headers=bearer(f"{down.id}.looked-up-in-its-database"))
        assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_unavailable"
        assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer("nope.nope")).status_code == 401
        assert client.post(f"/t/{a.code}/api/v1/auth/token", json={}).status_code == 422
    assert bulkhead.in_use(a.id) == 0 and bulkhead.in_use(down.id) == 0
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token_for(client, a))).status_code == 200


def test_a_hung_tenant_answers_503_within_the_read_timeout_and_recovers(app, client, tenants, frozen_tenant,
                                                                       monkeypatch):
    registry = app.extensions["pool_registry"]
    assert registry.read_timeout == app.config["TENANT_READ_TIMEOUT"]  # the configured value reaches the pools
    read_timeout = 1
    monkeypatch.setattr(registry, "read_timeout", read_timeout)  # engines are built per test (closed after each)
    hung = tenants[2]
    token = token_for(client, hung)
    frozen_tenant.freeze()
    thread, box = in_background(lambda: app.test_client().get(f"/t/{hung.code}/api/v1/me", headers=bearer(token)))
    # a pooled connection's ping and then a new connection's greeting each wait the read timeout
    thread.join(read_timeout * 3 + 10)
    assert not thread.is_alive(), "the request still waits on the hung database"
    assert box["result"].status_code == 503 and box["result"].json["error"]["code"] == "tenant_unavailable"
    assert app.extensions["tenant_bulkhead"].in_use(hung.id) == 0
    frozen_tenant.thaw()
    assert client.get(f"/t/{hung.code}/api/v1/me", headers=bearer(token)).status_code == 200


# ---------------------------------------------------------------- a real server with a bounded thread pool


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The app under gunicorn, one process with ``threads`` threads, on this test's databases."""

    def __init__(self, app, threads, **settings):
        self.base = f"http://127.0.0.1:{_free_port()}"
        env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
               "INSTANCE_PATH": app.config["INSTANCE_PATH"], "SECRET_KEY": app.config["SECRET_KEY"],
               "TENANT_DATABASE_PREFIX": app.config["TENANT_DATABASE_PREFIX"], "REDIS_URL": "",
               "WEB_THREADS": str(threads), **{k: str(v) for k, v in settings.items()}}
        self.log = tempfile.TemporaryFile(mode="w+")  # a pipe nobody reads could fill up and stall the server
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", self.base[len("http://"):], "--workers", "1",
             "--threads", str(threads), "--timeout", "300", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if self.get("/login")[0] == 200:
                    return
            except OSError:
                pass  # not listening yet
            time.sleep(0.2)
        self.stop()
        self.log.seek(0)
        pytest.fail(f"gunicorn did not start: {self.log.read()[-3000:]}")

    def get(self, path, token=None):
        """(status, body) of one request on a connection of its own."""
        request = urllib.request.Request(self.base + path, headers=bearer(token) if token else {})
        try:
            with urllib.request.urlopen(request, timeout=600) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        self.log.close()


def _code(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def test_a_frozen_tenant_cannot_take_a_servers_threads(app, client, tenants, frozen_tenant, api_as):
    """gunicorn, one process, 4 threads, so each tenant may hold 2. Twice as many concurrent requests as the
    process has threads go to a tenant whose database froze: 2 wait on it, the other 6 get 503 tenant_busy at
    once instead of queuing for a thread; while the 2 are still waiting, another tenant's API, the control
    plane's sign-in page and its API answer, round after round. Then the database resumes and the tenant
    recovers."""
    threads, limit = 4, 2
    hung, other = tenants[2], tenants[0]
    hung_token, other_token = token_for(client, hung), token_for(client, other)
    ops = api_as("ops")
    server = Server(app, threads, TENANT_REQUEST_LIMIT=limit, TENANT_READ_TIMEOUT=300)  # it waits till we thaw
    try:
        server.wait_ready()
        assert server.get(f"/t/{hung.code}/api/v1/me", hung_token)[0] == 200  # a pooled connection, then...
        frozen_tenant.freeze()

        answers = queue.Queue()
        burst = [threading.Thread(target=lambda: answers.put(server.get(f"/t/{hung.code}/api/v1/me", hung_token)),
                                  daemon=True) for _ in range(2 * threads)]
        for thread in burst:
            thread.start()
        refused = [answers.get(timeout=120) for _ in range(2 * threads - limit)]  # only a failing test waits
        assert [(status, _code(body)) for status, body in refused] == [(503, "tenant_busy")] * (2 * threads - limit)
        assert frozen_tenant.wait_held(limit), "the hung tenant's requests never reached its database"

        for _ in range(3):
            assert server.get(f"/t/{other.code}/api/v1/me", other_token)[0] == 200
            assert server.get("/login")[0] == 200
            assert server.get("/api/v1/enterprises", ops.token)[0] == 200
            status, body = server.get(f"/t/{hung.code}/login")
            assert status == 503 and "当前请求过多" in body
        assert answers.empty() and sum(t.is_alive() for t in burst) == limit, \
            "the hung tenant's requests ended before the others were answered"

        frozen_tenant.thaw()
        for thread in burst:
            thread.join(120)
        assert [answers.get_nowait()[0] for _ in range(limit)] == [200] * limit
        status, body = server.get(f"/t/{hung.code}/api/v1/me", hung_token)
        assert status == 200 and json.loads(body)["tenant"]["code"] == hung.code
    finally:
        frozen_tenant.close()
        server.stop()



def test_a_master_key_this_process_lacks_is_a_503_for_that_tenant_not_a_500(app, client, tenants, tenant_account,
                                                                          api_as):
    """Another process re-encrypted a datasource's password under a key this one was not restarted with (the
    README's rotation, done in the wrong order): that tenant's pages and API answered 500, and so did the
    control plane's 测试连接. Now the tenant is unavailable (503, logged), the others are served, and the control
    plane names what needs attention."""
    from cryptography.fernet import Fernet

    from tenant_runtime import resolver

    broken, fine = tenants[0], tenants[1]
    fine_token = token_for(client, fine)
    foreign = Fernet(Fernet.generate_key()).encrypt(tenant_account["password"].encode()).decode()
    with app.app_context():
        table = Datasource.__table__
        kept = db.session.execute(sa.select(table.c.password_encrypted).where(table.c.id == broken.id)).scalar()
        db.session.execute(table.update().where(table.c.id == broken.id).values(password_encrypted=foreign))
        db.session.commit()
    resolver.invalidate()
    try:
        page = client.get(f"/t/{broken.code}/login")
        assert page.status_code == 503 and "重试" in page.text
        token = client.post(f"/t/{broken.code}/api/v1/auth/token", json={"username": "admin", "password": "x"})
        assert token.status_code == 503 and token.json["error"]["code"] == "tenant_unavailable"
        assert client.get(f"/t/{fine.code}/api/v1/me", headers=bearer(fine_token)).status_code == 200
        check = api_as("devops").post(f"/api/v1/enterprises/{broken.id}/datasource/check")
        assert check.status_code == 503 and check.json["error"]["code"] == "secret_unreadable"
        assert "SECRET_MASTER_KEYS" in check.json["error"]["message"] and tenant_account["password"] not in check.text
    finally:
        with app.app_context():
            db.session.execute(table.update().where(table.c.id == broken.id).values(password_encrypted=kept))
            db.session.commit()
        resolver.invalidate()
    assert client.get(f"/t/{broken.code}/login").status_code == 200
