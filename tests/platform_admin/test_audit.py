"""Every create, update and state change is audited with actor, time, IP, record and before/after."""

from sqlalchemy import select

from extensions import db
from platform_admin.audit.models import AuditEvent
from tests.factories import EnterpriseFactory


def _events(app, **filters):
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        for key, value in filters.items():
            query = query.where(getattr(AuditEvent, key) == value)
        return db.session.scalars(query).all()


def test_create_is_audited_with_actor_ip_and_after_values(app, api_as):
    ops = api_as("ops", username="olivia")
    resp = ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000", "company_name": "甲物业"},
                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert resp.status_code == 201
    (event,) = _events(app, record_type="application", action="create")
    assert event.actor == "olivia" and event.ip == "10.1.2.3"
    assert event.record_id == resp.json["id"]
    assert event.after["name"] == "张三" and event.before is None
    assert event.created_at is not None


def test_the_api_answers_ids_in_the_values_as_strings(app, api_as):
    """Ids are strings in this API; an event's values carried them as numbers (``"id": 21``)."""
    ops = api_as("ops")
    resp = ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000", "company_name": "甲物业"})
    admin = api_as("admin")
    [event] = [e for e in admin.get("/api/v1/audit-events?record_type=application&action=create").json["items"]
               if e["record_id"] == resp.json["id"]]
    ids = {k: v for k, v in event["after"].items() if k == "id" or k.endswith("_id")}
    assert ids and all(isinstance(v, str) for v in ids.values() if v is not None), ids
    assert event["after"]["name"] == "张三"


def test_update_records_only_changed_fields_before_and_after(app, api_as):
    ops = api_as("ops")
    app_id = ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000"}).json["id"]
    ops.patch(f"/api/v1/applications/{app_id}", json={"company_name": "乙物业"})
    (event,) = _events(app, record_type="application", action="update")
    assert event.before == {"company_name": None}
    assert event.after == {"company_name": "乙物业"}


def test_state_changes_are_audited_with_their_verb(app, api_as, make_ready):
    ops = api_as("ops")
    with app.app_context():
        ent_id = EnterpriseFactory().id
    make_ready(ent_id)
    assert ops.post(f"/api/v1/enterprises/{ent_id}/open").status_code == 200
    assert ops.post(f"/api/v1/enterprises/{ent_id}/close").status_code == 200
    actions = [e.action for e in _events(app, record_type="enterprise", record_id=str(ent_id))]
    assert actions[-2:] == ["open", "close"]
    opened = _events(app, record_type="enterprise", action="open")[0]
    assert opened.before["status"] == 0 and opened.after["status"] == 1


def test_secrets_are_redacted(app, api_as):
    admin = api_as("admin")
    admin.post("/api/v1/staff", json={"username": "eve", "password": "Long-enough-pw-1", "roles": ["ops"]})
    event = [e for e in _events(app, record_type="staff_user", action="create") if e.after.get("username") == "eve"][0]
    assert event.after["password_hash"] == "[redacted]"
    tokens = _events(app, record_type="api_token")
    assert tokens and all(e.after["token_hash"] == "[redacted]" for e in tokens)
    with app.app_context():
        text = " ".join(str(e.after) + str(e.before) for e in db.session.scalars(select(AuditEvent)))
    assert "Long-enough-pw-1" not in text


def test_failed_validation_writes_no_audit_event(app, api_as):
    ops = api_as("ops")
    before = len(_events(app))
    assert ops.post("/api/v1/applications", json={"name": "", "phone": "123"}).status_code == 422
    assert len(_events(app)) == before


def test_admins_filter_audit_events_via_api(app, api_as):
    admin = api_as("admin", username="root-admin")
    ops = api_as("ops", username="opal")
    ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000"})
    resp = admin.get("/api/v1/audit-events?actor=opal&record_type=application")
    assert resp.status_code == 200
    items = resp.json["items"]
    assert len(items) == 1 and items[0]["action"] == "create" and items[0]["actor"] == "opal"
    assert admin.get("/api/v1/audit-events?since=not-a-date").status_code == 422
    page = admin.get("/api/v1/audit-events?limit=1")
    assert len(page.json["items"]) == 1 and page.json["next_cursor"]
    nxt = admin.get(f"/api/v1/audit-events?limit=1&cursor={page.json['next_cursor']}")
    assert nxt.json["items"][0]["id"] != page.json["items"][0]["id"]


def test_audit_page_lists_and_filters(app, login_page, api_as):
    api_as("ops", username="opal").post("/api/v1/applications", json={"name": "张三", "phone": "13800138000"})
    client = login_page("admin")
    page = client.get("/audit/?actor=opal")
    assert page.status_code == 200
    assert "opal" in page.text and "application" in page.text
    assert "张三" in page.text
    other = client.get("/audit/?actor=nobody")
    assert "张三" not in other.text


def test_a_page_sign_in_is_one_login_event_by_the_staff_member(app, login_page):
    """Every sign-in through the page wrote, beside 登录, a 修改 of the account's 最近登录 (first by 公开访客, then by
    the staff member): half the log was these pairs, each looking like someone edited the account. The 登录 event
    says who and when."""
    login_page("ops", username="auditme")
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.record_type == "staff_user")
                                    .where(AuditEvent.action.in_(("update", "login")))).all()
        assert not [e for e in events if e.action == "update" and "last_login_at" in (e.after or {})]
        assert [e.actor for e in events if e.action == "login"] == ["auditme"]
