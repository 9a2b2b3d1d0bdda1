"""Customer handovers (交接) on real MariaDB tenants: the three stages and who may act in each, send-back,
automatic start when a user is disabled or moves department, the lock on reassigning, the owner switch
being all-or-nothing and race-free, and the customer notices (never to do-not-contact contacts, once)."""

import re

import pytest
import sqlalchemy as sa

from tests.tenant_runtime.crm import add_dept, add_user, at_once, customer_body, tenant_api


def rows(tenant, sql, **params):
    engine = tenant.engine()
    with engine.connect() as conn:
        result = conn.execute(sa.text(sql), params).mappings().all()
    engine.dispose()
    return [dict(r) for r in result]


def scalar(tenant, sql, **params):
    engine = tenant.engine()
    with engine.connect() as conn:
        value = conn.execute(sa.text(sql), params).scalar()
    engine.dispose()
    return value


class Team:
    """A sales department with a manager (审核人) and two sales people, one other department, and the
    administrator; ``owner`` owns two customers with contacts (one do-not-contact) and an open plan."""

    def __init__(self, app, tenant):
        self.app, self.tenant = app, tenant
        self.dept = add_dept(tenant, "华东销售部")
        self.other_dept = add_dept(tenant, "华南销售部")
        self.manager_id = add_user(tenant, "mgr", ("sales_manager",), dept=self.dept, full_name="王经理")
        self.owner_id = add_user(tenant, "owner", ("sales",), dept=self.dept, full_name="李销售")
        self.receiver_id = add_user(tenant, "recv", ("sales",), dept=self.dept, full_name="赵接手")
        self.stranger_id = add_user(tenant, "far", ("sales_manager",), dept=self.other_dept, full_name="远方经理")
        self.admin = tenant_api(app, tenant)
        self.manager = tenant_api(app, tenant, "mgr")
        self.owner = tenant_api(app, tenant, "owner")
        self.receiver = tenant_api(app, tenant, "recv")
        self.stranger = tenant_api(app, tenant, "far")
        self.customers = []
        for phone in ("13800000001", "13800000002"):
            resp = self.owner.post("/customers", json=customer_body(phone=phone))
            assert resp.status_code == 201, resp.json
            self.customers.append(resp.json["id"])
        first, second = self.customers
        self.contacts = [
            self.owner.post("/contacts", json={"customer_id": first, "contact_name": "陈采购", "phone": "13911110001",
                                               "email": "chen@example.com"}).json["id"],
            self.owner.post("/contacts", json={"customer_id": first, "contact_name": "勿扰先生", "phone": "13911110002",
                                               "email": "dnc@example.com", "do_not_contact": True}).json["id"],
            self.owner.post("/contacts", json={"customer_id": second, "contact_name": "孙总",
                                               "phone": "13911110003"}).json["id"],
        ]
        plan = self.owner.post("/follow-ups", json={"customer_id": first, "follow_type": "phone", "content": "报价",
                                                    "next_follow_time": "2030-01-02T10:00",
                                                    "next_content": "送合同样本"})
        assert plan.status_code == 201, plan.json

    def start(self, client=None, **overrides):
        body = {"from_owner_id": str(self.owner_id), "to_owner_id": str(self.receiver_id),
                "customer_ids": self.customers, "reason_note": "调整客户分配"}
        body.update(overrides)
        return (client or self.manager).post("/handovers", json=body)

    def prepare_all(self, handover, client=None):
        client = client or self.owner
        for item in handover["items"]:
            resp = client.patch(f"/handovers/{handover['id']}/items/{item['id']}",
                                json={"is_completed": True, "owner_note": "已核对"})
            assert resp.status_code == 200, resp.json
        return client.post(f"/handovers/{handover['id']}/prepare", json={"note": "清单齐全"})

    def to_confirmation(self):
        handover = self.start().json
        assert self.prepare_all(handover).status_code == 200
        resp = self.manager.post(f"/handovers/{handover['id']}/approve", json={})
        assert resp.status_code == 200, resp.json
        return resp.json


@pytest.fixture
def team(app, tenants):
    return Team(app, tenants[0])


