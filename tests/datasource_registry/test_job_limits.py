"""A tenant job stuck on a database that never answers is bounded: by the read timeouts, by its rq time limit
(TENANT_JOB_TIMEOUT) or by rq killing its work horse. Its row always ends ``failed`` with a plain error, and
the next tenant's job, queued behind it on the only worker, still runs and finishes. Real rq worker, real
Redis, real MariaDB; the stuck tenant's server is a port that accepts and then never says a word."""

import subprocess
from datetime import datetime

import pytest
import sqlalchemy as sa
from rq import Worker
from rq.command import send_kill_horse_command, send_stop_job_command

from datasource_registry.models import Datasource
from extensions import db
from tests.netfaults import SilentServer

LONG = 300  # seconds: a limit that must not be the one that acts


@pytest.fixture
def stuck_and_next(app, tenant_factory):
    """Two tenants to provision: the first one's database server accepts connections and never answers."""
    silent = SilentServer()
    stuck, following = tenant_factory(provision=False), tenant_factory(provision=False)
    with app.app_context(), db.engine.begin() as conn:  # below the ORM's immutability guard
        conn.execute(sa.update(Datasource.__table__).where(Datasource.enterprise_id == stuck).values(port=silent.port))
    yield silent, stuck, following
    silent.close()


def provision_both(api_as, stuck, following):
    devops = api_as("devops")
    jobs = [devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision") for ent_id in (stuck, following)]
    assert [resp.status_code for resp in jobs] == [202, 202]
    return devops, [resp.json["job_id"] for resp in jobs]


def when(iso):
    return datetime.fromisoformat(iso)


@pytest.mark.parametrize(("limit", "job_timeout", "worker_settings", "code", "error"), [
    # PyMySQL loses the connection at its read timeout: a connection failure, told by its code only
    ("read timeout", LONG, {"TENANT_READ_TIMEOUT": 2}, "unreachable", ""),
    # long enough for a busy machine to start the job and reach the database before the limit strikes
    ("job time limit", 10, {"TENANT_READ_TIMEOUT": LONG, "TENANT_MIGRATION_TIMEOUT": LONG}, "timed_out",
     "timed out: the job ran longer than its limit of 10 seconds"),
])
def test_a_stuck_tenant_job_fails_within_its_limit_and_the_next_tenant_is_served(
        app, redis_jobs, run_worker, api_as, stuck_and_next, monkeypatch, limit, job_timeout, worker_settings, code,
        error):
    silent, stuck, following = stuck_and_next
    monkeypatch.setitem(app.config, "TENANT_JOB_TIMEOUT", job_timeout)  # set on the rq job when it is enqueued
    devops, (stuck_job, next_job) = provision_both(api_as, stuck, following)

    result = run_worker(**worker_settings)  # one worker: the stuck job first, the next tenant's behind it
    assert result.returncode == 0, result.stderr[-2000:]
    assert silent.wait_accepted(1, timeout=0), "the stuck job never reached its silent server"
    failed, finished = (devops.get(f"/api/v1/jobs/{job_id}").json for job_id in (stuck_job, next_job))
    assert failed["status"] == "failed" and failed["error_code"] == code and error in failed["error"], (limit, failed)
    assert finished["status"] == "finished", finished
    assert when(finished["started_at"]) >= when(failed["finished_at"])  # it waited behind the stuck job, then ran


@pytest.mark.parametrize(("command", "error"), [
    ("kill-horse", "interrupted: the work horse running this job was killed before the job ended"),
    ("stop-job", "stopped: an rq stop-job command ended this job"),
])
def test_a_job_whose_work_horse_rq_kills_ends_failed_and_the_next_tenant_is_served(
        app, redis_jobs, run_worker, api_as, stuck_and_next, monkeypatch, command, error):
    """rq kills a work horse a minute past its job's time limit, or on a command: no failure callback runs
    then, and without TenantWorker the job's row stayed ``running`` for ever."""
    silent, stuck, following = stuck_and_next
    monkeypatch.setitem(app.config, "TENANT_JOB_TIMEOUT", LONG)
    devops, (stuck_job, next_job) = provision_both(api_as, stuck, following)
    worker = run_worker(background=True, TENANT_READ_TIMEOUT=LONG, TENANT_MIGRATION_TIMEOUT=LONG)
    try:
        assert silent.wait_accepted(1, timeout=120), "the stuck job never reached its silent server"
        assert devops.get(f"/api/v1/jobs/{stuck_job}").json["status"] == "running"
        (name,) = [w.name for w in Worker.all(connection=redis_jobs)]
        if command == "kill-horse":
            send_kill_horse_command(redis_jobs, name)
        else:
            send_stop_job_command(redis_jobs, stuck_job)
        assert worker.wait(180) == 0
    except subprocess.TimeoutExpired:
        pytest.fail("the worker never got past the stuck job")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
    failed, finished = (devops.get(f"/api/v1/jobs/{job_id}").json for job_id in (stuck_job, next_job))
    assert failed["status"] == "failed" and failed["error"] == error and failed["error_code"] == error.split(":")[0], \
        failed
    assert finished["status"] == "finished", finished
