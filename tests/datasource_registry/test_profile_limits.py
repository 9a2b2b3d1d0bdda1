"""One set of length limits (common/limits.py) for what provisioning copies from the enterprise profile into
the tenant database: a profile at every limit provisions, one character over is refused where it is
typed (API, enterprise form, registration, offline application), and a profile stored too long before
the limits were shared fails provisioning with its fields named, not with a database error."""

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from common import limits
from datasource_registry.models import Datasource
from extensions import db
from platform_admin.enterprises.models import Enterprise
from platform_admin.onboarding.models import Application
from tests.conftest import csrf_from, tenant_engine
from tests.platform_admin.ent_helpers import enterprise_payload
from tests.platform_admin.onboarding_helpers import assert_error, count


def email_of_length(n):
    """A valid address exactly ``n`` characters long (local part at most 64, domain labels at most 63)."""
    local = "a" * 64
    domain_label = "b" * (n - len(local) - len("@") - len(".com"))
    return f"{local}@{domain_label}.com"


AT_MAX = {"name": "物" * limits.ENTERPRISE_NAME, "email": email_of_length(limits.EMAIL),
          "contact_name": "陈" * limits.PERSON_NAME}
ONE_OVER = {"name": "物" * (limits.ENTERPRISE_NAME + 1), "email": email_of_length(limits.EMAIL + 1),
            "contact_name": "陈" * (limits.PERSON_NAME + 1)}


def configure_and_provision(devops, ent_id, tenant_account, type="mysql"):
    body = {"type": type, "host": tenant_account["host"], "port": tenant_account["port"],
            "username": tenant_account["username"], "password": tenant_account["password"],
            "max_connections": 3, "min_connections": 1}
    assert devops.put(f"/api/v1/enterprises/{ent_id}/datasource", json=body).status_code == 201
    job_id = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision").json["job_id"]
    return devops.get(f"/api/v1/jobs/{job_id}").json


def tenant_rows(app, ent_id):
    with app.app_context():
        database = db.session.scalars(select(Datasource.database).where(Datasource.enterprise_id == ent_id)).one()
    engine = tenant_engine(database)
    try:
        with engine.connect() as conn:
            dept = conn.execute(sa.text("SELECT dept_name FROM sys_dept WHERE parent_id IS NULL")).scalar()
            user = conn.execute(sa.text("SELECT full_name, email, phone FROM sys_user WHERE username = 'admin'")).first()
    finally:
        engine.dispose()
    return dept, user


def test_a_profile_at_every_limit_provisions_and_arrives_whole(app, api_as, tenant_account):
    assert {k: len(v) for k, v in AT_MAX.items()} == {"name": 100, "email": 100, "contact_name": 50}
    ops, devops = api_as("ops"), api_as("devops")
    created = ops.post("/api/v1/enterprises", json=enterprise_payload(**AT_MAX))
    assert created.status_code == 201, created.json
    job = configure_and_provision(devops, created.json["id"], tenant_account)
    assert job["status"] == "finished", job
    dept, user = tenant_rows(app, created.json["id"])
    assert dept == AT_MAX["name"]
    assert (user.full_name, user.email, user.phone) == (AT_MAX["contact_name"], AT_MAX["email"], "+8613800138000")


def test_an_application_at_every_limit_converts_to_a_profile_that_provisions(app, api_as, tenant_account):
    ops, devops = api_as("ops"), api_as("devops")
    application = ops.post("/api/v1/applications", json={
        "name": AT_MAX["contact_name"], "phone": "13900139000", "company_name": AT_MAX["name"]})
    assert application.status_code == 201, application.json
    app_id = application.json["id"]
    assert ops.post(f"/api/v1/applications/{app_id}/follow-ups", json={
        "content": "确认意向", "intent_level": "high", "outcome": "intent_confirmed"}).status_code == 201
    enterprise = ops.post(f"/api/v1/applications/{app_id}/convert")
    assert enterprise.status_code == 201, enterprise.json
    assert (enterprise.json["name"], enterprise.json["contact_name"]) == (AT_MAX["name"], AT_MAX["contact_name"])
    assert configure_and_provision(devops, enterprise.json["id"], tenant_account)["status"] == "finished"
    dept, user = tenant_rows(app, enterprise.json["id"])
    assert (dept, user.full_name) == (AT_MAX["name"], AT_MAX["contact_name"])


@pytest.mark.parametrize("field", sorted(ONE_OVER))
def test_one_character_over_is_refused_by_the_enterprise_api(app, api_as, field):
    ops = api_as("ops")
    assert_error(ops.post("/api/v1/enterprises", json=enterprise_payload(**{field: ONE_OVER[field]})),
                 422, "invalid_fields", [field])
    assert count(app, Enterprise) == 0
    ent_id = ops.post("/api/v1/enterprises", json=enterprise_payload()).json["id"]
    assert_error(ops.patch(f"/api/v1/enterprises/{ent_id}", json={field: ONE_OVER[field]}),
                 422, "invalid_fields", [field])
    assert ops.get(f"/api/v1/enterprises/{ent_id}").json[field] == enterprise_payload()[field]


@pytest.mark.parametrize("field", sorted(ONE_OVER))
def test_one_character_over_is_shown_on_the_enterprise_form(app, login_page, field):
    page = login_page("ops")
    token = csrf_from(page.get("/enterprises/new").text)
    resp = page.post("/enterprises/new", data={**enterprise_payload(**{field: ONE_OVER[field]}), "csrf_token": token})
    assert resp.status_code == 422
    assert f'has-error" id="field-{field}"' in resp.text and resp.text.count("has-error") == 1
    assert count(app, Enterprise) == 0


@pytest.mark.parametrize(("field", "value"), [("name", ONE_OVER["contact_name"]), ("company_name", ONE_OVER["name"])])
def test_one_character_over_is_refused_on_an_offline_application(app, api_as, field, value):
    body = {"name": "张伟", "phone": "13800138000", "company_name": "安居物业", field: value}
    assert_error(api_as("ops").post("/api/v1/applications", json=body), 422, "invalid_fields", [field])
    assert count(app, Application) == 0


@pytest.mark.parametrize("type", ["mysql", "sqlite"])
def test_a_profile_stored_too_long_fails_provisioning_with_its_fields_named(app, api_as, tenant_account, type):
    with app.app_context():
        from tests.factories import EnterpriseFactory

        ent_id = EnterpriseFactory(name="物" * 150, email=email_of_length(118)).id
    job = configure_and_provision(api_as("devops"), ent_id, tenant_account, type=type)
    assert job["status"] == "failed" and job["error_code"] == "profile_too_long"
    assert "name (100)" in job["error"] and "email (100)" in job["error"] and "contact_name" not in job["error"]
    with app.app_context():
        assert db.session.get(Enterprise, ent_id).name == "物" * 150  # nothing was cut behind the user's back
