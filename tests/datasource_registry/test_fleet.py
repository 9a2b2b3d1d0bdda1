"""Fleet migrations on real MariaDB tenants: every tenant upgraded by a tracked job of the run, a broken
tenant listed while the others finish, a failed canary halts the rest untouched, resume retries only
what is not upgraded, parallelism stays within its bound; the API, the page and the CLI on top."""

import shutil
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from rq import Queue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from common.errors import ApiError
from common.timeutil import utcnow
from datasource_registry import fleet, jobs, tenant_schema
from datasource_registry.models import Datasource, FleetRun, TenantJob
from datasource_registry.registry import engine_for
from extensions import db
from platform_admin.enterprises.models import Enterprise
from tests.conftest import MYSQL_SERVER, csrf_from, tenant_engine
from tests.datasource_registry.conftest import REDIS_URL

FIRST = tenant_schema.head_revision()  # what provisioning applies today
PROBE = "test_fleet_probe"
PROBE_REVISION = f'''"""test only: one revision past the head, so provisioned tenants are behind"""
import sqlalchemy as sa
from alembic import op

revision = "{PROBE}"
down_revision = "{FIRST}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("fleet_probe", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("fleet_probe")
'''


@pytest.fixture
def new_revision(tmp_path):
    """``new_revision()``, called after provisioning: the tenant schema gains a revision (in a test copy of
    migrations/tenant), so every tenant provisioned so far is one revision behind the head."""
    original = tenant_schema.SCRIPT_LOCATION

    def add():
        location = tmp_path / "tenant_env"
        shutil.copytree(original, location, ignore=shutil.ignore_patterns("__pycache__"))
        (location / "versions" / f"{PROBE}.py").write_text(PROBE_REVISION)
        tenant_schema.SCRIPT_LOCATION = str(location)
        tenant_schema._script_directory.cache_clear()
        assert tenant_schema.head_revision() == PROBE
        return PROBE

    yield add
    tenant_schema.SCRIPT_LOCATION = original
    tenant_schema._script_directory.cache_clear()


def datasource_of(ent_id):
    return db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()


def revision_of(app, ent_id):
    with app.app_context():
        return fleet.schema_revision(datasource_of(ent_id))


def root_sql(app, ent_id, statement):
    """Run SQL as root on a tenant's own database (to break or mend it behind the app's back)."""
    with app.app_context():
        database = datasource_of(ent_id).database
    engine = tenant_engine(database)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def claim_for_another_tenant(app, ent_id):
    root_sql(app, ent_id, "UPDATE tenant_identity SET tenant_id = tenant_id + 1000000")


def mend_identity(app, ent_id):
    root_sql(app, ent_id, f"UPDATE tenant_identity SET tenant_id = {int(ent_id)}")


def drop_database(app, ent_id):
    with app.app_context():
        database = datasource_of(ent_id).database
    engine = sa.create_engine(MYSQL_SERVER)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE `{database}`"))
    finally:
        engine.dispose()


def upgrade_jobs(app, run_id, ent_id=None):
    with app.app_context():
        query = select(TenantJob).where(TenantJob.fleet_run_id == run_id).order_by(TenantJob.created_at)
        if ent_id is not None:
            query = query.where(TenantJob.tenant_id == ent_id)
        rows = db.session.scalars(query).all()
        return [(r.tenant_id, r.kind, r.status, r.result, r.error) for r in rows]


def upgrade_all(app, **kw):
    with app.app_context():
        fleet_run = fleet.upgrade_all(**kw)
        return fleet_run.id, fleet_run.status, fleet_run.succeeded, fleet_run.failed, fleet_run.total


def join_coordinator(app, run_id):
    thread = app.extensions["fleet_threads"][int(run_id)]
    thread.join(timeout=120)
    assert not thread.is_alive()


def database_of(app, ent_id):
    """Named by the plain message of a tenant refused for carrying another tenant's marker."""
    with app.app_context():
        return datasource_of(ent_id).database


def enterprise_no(app, ent_id):
    with app.app_context():
        return db.session.get(Enterprise, ent_id).enterprise_no


# ---------------------------------------------------------------------------- the service


