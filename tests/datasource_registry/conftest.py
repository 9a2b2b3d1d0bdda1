"""Real Redis and a real rq worker for the job tests.

Each xdist worker gets a Redis database of its own (the app's queue is always "tenants"), so a burst
worker started by one test process never picks up another's jobs and a flush never empties another's
queue; database 15 belongs to the throttle tests."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[2]
_WORKER = int(re.sub(r"\D", "", os.environ.get("PYTEST_XDIST_WORKER", "")) or 0)
# TEST_REDIS_SERVER lets two checkouts run their suites at once, each against its own redis-server.
REDIS_SERVER = os.environ.get("TEST_REDIS_SERVER", "redis://127.0.0.1:6379")
REDIS_URL = f"{REDIS_SERVER}/{1 + _WORKER % 12}"


@pytest.fixture
def redis_conn():
    """An empty Redis database for this test; jobs still run inline until ``REDIS_URL`` is configured."""
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required for job tests and is not reachable: {exc}")
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def redis_jobs(app, redis_conn, monkeypatch):
    """The app configured to put tenant jobs on rq in this test's Redis database."""
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    return redis_conn


@pytest.fixture
def run_worker(app):
    """``run_worker()``: one burst of a real rq worker process (the ``TenantWorker`` README says to run),
    configured like the app under test plus any ``settings`` (``TENANT_READ_TIMEOUT=2``); with
    ``background=True`` it returns the running ``Popen`` instead of waiting for it."""

    def burst(timeout=180, background=False, **settings):
        env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": REDIS_URL,
               "INSTANCE_PATH": app.config["INSTANCE_PATH"], "SECRET_KEY": app.config["SECRET_KEY"],
               "TENANT_DATABASE_PREFIX": app.config["TENANT_DATABASE_PREFIX"], "APP_ENV": "development",
               **{name: str(value) for name, value in settings.items()}}
        command = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--worker-class",
                   "datasource_registry.worker.TenantWorker", "--url", REDIS_URL, "tenants"]
        if background:
            return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)

    return burst