def test_a_handover_goes_through_its_three_stages_and_moves_everything_to_the_receiver(app, team):
    tenant = team.tenant
    before = {r["id"]: r for r in rows(tenant, "SELECT id, owned_since FROM crm_customer")}
    started = team.start()
    assert started.status_code == 201, started.json
    h = started.json
    assert h["current_stage"] == "preparation" and h["handover_reason"] == "manual"
    assert h["from_owner"]["name"] == "李销售" and h["to_owner"]["name"] == "赵接手"
    assert h["reviewer"]["name"] == "王经理"  # the starter reviews: a manager holds handover.review
    assert h["created_at"].endswith("+08:00")
    assert {c["id"] for c in h["customers"]} == set(team.customers)
    # the checklist comes from the customers' real data: basic info, each contact, the open plan
    kinds = [(i["customer_id"], i["item_type"]) for i in h["items"]]
    first, second = team.customers
    assert kinds.count((first, "basic_info")) == 1 and kinds.count((second, "basic_info")) == 1
    assert kinds.count((first, "contacts")) == 2 and kinds.count((second, "contacts")) == 1
    assert kinds.count((first, "follow_up_plans")) == 1 and (second, "follow_up_plans") not in kinds
    plan = next(i for i in h["items"] if i["item_type"] == "follow_up_plans")
    assert "送合同样本" in plan["item_description"] and "2030-01-02 10:00" in plan["item_description"]
    assert any("勿扰先生" in i["item_description"] for i in h["items"])
    assert team.owner.get(f"/handovers/{h['id']}").json["next_step"] == "prepare"

    prepared = team.prepare_all(h)
    assert prepared.status_code == 200 and prepared.json["current_stage"] == "review"
    assert all(i["is_completed"] and i["owner_note"] == "已核对" for i in prepared.json["items"])
    approved = team.manager.post(f"/handovers/{h['id']}/approve", json={"note": "同意"})
    assert approved.status_code == 200 and approved.json["current_stage"] == "confirmation"
    assert team.receiver.get(f"/handovers/{h['id']}").json["next_step"] == "confirm"
    engine = tenant.engine()  # the notice gives the receiver's number as people dial it
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_user SET phone = '+8613967446522' WHERE full_name = '赵接手'"))
    engine.dispose()
    confirmed = team.receiver.post(f"/handovers/{h['id']}/confirm", json={})
    assert confirmed.status_code == 200, confirmed.json
    done = confirmed.json
    assert done["current_stage"] == "completed" and done["completed_at"].endswith("+08:00")
    assert [(e["action"], e["stage"], e["user"]["name"]) for e in done["events"]] == [
        ("start", "preparation", "王经理"), ("prepare", "review", "李销售"), ("approve", "confirmation", "王经理"),
        ("confirm", "completed", "赵接手")]

    # customers, their contacts and the open plan belong to the receiver; the pool clock restarted
    after = rows(tenant, "SELECT id, owner_id, dept_id, owned_since FROM crm_customer")
    assert {r["owner_id"] for r in after} == {team.receiver_id} and {r["dept_id"] for r in after} == {team.dept}
    assert all(r["owned_since"] >= before[r["id"]]["owned_since"] for r in after)
    assert {r["owner_id"] for r in rows(tenant, "SELECT owner_id FROM crm_contact")} == {team.receiver_id}
    mine = team.receiver.get("/customers?view=mine").json["items"]
    assert {c["id"] for c in mine} == set(team.customers)
    assert any(c["next_follow_up_at"] for c in mine)  # the plan is on the receiver's follow-ups now
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_handover_customer WHERE open_marker IS NOT NULL") == 0
    # the history of each customer says it was handed over, by whom, from and to whom
    history = team.receiver.get(f"/customers/{first}/history").json["items"]
    entry = next(e for e in history if e["action"] == "handover")
    assert entry["user_name"] == "赵接手"
    assert {"field": "owner_id", "old": str(team.owner_id), "new": str(team.receiver_id)} in entry["changes"]
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_change_log WHERE entity_type = 'contact' AND action = 'handover'") == 3
    # the customer's 360 view lists the handover
    [seen] = team.receiver.get(f"/customers/{first}/360").json["handovers"]
    assert seen["id"] == h["id"] and seen["current_stage"] == "completed" and seen["to_owner"]["name"] == "赵接手"

    # the contacts are told by SMS and e-mail, except the do-not-contact one
    notices = rows(tenant, "SELECT contact_id, channel, to_address, status, body FROM crm_notice ORDER BY id")
    by_contact = {(n["contact_id"], n["channel"]): n["status"] for n in notices}
    dnc = int(team.contacts[1])
    assert by_contact == {(int(team.contacts[0]), "sms"): "sent", (int(team.contacts[0]), "email"): "sent",
                          (dnc, "sms"): "skipped", (dnc, "email"): "skipped", (int(team.contacts[2]), "sms"): "sent"}
    assert all("赵接手" in n["body"] for n in notices)
    assert all("13967446522" in n["body"] and "+86" not in n["body"] for n in notices)
    from extensions import db
    from platform_admin.messaging.models import OutboxMessage

    with app.app_context():
        sent_to = set(db.session.scalars(sa.select(OutboxMessage.to).where(
            OutboxMessage.purpose == "crm_handover_notice")).all())
    assert sent_to == {"+8613911110001", "chen@example.com", "+8613911110003"}


