"""Tenant jobs through a real rq worker on real Redis: the tenant travels in job.meta, the worker opens
that tenant's context, and a tenant job without it is refused."""

import pytest
from rq import Queue
from rq.job import Job
from sqlalchemy import select

from datasource_registry import jobs
from datasource_registry.models import Datasource, TenantJob
from extensions import db
from tests.datasource_registry import worker_probe


@pytest.mark.any_control_database
def test_provisioning_runs_in_a_real_worker_with_tenant_context(app, redis_jobs, run_worker, tenant_factory, api_as):
    ent_id = tenant_factory(provision=False)
    devops = api_as("devops")
    resp = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision")
    assert resp.status_code == 202
    job_id = resp.json["job_id"]
    assert devops.get(f"/api/v1/jobs/{job_id}").json["status"] == "queued"
    queued = Queue("tenants", connection=redis_jobs).fetch_job(job_id)
    assert queued.meta["tenant_id"] == ent_id and queued.meta["datasource_id"]
    result = run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    job = devops.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "finished", job
    assert job["progress"] == 100 and job["result"]["schema_version"]
    assert devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check").json["identity_ok"] is True


def test_a_tenant_job_without_tenant_context_is_refused(app, redis_jobs, run_worker, tenant_factory):
    ent_id = tenant_factory(provision=False)
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        row = TenantJob(id="f" * 32, kind="provision", tenant_id=ent_id, datasource_id=ds.id)
        db.session.add(row)
        db.session.commit()
    Queue("tenants", connection=redis_jobs).enqueue(jobs.run, "f" * 32, job_id="f" * 32)  # no meta
    run_worker()
    with app.app_context():
        row = db.session.get(TenantJob, "f" * 32)
        assert row.status == "failed" and "refused" in row.error


def test_a_job_whose_meta_names_another_tenant_is_refused(app, redis_jobs, run_worker, tenant_factory):
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
    run_worker()
    with app.app_context():
        assert db.session.get(TenantJob, "e" * 32).status == "failed"


def test_the_worker_builds_the_app_once_and_each_job_only_forks(app, redis_jobs, run_worker):
    queue = Queue("tenants", connection=redis_jobs)
    probes = [queue.enqueue(worker_probe.app_at_start) for _ in range(3)]
    result = run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    seen = [Job.fetch(p.id, connection=redis_jobs).return_value() for p in probes]
    assert all(s["prebuilt"] for s in seen), seen  # each job found the app already built...
    assert len({(s["app"], s["worker"]) for s in seen}) == 1  # ...by the one worker process it was forked from
    assert len({s["horse"] for s in seen}) == 3  # and ran in a work horse of its own