def test_every_tenant_is_upgraded_to_head_each_by_a_job_of_the_run(app, tenant_factory, new_revision):
    tenants = [tenant_factory() for _ in range(3)]
    head = new_revision()
    assert {revision_of(app, t) for t in tenants} == {FIRST}
    seen = []
    with app.app_context():
        fleet_run = fleet.upgrade_all(canary=1, parallelism=2, progress=lambda *a: seen.append(a))
        run_id = fleet_run.id
        assert (fleet_run.status, fleet_run.succeeded, fleet_run.failed, fleet_run.total) == ("finished", 3, 0, 3)
        assert fleet_run.target_revision == head and fleet_run.running_slot is None and fleet_run.finished_at
        assert fleet.active_run() is None and fleet.failures(fleet_run) == []
    assert {revision_of(app, t) for t in tenants} == {head}
    for tenant in tenants:
        assert upgrade_jobs(app, run_id, tenant) == [(tenant, "upgrade", "finished", {"from": FIRST, "to": head}, None)]
    assert seen[0] == (0, 3, None)
    assert seen[-1][:2] == (3, 3) and seen[-1][2].status == "finished" and seen[-1][2].seconds > 0
    assert len(seen) == 4


def test_a_broken_tenant_fails_is_listed_and_the_others_finish(app, tenant_factory, new_revision):
    first, broken, last = (tenant_factory() for _ in range(3))
    head = new_revision()
    claim_for_another_tenant(app, broken)
    run_id, status, succeeded, failed, total = upgrade_all(app, canary=1, parallelism=2)
    assert (status, succeeded, failed, total) == ("finished_with_failures", 2, 1, 3)
    assert revision_of(app, first) == revision_of(app, last) == head
    [(_, _, job_status, _, error)] = upgrade_jobs(app, run_id, broken)
    assert job_status == "failed" and database_of(app, broken) in error
    with app.app_context():
        [failure] = fleet.failures(db.session.get(FleetRun, run_id))
        assert failure["tenant_id"] == broken and failure["error_code"] == "wrong_tenant_database"
        assert failure["enterprise_no"] == db.session.get(Enterprise, broken).enterprise_no


def test_a_failed_canary_halts_the_run_without_touching_the_rest(app, tenant_factory, new_revision):
    canary, *rest = (tenant_factory() for _ in range(3))
    new_revision()
    drop_database(app, canary)
    run_id, status, succeeded, failed, total = upgrade_all(app, canary=1, parallelism=4)
    assert (status, succeeded, failed, total) == ("halted", 0, 1, 3)
    assert [row[0] for row in upgrade_jobs(app, run_id)] == [canary]
    assert {revision_of(app, t) for t in rest} == {FIRST}
    with app.app_context():
        assert fleet.active_run() is None
        assert fleet.resumable(db.session.get(FleetRun, run_id))


def test_resume_retries_only_the_tenants_not_upgraded(app, tenant_factory, new_revision):
    ok_one, broken, ok_two = (tenant_factory() for _ in range(3))
    head = new_revision()
    claim_for_another_tenant(app, broken)
    run_id, status, *_ = upgrade_all(app, canary=0, parallelism=2)
    assert status == "finished_with_failures"
    mend_identity(app, broken)
    with app.app_context():
        fleet.resume(run_id)
        db.session.commit()
        fleet_run = fleet.run(run_id)
        assert (fleet_run.status, fleet_run.succeeded, fleet_run.failed) == ("finished", 3, 0)
        assert fleet.failures(fleet_run) == []
    assert sorted(row[2] for row in upgrade_jobs(app, run_id, broken)) == ["failed", "finished"]  # one retry
    assert [row[2] for row in upgrade_jobs(app, run_id, ok_one)] == ["finished"]
    assert [row[2] for row in upgrade_jobs(app, run_id, ok_two)] == ["finished"]
    assert revision_of(app, broken) == head
    with app.app_context(), pytest.raises(ApiError) as refused:
        fleet.resume(run_id)
    assert refused.value.code == "fleet_run_complete"


def test_a_halted_run_resumes_with_its_canary_first(app, tenant_factory, new_revision):
    canary, other = tenant_factory(), tenant_factory()
    new_revision()
    claim_for_another_tenant(app, canary)
    run_id, status, *_ = upgrade_all(app, canary=1, parallelism=2)
    assert status == "halted"
    with app.app_context():  # still broken: the canary fails again, the other tenant is still untouched
        fleet.resume(run_id)
        db.session.commit()
        assert fleet.run(run_id).status == "halted"
    assert upgrade_jobs(app, run_id, other) == []
    mend_identity(app, canary)
    with app.app_context():
        fleet.resume(run_id)
        db.session.commit()
        assert fleet.run(run_id).status == "finished"
    assert sorted(row[2] for row in upgrade_jobs(app, run_id, canary)) == ["failed", "failed", "finished"]


