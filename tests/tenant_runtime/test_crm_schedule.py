"""The scheduler of the CRM's per-tenant tasks on real MariaDB tenants, real Redis, rq's own scheduler
(``rq cron``) and a real rq worker: one job per tenant and day with the tenant in ``job.meta``, no run lost
or doubled when the scheduler restarts or a job is enqueued twice, at most CRM_SCHEDULE_CONCURRENCY runs in
flight, one tenant's failure recorded with a code and not stopping the others; the same inline without
Redis (``flask crm run-tasks``)."""

import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rq import Queue
from sqlalchemy import select

from datasource_registry import schedule as runs
from datasource_registry.models import ScheduledRun
from extensions import db
from platform_admin.enterprises.models import STATUS_CLOSED, Enterprise
from tenant_runtime.core import jobs, schedule
from tests.conftest import eventually
from tests.tenant_runtime.crm_rq import ROOT, worker_env
from tests.tenant_runtime.sched_tasks import FAIL_HERE, RAN, SLEEP_HERE

SETTINGS = {"CRM_TASKS": "sched_probe,sched_boom", "CRM_TASK_MODULES": "tests.tenant_runtime.sched_tasks"}


@contextmanager
def rq_cron(env):
    """A real ``rq cron`` of the CRM's schedule for the block, stopped (and reaped) after it."""
    cron = subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "tenant_runtime.core.cron", "--url",
                             env["REDIS_URL"]], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield cron
    finally:
        cron.terminate()
        cron.wait(timeout=30)


@pytest.fixture
def sched(app, monkeypatch):
    """Only the test's own tasks run, here and in the worker (``crm_worker(**sched)``)."""
    for name, value in SETTINGS.items():
        monkeypatch.setitem(app.config, name, value)
    return dict(SETTINGS)


def dept_count(tenant, name):
    engine = tenant.engine()
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM sys_dept WHERE dept_name = :n"), {"n": name}).scalar()
    engine.dispose()
    return n


def add_dept(tenant, name):
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sys_dept (dept_name, parent_id, sort, created_at) VALUES (:n, NULL, 0, NOW())"),
                     {"n": name})
    engine.dispose()


def run_rows(app):
    with app.app_context():
        rows = db.session.scalars(select(ScheduledRun).order_by(ScheduledRun.tenant_id)).all()
        db.session.expunge_all()
        return {row.tenant_id: row for row in rows}


def queued_runs(conn):
    queue = Queue("crm", connection=conn)
    return [job for job in queue.get_jobs() if job.func_name == "tenant_runtime.core.jobs.run"]


def tick(app):
    with app.app_context():
        return schedule.tick()


def test_a_tick_enqueues_one_job_per_tenant_with_its_tenant_and_the_worker_runs_each(app, tenants, crm_redis,
                                                                                    crm_worker, sched):
    done = tick(app)
    assert done["claimed"] == len(tenants) and done["enqueued"] == len(tenants)
    queued = queued_runs(crm_redis)
    assert len(queued) == len(tenants)
    rows = run_rows(app)
    for job in queued:
        _path, tenant_id, run_id = job.args
        assert job.meta == {"tenant_id": tenant_id} and rows[tenant_id].id == run_id
    assert {row.status for row in rows.values()} == {"queued"}
    result = crm_worker(**sched)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = run_rows(app)
    for tenant in tenants:
        row = rows[tenant.id]
        assert row.status == "finished" and row.attempts == 1 and row.tasks_failed == 0, (row.error_code, row.error)
        tasks = row.result["tasks"]
        assert list(tasks) == ["sched_probe", "sched_boom"]  # in their declared order
        assert tasks["sched_probe"]["status"] == "finished" and tasks["sched_probe"]["summary"]["executions"] == 1
        assert dept_count(tenant, RAN) == 1  # on its own database, once


def test_a_restarted_scheduler_neither_loses_nor_doubles_a_run(app, tenants, crm_redis, crm_worker, sched):
    """rq's scheduler started, stopped and started again: each start enqueues a tick at once; the second
    finds every run claimed and queued and adds nothing. A run whose job was lost (Redis flushed it, or the
    scheduler died between claiming and enqueueing) is enqueued again by the next tick, and a job enqueued
    twice runs once."""
    env = worker_env(app, CRM_SCHEDULE_INTERVAL=3600, **sched)
    for _start in range(2):
        before = Queue("crm", connection=crm_redis).count
        with rq_cron(env) as cron:
            assert eventually(lambda: Queue("crm", connection=crm_redis).count != before or cron.poll() is not None,
                              timeout=60) and cron.poll() is None, "rq cron enqueued no tick"
        crm_worker(**sched)  # runs the tick (and, the first time, the runs it enqueued)
    rows = run_rows(app)
    assert len(rows) == len(tenants) and {r.status for r in rows.values()} == {"finished"}
    assert {r.attempts for r in rows.values()} == {1}
    assert all(dept_count(t, RAN) == 1 for t in tenants)

    # A lost job: the day's row of tenant 0 is handed out, then its job vanishes before any worker saw it.
    with app.app_context():
        row = db.session.get(ScheduledRun, rows[tenants[0].id].id)
        row.status, row.job_id = "queued", runs.job_id(row.id)
        db.session.commit()
    assert tick(app)["recovered"] == 1
    assert [job.args[1] for job in queued_runs(crm_redis)] == [tenants[0].id]
    with app.app_context():  # and a duplicate of it, as a second scheduler's tick could have left
        jobs.enqueue(schedule.run_day, tenants[0].id, rows[tenants[0].id].id, job_id="crm-run-duplicate")
    assert tick(app)["enqueued"] == 0  # the tick itself adds nothing more
    crm_worker(**sched)
    rows = run_rows(app)
    assert rows[tenants[0].id].status == "finished" and rows[tenants[0].id].attempts == 2
    assert dept_count(tenants[0], RAN) == 2  # the lost run ran once more, its duplicate did nothing
    assert [dept_count(t, RAN) for t in tenants[1:]] == [1] * (len(tenants) - 1)