def test_only_the_right_person_acts_in_each_stage(app, team):
    # starting needs handover.start and an owner the starter manages
    assert team.start(client=team.owner).status_code == 403
    outside = team.start(client=team.stranger)
    assert outside.status_code == 422 and "from_owner_id" in outside.json["error"]["fields"]
    assert team.start(to_owner_id=str(team.owner_id)).status_code == 422
    h = team.start().json
    hid = h["id"]
    item = h["items"][0]["id"]
    # someone outside the handover and the owner's department does not see it at all
    assert team.stranger.get(f"/handovers/{hid}").status_code == 404
    # preparation: only the original owner
    for client in (team.receiver, team.manager):
        assert client.patch(f"/handovers/{hid}/items/{item}", json={"is_completed": True}).status_code == 403
        assert client.post(f"/handovers/{hid}/prepare", json={}).status_code == 403
    incomplete = team.owner.post(f"/handovers/{hid}/prepare", json={})
    assert incomplete.status_code == 409 and incomplete.json["error"]["code"] == "checklist_incomplete"
    assert team.manager.post(f"/handovers/{hid}/approve", json={}).status_code == 409  # not in review yet
    assert team.prepare_all(h).status_code == 200
    # review: only the reviewer (sales have no handover.review; the receiver is not the reviewer)
    assert team.owner.post(f"/handovers/{hid}/approve", json={}).status_code == 403
    assert team.receiver.post(f"/handovers/{hid}/confirm", json={}).status_code == 409  # not yet
    assert team.owner.patch(f"/handovers/{hid}/items/{item}", json={"owner_note": "x"}).status_code == 409
    assert team.manager.post(f"/handovers/{hid}/approve", json={}).status_code == 200
    # confirmation: only the receiver
    for client in (team.owner, team.manager, team.admin):
        resp = client.post(f"/handovers/{hid}/confirm", json={})
        assert resp.status_code == 403, resp.json
    assert team.receiver.post(f"/handovers/{hid}/confirm", json={}).status_code == 200
    again = team.receiver.post(f"/handovers/{hid}/confirm", json={})
    assert again.status_code == 409 and again.json["error"]["code"] == "wrong_stage"
    assert team.manager.post(f"/handovers/{hid}/cancel", json={}).status_code == 409


def test_the_reviewer_sends_it_back_with_a_reason(team):
    h = team.start().json
    assert team.prepare_all(h).status_code == 200
    missing = team.manager.post(f"/handovers/{h['id']}/reject", json={"reason": "  "})
    assert missing.status_code == 422 and "reason" in missing.json["error"]["fields"]
    back = team.manager.post(f"/handovers/{h['id']}/reject", json={"reason": "合同附件不全"})
    assert back.status_code == 200 and back.json["current_stage"] == "preparation"
    assert back.json["events"][-1]["action"] == "reject" and back.json["events"][-1]["note"] == "合同附件不全"
    assert team.owner.get(f"/handovers/{h['id']}").json["next_step"] == "prepare"
    resubmitted = team.owner.post(f"/handovers/{h['id']}/prepare", json={"note": "已补齐"})
    assert resubmitted.status_code == 200 and resubmitted.json["current_stage"] == "review"


def test_disabling_a_user_starts_a_handover_of_all_their_customers_for_the_manager(app, team):
    tenant = team.tenant
    resp = team.admin.post(f"/users/{team.owner_id}/disable")
    assert resp.status_code == 200, resp.json
    [h] = team.manager.get("/handovers?view=todo").json["items"]
    assert h["handover_reason"] == "resignation" and h["started_automatically"] is True
    assert h["to_owner"] is None and h["reviewer"]["name"] == "王经理"
    assert {c["id"] for c in h["customers"]} == set(team.customers)
    # the owner left: the manager prepares in their place and chooses the receiver
    assert h["next_step"] == "prepare"
    page = team.manager.client.get(f"/t/{tenant.code}/", headers=team.manager._headers(None))
    assert page.status_code in (200, 302)
    assert team.prepare_all(h, client=team.manager).status_code == 200
    no_receiver = team.manager.post(f"/handovers/{h['id']}/approve", json={})
    assert no_receiver.status_code == 409 and no_receiver.json["error"]["code"] == "receiver_missing"
    approved = team.manager.post(f"/handovers/{h['id']}/approve", json={"to_owner_id": str(team.receiver_id)})
    assert approved.status_code == 200 and approved.json["to_owner"]["name"] == "赵接手"
    assert team.receiver.post(f"/handovers/{h['id']}/confirm", json={}).status_code == 200
    assert {r["owner_id"] for r in rows(tenant, "SELECT owner_id FROM crm_customer")} == {team.receiver_id}
    # disabling someone who owns nothing starts nothing
    assert team.admin.post(f"/users/{team.stranger_id}/disable").status_code == 200
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_handover") == 1


