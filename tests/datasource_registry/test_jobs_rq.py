"""Tenant jobs through a real rq worker on real Redis: the tenant travels in job.meta, the worker opens
that tenant's context, and a tenant job without it is refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from rq import Queue
from sqlalchemy import select

from datasource_registry import jobs
from datasource_registry.models import Datasource, TenantJob
from extensions import db

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_jobs(app):
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"Redis is required for job tests and is not reachable: {exc}")
    conn.flushdb()
    app.config["REDIS_URL"] = REDIS_URL
    yield conn
    app.config["REDIS_URL"] = ""
    conn.flushdb()


def run_worker(app):
    """One burst of a real rq worker process, configured like the app under test."""
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": REDIS_URL,
           "INSTANCE_PATH": app.config["INSTANCE_PATH"], "SECRET_KEY": app.config["SECRET_KEY"],
           "TENANT_DATABASE_PREFIX": app.config["TENANT_DATABASE_PREFIX"], "APP_ENV": "development"}
    result = subprocess.run([sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", REDIS_URL, "tenants"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return result


def test_provisioning_runs_in_a_real_worker_with_tenant_context(app, redis_jobs, tenant_factory, api_as):
    ent_id = tenant_factory(provision=False)
    devops = api_as("devops")
    resp = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision")
    assert resp.status_code == 202
    job_id = resp.json["job_id"]
    assert devops.get(f"/api/v1/jobs/{job_id}").json["status"] == "queued"
    queued = Queue("tenants", connection=redis_jobs).fetch_job(job_id)
    assert queued.meta["tenant_id"] == ent_id and queued.meta["datasource_id"]
    result = run_worker(app)
    assert result.returncode == 0, result.stderr[-2000:]
    job = devops.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "finished", job
    assert job["progress"] == 100 and job["result"]["schema_version"]
    assert devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check").json["identity_ok"] is True


def test_a_tenant_job_without_tenant_context_is_refused(app, redis_jobs, tenant_factory):
    ent_id = tenant_factory(provision=False)
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        row = TenantJob(id="f" * 32, kind="provision", tenant_id=ent_id, datasource_id=ds.id)
        db.session.add(row)
        db.session.commit()
    Queue("tenants", connection=redis_jobs).enqueue(jobs.run, "f" * 32, job_id="f" * 32)  # no meta
    run_worker(app)
    with app.app_context():
        row = db.session.get(TenantJob, "f" * 32)
        assert row.status == "failed" and "refused" in row.error


def test_a_job_whose_meta_names_another_tenant_is_refused(app, redis_jobs, tenant_factory):
    ent_id = tenant_factory(provision=False)
    other = tenant_factory(provision=False)
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        row = TenantJob(id="e" * 32, kind="provision", tenant_id=ent_id, datasource_id=ds.id)
        db.session.add(row)
        db.session.commit()
        other_ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == other)).one()
    Queue("tenants", connection=redis_jobs).enqueue(jobs.run, "e" * 32, job_id="e" * 32,
                                                    meta={"tenant_id": other, "datasource_id": other_ds.id})
    run_worker(app)
    with app.app_context():
        assert db.session.get(TenantJob, "e" * 32).status == "failed"
