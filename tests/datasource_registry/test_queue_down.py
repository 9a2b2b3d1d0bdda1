"""Redis (the job queue) refuses connections or hangs when a job is queued: the API and the pages answer
503 saying so, nothing is left half done (no job row waits as ``queued`` for a job that does not exist,
no fleet run keeps the running slot), and the next attempt once Redis answers goes through."""

import pytest
from rq import Queue
from sqlalchemy import select

from datasource_registry.models import FleetRun, TenantJob
from extensions import db
from tests.conftest import csrf_from
from tests.datasource_registry.conftest import REDIS_URL
from tests.faults import FaultyProxy, answered_within
from tests.platform_admin.onboarding_helpers import assert_error

SOCKET_TIMEOUT = 0.5
ANSWER_BOUND = SOCKET_TIMEOUT * 3 + 10


class BrokenRedis:
    """The app's Redis reached through a proxy: ``refused`` (nothing listens) or ``frozen`` (it hangs)."""

    def __init__(self, fault):
        host, port, database = _host_port_db(REDIS_URL)
        self.fault, self.proxy = fault, FaultyProxy((host, port))
        self.url = f"redis://127.0.0.1:{self.proxy.port}/{database}"
        if fault == "frozen":
            self.proxy.start().freeze()

    def back(self):
        self.proxy.thaw() if self.fault == "frozen" else self.proxy.start()

    def close(self):
        if self.proxy.running:
            self.proxy.stop()


def _host_port_db(url):
    from redis.connection import parse_url

    parts = parse_url(url)
    return parts.get("host", "127.0.0.1"), parts.get("port", 6379), parts.get("db", 0)


@pytest.fixture(params=["refused", "frozen"])
def queue_down(request, app, redis_conn, monkeypatch):
    """The app configured for rq, with Redis down the way the parameter says until ``.back()``."""
    down = BrokenRedis(request.param)
    monkeypatch.setitem(app.config, "REDIS_URL", down.url)
    monkeypatch.setitem(app.config, "REDIS_SOCKET_TIMEOUT", SOCKET_TIMEOUT)
    yield down
    down.close()


def answered(request, *args, **kwargs):
    return answered_within(ANSWER_BOUND, request, *args, **kwargs)


def jobs_of(app, ent_id):
    with app.app_context():
        return [(j.id, j.status, j.error) for j in db.session.scalars(
            select(TenantJob).where(TenantJob.tenant_id == ent_id).order_by(TenantJob.created_at))]


def fleet_runs(app):
    with app.app_context():
        return [(r.id, r.status, r.running_slot) for r in db.session.scalars(select(FleetRun).order_by(FleetRun.id))]


QUEUE_MESSAGE_ZH = "任务队列暂时无法响应"


def test_provisioning_while_the_queue_is_down_is_503_and_its_job_is_failed(app, api_as, tenant_factory, queue_down,
                                                                          redis_conn):
    ent_id = tenant_factory(provision=False)
    devops = api_as("devops")
    path = f"/api/v1/enterprises/{ent_id}/datasource/provision"

    assert_error(answered(devops.post, path), 503, "queue_unavailable")
    [(_job_id, status, error)] = jobs_of(app, ent_id)
    assert status == "failed" and "not queued" in error  # never left queued for a job that does not exist

    queue_down.back()
    resp = devops.post(path)
    assert resp.status_code == 202
    assert devops.get(f"/api/v1/jobs/{resp.json['job_id']}").json["status"] == "queued"
    assert Queue("tenants", connection=redis_conn).fetch_job(resp.json["job_id"]) is not None


def test_the_provision_button_answers_503_with_the_reason(app, login_page, tenant_factory, queue_down):
    ent_id = tenant_factory(provision=False)
    browser = login_page("devops")
    page = browser.get(f"/enterprises/{ent_id}")
    resp = answered(browser.post, f"/enterprises/{ent_id}/datasource/provision",
                    data={"csrf_token": csrf_from(page.text)})
    assert resp.status_code == 503 and QUEUE_MESSAGE_ZH in resp.text
    [(_job_id, status, _error)] = jobs_of(app, ent_id)
    assert status == "failed"
    assert 'data-status="failed"' in browser.get(f"/enterprises/{ent_id}").text


def test_a_fleet_run_whose_coordinator_cannot_be_queued_ends_and_frees_the_slot(app, api_as, queue_down, redis_conn):
    devops = api_as("devops")
    resp = answered(devops.post, "/api/v1/fleet-runs", json={"canary": 1, "parallelism": 1})
    error = assert_error(resp, 503, "queue_unavailable")
    run = devops.get(f"/api/v1/fleet-runs/{error['run_id']}").json
    assert run["status"] == "interrupted" and run["resumable"] is True and run["finished_at"]
    # the slot is free: a second attempt is not refused as "in progress"
    assert_error(answered(devops.post, "/api/v1/fleet-runs", json={"canary": 1, "parallelism": 1}),
                 503, "queue_unavailable")
    assert [(status, slot) for _id, status, slot in fleet_runs(app)] == [("interrupted", None)] * 2

    queue_down.back()
    resumed = devops.post(f"/api/v1/fleet-runs/{error['run_id']}/resume")
    assert resumed.status_code == 202 and resumed.json["status"] == "running"
    [coordinator] = Queue("tenants", connection=redis_conn).get_jobs()
    assert coordinator.args == (int(error["run_id"]),)


def test_the_fleet_pages_answer_503_and_leave_no_run_holding_the_slot(app, login_page, queue_down, tenants):
    # ``tenants``: tenants whose schema no job recorded yet, so the page has something to upgrade
    browser = login_page("devops")
    page = browser.get("/fleet/")
    resp = answered(browser.post, "/fleet/", data={"canary": "1", "parallelism": "1",
                                                   "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 503 and QUEUE_MESSAGE_ZH in resp.text
    assert 'id="active-run"' not in resp.text and "已中断" in resp.text  # listed, ended
    [(run_id, status, slot)] = fleet_runs(app)
    assert (status, slot) == ("interrupted", None)

    detail = browser.get(f"/fleet/{run_id}")
    resume = answered(browser.post, f"/fleet/{run_id}/resume", data={"csrf_token": csrf_from(detail.text)})
    assert resume.status_code == 503 and QUEUE_MESSAGE_ZH in resume.text
    assert fleet_runs(app) == [(run_id, "interrupted", None)]