def test_moving_a_user_to_another_department_starts_a_position_change_handover(team):
    user = team.admin.get(f"/users/{team.owner_id}").json
    moved = team.admin.patch(f"/users/{team.owner_id}", json={"dept_id": str(team.other_dept),
                                                              "role_ids": [r["id"] for r in user["roles"]]})
    assert moved.status_code == 200, moved.json
    [h] = team.admin.get("/handovers?view=all").json["items"]
    assert h["handover_reason"] == "position_change" and h["to_owner"] is None
    assert h["reviewer"]["name"] == "王经理"  # the manager of the department they left
    assert h["next_step"] is None  # the owner prepares (still enabled), the manager reviews: nothing for the admin
    assert team.admin.get("/handovers?view=todo").json["items"] == []
    assert team.manager.get("/handovers?view=todo").json["items"][0]["next_step"] == "choose_receiver"
    assert team.owner.get(f"/handovers/{h['id']}").json["next_step"] == "prepare"
    # a change that keeps the department starts nothing more
    assert team.admin.patch(f"/users/{team.owner_id}", json={"full_name": "李销售"}).status_code == 200
    assert len(team.admin.get("/handovers?view=all").json["items"]) == 1


def test_customers_in_an_open_handover_cannot_be_reassigned_or_handed_over_twice(team):
    h = team.start().json
    first = team.customers[0]
    moved = team.manager.patch(f"/customers/{first}", json={"owner_id": str(team.manager_id)})
    assert moved.status_code == 409 and moved.json["error"]["code"] == "customer_in_handover"
    twice = team.start(customer_ids=[first])
    assert twice.status_code == 409 and twice.json["error"]["code"] == "customer_in_handover"
    # the busy customers are named as the reader's language lists names
    names = [team.owner.get(f"/customers/{c}").json["customer_name"] for c in team.customers]
    again = team.manager.post("/handovers", json={"from_owner_id": str(team.owner_id),
                                                 "to_owner_id": str(team.receiver_id),
                                                 "customer_ids": team.customers}, headers={"Accept-Language": "en"})
    assert again.status_code == 409 and ", ".join(names) in again.json["error"]["message"]
    assert "、".join(names) in team.start().json["error"]["message"]
    assert team.manager.get(f"/customers/{first}").json["owner"]["name"] == "李销售"
    # the starter cancels: the customers are free again and stay where they were
    cancelled = team.manager.post(f"/handovers/{h['id']}/cancel", json={"note": "改为下月交接"})
    assert cancelled.status_code == 200 and cancelled.json["current_stage"] == "cancelled"
    assert team.manager.patch(f"/customers/{first}", json={"owner_id": str(team.manager_id)}).status_code == 200


def test_the_owner_switch_is_all_or_nothing(app, team, monkeypatch):
    from tenant_runtime.handovers import services

    h = team.to_confirmation()
    tenant = team.tenant

    def broken(*args, **kwargs):  # the database goes away after the customers moved, before the contacts
        raise sa.exc.OperationalError("UPDATE crm_contact", {}, Exception("lost connection"))

    monkeypatch.setattr(services, "_move_contacts", broken)
    failed = team.receiver.post(f"/handovers/{h['id']}/confirm", json={})
    assert failed.status_code == 503
    assert {r["owner_id"] for r in rows(tenant, "SELECT owner_id FROM crm_customer")} == {team.owner_id}
    assert {r["owner_id"] for r in rows(tenant, "SELECT owner_id FROM crm_contact")} == {team.owner_id}
    assert scalar(tenant, "SELECT current_stage FROM crm_handover WHERE id = :i", i=h["id"]) == "confirmation"
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_handover_customer WHERE open_marker = 1") == 2
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_change_log WHERE action = 'handover'") == 0
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_handover_event WHERE action = 'confirm'") == 0
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_notice") == 0
    monkeypatch.undo()
    assert team.receiver.post(f"/handovers/{h['id']}/confirm", json={}).status_code == 200
    assert {r["owner_id"] for r in rows(tenant, "SELECT owner_id FROM crm_customer")} == {team.receiver_id}


def test_two_confirmations_at_once_one_wins(app, team, monkeypatch):
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    h = team.to_confirmation()
    clients = [team.receiver, tenant_api(app, team.tenant, "recv")]

    def confirm(k):
        client = clients[k]
        resp = client.post(f"/handovers/{h['id']}/confirm", json={})
        return (resp.status_code, resp.json)

    results = at_once(2, confirm)
    assert sorted(code for code, _ in results) == [200, 409], results
    assert [body["error"]["code"] for code, body in results if code == 409] in (["stage_changed"], ["wrong_stage"])
    tenant = team.tenant
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_handover_event WHERE action = 'confirm'") == 1
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_change_log WHERE action = 'handover' AND entity_type = 'customer'") == 2
    assert scalar(tenant, "SELECT COUNT(*) FROM crm_notice WHERE status = 'sent'") == 3


