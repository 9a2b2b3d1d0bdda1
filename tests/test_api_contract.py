"""Contract tests: schemathesis reads both OpenAPI documents from the app (over WSGI) and calls every
operation, signed in, with generated input, valid and invalid; each answer must not be a server error,
must have a documented status and content type, and its body must match the documented schema.

Bounded so the module stays well under a minute: a few derandomized examples per operation and mode, no
example database, no shrinking. MariaDB only (the backend CI requires): it needs the session's tenant
databases, which live there. Path ids are pinned to rows seeded here, so the calls reach real records and
their success answers are checked too, not only the 404s of random ids.

schemathesis' own pytest entry (``schemathesis.pytest.from_fixture``) sets ``Node._nodeid``, which
pytest 9.2 no longer has, so this module drives schemathesis' per-operation strategies with Hypothesis
itself, and reports every failing operation at once.
"""

import os
import re

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import BACKENDS

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", 6))  # more for a deeper run by hand
MARIADB_ONLY = pytest.mark.parametrize("app", [b for b in BACKENDS if b == "mysql"], indirect=True)
SETTINGS = hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                               phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                               verbosity=hypothesis.Verbosity.quiet)


# The bearer token is sent as given: generating other Authorization values would only meet 401s.
CONFIG = {"generation": {"with-security-parameters": False}}


def load(app, path):
    return schemathesis.openapi.from_wsgi(path, app, config=SchemathesisConfig.from_dict(CONFIG))


def documented(schema, skip):
    """Every operation the document lists but its own (schemathesis leaves that one out) and ``skip``."""
    own = f"GET {schema.location}"
    return {f"{method.upper()} {path}" for path, ops in schema.raw_schema["paths"].items() for method in ops} \
        - {own, *skip}


def exercise(schema, token, ids, skip=()):
    """Call every operation of ``schema`` but those in ``skip`` (``"METHOD /path"``) with valid and invalid
    input; the failures as readable text, one per operation and mode."""
    headers = {"Authorization": f"Bearer {token}"}
    failures, called = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in skip:
            continue
        called.append(operation.label)
        pinned = {name: ids[name] for name in re.findall(r"{(\w+)}", operation.path) if name in ids}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failure = _exercise_one(operation, mode, pinned, headers)
            if failure:
                failures.append(f"{operation.label} [{mode.value}]: {failure}")
    return called, failures


def _exercise_one(operation, mode, pinned, headers):
    @SETTINGS
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=pinned))
    def call(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        call()
    except hypothesis.errors.Unsatisfiable:
        return None  # nothing invalid to send: every parameter is pinned or the operation takes none
    except (Exception, FailureGroup) as exc:  # schemathesis' failure report, kept for the assertion message
        return str(exc)
    return None


def join_fleet_coordinators(app):
    """POST /fleet-runs and resume start a coordinator thread (jobs run inline here): let it finish
    before the test's tables are emptied under it."""
    for thread in list(app.extensions.get("fleet_threads", {}).values()):
        thread.join(timeout=120)
        assert not thread.is_alive(), "a fleet coordinator did not finish"


def seed_control_plane(app, tenant):
    """Rows for every path id of the control-plane API: {path parameter: id}."""
    from datetime import date

    from common.timeutil import utcnow
    from datasource_registry.models import Datasource, FleetRun, ScheduledRun, TenantJob
    from extensions import db
    from platform_admin.auth.services import create_staff
    from platform_admin.enterprises.models import Enterprise
    from tests.factories import ApplicationFactory, ContractFactory

    with app.app_context():
        colleague = create_staff("colleague", "Correct-Horse-42", ["ops"], "同事")
        # Implementing, so DELETE .../datasource is refused (409) before it looks at the database, and a
        # PUT stays refused as immutable: no generated host is ever configured, let alone connected to.
        ds = db.session.get(Datasource, tenant.datasource_id)
        ds.implementation_status = "implementing"
        application = ApplicationFactory(status="intent_confirmed", owner_id=colleague.id)
        contract = ContractFactory(enterprise=db.session.get(Enterprise, tenant.id))
        # A run that ended with a failed tenant: its detail lists the failure, and it can be resumed.
        run = FleetRun(status="finished_with_failures", target_revision="head", canary_size=0, parallelism=1,
                       total=1, failed=1, started_by_id=colleague.id)
        db.session.add(run)
        db.session.flush()
        failed = TenantJob(id="f" * 32, kind="upgrade", tenant_id=tenant.id, datasource_id=ds.id, status="failed",
                           error="OperationalError: gone away", fleet_run_id=run.id)
        db.session.add(failed)
        # A scheduled run of the CRM's tasks where one task failed.
        scheduled = ScheduledRun(tenant_id=tenant.id, run_date=date(2026, 11, 30), status="failed", attempts=1,
                                 tasks_failed=1, error_code="task_failed", error="pool_recycle: failed",
                                 started_at=utcnow(), finished_at=utcnow(),
                                 result={"tasks": {"probe": {"status": "finished", "summary": {"n": 1}},
                                                   "pool_recycle": {"status": "failed", "error_code": "task_failed",
                                                                    "error": "failed"}}})
        db.session.add(scheduled)
        db.session.commit()
        return {"ent_id": tenant.id, "app_id": application.id, "contract_id": contract.id, "staff_id": colleague.id,
                "run_id": run.id, "job_id": failed.id, "scheduled_run_id": scheduled.id}


# Revoking its own token would sign the run out, so every later call would only meet 401s;
# tests/platform_admin/test_auth.py covers DELETE /auth/token. (PATCH /staff/{staff_id} stays in: its id
# is pinned to a colleague, so the run never deactivates or demotes its own administrator.)
CONTROL_PLANE_SKIPS = ("DELETE /api/v1/auth/token",)


@MARIADB_ONLY
def test_control_plane_api_answers_as_documented(app, tenants, api_as):
    token = api_as("admin").token
    ids = seed_control_plane(app, tenants[0])
    schema = load(app, "/api/v1/openapi.json")
    try:
        called, failures = exercise(schema, token, ids, skip=CONTROL_PLANE_SKIPS)
    finally:
        join_fleet_coordinators(app)
    assert set(called) == documented(schema, CONTROL_PLANE_SKIPS) and len(called) > 40
    assert not failures, "\n\n".join(failures)


@MARIADB_ONLY
def test_tenant_api_answers_as_documented(app, client, tenants):
    tenant = tenants[1]
    resp = client.post(f"/t/{tenant.code}/api/v1/auth/token",
                       json={"username": "admin", "password": tenant.admin_password})
    assert resp.status_code == 200, resp.json
    schema = load(app, f"/t/{tenant.code}/api/v1/openapi.json")
    called, failures = exercise(schema, resp.json["token"], {})
    assert set(called) == documented(schema, ("GET /openapi.json",)) and {"POST /auth/token", "GET /me"} <= set(called)
    assert not failures, "\n\n".join(failures)
