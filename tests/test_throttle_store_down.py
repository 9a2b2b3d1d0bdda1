"""The throttle store (Redis) refuses connections or hangs: each limit does what README.md promises.

- staff and tenant sign-in: still possible, still throttled, counted in the process's memory;
- registration: the same (a registration needs an SMS code, whose wrong guesses the database counts);
- SMS codes: refused with 503 (fail closed), nothing sent, until the shared count is back.

Flask-Limiter's storage belongs to its one global limiter, so each case runs a real app process (on this
test's control database) whose ``REDIS_URL`` points at the broken store, like test_throttle_redis.py.
"""

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from extensions import db
from tests.conftest import PASSWORD
from tests.faults import FaultyProxy
from tests.platform_admin.onboarding_helpers import latest_code

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379") + "/15"
SOCKET_TIMEOUT = 0.5
ANSWER_BOUND = 30  # seconds: far above what the configured timeouts cost, far below "hangs"
LOGIN_LIMIT = 3
REGISTER_LIMIT = 2

SERVER = """
from werkzeug.serving import make_server
from app import create_app
server = make_server("127.0.0.1", 0, create_app())
print(server.server_port, flush=True)
server.serve_forever()
"""


class AppProcess:
    """A real app process on the test's control database, its throttles in the Redis at ``redis_url``."""

    def __init__(self, app, redis_url, prefix):
        env = {**os.environ, "APP_ENV": "development", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
               "INSTANCE_PATH": app.config["INSTANCE_PATH"], "SECRET_KEY": app.config["SECRET_KEY"],
               "TENANT_DATABASE_PREFIX": app.config["TENANT_DATABASE_PREFIX"], "TENANT_CACHE_TTL": "0",
               "REDIS_URL": redis_url, "REDIS_SOCKET_TIMEOUT": str(SOCKET_TIMEOUT), "RATELIMIT_KEY_PREFIX": prefix,
               "LOGIN_LIMIT_PER_USER": f"{LOGIN_LIMIT} per 15 minutes", "LOGIN_LIMIT_PER_IP": "1000 per hour",
               "REGISTER_LIMIT_PER_IP": f"{REGISTER_LIMIT} per hour"}
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        assert line.strip().isdigit(), self.stderr()
        self.base = f"http://127.0.0.1:{int(line)}"

    def stderr(self):
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.log.close()

    def browser(self):
        return Browser(self.base)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Cookies kept, redirects not followed; every answer must come within ANSWER_BOUND."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect)

    def send(self, path, json_body=None, form=None):
        data, headers = None, {}
        if json_body is not None:
            data, headers = json.dumps(json_body).encode(), {"Content-Type": "application/json"}
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self.opener.open(request, timeout=ANSWER_BOUND) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post_json(self, path, body):
        status, text = self.send(path, json_body=body)
        return status, json.loads(text) if text.startswith("{") else text

    def post_form(self, page_path, path, **fields):
        _status, page = self.send(page_path)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        return self.send(path, form={**fields, "csrf_token": token})


def _redis_location(url):
    from redis.connection import parse_url

    parts = parse_url(url)
    return (parts.get("host", "127.0.0.1"), parts.get("port", 6379)), parts.get("db", 0)


@pytest.fixture(scope="module", params=["refused", "frozen"])
def store_down(request, app):
    """An app process whose throttle store refuses connections (nothing listens) or hangs (a frozen proxy)."""
    target, database = _redis_location(REDIS_URL)
    proxy = FaultyProxy(target)
    if request.param == "frozen":
        proxy.start().freeze()
    process = AppProcess(app, f"redis://127.0.0.1:{proxy.port}/{database}", f"test-{secrets.token_hex(4)}")
    yield process
    process.stop()
    if proxy.running:
        proxy.stop()


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------------------- timeouts


PROBE = """
from app import create_app
from datasource_registry import jobs
from extensions import limiter
app = create_app()
with app.app_context():
    for client in (limiter.storage.storage, jobs._queue().connection):
        kwargs = client.connection_pool.connection_kwargs
        print(kwargs["socket_timeout"], kwargs["socket_connect_timeout"])
"""


def test_every_redis_client_of_the_app_has_the_configured_timeouts(tmp_path):
    """Throttle store and job queue alike: a frozen Redis costs a request REDIS_SOCKET_TIMEOUT, not redis-py's
    default (which the frozen-store tests here would not tell apart from a configured one)."""
    env = {**os.environ, "APP_ENV": "development", "INSTANCE_PATH": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path}/control.sqlite3", "REDIS_URL": "redis://127.0.0.1:1/0",
           "REDIS_SOCKET_TIMEOUT": "0.25"}
    env.pop("RATELIMIT_STORAGE_URI", None)
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120, check=False)
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert probe.stdout.split() == ["0.25"] * 4


