"""The embedded default enforces its throttles as ./scripts/start.sh runs it (issue 7, item 30): without
Redis the limiter counts in process memory, so gunicorn.conf.py runs one process with threads and refuses
more; the per-phone SMS limit then holds for every connection."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _embedded_env(app, port):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RATELIMIT_STORAGE_URI", "WEB_WORKERS")}
    env.update({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "INSTANCE_PATH": app.config["INSTANCE_PATH"],
                "APP_ENV": "development", "HOST": "127.0.0.1", "PORT": str(port)})
    return env


def _wait_until_listening(proc, port, deadline=60):
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not start listening")


@pytest.fixture
def start_sh_server(app):
    """The app as start.sh serves it: gunicorn with gunicorn.conf.py, no Redis."""
    port = _free_port()
    proc = subprocess.Popen([*GUNICORN, "wsgi:app"], cwd=ROOT, env=_embedded_env(app, port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_listening(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


def _send_code(base, phone):
    req = urllib.request.Request(f"{base}/api/v1/public/sms-codes", data=json.dumps({"phone": phone}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_per_phone_sms_limit_holds_across_connections(start_sh_server):
    """Each request on a new connection, as separate browsers would: with two processes each keeping its own
    count (the old start.sh), a second code went out whenever a connection reached the other process."""
    statuses = [_send_code(start_sh_server, "13900001111") for _ in range(8)]
    assert statuses == [202] + [429] * 7
    assert _send_code(start_sh_server, "13900002222") == 202  # another phone has its own allowance


def test_more_processes_without_shared_throttles_are_refused(app):
    result = subprocess.run([*GUNICORN, "--workers", "2", "wsgi:app"], cwd=ROOT, env=_embedded_env(app, _free_port()),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "in-memory throttles" in result.stderr


def test_with_redis_the_processes_may_be_many(app):
    redis_url = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379") + "/15"  # read, never dialled
    env = {**_embedded_env(app, _free_port()), "REDIS_URL": redis_url}
    result = subprocess.run([*GUNICORN, "--print-config", "wsgi:app"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    workers = [line.split("=")[1].strip() for line in result.stdout.splitlines() if line.startswith("workers ")]
    assert result.returncode == 0 and workers == ["2"]