class Concurrency:
    """Wraps the upgrade job kind to record how many tenants ran at once."""

    def __init__(self, kind):
        self.kind, self.now, self.peak, self.lock = kind, 0, 0, threading.Lock()

    def __call__(self, job, ds, report):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(0.3)
            return self.kind(job, ds, report)
        finally:
            with self.lock:
                self.now -= 1


def test_parallelism_never_exceeds_the_asked_bound(app, tenant_factory, monkeypatch):
    for _ in range(4):
        tenant_factory()
    counter = Concurrency(jobs.JOB_KINDS["upgrade"])
    monkeypatch.setitem(jobs.JOB_KINDS, "upgrade", counter)
    assert upgrade_all(app, canary=0, parallelism=2)[1:] == ("finished", 4, 0, 4)
    assert counter.peak == 2


def test_parallelism_stays_within_the_free_connection_budget(app, tenant_factory, monkeypatch):
    tenants = [tenant_factory() for _ in range(3)]
    registry = app.extensions["pool_registry"]
    monkeypatch.setattr(registry, "budget", 3)
    with app.app_context():
        assert fleet.worker_limit(8) == 3
        engine = engine_for(db.session.get(Enterprise, tenants[0]))
        with engine.connect():
            assert fleet.worker_limit(8) == 2  # one connection checked out
            assert fleet.worker_limit(1) == 1
        monkeypatch.setattr(registry, "budget", 1)
        with engine.connect():
            assert fleet.worker_limit(8) == 1  # no room left: still one at a time, never none
    counter = Concurrency(jobs.JOB_KINDS["upgrade"])
    monkeypatch.setitem(jobs.JOB_KINDS, "upgrade", counter)
    assert upgrade_all(app, canary=0, parallelism=8)[1:] == ("finished", 3, 0, 3)
    assert counter.peak == 1


def test_only_one_run_is_open_at_a_time(app):
    with app.app_context():
        first = fleet.start(canary=1, parallelism=2)
        db.session.commit()
        with pytest.raises(ApiError) as refused:
            fleet.start(canary=1, parallelism=2)
        assert refused.value.code == "fleet_run_in_progress" and refused.value.extra["run_id"] == str(first.id)
        db.session.rollback()
        # the database itself refuses a second holder of the running slot
        db.session.add(FleetRun(status="running", running_slot=1, target_revision="x", canary_size=0, parallelism=1))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_a_run_whose_coordinator_died_can_be_resumed(app, tenant_factory):
    tenant_factory()
    with app.app_context():
        fleet_run = fleet.start(canary=1, parallelism=2)
        db.session.commit()
        run_id = fleet_run.id
        with pytest.raises(ApiError) as refused:
            fleet.resume(run_id)  # alive: its coordinator reported just now
        assert refused.value.code == "fleet_run_in_progress"
        db.session.rollback()
        fleet_run = db.session.get(FleetRun, run_id)
        fleet_run.updated_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert fleet.is_stale(fleet_run) and fleet.resumable(fleet_run)
        fleet.resume(run_id)
        db.session.commit()
        assert fleet.run(run_id).status == "finished"


def test_control_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diffs == []


# ---------------------------------------------------------------------------- the API


def test_fleet_api_is_for_devops_and_admin_only(api_as):
    for role in ("ops",):
        client = api_as(role)
        assert client.get("/api/v1/fleet-runs").status_code == 403
        assert client.post("/api/v1/fleet-runs", json={"canary": 1, "parallelism": 2}).status_code == 403


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"canary", "parallelism"}),
    ({"canary": -1, "parallelism": 2}, {"canary"}),
    ({"canary": "one", "parallelism": 2}, {"canary"}),
    ({"canary": 101, "parallelism": 2}, {"canary"}),
    ({"canary": 1, "parallelism": 0}, {"parallelism"}),
    ({"canary": 1, "parallelism": fleet.MAX_PARALLELISM + 1}, {"parallelism"}),
    ({"canary": 1, "parallelism": 1.5}, {"parallelism"}),
])
def test_bad_fleet_input_is_422_with_the_fields_named(app, api_as, body, fields):
    resp = api_as("devops").post("/api/v1/fleet-runs", json=body)
    assert resp.status_code == 422
    assert set(resp.json["error"]["fields"]) == fields
    with app.app_context():
        assert db.session.scalars(select(FleetRun)).first() is None


def test_starting_while_a_run_is_open_is_409(app, api_as):
    with app.app_context():
        fleet_run = fleet.start(canary=1, parallelism=2)
        db.session.commit()
        run_id = fleet_run.id
    resp = api_as("admin").post("/api/v1/fleet-runs", json={"canary": 1, "parallelism": 2})
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "fleet_run_in_progress" and resp.json["error"]["run_id"] == str(run_id)


