"""Real Redis and a real rq worker on the CRM's ``crm`` queue, for the CRM job and scheduler tests.

tests/tenant_runtime/conftest.py makes the fixtures available to every CRM test. They share the Redis database numbering of tests/datasource_registry/conftest.py (one database per xdist
worker), so a burst worker of one test process never takes another's jobs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.datasource_registry.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def crm_redis(app, monkeypatch):
    """An empty Redis database, and the app configured to put CRM jobs on rq there."""
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required for the CRM job tests and is not reachable: {exc}")
    conn.flushdb()
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    yield conn
    conn.flushdb()


def worker_env(app, **settings):
    return {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": REDIS_URL,
            "INSTANCE_PATH": app.config["INSTANCE_PATH"], "SECRET_KEY": app.config["SECRET_KEY"],
            "TENANT_DATABASE_PREFIX": app.config["TENANT_DATABASE_PREFIX"], "APP_ENV": "development",
            **{name: str(value) for name, value in settings.items()}}


@pytest.fixture
def crm_worker(app):
    """``crm_worker(**settings)``: one burst of the worker README says to run (``TenantWorker`` on the
    ``tenants`` and ``crm`` queues) in a process of its own, configured like the app under test."""

    def burst(timeout=180, **settings):
        command = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--worker-class",
                   "datasource_registry.worker.TenantWorker", "--url", REDIS_URL, "tenants", "crm"]
        return subprocess.run(command, cwd=ROOT, env=worker_env(app, **settings), capture_output=True, text=True,
                              timeout=timeout, check=False)

    return burst