def test_a_failed_sign_in_whose_count_cannot_be_written_still_answers_401(app, make_staff, monkeypatch, caplog):
    """The store answered the check, then failed when the failed attempt was counted (after the view ran):
    the answer is the view's, and the lost count is logged (RATELIMIT_SWALLOW_ERRORS)."""
    from extensions import limiter

    username = f"s{secrets.token_hex(3)}"
    make_staff(username, roles=("ops",))

    def store_gone(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to the throttle store. Connection refused.")

    monkeypatch.setattr(limiter.storage, "incr", store_gone)
    client = app.test_client()
    assert client.post("/api/v1/auth/token", json={"username": username, "password": "wrong"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).status_code == 200
    assert "Failed to deduct rate limit" in caplog.text


# ---------------------------------------------------------------------------- sign-in: fail open, per process


def test_staff_sign_in_still_works_and_is_throttled_per_process(store_down, make_staff):
    username = f"s{secrets.token_hex(3)}"
    make_staff(username, roles=("ops",))
    browser = store_down.browser()
    status, body = browser.post_json("/api/v1/auth/token", {"username": username, "password": PASSWORD})
    assert status == 200 and body["token"], (body, store_down.stderr())
    assert browser.post_form("/login", "/login", username=username, password=PASSWORD)[0] == 302

    for _ in range(LOGIN_LIMIT):
        assert browser.post_json("/api/v1/auth/token", {"username": username, "password": "wrong"})[0] == 401
    status, body = browser.post_json("/api/v1/auth/token", {"username": username, "password": PASSWORD})
    assert status == 429 and body["error"]["code"] == "throttled"


def test_tenant_sign_in_still_works_and_is_throttled_per_process(store_down, tenants):
    tenant = tenants[0]
    path = f"/t/{tenant.code}/api/v1/auth/token"
    browser = store_down.browser()
    status, body = browser.post_json(path, {"username": "admin", "password": tenant.admin_password})
    assert status == 200 and body["token"], (body, store_down.stderr())
    page = f"/t/{tenant.code}/login"
    assert browser.post_form(page, page, username="admin", password=tenant.admin_password)[0] == 302

    for _ in range(LOGIN_LIMIT):
        assert browser.post_json(path, {"username": "admin", "password": "wrong"})[0] == 401
    assert browser.post_json(path, {"username": "admin", "password": tenant.admin_password})[0] == 429


# ---------------------------------------------------------------------------- registration: fail open, per process


def test_registration_still_works_and_is_throttled_per_process(app, store_down, api_as):
    phone = f"139{secrets.randbelow(10**8):08d}"
    admin = api_as("admin")
    # the code was sent while the store answered (this test's own app, in-memory throttles)
    assert app.test_client().post("/api/v1/public/sms-codes", json={"phone": phone}).status_code == 202
    code = latest_code(admin, phone)
    browser = store_down.browser()
    application = {"name": "张伟", "phone": phone, "company_name": "华庭物业", "channel": "web"}
    status, body = browser.post_json("/api/v1/public/applications", {**application, "sms_code": code})
    assert status == 201 and body["phone_verified"] is True, (body, store_down.stderr())
    assert browser.post_json("/api/v1/public/applications", {**application, "sms_code": "000000"})[0] == 422
    assert browser.post_json("/api/v1/public/applications", {**application, "sms_code": code})[0] == 429


# ---------------------------------------------------------------------------- SMS codes: fail closed


def test_no_sms_code_is_sent_while_the_store_is_down(app, store_down):
    from platform_admin.messaging.models import OutboxMessage
    from platform_admin.onboarding.models import SmsCode

    browser = store_down.browser()
    status, body = browser.post_json("/api/v1/public/sms-codes", {"phone": "13900001111"})
    assert status == 503 and body["error"]["code"] == "sms_unavailable", (body, store_down.stderr())
    status, page = browser.post_form("/register", "/register", action="send_code", name="李娜", phone="13900001112")
    assert status == 503 and "暂时无法发送验证码" in page
    assert _count(app, OutboxMessage) == 0 and _count(app, SmsCode) == 0


def test_sms_codes_go_out_again_once_the_store_answers(app):
    """The limiter looks at the store again every few seconds (Flask-Limiter backs off up to 32 s)."""
    target, database = _redis_location(REDIS_URL)
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required for this test and is not reachable: {exc}")
    proxy = FaultyProxy(target)  # not started yet: refused
    prefix = f"test-{secrets.token_hex(4)}"
    process = AppProcess(app, f"redis://127.0.0.1:{proxy.port}/{database}", prefix)
    try:
        browser = process.browser()
        assert browser.post_json("/api/v1/public/sms-codes", {"phone": "13900002222"})[0] == 503
        proxy.start()
        deadline = time.monotonic() + 90
        while (status := browser.post_json("/api/v1/public/sms-codes", {"phone": "13900002222"})[0]) == 503 \
                and time.monotonic() < deadline:
            time.sleep(1)
        assert status == 202, process.stderr()
        # counted in the shared store again: the phone's allowance (1 a minute) is used up
        assert browser.post_json("/api/v1/public/sms-codes", {"phone": "13900002222"})[0] == 429
        assert any(redis.Redis.from_url(REDIS_URL).scan_iter(f"*{prefix}*"))
    finally:
        process.stop()
        if proxy.running:
            proxy.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"*{prefix}*"):
            client.delete(key)