def test_api_starts_follows_and_resumes_a_run(app, api_as, tenant_factory, new_revision):
    _good, broken = tenant_factory(), tenant_factory()
    new_revision()
    claim_for_another_tenant(app, broken)
    devops = api_as("devops")
    resp = devops.post("/api/v1/fleet-runs", json={"canary": 1, "parallelism": 2})
    assert resp.status_code == 202
    run_id = resp.json["id"]
    assert isinstance(run_id, str) and resp.json["status"] == "running"
    join_coordinator(app, run_id)
    got = devops.get(f"/api/v1/fleet-runs/{run_id}").json
    assert (got["status"], got["total"], got["succeeded"], got["failed"], got["progress"]) == \
        ("finished_with_failures", 2, 1, 1, 100)
    [failure] = got["failures"]
    assert failure["tenant_id"] == str(broken) and failure["error_code"] == "wrong_tenant_database"
    assert database_of(app, broken) in failure["error"]
    assert failure["enterprise_no"] == enterprise_no(app, broken) and got["resumable"] is True
    listed = devops.get("/api/v1/fleet-runs").json
    assert [r["id"] for r in listed["items"]] == [run_id] and listed["next_cursor"] is None
    mend_identity(app, broken)
    resp = devops.post(f"/api/v1/fleet-runs/{run_id}/resume")
    assert resp.status_code == 202
    join_coordinator(app, run_id)
    got = devops.get(f"/api/v1/fleet-runs/{run_id}").json
    assert (got["status"], got["succeeded"], got["failed"], got["failures"]) == ("finished", 2, 0, [])
    assert devops.post(f"/api/v1/fleet-runs/{run_id}/resume").json["error"]["code"] == "fleet_run_complete"
    assert devops.get("/api/v1/fleet-runs/999999").status_code == 404


# ---------------------------------------------------------------------------- the page