def test_one_tenants_failure_is_recorded_with_a_code_and_stops_nothing_else(app, tenants, crm_redis, crm_worker,
                                                                           sched):
    failing, closed = tenants[1], tenants[2]
    add_dept(failing, FAIL_HERE)
    tick(app)
    with app.app_context():  # closed after its run was queued: the job refuses to touch it
        db.session.get(Enterprise, closed.id).status = STATUS_CLOSED
        db.session.commit()
    result = crm_worker(**sched)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = run_rows(app)
    ok, bad, skipped = rows[tenants[0].id], rows[failing.id], rows[closed.id]
    assert ok.status == "finished" and dept_count(tenants[0], RAN) == 1
    assert bad.status == "failed" and bad.tasks_failed == 1 and bad.error_code == "task_failed"
    assert bad.result["tasks"]["sched_probe"]["status"] == "finished"  # the task before it still ran...
    assert bad.result["tasks"]["sched_boom"]["error_code"] == "task_failed"
    assert dept_count(failing, RAN) == 1
    stored = f"{bad.error} {bad.result}"
    assert "hunter2" not in stored and "SQL" not in stored  # ...and no driver text is kept
    assert skipped.status == "skipped" and skipped.error_code == "tenant_unavailable"
    assert dept_count(closed, RAN) == 0
    # The next tick retries the failure (attempts left), and it fails again the same way, alone.
    assert tick(app)["enqueued"] == 1
    crm_worker(**sched)
    rows = run_rows(app)
    assert rows[failing.id].status == "failed" and rows[failing.id].attempts == 2
    assert rows[tenants[0].id].attempts == 1 and rows[closed.id].status == "skipped"


def test_a_run_whose_worker_died_is_run_again_and_a_hung_tenant_is_stopped_alone(app, tenants, crm_redis, crm_worker,
                                                                                 sched, monkeypatch):
    """A run left ``running`` by a worker that died (older than the job time limit) is handed out again by the
    next tick; a tenant whose task hangs is stopped at the time limit, recorded as timed out, and the other
    tenants' runs finish."""
    settings = {**sched, "CRM_TASKS": "sched_probe,sched_sleep", "TENANT_JOB_TIMEOUT": 3}
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    hung = tenants[2]
    add_dept(hung, SLEEP_HERE)
    tick(app)
    with app.app_context():  # tenant 0's run was taken by a worker that then died, long ago
        row = db.session.scalar(select(ScheduledRun).where(ScheduledRun.tenant_id == tenants[0].id))
        row.status, row.attempts, row.started_at = "running", 1, runs.stale_before() - timedelta(seconds=1)
        db.session.commit()
        Queue("crm", connection=crm_redis).remove(row.job_id)
    assert tick(app)["recovered"] == 1
    result = crm_worker(**settings)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = run_rows(app)
    assert rows[tenants[0].id].status == "finished" and rows[tenants[0].id].attempts == 2
    assert rows[tenants[1].id].status == "finished" and rows[tenants[1].id].attempts == 1
    stopped = rows[hung.id]
    assert stopped.status == "failed" and stopped.error_code == "timed_out", (stopped.error_code, stopped.error)
    assert stopped.result["tasks"]["sched_probe"]["status"] == "finished"
    assert [dept_count(t, RAN) for t in tenants] == [1, 1, 1]


