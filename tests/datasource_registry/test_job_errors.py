"""A failed job is a code and a plain message wherever staff can read it; no SQL parameter (such as the
first administrator's password hash) reaches the job row, the API, the enterprise page or any log."""

import logging

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from datasource_registry import tenant_schema
from datasource_registry.models import Datasource, TenantJob
from extensions import db
from tests.conftest import MYSQL_SERVER, create_mysql_database, tenant_engine

# What a leaked parameter list or a leaked hash looks like (the tests hash with pbkdf2, see TestingConfig).
LEAKS = ("pbkdf2:", "scrypt:", "[parameters:", "password_hash':")


def _refuse_first_admin(app, ent_id):
    """Lay the tenant database out in advance, with a trigger that refuses every new user, so that
    provisioning fails in the INSERT that carries the first administrator's password hash."""
    with app.app_context():
        database = db.session.scalars(select(Datasource.database).where(Datasource.enterprise_id == ent_id)).one()
    server = sa.create_engine(MYSQL_SERVER, poolclass=sa.pool.NullPool)
    create_mysql_database(server, database)
    server.dispose()
    engine = tenant_engine(database)
    try:
        with engine.connect() as conn:
            tenant_schema.upgrade(conn)
            conn.execute(sa.text("CREATE TRIGGER no_new_users BEFORE INSERT ON sys_user FOR EACH ROW "
                                 "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no new users here'"))
            conn.commit()
    finally:
        engine.dispose()


def _assert_no_leak(*texts):
    for text in texts:
        for leak in LEAKS:
            assert leak not in text, f"{leak!r} leaked into: {text[:3000]}"


def test_a_failed_provisioning_shows_a_code_and_a_plain_message_and_no_parameters(app, api_as, login_page,
                                                                                   tenant_factory, caplog):
    caplog.set_level(logging.DEBUG)
    ent_id = tenant_factory(provision=False)
    _refuse_first_admin(app, ent_id)
    devops = api_as("devops")
    job_id = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision").json["job_id"]

    # every staff role may read the job
    for role in ("ops", "devops", "admin"):
        job = api_as(role).get(f"/api/v1/jobs/{job_id}")
        assert job.status_code == 200
        assert job.json["status"] == "failed" and job.json["error_code"] == "provision_failed"
        assert job_id in job.json["error"] and "OperationalError" in job.json["error"]
        _assert_no_leak(job.text)
        assert "INSERT" not in job.json["error"] and "no new users here" not in job.json["error"]
    with app.app_context():
        row = db.session.get(TenantJob, job_id)
        assert (row.status, row.error_code) == ("failed", "provision_failed")
        _assert_no_leak(row.error, repr(row.result), row.message or "")
    page = login_page("devops").get(f"/enterprises/{ent_id}").text
    assert job_id in page  # the failure is on the page, in plain words
    _assert_no_leak(page)
    # the full story is in the server log, without the values
    assert "tenant job" in caplog.text and "no new users here" in caplog.text and "Traceback" in caplog.text
    _assert_no_leak(caplog.text)


def test_a_job_failing_in_a_worker_logs_no_parameters(app, redis_jobs, run_worker, tenant_factory, api_as):
    ent_id = tenant_factory(provision=False)
    _refuse_first_admin(app, ent_id)
    devops = api_as("devops")
    job_id = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision").json["job_id"]
    result = run_worker()
    assert result.returncode == 0, result.stderr[-2000:]
    job = devops.get(f"/api/v1/jobs/{job_id}").json
    assert job["status"] == "failed" and job["error_code"] == "provision_failed"
    assert "no new users here" in result.stderr  # the worker logged the failure itself...
    _assert_no_leak(result.stdout, result.stderr, str(job))  # ...without the values