def test_the_notice_job_run_twice_sends_once(app, team):
    from extensions import db
    from platform_admin.messaging.models import OutboxMessage
    from tenant_runtime.core import jobs
    from tenant_runtime.handovers import services

    h = team.to_confirmation()
    assert team.receiver.post(f"/handovers/{h['id']}/confirm", json={}).status_code == 200
    with app.app_context():
        again = jobs.run("tenant_runtime.handovers.services:send_notices", team.tenant.id, int(h["id"]))
        sent = db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.purpose == "crm_handover_notice"))
    assert again["sent"] == 0 and sent == 3
    assert scalar(team.tenant, "SELECT COUNT(*) FROM crm_notice") == 5
    assert services.send_notices.__module__ == "tenant_runtime.handovers.services"


def test_checklist_items_of_later_modules_appear_once_their_tables_exist(team, monkeypatch):
    from tenant_runtime.handovers import checklist

    sources = dict(checklist.SOURCES)
    sources["opportunities"] = checklist.ItemSource("opportunities", "商机", lambda s, c: ["商机 A：报价阶段 12800.00"],
                                                    table="crm_opportunity", order=40)
    sources["service_tickets"] = checklist.ItemSource("service_tickets", "工单", lambda s, c: ["工单 1：未解决"],
                                                      table="crm_contact", order=50)  # a table that exists
    monkeypatch.setattr(checklist, "SOURCES", sources)
    h = team.start(customer_ids=[team.customers[1]]).json
    kinds = {i["item_type"] for i in h["items"]}
    assert "service_tickets" in kinds and "opportunities" not in kinds