def test_at_most_the_configured_number_of_runs_is_in_flight(app, tenants, crm_redis, crm_worker, sched, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_SCHEDULE_CONCURRENCY", 2)
    assert tick(app)["enqueued"] == 2
    assert sorted(r.status for r in run_rows(app).values()) == ["pending", "queued", "queued"]
    result = crm_worker(CRM_SCHEDULE_CONCURRENCY=2, **sched)  # each run that ends hands out the next
    assert result.returncode == 0, result.stderr[-2000:]
    rows = run_rows(app)
    assert {r.status for r in rows.values()} == {"finished"}
    assert max(r.result["tasks"]["sched_probe"]["summary"]["in_flight"] for r in rows.values()) <= 2


def test_without_redis_the_cli_runs_the_same_runs_inline_once(app, tenants, sched):
    assert not app.config.get("REDIS_URL")
    add_dept(tenants[2], FAIL_HERE)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "run-tasks"])
    assert result.exit_code == 1, result.output  # one tenant failed
    assert f"{tenants[2].code} " in result.output and "task_failed" in result.output
    rows = run_rows(app)
    assert [rows[t.id].status for t in tenants] == ["finished", "finished", "failed"]
    assert [dept_count(t, RAN) for t in tenants] == [1, 1, 1]
    with app.app_context():
        assert runs.in_flight() == 0
    result = runner.invoke(args=["crm", "run-tasks", "--tenant", tenants[0].code])
    assert result.exit_code == 0, result.output
    assert dept_count(tenants[0], RAN) == 1  # finished today: not run twice
    result = runner.invoke(args=["crm", "run-tasks", "--tenant", tenants[0].code, "--again"])
    assert result.exit_code == 0 and dept_count(tenants[0], RAN) == 2 and run_rows(app)[tenants[0].id].attempts == 2
    assert runner.invoke(args=["crm", "run-tasks", "--tenant", "nosuchtenant"]).exit_code != 0


def test_devops_see_each_tenants_last_run_result_and_failures(app, tenants, sched, api_as, login_page):
    add_dept(tenants[1], FAIL_HERE)
    assert app.test_cli_runner().invoke(args=["crm", "run-tasks"]).exit_code == 1
    devops = api_as("devops")
    resp = devops.get("/api/v1/scheduled-runs?latest=1")
    assert resp.status_code == 200, resp.json
    items = {item["tenant_id"]: item for item in resp.json["items"]}
    assert set(items) == {str(t.id) for t in tenants}
    ok, bad = items[str(tenants[0].id)], items[str(tenants[1].id)]
    assert ok["status"] == "finished" and ok["enterprise_no"] == tenants[0].enterprise_no
    assert [t["name"] for t in ok["tasks"]] == ["sched_probe", "sched_boom"]
    assert ok["tasks"][0]["summary"]["executions"] == 1 and ok["finished_at"].endswith("+08:00")
    assert bad["status"] == "failed" and bad["error_code"] == "task_failed" and bad["tasks_failed"] == 1
    assert bad["tasks"][1] == {"name": "sched_boom", "status": "failed", "summary": None,
                               "error_code": "task_failed", "error": bad["tasks"][1]["error"]}
    assert "hunter2" not in resp.text and "[SQL" not in resp.text
    failed = devops.get(f"/api/v1/scheduled-runs?status=failed&day={bad['day']}").json["items"]
    assert [item["id"] for item in failed] == [bad["id"]]
    assert devops.get(f"/api/v1/scheduled-runs/{bad['id']}").json == bad
    assert devops.get(f"/api/v1/scheduled-runs?tenant_id={tenants[0].id}").json["items"] == [ok]
    invalid = devops.get("/api/v1/scheduled-runs?day=yesterday&status=exploded")
    assert invalid.status_code == 422 and set(invalid.json["error"]["fields"]) == {"day", "status"}
    assert devops.get("/api/v1/scheduled-runs/999999").status_code == 404
    assert api_as("ops").get("/api/v1/scheduled-runs").status_code == 403

    page = login_page("devops").get("/schedule/")
    assert page.status_code == 200
    assert "task_failed" in page.text and tenants[1].code in page.text and tenants[0].code in page.text
    assert "Scheduler test: fail where told to" in page.text and "hunter2" not in page.text
    failed_page = login_page("devops").get("/schedule/?status=failed")
    assert tenants[1].code in failed_page.text and f'data-tenant="{tenants[0].id}"' not in failed_page.text
    history = login_page("devops").get(f"/schedule/tenants/{tenants[1].id}")
    assert history.status_code == 200 and 'data-status="failed"' in history.text
    profile = login_page("devops").get(f"/enterprises/{tenants[1].id}")
    assert f'href="/schedule/tenants/{tenants[1].id}"' in profile.text  # from the enterprise's datasource card
    assert login_page("ops").get("/schedule/").status_code == 403


def test_devops_see_whether_a_scheduler_is_running(app, tenants, crm_redis, sched, login_page):
    devops = login_page("devops")
    assert 'data-state="none"' in devops.get("/schedule/").text
    env = worker_env(app, CRM_SCHEDULE_INTERVAL=3600, **sched)
    with rq_cron(env) as cron:
        assert eventually(lambda: 'data-state="running" data-count="1"' in devops.get("/schedule/").text
                          or cron.poll() is not None, timeout=60) and cron.poll() is None, \
            devops.get("/schedule/").text
    assert 'data-state="none"' in devops.get("/schedule/").text  # it said goodbye
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there (crm_redis restores the setting)
    assert 'data-state="queue_down"' in devops.get("/schedule/").text
