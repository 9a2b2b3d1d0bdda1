"""CRM jobs (tenant_runtime/core/jobs.py) through a real rq worker on real Redis and inline: a job runs on
its own tenant's database with that tenant bound, a job whose meta names another tenant is refused, a
closed or suspended tenant runs nothing, a failed job keeps nothing, and no engine stays open after."""

import secrets

import pytest
import sqlalchemy as sa
from rq import Queue
from rq.job import Job, JobStatus

from common.timeutil import utcnow
from datasource_registry.registry import stats
from extensions import db
from platform_admin.enterprises.models import STATUS_CLOSED, Enterprise
from tenant_runtime.core import jobs
from tests.tenant_runtime import job_probes

PROBE = "tests.tenant_runtime.job_probes:write_marker"


def depts_named(tenant, name):
    engine = tenant.engine()
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM sys_dept WHERE dept_name = :n"), {"n": name}).scalar()
    engine.dispose()
    return n


def marker():
    return f"job-{secrets.token_hex(4)}"


def set_enterprise(app, tenant_id, **fields):
    with app.app_context():
        enterprise = db.session.get(Enterprise, tenant_id)
        for name, value in fields.items():
            setattr(enterprise, name, value)
        db.session.commit()
    from tenant_runtime.resolver import invalidate

    invalidate(tenant_id)


def failure_of(job):
    return job.latest_result().exc_string or ""


def test_a_job_runs_in_a_real_worker_on_its_own_tenants_database(app, tenants, crm_redis, crm_worker):
    first, second = tenants[0], tenants[1]
    marks = {first.id: marker(), second.id: marker()}
    with app.app_context():
        queued = {t.id: jobs.enqueue(job_probes.write_marker, t.id, marks[t.id]) for t in (first, second)}
    for tenant_id, job in queued.items():
        assert job.origin == "crm" and job.meta == {"tenant_id": tenant_id}
    result = crm_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    for tenant in (first, second):
        job = Job.fetch(queued[tenant.id].id, connection=crm_redis)
        assert job.get_status() == JobStatus.FINISHED, failure_of(job)
        seen = job.return_value()
        assert seen["bound"] == seen["identity"] == tenant.id and seen["database"] == tenant.database
        assert seen["redis"] is True  # it ran in the worker, not inline
        assert depts_named(tenant, marks[tenant.id]) == 1  # committed, on its own database...
    assert depts_named(first, marks[second.id]) == 0 and depts_named(second, marks[first.id]) == 0  # ...only


def test_a_job_whose_meta_names_another_tenant_is_refused(app, tenants, crm_redis, crm_worker):
    first, second = tenants[0], tenants[1]
    mark = marker()
    queue = Queue("crm", connection=crm_redis)
    forged = queue.enqueue(jobs.run, PROBE, first.id, mark, meta={"tenant_id": second.id})
    bare = queue.enqueue(jobs.run, PROBE, first.id, mark)  # no tenant in its meta at all
    result = crm_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    for job in (forged, bare):
        job = Job.fetch(job.id, connection=crm_redis)
        assert job.get_status() == JobStatus.FAILED and "WrongTenant" in failure_of(job)
    assert depts_named(first, mark) == 0 and depts_named(second, mark) == 0


@pytest.mark.parametrize("state", ["closed", "suspended"])
def test_a_closed_or_suspended_tenant_runs_nothing(app, tenants, crm_redis, crm_worker, state):
    tenant, mark = tenants[0], marker()
    with app.app_context():
        job = jobs.enqueue(job_probes.write_marker, tenant.id, mark)
    set_enterprise(app, tenant.id, **({"status": STATUS_CLOSED} if state == "closed" else {"suspended_at": utcnow()}))
    result = crm_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    job = Job.fetch(job.id, connection=crm_redis)
    assert job.get_status() == JobStatus.FAILED and "TenantUnavailable" in failure_of(job)
    assert depts_named(tenant, mark) == 0


def test_a_failing_job_keeps_nothing_it_wrote(app, tenants, crm_redis, crm_worker):
    tenant, mark = tenants[0], marker()
    with app.app_context():
        job = jobs.enqueue(job_probes.write_then_fail, tenant.id, mark)
    crm_worker()
    job = Job.fetch(job.id, connection=crm_redis)
    assert job.get_status() == JobStatus.FAILED and "on purpose" in failure_of(job)
    assert depts_named(tenant, mark) == 0


def test_without_redis_a_job_runs_inline_in_a_context_of_its_own(app, tenants):
    first, second = tenants[0], tenants[1]
    mark = marker()
    assert not app.config.get("REDIS_URL")
    with app.test_request_context():
        from flask import g

        g.tenant = "the request's tenant, which the job must never see"
        seen = jobs.enqueue(job_probes.write_marker, second.id, mark)
        assert g.tenant == "the request's tenant, which the job must never see"
    assert seen["bound"] == seen["identity"] == second.id and seen["redis"] is False
    assert depts_named(second, mark) == 1 and depts_named(first, mark) == 0


def test_inline_a_closed_tenant_runs_nothing_and_a_failure_keeps_nothing(app, tenants):
    tenant = tenants[0]
    closed_mark, failed_mark = marker(), marker()
    with app.app_context(), pytest.raises(RuntimeError, match="on purpose"):
        jobs.enqueue(job_probes.write_then_fail, tenant.id, failed_mark)
    set_enterprise(app, tenant.id, status=STATUS_CLOSED)
    with app.app_context(), pytest.raises(jobs.TenantUnavailable):
        jobs.enqueue(job_probes.write_marker, tenant.id, closed_mark)
    assert depts_named(tenant, closed_mark) == 0 and depts_named(tenant, failed_mark) == 0


def test_jobs_release_their_tenants_engine(app, tenants):
    with app.app_context():
        for tenant in tenants:
            seen = jobs.enqueue(job_probes.write_marker, tenant.id, marker())
            assert tenant.id in seen["engines"]  # open while the job ran...
        with pytest.raises(RuntimeError):
            jobs.enqueue(job_probes.write_then_fail, tenants[0].id, marker())
        after = stats()
    assert not {t.id for t in tenants} & {e["tenant_id"] for e in after["engines"]}  # ...and none after, failed or not
    assert after["checked_out"] == 0