def test_handover_pages_and_home_panel(app, team):
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    tenant = team.tenant
    h = team.start().json

    def browser(username):
        client = app.test_client()
        page = client.get(f"/t/{tenant.code}/login")
        resp = client.post(f"/t/{tenant.code}/login", data={"username": username, "password": PASSWORD,
                                                             "csrf_token": csrf_from(page.text)})
        assert resp.status_code == 302
        return client

    owner = browser("owner")
    home = owner.get(f"/t/{tenant.code}/")
    assert home.status_code == 200 and f"/handovers/{h['id']}" in home.text
    detail = owner.get(f"/t/{tenant.code}/handovers/{h['id']}")
    assert detail.status_code == 200 and "checklist-form" in detail.text
    data = {"csrf_token": csrf_from(detail.text), "submit": "1", "note": "齐了"}
    data |= {f"done-{i['id']}": "y" for i in h["items"]}
    resp = owner.post(f"/t/{tenant.code}/handovers/{h['id']}/checklist", data=data)
    assert resp.status_code == 302
    assert team.owner.get(f"/handovers/{h['id']}").json["current_stage"] == "review"
    listing = owner.get(f"/t/{tenant.code}/handovers/?view=all")
    assert listing.status_code == 200 and f"#{h['id']}" in listing.text
    names = [team.owner.get(f"/customers/{c}").json["customer_name"] for c in team.customers]
    assert f"#{h['id']} {'、'.join(names)}" in listing.text
    english = owner.get(f"/t/{tenant.code}/handovers/?view=all&lang=en")
    assert f"#{h['id']} {', '.join(names)}" in english.text
    owner.get(f"/t/{tenant.code}/handovers/?lang=zh_CN")
    section = owner.get(f"/t/{tenant.code}/customers/{team.customers[0]}")
    assert section.status_code == 200 and f"/handovers/{h['id']}" in section.text
    manager = browser("mgr")
    review = manager.get(f"/t/{tenant.code}/handovers/{h['id']}")
    assert "approve-form" in review.text and "reject-form" in review.text and "checklist-form" not in review.text
    token = csrf_from(review.text)
    empty = manager.post(f"/t/{tenant.code}/handovers/{h['id']}/reject", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422
    assert team.owner.get(f"/handovers/{h['id']}").json["current_stage"] == "review"
    sent_back = manager.post(f"/t/{tenant.code}/handovers/{h['id']}/reject",
                             data={"csrf_token": token, "reason": "补充联系人备注"}, follow_redirects=True)
    assert sent_back.status_code == 200 and "补充联系人备注" in sent_back.text
    assert team.owner.get(f"/handovers/{h['id']}").json["current_stage"] == "preparation"
    chosen = manager.post(f"/t/{tenant.code}/handovers/{h['id']}/receiver",
                          data={"csrf_token": token, "to_owner_id": str(team.manager_id)})
    assert chosen.status_code == 302
    assert team.owner.get(f"/handovers/{h['id']}").json["to_owner"]["name"] == "王经理"
    # a sales user without handover.review is refused the reviewer's page actions outright
    own_token = csrf_from(owner.get(f"/t/{tenant.code}/handovers/{h['id']}").text)
    assert owner.post(f"/t/{tenant.code}/handovers/{h['id']}/approve",
                      data={"csrf_token": own_token}).status_code == 403
    start = manager.get(f"/t/{tenant.code}/handovers/new")
    assert start.status_code == 200
    bad = manager.post(f"/t/{tenant.code}/handovers/new", data={"csrf_token": csrf_from(start.text),
                                                                 "from_owner_id": str(team.owner_id)})
    assert bad.status_code == 422 and "field-to_owner_id" in bad.text


def test_a_handover_starts_from_the_customers_page_with_that_customer_ticked(app, team):
    """交接 was reachable only from the handovers list, then finding the customer among the owner's others: the
    customer's page offers it to whoever may start one, the start page opening with the owner chosen and that
    customer alone ticked. An owner out of the starter's scope is not chosen, and their customers' names are not
    listed (a manager of 华南 typing 华东's owner into the address saw them)."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    tenant, first, second = team.tenant, *team.customers
    manager = page_client(app, tenant, "mgr")
    page = manager.get(f"/t/{tenant.code}/customers/{first}").text
    link = re.search(r'href="([^"]+)" id="start-handover"', page).group(1).replace("&amp;", "&")
    assert f"from_owner_id={team.owner_id}" in link and f"customer_id={first}" in link
    start = manager.get(link).text
    ticked = re.findall(r'name="customer_ids" value="(\d+)" checked', start)
    assert ticked == [first] and f'value="{second}"' in start, ticked
    assert re.search(rf'<option(?=[^>]*value="{team.owner_id}")(?=[^>]*selected)', start)
    made = manager.post(f"/t/{tenant.code}/handovers/new", data={
        "csrf_token": csrf_from(start), "from_owner_id": str(team.owner_id), "to_owner_id": str(team.receiver_id),
        "customer_ids": [first], "handover_reason": "manual"})
    assert made.status_code == 302, made.text[:2000]
    started = team.manager.get("/handovers/" + made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert [c["id"] for c in started.json["customers"]] == [first], started.json
    assert 'id="start-handover"' not in page_client(app, tenant, "owner").get(
        f"/t/{tenant.code}/customers/{second}").text  # a sales user starts none
    far = page_client(app, tenant, "far").get(f"/t/{tenant.code}/handovers/new?from_owner_id={team.owner_id}").text
    names = [team.owner.get(f"/customers/{c}").json["customer_name"] for c in team.customers]
    assert not any(name in far for name in names)


def test_a_refused_send_back_or_receiver_is_marked_at_its_field_with_the_text_kept(app, team):
    """退回 with the reason left empty flashed a bare "此项为必填项。" above the page, not saying which field, and a
    reason too long was lost with it: the page now comes again with the message under 退回原因 (or 接手人) and
    what was typed still in the box; nothing changes."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD, page_client

    tenant = team.tenant
    h = team.start().json
    assert team.prepare_all(h).status_code == 200
    manager = page_client(app, tenant, "mgr", PASSWORD)
    base = f"/t/{tenant.code}/handovers/{h['id']}"
    token = csrf_from(manager.get(base).text)

    def block(page, field):
        return page.text.split(f'id="field-{field}"')[1].split('<div class="field')[0]

    empty = manager.post(f"{base}/reject", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422 and "此项为必填项。" in block(empty, "reason")
    assert "alert-danger" not in empty.text.split('id="my-step"')[0]  # not a message above the page
    long_reason = "联系人备注不全" * 80
    too_long = manager.post(f"{base}/reject", data={"csrf_token": token, "reason": long_reason})
    assert too_long.status_code == 422 and long_reason in block(too_long, "reason")
    assert 'class="error"' in block(too_long, "reason")
    no_one = manager.post(f"{base}/receiver", data={"csrf_token": token, "to_owner_id": ""})
    assert no_one.status_code == 422 and "此项为必填项。" in block(no_one, "to_owner_id")
    assert team.manager.get(f"/handovers/{h['id']}").json["current_stage"] == "review"
    # what goes through goes back to the page as before
    sent_back = manager.post(f"{base}/reject", data={"csrf_token": token, "reason": "补充联系人备注"})
    assert sent_back.status_code == 302
    assert team.manager.get(f"/handovers/{h['id']}").json["current_stage"] == "preparation"


@pytest.mark.parametrize("overrides,field", [
    ({"from_owner_id": None}, "from_owner_id"),
    ({"to_owner_id": None}, "to_owner_id"),
    ({"to_owner_id": "999999"}, "to_owner_id"),
    ({"customer_ids": ["abc"]}, "customer_ids"),
    ({"customer_ids": ["999999"]}, "customer_ids"),
    ({"handover_reason": "holiday"}, "handover_reason"),
    ({"reason_note": "x" * 501}, "reason_note"),
])
def test_bad_start_input_is_422_naming_the_field_and_starts_nothing(team, overrides, field):
    resp = team.start(**overrides)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["error"]["fields"]
    assert scalar(team.tenant, "SELECT COUNT(*) FROM crm_handover") == 0


def test_a_customer_of_another_owner_cannot_be_slipped_in(team):
    other = team.receiver.post("/customers", json=customer_body()).json["id"]
    resp = team.start(customer_ids=[team.customers[0], other])
    assert resp.status_code == 422 and "customer_ids" in resp.json["error"]["fields"]


def test_notices_left_unsent_by_redis_go_out_with_the_scheduled_task(app, team, monkeypatch):
    import redis

    from tenant_runtime.core import jobs
    from tenant_runtime.core.tasks import TASKS
    from tenant_runtime.models import utcnow

    h = team.to_confirmation()

    def redis_down(*args, **kwargs):
        raise redis.ConnectionError("redis is down")

    monkeypatch.setattr(jobs, "enqueue", redis_down)
    confirmed = team.receiver.post(f"/handovers/{h['id']}/confirm", json={})
    assert confirmed.status_code == 200 and confirmed.json["current_stage"] == "completed"
    assert scalar(team.tenant, "SELECT COUNT(*) FROM crm_notice") == 0

    def run_task():
        with app.app_context():
            tenant = jobs.bind(team.tenant.id)
            try:
                summary = TASKS["handover_notices"].run(tenant.session, utcnow())
                tenant.commit_if_written()
            finally:
                tenant.close()
        return summary

    assert run_task() == {"handovers": 1, "sent": 3, "failed": 0}
    assert run_task() == {"handovers": 1, "sent": 0, "failed": 0}
    assert scalar(team.tenant, "SELECT COUNT(*) FROM crm_notice WHERE status = 'skipped'") == 2


def test_starting_a_handover_for_some_customers_is_practical(app, team):
    """The start page lists the owner's customers unticked (none ticked hands over all), shows the ones already in
    a handover as such; all-but-those is what "none ticked" starts; picking one that is taken names it."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD, page_client

    tenant = team.tenant
    first, second = team.customers
    assert team.start(customer_ids=[first]).status_code == 201
    pages = page_client(app, tenant, "mgr", PASSWORD)
    form = pages.get(f"/t/{tenant.code}/handovers/new")
    picked = pages.post(f"/t/{tenant.code}/handovers/new", data={
        "csrf_token": csrf_from(form.text), "from_owner_id": str(team.owner_id), "to_owner_id": str(team.receiver_id),
        "handover_reason": "manual", "pick": "1"})
    listed = picked.text.split('id="field-customer_ids"')[1].split('class="hint"')[0]
    assert 'name="customer_ids"' in listed and "checked" not in listed  # nothing pre-ticked
    assert "交接中" in listed and listed.count('name="customer_ids"') == 1  # the taken one cannot be ticked
    taken = pages.post(f"/t/{tenant.code}/handovers/new", data={
        "csrf_token": csrf_from(form.text), "from_owner_id": str(team.owner_id), "to_owner_id": str(team.receiver_id),
        "handover_reason": "manual", "customer_ids": str(first)})
    field = taken.text.split('id="field-customer_ids"')[1].split('id="field-reason_note"')[0]
    assert taken.status_code == 409 and "已在进行中的交接里" in field and "has-error" in taken.text
    name = scalar(tenant, "SELECT customer_name FROM crm_customer WHERE id = :i", i=int(first))
    assert name in field
    rest = team.start(customer_ids=[])  # none chosen: every customer not already being handed over
    assert rest.status_code == 201, rest.json
    assert [c["id"] for c in rest.json["customers"]] == [second]
    nothing_left = team.start(customer_ids=[])
    assert nothing_left.status_code == 422 and "from_owner_id" in nothing_left.json["error"]["fields"]


def test_the_checklist_is_confirmed_with_one_box_and_shows_phones_as_people_write_them(app, team):
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD, page_client

    tenant = team.tenant
    h = team.start().json
    owner = page_client(app, tenant, "owner", PASSWORD)
    detail = owner.get(f"/t/{tenant.code}/handovers/{h['id']}")
    assert "13911110001" in detail.text and "+8613911110001" not in detail.text
    assert 'name="confirm_all"' in detail.text
    saved = owner.post(f"/t/{tenant.code}/handovers/{h['id']}/checklist",
                       data={"csrf_token": csrf_from(detail.text), "confirm_all": "y", "save": "1"})
    assert saved.status_code == 302
    items = team.owner.get(f"/handovers/{h['id']}").json["items"]
    assert items and all(i["is_completed"] for i in items)


def test_a_refused_submission_shows_the_checklist_again_as_it_was_entered(app, team):
    """提交审核 with an item unticked: the page again (not a redirect to the saved checklist), the ticks and notes
    as entered, the unticked rows marked, and nothing saved or submitted."""
    import re

    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD, page_client

    tenant = team.tenant
    h = team.start().json
    ticked, *unticked = [str(i["id"]) for i in h["items"]]
    owner = page_client(app, tenant, "owner", PASSWORD)
    detail = owner.get(f"/t/{tenant.code}/handovers/{h['id']}")
    resp = owner.post(f"/t/{tenant.code}/handovers/{h['id']}/checklist", data={
        "csrf_token": csrf_from(detail.text), f"done-{ticked}": "y", f"note-{ticked}": "客户比较在意价格",
        f"note-{unticked[0]}": "", "note": "其余明天核对", "submit": "1"})
    assert resp.status_code == 409
    assert "请先确认清单中的每一项。" in resp.text.split('id="checklist-error"')[1].split("</div>")[0]
    form = resp.text.split('id="checklist-form"')[1].split("</form>")[0]
    assert re.search(rf'name="done-{ticked}" value="y" checked', form)
    assert f'name="note-{ticked}" value="客户比较在意价格"' in form
    assert "其余明天核对" in form  # the note of the submission
    for item in unticked:
        assert not re.search(rf'name="done-{item}" value="y" checked', form)
        row = form.split(f'id="item-{item}"')[1].split("</tr>")[0]
        assert "未确认" in row
    assert f'id="item-{ticked}"' not in form
    saved = team.owner.get(f"/handovers/{h['id']}").json
    assert saved["current_stage"] == "preparation"
    assert not any(i["is_completed"] or i["owner_note"] for i in saved["items"])
    # ticked, the same submission goes through
    again = owner.post(f"/t/{tenant.code}/handovers/{h['id']}/checklist", data={
        "csrf_token": csrf_from(resp.text), "confirm_all": "y", f"note-{ticked}": "客户比较在意价格", "submit": "1"})
    assert again.status_code == 302
    saved = team.owner.get(f"/handovers/{h['id']}").json
    assert saved["current_stage"] == "review"
    assert [i["owner_note"] for i in saved["items"] if str(i["id"]) == ticked] == ["客户比较在意价格"]


def test_the_start_page_says_once_that_none_picked_hands_over_all(app, team):
    from tests.tenant_runtime.crm import PASSWORD, page_client

    pages = page_client(app, team.tenant, "mgr", PASSWORD)
    for path in ("/handovers/new", f"/handovers/new?from_owner_id={team.owner_id}"):
        text = pages.get(f"/t/{team.tenant.code}{path}").text
        assert text.count("全部客户") == 1, path


def test_the_checklist_reads_in_the_readers_language_and_stays_written_in_chinese(app, team):
    """Each item is worded from the values it was written from, in the page's language; its description, the
    record, stays as written in Chinese (in the API too, whatever the reader's language), and an item written
    before details were kept shows its description."""
    from tests.tenant_runtime.crm import page_client

    moved = team.owner.patch(f"/customers/{team.customers[0]}",
                             json={"province_code": "44", "city_code": "4403", "address": "南山区科技园"})
    assert moved.status_code == 200, moved.json
    h = team.start().json
    api_english = team.owner.get(f"/handovers/{h['id']}", headers={"Accept-Language": "en"}).json
    assert [i["item_description"] for i in api_english["items"]] == [i["item_description"] for i in h["items"]]
    assert any(i["item_description"].startswith("联系人 陈采购") for i in h["items"])
    name = team.owner.get(f"/customers/{team.customers[0]}").json["customer_name"]
    owner = page_client(app, team.tenant, "owner")
    english = owner.get(f"/t/{team.tenant.code}/handovers/{h['id']}?lang=en").text
    assert f"Customer {name}; type Enterprise; level Normal" in english
    assert "address 南山区科技园, Shenzhen, Guangdong" in english
    assert "Contact 陈采购; mobile" in english and "e-mail chen@example.com" in english
    assert "Next follow-up planned for 2030-01-02 10:00: 送合同样本" in english
    assert "联系人 陈采购" not in english and "；" not in english
    chinese = owner.get(f"/t/{team.tenant.code}/handovers/{h['id']}?lang=zh_CN").text
    assert f"客户 {name}；类型 企业；级别 普通" in chinese and "联系人 陈采购；手机" in chinese
    assert "地址 广东省深圳市南山区科技园" in chinese
    # an item from before tenant revision 0019 has its description alone
    engine = team.tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE crm_handover_item SET item_detail = NULL, item_description = '旧的清单项' "
                             "WHERE handover_id = :h AND item_type = 'follow_up_plans'"), {"h": int(h["id"])})
    engine.dispose()
    english = owner.get(f"/t/{team.tenant.code}/handovers/{h['id']}?lang=en").text
    assert "旧的清单项" in english and "Next follow-up planned" not in english
