"""Every connection the registry's datasource code opens has read and write timeouts: against a server that
accepts connections and then never answers, the datasource check, the business-rows guard, the schema
version read and provisioning each fail within their configured timeouts instead of waiting for ever."""

import threading

import pytest
import sqlalchemy as sa

from datasource_registry import fleet, jobs, services
from datasource_registry.models import Datasource
from extensions import db
from tests.netfaults import SilentServer

READ_TIMEOUT = 1
BOUND = READ_TIMEOUT * 3 + 10  # the configured timeout is what is under test; past this the caller hangs


@pytest.fixture
def silent_datasource(app, tenant_factory, monkeypatch):
    """A MariaDB datasource whose port now belongs to a server that never says a word."""
    silent = SilentServer()
    for name in ("TENANT_READ_TIMEOUT", "TENANT_WRITE_TIMEOUT", "TENANT_MIGRATION_TIMEOUT"):
        monkeypatch.setitem(app.config, name, READ_TIMEOUT)
    ent_id = tenant_factory(provision=False)
    with app.app_context(), db.engine.begin() as conn:  # below the ORM's immutability guard
        conn.execute(sa.update(Datasource.__table__).where(Datasource.enterprise_id == ent_id).values(port=silent.port))
    yield ent_id
    silent.close()  # hangs up on anything still waiting, so a failing test ends


def outcome_within(bound, call):
    """``call()``'s result or exception, provided it came within ``bound`` seconds; else ``"still waiting"``."""
    box = {}

    def wrapped():
        try:
            box["outcome"] = call()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            box["outcome"] = exc

    thread = threading.Thread(target=wrapped, daemon=True)
    thread.start()
    thread.join(bound)
    return box.get("outcome", "still waiting")


def in_app(app, ent_id, fn):
    def call():
        with app.test_request_context():
            ds = db.session.scalars(sa.select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
            return fn(ds)
    return call


def test_the_datasource_check_answers_503_within_its_timeouts(api_as, silent_datasource):
    devops = api_as("devops")
    resp = outcome_within(BOUND, lambda: devops.post(f"/api/v1/enterprises/{silent_datasource}/datasource/check"))
    assert resp != "still waiting", "the check still waits on a silent server"
    assert resp.status_code == 503


def test_the_business_rows_guard_answers_503_within_its_timeouts(app, silent_datasource):
    from datasource_registry.connect_errors import DatasourceConnectError

    error = outcome_within(BOUND, in_app(app, silent_datasource, services.business_rows))
    assert isinstance(error, DatasourceConnectError) and error.code == "unreachable", error


def test_reading_the_schema_version_fails_within_its_timeouts(app, silent_datasource):
    error = outcome_within(BOUND, in_app(app, silent_datasource, fleet.schema_revision))
    assert isinstance(error, sa.exc.OperationalError), error


@pytest.mark.parametrize("kind", ["provision", "upgrade"])
def test_a_tenant_job_on_a_silent_server_fails_within_its_timeouts(app, silent_datasource, kind):
    """Inline (no Redis); the same in an rq worker is tests/datasource_registry/test_job_limits.py."""
    row = outcome_within(BOUND, in_app(app, silent_datasource,
                                       lambda ds: (lambda r: {"status": r.status, "error_code": r.error_code})(
                                           jobs.enqueue(kind, ds))))
    assert row != "still waiting", f"the {kind} job still waits on a silent server"
    assert row == {"status": "failed", "error_code": "unreachable"}
