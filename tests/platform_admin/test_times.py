"""Every time in every API response carries an offset (shared/API.md: "Times are ISO 8601 with an
offset"; dates stay ``YYYY-MM-DD``), audit before/after values included, also those recorded before
they carried one."""

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from common.timeutil import utcnow
from extensions import db
from platform_admin.audit.models import AuditEvent
from tests.conftest import PASSWORD, tenant_engine
from tests.factories import contract_payload

from .ent_helpers import enterprise_payload

# A string that starts like a date and a time; a bare date (YYYY-MM-DD) is a date, not a time.
LOOKS_LIKE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
HTTP_DATE = re.compile(r"\b\d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")  # Flask's default for a datetime
TIME_KEYS = re.compile(r"(_at|_time|^last_used|^expires)$")


def offending_times(value, path="$", checked=None):
    """(path, value) of every time in ``value`` that has no offset; counts the good ones in ``checked``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if TIME_KEYS.search(key) and not isinstance(item, str | None):
                yield f"{path}.{key}", item  # a time as a number or an object
            yield from offending_times(item, f"{path}.{key}", checked)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from offending_times(item, f"{path}[{i}]", checked)
    elif isinstance(value, str):
        if HTTP_DATE.search(value):
            yield path, value
        elif LOOKS_LIKE_TIME.match(value):
            if datetime.fromisoformat(value).tzinfo is None:
                yield path, value
            elif checked is not None:
                checked.append(path)


def test_the_walker_finds_times_without_an_offset():
    body = {"a_at": "2026-11-30T06:02:07.828393", "nested": [{"before": {"x": "2026-11-30 06:02"}}],
            "ok": "2026-11-30T14:02:07+08:00", "day": "2026-11-30", "last_used": 1764486127.5,
            "http": "Mon, 30 Nov 2026 06:02:07 GMT"}
    checked = []
    assert [p for p, _ in offending_times(body, checked=checked)] == [
        "$.a_at", "$.nested[0].before.x", "$.last_used", "$.http"]
    assert checked == ["$.ok"]


def root_sql(database, statement):
    engine = tenant_engine(database)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_every_time_in_every_control_plane_and_tenant_response_has_an_offset(app, api_as, tenant_factory, tenants,
                                                                             tenant_account, make_staff):
    make_staff("walker", roles=("admin", "ops", "devops"))
    client = app.test_client()
    login = client.post("/api/v1/auth/token", json={"username": "walker", "password": PASSWORD})
    from tests.conftest import Api

    staff = Api(client, login.json["token"])
    answers = [("POST /auth/token", login.json)]

    def call(method, path, json=None):
        resp = staff.open(method, path, json=json)
        assert resp.status_code < 300, (method, path, resp.status_code, resp.get_data(as_text=True)[:500])
        answers.append((f"{method} {path}", resp.json))
        return resp.json

    # onboarding: an application, a return visit with a next follow-up time, the conversion
    application = call("POST", "/api/v1/applications", {"name": "张伟", "phone": "13800138000", "company_name": "安居物业"})
    tomorrow = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    call("POST", f"/api/v1/applications/{application['id']}/follow-ups",
         {"content": "确认意向", "intent_level": "high", "next_follow_up_at": tomorrow, "outcome": "intent_confirmed"})
    for path in ("/api/v1/applications", f"/api/v1/applications/{application['id']}",
                 f"/api/v1/applications/{application['id']}/follow-ups", "/api/v1/follow-ups/due"):
        call("GET", path)
    ent_id = call("POST", f"/api/v1/applications/{application['id']}/convert")["id"]
    call("PATCH", f"/api/v1/enterprises/{ent_id}", enterprise_payload())
    # contract, datasource (provisioned, implementing), open, suspended and resumed
    contract = call("POST", f"/api/v1/enterprises/{ent_id}/contracts", contract_payload())
    call("GET", f"/api/v1/enterprises/{ent_id}/contracts")
    call("GET", f"/api/v1/contracts/{contract['id']}")
    call("PUT", f"/api/v1/enterprises/{ent_id}/datasource", {
        "host": tenant_account["host"], "port": tenant_account["port"], "username": tenant_account["username"],
        "password": tenant_account["password"], "max_connections": 3, "min_connections": 1})
    job = call("POST", f"/api/v1/enterprises/{ent_id}/datasource/provision")
    assert call("GET", f"/api/v1/jobs/{job['job_id']}")["status"] == "finished"
    call("POST", f"/api/v1/enterprises/{ent_id}/datasource/implementation-status", {"status": "implementing"})
    call("GET", f"/api/v1/enterprises/{ent_id}/datasource")
    call("POST", f"/api/v1/enterprises/{ent_id}/open")
    call("POST", f"/api/v1/enterprises/{ent_id}/suspend", {"message": "系统维护"})
    assert call("GET", f"/api/v1/enterprises/{ent_id}")["suspended_at"]
    call("POST", f"/api/v1/enterprises/{ent_id}/resume")
    call("GET", "/api/v1/enterprises")

    # a fleet run with one failed tenant (its database claims to be another tenant's)
    broken = tenant_factory()
    root_sql(call("GET", f"/api/v1/enterprises/{broken}/datasource")["database"],
             "UPDATE tenant_identity SET tenant_id = tenant_id + 1000000")
    run = call("POST", "/api/v1/fleet-runs", {"canary": 0, "parallelism": 2})
    thread = app.extensions["fleet_threads"][int(run["id"])]
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert call("GET", f"/api/v1/fleet-runs/{run['id']}")["failures"]
    call("GET", "/api/v1/fleet-runs")

    # a tenant: its users' API, a support pass, the registry's engines
    tenant = tenants[0]
    token = client.post(f"/t/{tenant.code}/api/v1/auth/token",
                        json={"username": "admin", "password": tenant.admin_password})
    answers.append(("POST tenant token", token.json))
    me = client.get(f"/t/{tenant.code}/api/v1/me", headers={"Authorization": f"Bearer {token.json['token']}"})
    assert me.status_code == 200
    answers.append(("GET tenant /me", me.json))
    call("POST", f"/api/v1/enterprises/{tenant.id}/impersonations", {"username": "admin", "reason": "排查问题"})
    assert call("GET", "/api/v1/registry")["engines"]

    # an audit event recorded before times carried an offset
    with app.app_context():
        db.session.add(AuditEvent(actor="legacy", action="update", record_type="enterprise", record_id=str(ent_id),
                                  before={"opened_at": None, "name": "2026-11-30 本来就是名字"},
                                  after={"opened_at": "2026-11-30T06:02:07.828393"}, created_at=utcnow()))
        db.session.commit()
    cursor, events = None, []
    while True:
        page = call("GET", "/api/v1/audit-events?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        events += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    [legacy] = [e for e in events if e["actor"] == "legacy"]
    assert legacy["after"]["opened_at"] == "2026-11-30T14:02:07+08:00"
    assert legacy["before"]["name"] == "2026-11-30 本来就是名字"  # not a time column: shown as recorded
    for path in ("/api/v1/outbox", "/api/v1/staff", "/api/v1/me"):
        call("GET", path)

    checked, offending = [], []
    for label, body in answers:
        offending += [(label, path, value) for path, value in offending_times(body, checked=checked)]
    assert offending == []
    audit_times = [e for e in events if any(isinstance(v, str) and LOOKS_LIKE_TIME.match(v)
                                            for v in {**(e["before"] or {}), **(e["after"] or {})}.values())]
    assert len(audit_times) >= 5  # applications, follow-ups, enterprises, contracts... carry times in their values
    assert len(checked) >= 100
