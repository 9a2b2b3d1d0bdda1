"""With REDIS_URL set, throttles live in Redis, so separate app processes share one count."""

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379") + "/15"

SERVER = """
import sys
from werkzeug.serving import make_server
from app import create_app
server = make_server("127.0.0.1", 0, create_app())
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def two_processes(app):
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required for this test and is not reachable: {exc}")
    prefix = f"test-{secrets.token_hex(4)}"
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": REDIS_URL,
           "INSTANCE_PATH": app.config["INSTANCE_PATH"], "SMS_LIMIT_PER_IP": "3 per hour",
           "RATELIMIT_KEY_PREFIX": prefix, "APP_ENV": "development"}
    procs = [subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    try:
        ports = [int(p.stdout.readline()) for p in procs]
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)
            p.stdout.close()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def _send_code(base, phone):
    req = urllib.request.Request(f"{base}/api/v1/public/sms-codes", data=json.dumps({"phone": phone}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_two_app_processes_share_one_sms_throttle_through_redis(two_processes):
    first, second = two_processes
    phones = [f"1390000{n:04d}" for n in range(4)]
    statuses = [_send_code(first, phones[0]), _send_code(second, phones[1]),
                _send_code(first, phones[2]), _send_code(second, phones[3])]
    assert statuses == [202, 202, 202, 429]