def test_a_job_that_explains_its_failure_keeps_its_words(app, api_as, tenant_factory):
    ent_id = tenant_factory()
    with app.app_context():
        ds = db.session.scalars(select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        database = ds.database
    engine = tenant_engine(database)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE tenant_identity SET tenant_id = tenant_id + 1000000"))
    engine.dispose()
    devops = api_as("devops")
    job = devops.get(f"/api/v1/jobs/{devops.post(f'/api/v1/enterprises/{ent_id}/datasource/provision').json['job_id']}")
    assert job.json["status"] == "failed" and job.json["error_code"] == "wrong_tenant_database"
    assert database in job.json["error"] and "WrongTenantDatabase" not in job.json["error"]


def test_every_engine_the_app_opens_hides_sql_parameters(app, api_as, tenant_factory):
    engines = set()

    def seen(conn):
        engines.add(conn.engine)

    sa.event.listen(sa.engine.Engine, "engine_connect", seen)
    try:
        ent_id = tenant_factory()  # configure and provision (create database, schema, first admin)
        devops, ops = api_as("devops"), api_as("ops")
        assert devops.post(f"/api/v1/enterprises/{ent_id}/datasource/check").status_code == 200
        assert ops.post(f"/api/v1/enterprises/{ent_id}/open").status_code == 200
        code = ops.get(f"/api/v1/enterprises/{ent_id}").json["tenant_code"]
        resp = app.test_client().post(f"/t/{code}/api/v1/auth/token", json={"username": "admin", "password": "x"})
        assert resp.status_code == 401  # reached the tenant's pooled engine
        assert app.test_cli_runner().invoke(args=["tenants", "list"]).exit_code == 0  # the fleet's probe
        assert devops.delete(f"/api/v1/enterprises/{ent_id}/datasource").status_code == 204  # the delete guard
    finally:
        sa.event.remove(sa.engine.Engine, "engine_connect", seen)
    assert len({engine.url.render_as_string() for engine in engines}) >= 3  # control db, tenant server, tenant db
    assert [str(engine.url) for engine in engines if not engine.hide_parameters] == []


LEAKY_ERROR = ("OperationalError: (pymysql.err.OperationalError) (1644, 'no')\n[SQL: INSERT INTO sys_user "
               "(username, password_hash) VALUES (%(username)s, %(password_hash)s)]\n"
               "[parameters: {'username': 'admin', 'password_hash': 'pbkdf2:sha256:1000$salt$hash'}]")


def test_the_migration_scrubs_parameters_from_failures_stored_before(app, tenant_factory):
    ent_id = tenant_factory(provision=False)
    with app.app_context():
        ds_id = db.session.scalars(select(Datasource.id).where(Datasource.enterprise_id == ent_id)).one()
        downgrade(revision="a7720bbfd5fa")
        try:
            job = sa.table("tenant_job", *(sa.column(c) for c in (
                "id", "kind", "tenant_id", "datasource_id", "status", "progress", "error", "created_at")))
            with db.engine.begin() as conn:
                rows = [("a" * 32, "failed", LEAKY_ERROR), ("b" * 32, "failed", "WrongTenantDatabase: database x"),
                        ("c" * 32, "finished", None)]
                for job_id, status, error in rows:
                    conn.execute(job.insert().values(id=job_id, kind="provision", tenant_id=ent_id, datasource_id=ds_id,
                                                     status=status, progress=0, error=error,
                                                     created_at=sa.func.current_timestamp()))
        finally:
            upgrade()
        db.session.remove()
        got = {r.id: (r.error_code, r.error) for r in db.session.scalars(select(TenantJob))}
    assert got["a" * 32][0] == "provision_failed" and got["a" * 32][1].startswith("OperationalError: ")
    _assert_no_leak(got["a" * 32][1])
    assert "INSERT" not in got["a" * 32][1]
    assert got["b" * 32] == ("provision_failed", "WrongTenantDatabase: database x")  # quoted no statement: kept
    assert got["c" * 32] == (None, None)


@pytest.mark.parametrize("kind", ["provision", "upgrade"])
def test_an_unexpected_failure_is_named_by_its_kind(app, kind):
    from datasource_registry.jobs import failure_of

    with app.test_request_context():
        code, message = failure_of(kind, ValueError("secret value 42"), "j1")
    assert code == f"{kind}_failed" and "j1" in message and "ValueError" in message and "42" not in message