def test_fleet_page_starts_a_run_and_shows_its_progress(app, login_page, tenant_factory, new_revision):
    tenant = tenant_factory()
    head = new_revision()
    client = login_page("devops")
    assert 'href="/fleet/"' in client.get("/").text  # the nav link
    page = client.get("/fleet/")
    assert page.status_code == 200 and 'id="start-run"' in page.text
    resp = client.post("/fleet/", data={"canary": "1", "parallelism": "2", "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302
    run_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    join_coordinator(app, run_id)
    detail = client.get(f"/fleet/{run_id}")
    assert detail.status_code == 200
    assert 'data-status="finished"' in detail.text and "<progress" in detail.text
    assert 'http-equiv="refresh"' not in detail.text
    assert revision_of(app, tenant) == head
    assert f"#{run_id}" in client.get("/fleet/").text


def test_a_running_run_page_refreshes_itself_and_a_failed_one_lists_failures(app, login_page, tenant_factory):
    broken = tenant_factory()
    client = login_page("admin")
    with app.app_context():
        fleet_run = fleet.start(canary=0, parallelism=1)
        db.session.commit()
        run_id = fleet_run.id
    running = client.get(f"/fleet/{run_id}").text
    assert 'http-equiv="refresh" content="2"' in running and 'data-status="running"' in running
    assert "disabled" in client.get("/fleet/").text  # no second start while one runs
    claim_for_another_tenant(app, broken)
    with app.app_context():
        assert fleet.run(run_id).status == "finished_with_failures"
    page = client.get(f"/fleet/{run_id}").text
    assert database_of(app, broken) in page and enterprise_no(app, broken) in page
    assert f'action="/fleet/{run_id}/resume"' in page
    mend_identity(app, broken)
    resp = client.post(f"/fleet/{run_id}/resume", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    join_coordinator(app, run_id)
    assert 'data-status="finished"' in client.get(f"/fleet/{run_id}").text


@pytest.mark.parametrize(("data", "field"), [
    ({"canary": "-1", "parallelism": "2"}, "canary"),
    ({"canary": "1", "parallelism": "0"}, "parallelism"),
    ({"canary": "1", "parallelism": ""}, "parallelism"),
])
def test_fleet_form_shows_its_errors(app, login_page, data, field):
    client = login_page("devops")
    token = csrf_from(client.get("/fleet/").text)
    resp = client.post("/fleet/", data={**data, "csrf_token": token})
    assert resp.status_code == 422
    assert f'id="field-{field}"' in resp.text and 'has-error" id="field-' + field in resp.text
    with app.app_context():
        assert db.session.scalars(select(FleetRun)).first() is None


def test_the_fleet_page_refuses_a_post_without_csrf(login_page):
    assert login_page("devops").post("/fleet/", data={"canary": "1", "parallelism": "2"}).status_code == 400


def test_ops_do_not_see_the_fleet_link(login_page):
    client = login_page("ops")
    assert 'href="/fleet/"' not in client.get("/").text
    assert client.get("/fleet/").status_code == 403


# ---------------------------------------------------------------------------- the CLI


def test_cli_upgrades_the_fleet_and_exits_0(app, tenant_factory, new_revision):
    tenants = [tenant_factory() for _ in range(2)]
    head = new_revision()
    listed = app.test_cli_runner().invoke(args=["tenants", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("behind") == 2 and f"head: {head}" in listed.output
    result = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--canary", "1", "--parallel", "2"])
    assert result.exit_code == 0, result.output
    assert "finished: 2 upgraded, 0 failed" in result.output
    assert "2/2" in result.output  # the progress bar
    assert {revision_of(app, t) for t in tenants} == {head}
    assert app.test_cli_runner().invoke(args=["tenants", "list"]).output.count("current") == 2


def test_cli_if_behind_starts_no_run_when_every_tenant_is_current_and_upgrades_when_one_is_not(
        app, tenant_factory, new_revision):
    """``./scripts/start.sh`` runs it on every start: a fleet run (and its audit event) only when there is
    something to upgrade, such as the demo tenant after a pull that brought a new tenant revision."""
    tenant = tenant_factory()
    quiet = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--if-behind"])
    assert quiet.exit_code == 0, quiet.output
    assert "nothing to upgrade" in quiet.output
    with app.app_context():
        assert db.session.scalars(select(FleetRun)).first() is None
    head = new_revision()
    result = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--if-behind"])
    assert result.exit_code == 0, result.output
    assert "finished: 1 upgraded, 0 failed" in result.output and revision_of(app, tenant) == head
    again = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--if-behind"])
    assert again.exit_code == 0 and "nothing to upgrade" in again.output
    with app.app_context():
        assert len(db.session.scalars(select(FleetRun)).all()) == 1


def test_cli_lists_failures_exits_1_and_resumes(app, tenant_factory, new_revision):
    _good, broken = tenant_factory(), tenant_factory()
    new_revision()
    claim_for_another_tenant(app, broken)
    result = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--canary", "0"])
    assert result.exit_code == 1, result.output
    assert "finished_with_failures: 1 upgraded, 1 failed" in result.output
    assert enterprise_no(app, broken) in result.output and database_of(app, broken) in result.output
    with app.app_context():
        run_id = db.session.scalars(select(FleetRun.id)).one()
    assert f"--resume {run_id}" in result.output
    mend_identity(app, broken)
    resumed = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--resume", str(run_id)])
    assert resumed.exit_code == 0, resumed.output
    assert "finished: 2 upgraded, 0 failed" in resumed.output


def test_cli_halts_on_a_failed_canary_and_refuses_bad_options(app, tenant_factory):
    canary, _other = tenant_factory(), tenant_factory()
    drop_database(app, canary)
    result = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--canary", "1"])
    assert result.exit_code == 1 and "halted" in result.output and "1 not touched" in result.output
    bad = app.test_cli_runner().invoke(args=["tenants", "upgrade", "--parallel", "0"])
    assert bad.exit_code == 2


# ---------------------------------------------------------------------------- with Redis: a real rq worker


def test_with_redis_the_coordinator_is_a_control_job_on_the_tenants_queue(app, redis_conn, run_worker, api_as,
                                                                          tenant_factory, monkeypatch):
    tenants = [tenant_factory() for _ in range(2)]  # provisioned inline, before Redis is configured
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    devops = api_as("devops")
    threads = dict(app.extensions.get("fleet_threads", {}))
    resp = devops.post("/api/v1/fleet-runs", json={"canary": 1, "parallelism": 2})
    assert resp.status_code == 202
    run_id = resp.json["id"]
    assert app.extensions.get("fleet_threads", {}) == threads  # no coordinator thread here
    [queued] = Queue("tenants", connection=redis_conn).get_jobs()
    assert queued.func_name == "datasource_registry.fleet.run_job" and queued.args == (int(run_id),)
    assert "tenant_id" not in queued.meta  # a control job, not a tenant job
    result = run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    got = devops.get(f"/api/v1/fleet-runs/{run_id}").json
    assert (got["status"], got["succeeded"]) == ("finished", 2)
    assert {row[0] for row in upgrade_jobs(app, int(run_id))} == set(tenants)
