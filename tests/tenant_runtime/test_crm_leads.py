"""Leads (线索) and lead pools on real tenant databases: validation, phone uniqueness (also under 50 concurrent
creates), data scope, pools (public and a department's), claim (also 20 at once), assign, return, the
scheduled recycle, follow-ups on leads, and conversion to a customer (with or without a contact, follow-ups
kept, a duplicate customer refused, attaching to the existing one instead)."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import credit_code
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    Deadlock,
    add_dept,
    add_user,
    at_once,
    customer_body,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


def lead_body(**overrides):
    import secrets

    body = {"lead_name": f"线索{secrets.token_hex(2)}", "company": "上海明德物业有限公司", "source": "exhibition",
            "intent_level": "high"}
    body.update(overrides)
    return body


def sql(tenant, statement, **params):
    engine = tenant.engine()
    with engine.begin() as conn:
        result = conn.execute(sa.text(statement), params)
        rows = result.all() if result.returns_rows else None
    engine.dispose()
    return rows


def count(tenant, table):
    return sql(tenant, f"SELECT COUNT(*) FROM {table}")[0][0]


# ---------------------------------------------------------------------- create, edit, validation


def test_create_normalises_the_phone_and_lands_in_the_default_pool_owned_by_the_creator(admin):
    resp = admin.post("/leads", json=lead_body(phone="138-0013-8100"))
    assert resp.status_code == 201, resp.json
    lead = resp.json
    assert lead["phone"] == "+8613800138100"
    assert lead["status"] == "new" and lead["intent_level"] == "high"
    assert lead["owner"]["name"] and lead["in_pool"] is False
    assert lead["pool"]["name"] == "公共线索池"
    assert lead["created_at"].endswith("+08:00") and lead["claimed_at"]
    assert admin.get(f"/leads/{lead['id']}").json == lead


def test_a_lead_created_for_the_pool_has_no_owner(admin):
    resp = admin.post("/leads", json=lead_body(owner_id="pool"))
    assert resp.status_code == 201, resp.json
    assert resp.json["owner"] is None and resp.json["in_pool"] is True and resp.json["dept"] is None


@pytest.mark.parametrize("fields,bad", [
    ({"lead_name": "  "}, "lead_name"),
    ({"phone": "12345"}, "phone"),
    ({"intent_level": "urgent"}, "intent_level"),
    ({"status": "converted"}, "status"),  # only a conversion converts
    ({"source": "rumour"}, "source"),
    ({"owner_id": "999999"}, "owner_id"),
    ({"pool_id": "999999"}, "pool_id"),
    ({"lead_name": "x" * 101}, "lead_name"),
    ({"status": "invalid"}, None),  # fine, control
])
def test_bad_input_is_422_naming_the_field_and_saves_nothing(admin, fields, bad):
    before = count(admin.tenant, "crm_lead")
    resp = admin.post("/leads", json=lead_body(**fields))
    if bad is None:
        assert resp.status_code == 201, resp.json
        return
    assert resp.status_code == 422, resp.json
    assert bad in resp.json["error"]["fields"]
    assert count(admin.tenant, "crm_lead") == before


def test_phone_is_unique_among_leads_409_naming_the_phone(admin):
    first = admin.post("/leads", json=lead_body(phone="13800138101"))
    assert first.status_code == 201
    again = admin.post("/leads", json=lead_body(phone="+86 138 0013 8101"))
    assert again.status_code == 409
    assert again.json["error"]["code"] == "duplicate" and set(again.json["error"]["fields"]) == {"phone"}
    assert again.json["error"]["duplicates"][0]["id"] == first.json["id"]
    other = admin.post("/leads", json=lead_body()).json["id"]
    moved = admin.patch(f"/leads/{other}", json={"phone": "13800138101"})
    assert moved.status_code == 409 and "phone" in moved.json["error"]["fields"]


def test_concurrent_creates_without_the_default_pool_make_it_once_and_all_succeed(app, tenants, monkeypatch):
    """公共线索池 was removed (or the tenant never had it): the first leads created at the same moment all need
    it. It is made once, every create succeeds, none loses its transaction to another's insert of the pool."""
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    tenant = tenants[0]
    sql(tenant, "DELETE FROM crm_lead_pool")
    clients = [tenant_api(app, tenant) for _ in range(5)]

    def create(i):
        resp = clients[i % 5].post("/leads", json=lead_body(phone=f"1390000{i:04d}"))
        return (resp.status_code, resp.json)

    results = at_once(50, create)
    assert sorted(code for code, _ in results) == [201] * 50, [body for code, body in results if code != 201][:3]
    assert sql(tenant, "SELECT COUNT(*) FROM crm_lead_pool")[0][0] == 1
    assert {body["pool"]["name"] for _code, body in results} == {"公共线索池"}


def test_a_create_that_loses_a_real_deadlock_runs_again_and_saves_one_lead(app, tenants, monkeypatch):
    """MariaDB picks the create's transaction as a deadlock's victim (rolled back whole): the create runs again
    and answers 201 with one lead (its history one entry), not 409. The deadlock is real: at the lead's INSERT
    another transaction holds the pool row the lead's foreign key reads and waits for the token row the create
    has just touched."""
    monkeypatch.setitem(app.config, "TENANT_TOKEN_TOUCH_INTERVAL", 0)  # every request writes its token's row
    tenant = tenants[0]
    api = tenant_api(app, tenant)
    pool_id = int(api.post("/leads", json=lead_body()).json["pool"]["id"])  # the default pool, made if missing
    with Deadlock(tenant, "INSERT INTO crm_lead ", hold=f"SELECT id FROM crm_lead_pool WHERE id = {pool_id} FOR UPDATE",
                  wait="UPDATE sys_token SET last_used_at = last_used_at") as deadlock:
        resp = api.post("/leads", json=lead_body(phone="13911110000"))
    assert resp.status_code == 201, resp.json
    assert deadlock.seen == 2, "the create was not the deadlock's victim"
    assert deadlock.waited == "done"
    assert sql(tenant, "SELECT COUNT(*) FROM crm_lead WHERE phone = '+8613911110000'")[0][0] == 1
    history = api.get(f"/leads/{resp.json['id']}/history").json["items"]
    assert [entry["action"] for entry in history] == ["create"]
    assert sql(tenant, "SELECT COUNT(*) FROM crm_lead_pool WHERE pool_name LIKE '死锁对照%'")[0][0] == 0


def test_fifty_concurrent_creates_with_one_phone_give_one_201(app, tenants, monkeypatch):
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    tenant = tenants[0]
    clients = [tenant_api(app, tenant) for _ in range(5)]

    def create(i):
        resp = clients[i % 5].post("/leads", json=lead_body(phone="13900000100"))
        return (resp.status_code, resp.json)

    results = at_once(50, create)
    statuses = sorted(code for code, _ in results)
    assert statuses == [201] + [409] * 49, [body for code, body in results if code not in (201, 409)] or statuses
    assert all(body["error"]["code"] == "duplicate" and "phone" in body["error"]["fields"]
               for code, body in results if code == 409)
    assert sql(tenant, "SELECT COUNT(*) FROM crm_lead WHERE phone = '+8613900000100'")[0][0] == 1


def test_edit_records_history_and_a_converted_lead_no_longer_changes(admin):
    lid = admin.post("/leads", json=lead_body(intent_level="low")).json["id"]
    resp = admin.patch(f"/leads/{lid}", json={"intent_level": "medium", "status": "following"})
    assert resp.status_code == 200 and resp.json["intent_level"] == "medium" and resp.json["status"] == "following"
    history = admin.get(f"/leads/{lid}/history").json["items"]
    assert [h["action"] for h in history] == ["update", "create"]
    changes = {c["field"]: (c["old"], c["new"]) for c in history[0]["changes"]}
    assert changes == {"intent_level": ("low", "medium"), "status": ("new", "following")}  # as the lead answers
    back = admin.patch(f"/leads/{lid}", json={"status": "new"})
    assert back.status_code == 422 and "status" in back.json["error"]["fields"]
    assert admin.patch(f"/leads/{lid}", json={"status": "invalid"}).json["status"] == "invalid"
    assert admin.patch(f"/leads/{lid}", json={"status": "following"}).json["status"] == "following"
    sql(admin.tenant, "UPDATE crm_lead SET status = 3 WHERE id = :i", i=lid)
    refused = admin.patch(f"/leads/{lid}", json={"remark": "x"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "lead_converted"
    assert admin.delete(f"/leads/{lid}").status_code == 409


def test_filters_search_and_keyset_pages(admin):
    made = {}
    for name, source, intent, company in (("甲", "website", "high", "甲公司"), ("乙", "referral", "low", "乙公司"),
                                          ("丙", "website", "medium", "丙集团")):
        made[name] = admin.post("/leads", json=lead_body(lead_name=name, source=source, intent_level=intent,
                                                         company=company)).json["id"]
    admin.post("/leads", json=lead_body(lead_name="丁", owner_id="pool", phone="13700137000", intent_level="low"))

    def names(query):
        resp = admin.get(f"/leads?{query}")
        assert resp.status_code == 200, resp.json
        return sorted(i["lead_name"] for i in resp.json["items"])

    assert names("source=website") == ["丙", "甲"]
    assert names("intent=high&intent=medium") == ["丙", "甲"]
    assert names("q=集团") == ["丙"]
    assert names("q=13700137000") == ["丁"]
    assert names("view=pool") == ["丁"]
    assert names("status=new&view=mine") == ["丙", "乙", "甲"]
    assert admin.get("/leads?intent=urgent").status_code == 422
    assert admin.get("/leads?status=3").status_code == 422
    seen, cursor = [], None
    while True:
        resp = admin.get("/leads?limit=2&sort=name" + (f"&cursor={cursor}" if cursor else ""))
        seen += [i["id"] for i in resp.json["items"]]
        cursor = resp.json["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 4


# ---------------------------------------------------------------------- scope and pools


@pytest.fixture
def team(app, tenants):
    """销售部 > (一组, 二组): a sales user in each group, a manager of 销售部; a department pool of 一组."""
    t = tenants[0]
    sales = add_dept(t, "销售部")
    group1, group2 = add_dept(t, "销售一组", sales), add_dept(t, "销售二组", sales)
    users = {"s1": add_user(t, "ls1", ("sales",), group1), "s2": add_user(t, "ls2", ("sales",), group2),
             "mgr": add_user(t, "lmgr", ("sales_manager",), sales)}
    clients = {name: tenant_api(app, t, "l" + name) for name in users}
    clients["admin"] = tenant_api(app, t)
    pool = clients["admin"].post("/lead-pools", json={"pool_name": "一组线索池", "is_public": False,
                                                       "dept_id": str(group1)})
    assert pool.status_code == 201, pool.json

    class Team:
        tenant, depts, ids, pool_id = t, {"sales": sales, "group1": group1, "group2": group2}, users, pool.json["id"]

        def api(self, name):
            return clients[name]

    return Team()


def _visible(client, view="all"):
    resp = client.get(f"/leads?view={view}&limit=200")
    assert resp.status_code == 200, resp.json
    return {i["lead_name"] for i in resp.json["items"]}


def test_scope_owned_leads_by_data_scope_unowned_by_pool(team):
    for name in ("s1", "s2", "mgr"):
        assert team.api(name).post("/leads", json=lead_body(lead_name=f"{name}的线索")).status_code == 201
    admin = team.api("admin")
    assert admin.post("/leads", json=lead_body(lead_name="公共池线索", owner_id="pool")).status_code == 201
    assert admin.post("/leads", json=lead_body(lead_name="一组池线索", owner_id="pool",
                                               pool_id=team.pool_id)).status_code == 201
    assert _visible(team.api("s1")) == {"s1的线索", "公共池线索", "一组池线索"}
    assert _visible(team.api("s2")) == {"s2的线索", "公共池线索"}
    assert _visible(team.api("mgr")) == {"s1的线索", "s2的线索", "mgr的线索", "公共池线索", "一组池线索"}
    assert _visible(admin) >= {"s1的线索", "s2的线索", "mgr的线索", "公共池线索", "一组池线索"}
    s1_lead = next(i["id"] for i in admin.get("/leads?q=s1的线索").json["items"])
    assert team.api("s2").get(f"/leads/{s1_lead}").status_code == 404
    assert team.api("s2").patch(f"/leads/{s1_lead}", json={"remark": "x"}).status_code == 404
    # a sales user cannot put a lead into a department pool that is not theirs
    refused = team.api("s2").post("/leads", json=lead_body(pool_id=team.pool_id))
    assert refused.status_code == 422 and "pool_id" in refused.json["error"]["fields"]


def test_a_lead_in_its_pool_is_claimed_before_anyone_works_it(app, team):
    """Seen in the pool, not editable, deletable or followed up there by a sales user (409 ``lead_unowned``,
    422 naming ``lead_id``), and the page offers neither 编辑 nor the follow-up form; once claimed, all of it.
    An administrator may still tidy (edit, delete) a pool lead."""
    from tests.tenant_runtime.crm import page_client

    admin, s2 = team.api("admin"), team.api("s2")
    lid = admin.post("/leads", json=lead_body(owner_id="pool", remark="原备注")).json["id"]
    edited = s2.patch(f"/leads/{lid}", json={"remark": "改了"})
    assert edited.status_code == 409 and edited.json["error"]["code"] == "lead_unowned"
    followed = s2.post("/follow-ups", json={"lead_id": lid, "follow_type": "phone", "content": "未领取先跟进"})
    assert followed.status_code == 422 and "lead_id" in followed.json["error"]["fields"]
    refused = team.api("mgr").delete(f"/leads/{lid}")  # a manager of a department, not of every lead
    assert refused.status_code == 409 and refused.json["error"]["code"] == "lead_unowned", refused.json
    lead = admin.get(f"/leads/{lid}").json
    assert lead["remark"] == "原备注" and lead["status"] == "new" and lead["last_follow_up_at"] is None
    page = page_client(app, team.tenant, "ls2").get(f"/t/{team.tenant.code}/leads/{lid}")
    assert page.status_code == 200
    assert f"/leads/{lid}/edit" not in page.text and 'id="add-follow-up"' not in page.text
    assert "领取" in page.text
    assert s2.post(f"/leads/{lid}/claim").status_code == 200
    assert s2.patch(f"/leads/{lid}", json={"remark": "改了"}).json["remark"] == "改了"
    assert s2.post("/follow-ups", json={"lead_id": lid, "follow_type": "phone", "content": "领取后跟进"}).status_code == 201
    other = admin.post("/leads", json=lead_body(owner_id="pool")).json["id"]
    assert admin.patch(f"/leads/{other}", json={"remark": "管理员整理"}).status_code == 200
    assert admin.delete(f"/leads/{other}").status_code == 204


def test_a_department_pool_is_claimed_only_by_that_department(team):
    admin = team.api("admin")
    lid = admin.post("/leads", json=lead_body(owner_id="pool", pool_id=team.pool_id)).json["id"]
    # 二组's user does not even see it; 销售部's manager sees it but is not in 一组
    assert team.api("s2").post(f"/leads/{lid}/claim").status_code == 404
    refused = team.api("mgr").post(f"/leads/{lid}/claim")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "pool_restricted"
    claimed = team.api("s1").post(f"/leads/{lid}/claim")
    assert claimed.status_code == 200, claimed.json
    assert claimed.json["owner"]["id"] == str(team.ids["s1"]) and claimed.json["dept"]["id"] == str(team.depts["group1"])


def test_pools_are_managed_by_an_administrator_only(team):
    body = {"pool_name": "市场部池", "is_public": True}
    assert team.api("mgr").post("/lead-pools", json=body).status_code == 403
    assert team.api("s1").get("/lead-pools").status_code == 200
    bad = team.api("admin").post("/lead-pools", json={"pool_name": "坏池", "is_public": False})
    assert bad.status_code == 422 and "dept_id" in bad.json["error"]["fields"]
    dup = team.api("admin").post("/lead-pools", json={"pool_name": "一组线索池", "is_public": True})
    assert dup.status_code == 409 and "pool_name" in dup.json["error"]["fields"]
    s2_pools = {p["pool_name"] for p in team.api("s2").get("/lead-pools").json["items"]}
    assert "一组线索池" not in s2_pools
    # is_public left out (or null) is its documented default, true, as the form's box starts ticked
    for body in ({"pool_name": "默认公共池"}, {"pool_name": "空值公共池", "is_public": None}):
        made = team.api("admin").post("/lead-pools", json=body)
        assert made.status_code == 201 and made.json["is_public"] is True, made.json


# ---------------------------------------------------------------------- claim, assign, return, recycle


def test_a_lead_is_given_only_to_someone_who_may_work_leads(app, team):
    """客服 sees leads but may not edit them: neither assign nor create offers them as owner (422 naming the
    field), so no lead is stuck with an owner who cannot follow it up."""
    service = add_user(team.tenant, "lsvc", ("service",), team.depts["sales"])
    admin = team.api("admin")
    lid = admin.post("/leads", json=lead_body(owner_id="pool")).json["id"]
    refused = admin.post(f"/leads/{lid}/assign", json={"to_user_id": str(service)})
    assert refused.status_code == 422 and "to_user_id" in refused.json["error"]["fields"]
    made = admin.post("/leads", json=lead_body(owner_id=str(service)))
    assert made.status_code == 422 and "owner_id" in made.json["error"]["fields"]
    assert admin.post(f"/leads/{lid}/assign", json={"to_user_id": str(team.ids["s1"])}).status_code == 200


def test_a_claim_does_not_tell_another_departments_lead_exists(app, team):
    """s2 cannot see s1's lead: claiming it is 404 like any other id, unless it left a pool open to s2 in the
    last minutes (the race a claimer from that pool just lost: 409 ``already_claimed``)."""
    s1, s2 = team.api("s1"), team.api("s2")
    owned = s1.post("/leads", json=lead_body()).json["id"]
    assert s2.get(f"/leads/{owned}").status_code == 404
    assert s2.post(f"/leads/{owned}/claim").status_code == 404
    pooled = team.api("admin").post("/leads", json=lead_body(owner_id="pool")).json["id"]
    assert s1.post(f"/leads/{pooled}/claim").status_code == 200
    lost = s2.post(f"/leads/{pooled}/claim")
    assert lost.status_code == 409 and lost.json["error"]["code"] == "already_claimed"
    engine = team.tenant.engine()
    with engine.begin() as conn:  # the claim was a while ago
        conn.execute(sa.text("UPDATE crm_change_log SET created_at = created_at - INTERVAL 1 HOUR "
                             "WHERE entity_type = 'lead' AND entity_id = :i"), {"i": pooled})
    engine.dispose()
    assert s2.post(f"/leads/{pooled}/claim").status_code == 404


def test_twenty_concurrent_claims_one_wins_the_others_409(app, team, monkeypatch):
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    t = team.tenant
    lid = team.api("admin").post("/leads", json=lead_body(owner_id="pool")).json["id"]
    claimers = [add_user(t, f"claim{i}", ("sales",), team.depts["group2"]) for i in range(20)]
    clients = [tenant_api(app, t, f"claim{i}") for i in range(20)]

    def claim(i):
        resp = clients[i].post(f"/leads/{lid}/claim")
        return (resp.status_code, resp.json, claimers[i])

    results = at_once(20, claim)
    statuses = sorted(code for code, _body, _u in results)
    assert statuses == [200] + [409] * 19, statuses
    assert all(body["error"]["code"] == "already_claimed" for code, body, _u in results if code == 409)
    winner = next(u for code, _body, u in results if code == 200)
    assert sql(t, "SELECT owner_id FROM crm_lead WHERE id = :i", i=lid)[0][0] == winner
    claims = sql(t, "SELECT COUNT(*) FROM crm_change_log WHERE entity_type = 'lead' AND entity_id = :i "
                    "AND action = 'claim'", i=lid)[0][0]
    assert claims == 1


def test_assign_by_a_manager_within_their_people(team):
    admin = team.api("admin")
    lid = admin.post("/leads", json=lead_body(owner_id="pool")).json["id"]
    assert team.api("s1").post(f"/leads/{lid}/assign", json={"to_user_id": str(team.ids["s2"])}).status_code == 403
    bad = team.api("mgr").post(f"/leads/{lid}/assign", json={"to_user_id": "999999"})
    assert bad.status_code == 422 and "to_user_id" in bad.json["error"]["fields"]
    for body in ({}, {"to_user_id": ""}, {"to_user_id": None}, {"to_user_id": "abc"}):
        refused = team.api("mgr").post(f"/leads/{lid}/assign", json=body)  # one message, not two that clash
        assert refused.status_code == 422 and len(refused.json["error"]["fields"]["to_user_id"]) == 1, refused.json
    done = team.api("mgr").post(f"/leads/{lid}/assign", json={"to_user_id": str(team.ids["s2"])})
    assert done.status_code == 200, done.json
    assert done.json["owner"]["id"] == str(team.ids["s2"]) and not done.json["in_pool"]
    again = team.api("mgr").post(f"/leads/{lid}/assign", json={"to_user_id": str(team.ids["s1"])})
    assert again.status_code == 200 and again.json["owner"]["id"] == str(team.ids["s1"])
    history = admin.get(f"/leads/{lid}/history").json["items"]
    assert [h["action"] for h in history[:2]] == ["assign", "assign"]
    assert history[0]["changes"][0] == {"field": "owner_id", "old": str(team.ids["s2"]), "new": str(team.ids["s1"])}


def test_return_to_the_pool_needs_a_reason_and_the_owner(app, team):
    lid = team.api("s1").post("/leads", json=lead_body()).json["id"]
    no_reason = team.api("s1").post(f"/leads/{lid}/return", json={"reason": " "})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["error"]["fields"]
    back = team.api("s1").post(f"/leads/{lid}/return", json={"reason": "联系不上"})
    assert back.status_code == 200 and back.json["in_pool"] and back.json["owner"] is None
    assert team.api("s1").post(f"/leads/{lid}/return", json={"reason": "x"}).json["error"]["code"] == "already_in_pool"
    entry = team.api("admin").get(f"/leads/{lid}/history").json["items"][0]
    assert entry["action"] == "return"
    assert {"field": "reason", "old": None, "new": "联系不上"} in entry["changes"]
    # a lead waiting in 一组's pool carries 一组 for its scope; its page said "无 / 负责人 · 销售一组", a department
    # for nobody: it names no owner, and the pool card says whose pool it is
    from tests.tenant_runtime.crm import page_client

    pooled = team.api("admin").post("/leads", json=lead_body(owner_id="pool", pool_id=str(team.pool_id))).json
    engine = team.tenant.engine()
    with engine.begin() as conn:  # as the demo's seeded department-pool leads are, and as scope reads them
        conn.execute(sa.text("UPDATE crm_lead SET dept_id = :d WHERE id = :i"),
                     {"d": team.depts["group1"], "i": int(pooled["id"])})
    engine.dispose()
    page = page_client(app, team.tenant, "ls1").get(f"/t/{team.tenant.code}/leads/{pooled['id']}").text
    owner_card = re.search(r'<div class="stat"><b>([^<]*)</b><span>([^<]*)</span>', page).groups()
    assert owner_card == ("无", "负责人") and "一组线索池" in page, owner_card
    # back in the public pool: another sales user may claim it now
    assert team.api("s2").post(f"/leads/{lid}/claim").status_code == 200


def test_scheduled_recycle_returns_stale_leads_once(app, team):
    from tenant_runtime.context import current_tenant
    from tenant_runtime.core import jobs
    from tenant_runtime.core.tasks import TASKS
    from tenant_runtime.models import utcnow

    t = team.tenant
    pool = team.api("admin").post("/lead-pools", json={"pool_name": "回收池", "is_public": True,
                                                        "recycle_days": 15}).json["id"]
    stale = team.api("s1").post("/leads", json=lead_body(pool_id=pool)).json["id"]
    followed = team.api("s1").post("/leads", json=lead_body(pool_id=pool)).json["id"]
    fresh = team.api("s1").post("/leads", json=lead_body(pool_id=pool)).json["id"]
    elsewhere = team.api("s1").post("/leads", json=lead_body()).json["id"]  # default pool: no recycle period
    sql(t, "UPDATE crm_lead SET claimed_at = UTC_TIMESTAMP() - INTERVAL 40 DAY, "
           "created_at = UTC_TIMESTAMP() - INTERVAL 40 DAY WHERE id IN (:a, :b, :c)", a=stale, b=followed, c=elsewhere)
    sql(t, "UPDATE crm_lead SET last_follow_up_at = UTC_TIMESTAMP() - INTERVAL 3 DAY WHERE id = :i", i=followed)
    with app.app_context():
        jobs.bind(t.id)
        try:
            first = TASKS["leads.recycle"].run(current_tenant.session, utcnow())
            second = TASKS["leads.recycle"].run(current_tenant.session, utcnow() + timedelta(minutes=1))
        finally:
            current_tenant.session.rollback()
            current_tenant.close()
    assert first == {"recycled": 1} and second == {"recycled": 0}
    owners = {str(i): owner for i, owner in sql(t, "SELECT id, owner_id FROM crm_lead WHERE id IN (:a, :b, :c, :d)",
                                                 a=stale, b=followed, c=fresh, d=elsewhere)}
    assert owners[stale] is None and owners[followed] and owners[fresh] and owners[elsewhere]
    entry = team.api("admin").get(f"/leads/{stale}/history").json["items"][0]
    assert entry["action"] == "recycle" and entry["changes"][0]["old"] == str(team.ids["s1"])


# ---------------------------------------------------------------------- follow-ups


def test_a_follow_up_on_a_lead_moves_its_times_and_status(admin):
    lid = admin.post("/leads", json=lead_body()).json["id"]
    resp = admin.post("/follow-ups", json={"lead_id": lid, "follow_type": "phone", "content": "约了下周看样板间",
                                           "next_follow_time": "2030-05-01T09:00"})
    assert resp.status_code == 201, resp.json
    assert resp.json["relation_type"] == "lead" and resp.json["relation_id"] == lid
    lead = admin.get(f"/leads/{lid}").json
    assert lead["status"] == "following" and lead["last_follow_up_at"]
    assert lead["next_follow_up_at"] == "2030-05-01T09:00:00+08:00"
    listed = admin.get(f"/follow-ups?lead_id={lid}").json["items"]
    assert [f["id"] for f in listed] == [resp.json["id"]]
    assert admin.get(f"/follow-ups?customer_id={lid}").json["items"] == []  # a customer with that id is another
    both = admin.post("/follow-ups", json={"lead_id": lid, "customer_id": lid, "follow_type": "phone",
                                           "content": "x"})
    assert both.status_code == 422 and "lead_id" in both.json["error"]["fields"]


def test_lead_follow_ups_follow_the_lead_scope(team):
    lid = team.api("s1").post("/leads", json=lead_body()).json["id"]
    fid = team.api("s1").post("/follow-ups", json={"lead_id": lid, "follow_type": "phone", "content": "x"}).json["id"]
    assert team.api("s2").get(f"/follow-ups/{fid}").status_code == 404
    assert team.api("mgr").get(f"/follow-ups/{fid}").status_code == 200
    refused = team.api("s2").post("/follow-ups", json={"lead_id": lid, "follow_type": "phone", "content": "x"})
    assert refused.status_code == 422 and "lead_id" in refused.json["error"]["fields"]


# ---------------------------------------------------------------------- conversion


def test_convert_with_a_contact_keeps_follow_ups_and_links_both_ways(app, admin):
    lid = admin.post("/leads", json=lead_body(lead_name="王经理", company="明德物业转化有限公司", phone="13800138200",
                                              position="行政总监")).json["id"]
    fid = admin.post("/follow-ups", json={"lead_id": lid, "follow_type": "visit", "content": "现场看过"}).json["id"]
    resp = admin.post(f"/leads/{lid}/convert", json={"with_contact": True, "tax_id": credit_code()})
    assert resp.status_code == 201, resp.json
    body = resp.json
    customer, contact = body["customer"], body["contact"]
    assert body["attached"] is False and body["lead"]["status"] == "converted"
    assert body["lead"]["converted_customer_id"] == customer["id"]
    assert customer["customer_name"] == "明德物业转化有限公司" and customer["phone"] == "+8613800138200"
    assert customer["source"] == "lead" and customer["last_follow_up_at"] == body["lead"]["last_follow_up_at"]
    assert contact["contact_name"] == "王经理" and contact["position"] == "行政总监" and contact["customer_id"] == customer["id"]
    assert sql(admin.tenant, "SELECT source_lead_id FROM crm_customer WHERE id = :i", i=customer["id"])[0][0] == int(lid)
    view = admin.get(f"/customers/{customer['id']}/360").json
    assert fid in [f["id"] for f in view["follow_ups"]]
    assert [lead["id"] for lead in view["source_leads"]] == [lid]
    # the lead keeps its own record: follow-ups and history
    assert [f["id"] for f in admin.get(f"/follow-ups?lead_id={lid}").json["items"]] == [fid]
    assert "converted_customer_id" in {c["field"] for c in admin.get(f"/leads/{lid}/history").json["items"][0]["changes"]}
    # the lead's page says which customer it became by name, never by its id
    from tests.tenant_runtime.crm import page_client

    page = page_client(app, admin.tenant).get(f"/t/{admin.tenant.code}/leads/{lid}").get_data(as_text=True)
    history = page[page.index("已转化为"):][:300]
    assert "明德物业转化有限公司" in history and f"→ {customer['id']}<" not in history, history
    again = admin.post(f"/leads/{lid}/convert", json={})
    assert again.status_code == 409 and again.json["error"]["code"] == "lead_converted"


def test_convert_without_a_contact_as_an_individual(admin):
    lid = admin.post("/leads", json=lead_body(lead_name="李女士", company=None)).json["id"]
    resp = admin.post(f"/leads/{lid}/convert", json={})
    assert resp.status_code == 201, resp.json
    assert resp.json["contact"] is None
    assert resp.json["customer"]["customer_type"] == "individual" and resp.json["customer"]["customer_name"] == "李女士"


def test_a_failed_conversion_changes_nothing(admin):
    lid = admin.post("/leads", json=lead_body()).json["id"]
    before = (count(admin.tenant, "crm_customer"), count(admin.tenant, "crm_contact"))
    resp = admin.post(f"/leads/{lid}/convert", json={"with_contact": True, "contact_phone": "123"})
    assert resp.status_code == 422 and "contact_phone" in resp.json["error"]["fields"]
    assert (count(admin.tenant, "crm_customer"), count(admin.tenant, "crm_contact")) == before
    assert admin.get(f"/leads/{lid}").json["status"] == "new"


def test_a_pool_lead_must_be_claimed_before_conversion(admin):
    lid = admin.post("/leads", json=lead_body(owner_id="pool")).json["id"]
    resp = admin.post(f"/leads/{lid}/convert", json={})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "lead_unowned"


def test_conversion_refuses_a_duplicate_customer_masked_and_offers_to_attach(app, team):
    t = team.tenant
    # a customer owned in 二组, invisible to 一组's sales user
    existing = team.api("s2").post("/customers", json=customer_body(customer_name="华庭置业有限公司",
                                                                   phone="13800138300")).json["id"]
    # started as a lead although it is a customer: the check says so (masked), and the user goes on anyway
    first = team.api("s1").post("/leads", json=lead_body(company="华庭置业", phone="13800138300"))
    assert first.status_code == 409 and first.json["error"]["code"] == "possible_duplicate", first.json
    assert set(first.json["error"]["fields"]) == {"phone", "company"}
    assert first.json["error"]["duplicates"][0]["id"] is None  # 二组's customer: not visible to 一组
    lid = team.api("s1").post("/leads", json=lead_body(company="华庭置业", phone="13800138300",
                                                       confirm_duplicate=True)).json["id"]
    refused = team.api("s1").post(f"/leads/{lid}/convert", json={})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "duplicate"
    match = refused.json["error"]["duplicates"][0]
    assert match["customer_name"] == "华庭置业有限公司" and match["id"] is None and match["visible"] is False
    assert match["owner_name"].endswith("*")
    assert team.api("s1").get(f"/leads/{lid}").json["status"] == "new"
    # they cannot attach to a customer they cannot see
    hidden = team.api("s1").post(f"/leads/{lid}/convert", json={"attach_to": existing})
    assert hidden.status_code == 422 and "attach_to" in hidden.json["error"]["fields"]
    # the manager sees both: the same refusal names the customer, and attaching links the lead to it
    seen = team.api("mgr").post(f"/leads/{lid}/convert", json={})
    assert seen.status_code == 409 and seen.json["error"]["duplicates"][0]["id"] == existing
    fid = team.api("s1").post("/follow-ups", json={"lead_id": lid, "follow_type": "phone", "content": "老客户介绍"}).json["id"]
    attached = team.api("mgr").post(f"/leads/{lid}/convert", json={"attach_to": existing})
    assert attached.status_code == 201, attached.json
    assert attached.json["attached"] is True and attached.json["customer"]["id"] == existing
    assert count(t, "crm_customer") == 1
    view = team.api("mgr").get(f"/customers/{existing}/360").json
    assert fid in [f["id"] for f in view["follow_ups"]] and [lead["id"] for lead in view["source_leads"]] == [lid]
    assert sql(t, "SELECT source_lead_id FROM crm_customer WHERE id = :i", i=existing)[0][0] == int(lid)
    # the customer's history names the link in words: 来源线索 and the lead's name, not source_lead_id: 32
    from tests.tenant_runtime.crm import PASSWORD

    page = _login(app, t, "lmgr", PASSWORD).get(f"/t/{t.code}/customers/{existing}").text
    lead_name = team.api("mgr").get(f"/leads/{lid}").json["lead_name"]
    assert "source_lead_id" not in page and f"<b>来源线索</b>: <span class=\"muted\">—</span> → {lead_name}" in page


def test_a_lead_that_is_already_a_customer_says_which_field_a_customer_has(admin):
    """The new-lead form marked the phone and the company "已是客户的。" (an unfinished sentence): each field now
    says what a customer already has, the number or the name, in the reader's language."""
    assert admin.post("/customers", json=customer_body(customer_name="锦瑞物业管理有限公司",
                                                       phone="13912340077")).status_code == 201
    chinese = admin.post("/leads", json=lead_body(company="锦瑞物业管理", phone="13912340077"),
                         headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 409 and chinese.json["error"]["code"] == "possible_duplicate", chinese.json
    assert chinese.json["error"]["fields"] == {"phone": ["已有客户使用该号码。"],
                                               "company": ["已有同名客户（不计“有限公司”、空格和全角字符）。"]}
    english = admin.post("/leads", json=lead_body(company="锦瑞物业管理", phone="13912340077"),
                         headers={"Accept-Language": "en"})
    assert english.json["error"]["fields"]["phone"] == ["A customer has this number."]


def test_a_similar_company_name_can_be_confirmed_as_another_customer(admin):
    assert admin.post("/customers", json=customer_body(customer_name="锦程物业管理有限公司")).status_code == 201
    lid = admin.post("/leads", json=lead_body(company="锦程物业管理", confirm_duplicate=True)).json["id"]
    maybe = admin.post(f"/leads/{lid}/convert", json={})
    assert maybe.status_code == 409 and maybe.json["error"]["code"] == "possible_duplicate"
    sure = admin.post(f"/leads/{lid}/convert", json={"confirm_duplicate": True})
    assert sure.status_code == 201, sure.json


def test_the_convert_page_offers_create_anyway_only_for_a_similar_name(app, admin):
    """仍然创建 overrides a similar name (possible_duplicate); a phone another customer holds cannot be
    overridden, so the page does not offer it there (ticking it only met the same refusal)."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    assert admin.post("/customers", json=customer_body(customer_name="锦程物业管理有限公司")).status_code == 201
    assert admin.post("/customers", json=customer_body(phone="13912340001")).status_code == 201
    similar = admin.post("/leads", json=lead_body(company="锦程物业管理", confirm_duplicate=True)).json["id"]
    phone = admin.post("/leads", json=lead_body(company="全新物业有限公司", phone="13912340001",
                                                confirm_duplicate=True)).json["id"]
    client = page_client(app, admin.tenant)
    base = f"/t/{admin.tenant.code}"

    def convert(lid, name):
        form = client.get(f"{base}/leads/{lid}/convert")
        return client.post(f"{base}/leads/{lid}/convert", data={
            "csrf_token": csrf_from(form.text), "customer_type": "enterprise", "customer_name": name, "level": "normal",
            "phone": "13912340001" if lid == phone else ""})

    maybe = convert(similar, "锦程物业管理")
    assert maybe.status_code == 409 and 'name="confirm_duplicate"' in maybe.text
    taken = convert(phone, "全新物业有限公司")
    assert taken.status_code == 409 and 'name="confirm_duplicate"' not in taken.text


# ---------------------------------------------------------------------- pages


def test_a_refused_action_on_the_lead_page_is_shown_as_an_error(app, team):
    """A claim, an assignment or a return the CRM refused came back on the lead's page as a plain black-bordered
    box (flashed as "error", a category no style knows), not the red of every other refusal: it is "danger"."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    t = team.tenant
    lid = team.api("s1").post("/leads", json=lead_body(lead_name="分配线索")).json["id"]
    client = _login(app, t, "lmgr", PASSWORD)
    base = f"/t/{t.code}"
    token = csrf_from(client.get(f"{base}/leads/{lid}").text)
    refused = client.post(f"{base}/leads/{lid}/assign", data={"csrf_token": token,  # to whom it already is
                                                              "to_user_id": str(team.ids["s1"])},
                          follow_redirects=True)
    assert refused.status_code == 200 and "该用户已是这条线索的负责人" in refused.text.split("alert-danger")[1][:200]
    assert "alert-error" not in refused.text


def test_a_refused_return_or_assignment_is_marked_at_its_field_with_the_text_kept(app, team):
    """退回线索池 with the reason empty, or 分配 with nobody chosen, came back as a line above the lead's page
    ("部分字段无效。 此项为必填项。"), and a reason too long was lost: the page comes again with the message under the
    field and what was typed kept; nothing changes."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    t = team.tenant
    lid = team.api("s1").post("/leads", json=lead_body(lead_name="退回线索")).json["id"]
    base = f"/t/{t.code}/leads/{lid}"
    owner = _login(app, t, "ls1", PASSWORD)
    token = csrf_from(owner.get(base).text)

    def block(page, field):
        return page.text.split(f'id="field-{field}"')[1].split('<div class="field')[0]

    empty = owner.post(f"{base}/return", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422 and "此项为必填项。" in block(empty, "reason")
    long_reason = "客户暂无预算" * 40
    too_long = owner.post(f"{base}/return", data={"csrf_token": token, "reason": long_reason})
    assert too_long.status_code == 422 and f'value="{long_reason}"' in block(too_long, "reason")
    manager = _login(app, t, "lmgr", PASSWORD)
    nobody = manager.post(f"{base}/assign", data={"csrf_token": csrf_from(manager.get(base).text), "to_user_id": ""})
    assert nobody.status_code == 422 and "此项为必填项。" in block(nobody, "to_user_id")
    assert team.api("s1").get(f"/leads/{lid}").json["owner"]["id"] == str(team.ids["s1"])
    back = owner.post(f"{base}/return", data={"csrf_token": token, "reason": "客户暂无预算"})
    assert back.status_code == 302 and team.api("s1").get(f"/leads/{lid}").json["owner"] is None


def test_the_lead_forms_ask_for_phone_numbers_with_a_number_pad(app, team):
    """新建线索, 编辑线索 and 转为客户 showed their phone boxes as plain text (a full keyboard on a phone) where the
    customer and contact forms ask with type="tel": every phone box is a tel input."""
    from tests.tenant_runtime.crm import PASSWORD

    t = team.tenant
    lid = team.api("s1").post("/leads", json=lead_body(phone="13912340088")).json["id"]
    client = _login(app, t, "ls1", PASSWORD)
    base = f"/t/{t.code}/leads"
    for path, names in (("/new", ("phone",)), (f"/{lid}/edit", ("phone",)),
                        (f"/{lid}/convert", ("phone", "contact_phone"))):
        page = client.get(base + path)
        assert page.status_code == 200, path
        for name in names:
            box = re.search(rf'<input[^>]*name="{name}"[^>]*>', page.text).group(0)
            assert 'type="tel"' in box, (path, box)


def _login(app, tenant, username, password):
    from tests.conftest import csrf_from

    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    resp = client.post(f"/t/{tenant.code}/login", data={"username": username, "password": password,
                                                         "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302
    return client


def test_the_new_lead_page_names_the_lead_that_holds_the_phone(app, team):
    """A phone already on a lead in the pool: the page says which lead (linked) and that it can be claimed, not
    only 已被占用; one on a deleted lead says an administrator can restore it."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    admin = team.api("admin")
    pooled = admin.post("/leads", json=lead_body(lead_name="池中的老线索", owner_id="pool", phone="13911112222")).json["id"]
    gone = admin.post("/leads", json=lead_body(lead_name="删掉的线索", phone="13911113333")).json["id"]
    assert admin.delete(f"/leads/{gone}").status_code == 204
    client = _login(app, team.tenant, "ls1", PASSWORD)
    base = f"/t/{team.tenant.code}"
    form = client.get(f"{base}/leads/new")
    page = client.post(f"{base}/leads/new", data={"csrf_token": csrf_from(form.text), "lead_name": "新线索",
                                                  "phone": "139 1111 2222", "source": "website"})
    assert page.status_code == 409
    assert f'href="{base}/leads/{pooled}"' in page.text and "池中的老线索" in page.text and "打开即可领取" in page.text
    page = client.post(f"{base}/leads/new", data={"csrf_token": csrf_from(form.text), "lead_name": "新线索",
                                                  "phone": "13911113333", "source": "website"})
    assert page.status_code == 409 and "删掉的线索" in page.text and "可请管理员恢复" in page.text
    assert f"/leads/{gone}" not in page.text


def test_the_edit_page_of_a_followed_up_lead_does_not_offer_new(app, admin):
    from tests.tenant_runtime.crm import page_client

    fresh = admin.post("/leads", json=lead_body()).json["id"]
    followed = admin.post("/leads", json=lead_body()).json["id"]
    assert admin.patch(f"/leads/{followed}", json={"status": "following"}).status_code == 200
    client = page_client(app, admin.tenant)
    base = f"/t/{admin.tenant.code}"
    assert '<option selected value="new">' in client.get(f"{base}/leads/{fresh}/edit").text
    page = client.get(f"{base}/leads/{followed}/edit").text
    assert 'value="following"' in page and 'value="new"' not in page


def test_pages_claim_follow_up_and_convert_without_javascript(app, team):
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    t = team.tenant
    lid = team.api("admin").post("/leads", json=lead_body(lead_name="页面线索", company="页面转化有限公司",
                                                          owner_id="pool", source="exhibition")).json["id"]
    client = _login(app, t, "ls1", PASSWORD)
    base = f"/t/{t.code}"
    listing = client.get(f"{base}/leads/?view=pool")
    assert listing.status_code == 200 and "页面线索" in listing.text
    detail = client.get(f"{base}/leads/{lid}")
    assert detail.status_code == 200
    token = csrf_from(detail.text)
    claimed = client.post(f"{base}/leads/{lid}/claim", data={"csrf_token": token}, follow_redirects=True)
    assert claimed.status_code == 200 and "ls1名" in claimed.text
    assert "退回线索池" in claimed.text and "退回公海" not in claimed.text  # a lead goes back to its lead pool
    history = claimed.text[claimed.text.index('class="timeline history"'):]
    assert "领取" in history and "公海" not in history  # the lead's history speaks of its pool, not the 公海
    followed = client.post(f"{base}/follow-ups/new", data={"csrf_token": token, "lead_id": lid, "follow_type": "phone",
                                                          "content": "页面上记的跟进"})
    assert followed.status_code == 302 and f"/leads/{lid}" in followed.headers["Location"]
    assert "页面上记的跟进" in client.get(f"{base}/leads/{lid}").text
    form = client.get(f"{base}/leads/{lid}/convert")
    assert form.status_code == 200 and "页面转化有限公司" in form.text
    done = client.post(f"{base}/leads/{lid}/convert", data={"csrf_token": token, "customer_type": "enterprise",
                                                           "customer_name": "页面转化有限公司", "level": "normal"})
    assert done.status_code == 302, done.text
    customer_page = client.get(done.headers["Location"])
    assert customer_page.status_code == 200 and "页面线索" in customer_page.text and "页面上记的跟进" in customer_page.text
    assert ">展会</td>" in customer_page.text and "exhibition" not in customer_page.text  # the source lead's source


def test_home_shows_my_leads_to_follow_up(app, team):
    from tests.tenant_runtime.crm import PASSWORD

    team.api("s1").post("/leads", json=lead_body(lead_name="待跟进的线索"))
    done = team.api("s1").post("/leads", json=lead_body(lead_name="已约好的线索")).json["id"]
    team.api("s1").post("/follow-ups", json={"lead_id": done, "follow_type": "phone", "content": "x",
                                             "next_follow_time": "2099-01-01T09:00"})
    home = _login(app, team.tenant, "ls1", PASSWORD).get(f"/t/{team.tenant.code}/")
    assert home.status_code == 200
    panel = home.text.split('id="my-leads"', 1)[1].split("</section>", 1)[0]
    assert "待跟进的线索" in panel and "已约好的线索" not in panel
    assert "已约好的线索" in home.text.split('id="recent"', 1)[1]  # its follow-up is recent activity


def test_an_attachment_on_a_lead_follow_up_is_seen_exactly_by_who_sees_the_lead(app, team):
    """The download checks the follow-up's own record: a lead's attachment is never judged by the customer
    that happens to share the lead's id."""
    import io

    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    t = team.tenant
    base = f"/t/{t.code}"
    lid = team.api("s1").post("/leads", json=lead_body()).json["id"]
    # s2 owns a customer whose id equals the lead's
    sql(t, "INSERT INTO crm_customer (id, customer_name, name_key, customer_type, level, status, deal_status, "
           "owner_id, dept_id, created_by, created_at, updated_at) VALUES (:i, '同号客户', '同号客户', 'enterprise', "
           "'normal', 'active', 'potential', :o, :d, :o, UTC_TIMESTAMP(), UTC_TIMESTAMP())",
        i=int(lid), o=team.ids["s2"], d=team.depts["group2"])
    s1 = _login(app, t, "ls1", PASSWORD)
    token = csrf_from(s1.get(f"{base}/leads/{lid}").text)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    posted = s1.post(f"{base}/follow-ups/new", data={"csrf_token": token, "lead_id": lid, "follow_type": "visit",
                                                     "content": "名片", "attachment": (io.BytesIO(png), "card.png")},
                     content_type="multipart/form-data")
    assert posted.status_code == 302, posted.text
    attachment = sql(t, "SELECT a.id FROM crm_attachment a JOIN crm_follow_up f ON f.id = a.owner_id "
                        "WHERE f.relation_type = 'lead' AND f.relation_id = :i", i=int(lid))[0][0]

    def download(client):
        resp = client.get(f"{base}/attachments/{attachment}")
        resp.close()  # a sent file is streamed: close it as a browser would
        return resp.status_code

    assert download(s1) == 200
    assert download(_login(app, t, "lmgr", PASSWORD)) == 200
    assert download(_login(app, t, "ls2", PASSWORD)) == 404


def test_the_create_page_shows_bad_fields_and_saves_nothing(app, team):
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    t = team.tenant
    base = f"/t/{t.code}"
    client = _login(app, t, "ls1", PASSWORD)
    form = client.get(f"{base}/leads/new")
    assert form.status_code == 200
    token = csrf_from(form.text)
    before = count(t, "crm_lead")
    bad = client.post(f"{base}/leads/new", data={"csrf_token": token, "lead_name": " ", "phone": "12345",
                                                 "status": "new"})
    assert bad.status_code == 422
    assert 'id="field-lead_name"' in bad.text and 'id="field-phone"' in bad.text and "has-error" in bad.text
    assert count(t, "crm_lead") == before
    good = client.post(f"{base}/leads/new", data={"csrf_token": token, "lead_name": "页面新建线索",
                                                  "phone": "13800138400", "status": "new", "owner_id": "pool"})
    assert good.status_code == 302
    assert sql(t, "SELECT owner_id FROM crm_lead WHERE lead_name = '页面新建线索'") == [(None,)]
    again = client.post(f"{base}/leads/new", data={"csrf_token": token, "lead_name": "重复", "phone": "13800138400",
                                                   "status": "new"})
    assert again.status_code == 409 and "has-error" in again.text and count(t, "crm_lead") == before + 1


# ---------------------------------------------------------------------- soft delete and restore


def _lead_with_attachment(app, team, **body):
    """s1's lead with a follow-up carrying an attachment (posted through the page, as a user does)."""
    import io

    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    t = team.tenant
    base = f"/t/{t.code}"
    lid = team.api("s1").post("/leads", json=lead_body(**body)).json["id"]
    s1 = _login(app, t, "ls1", PASSWORD)
    token = csrf_from(s1.get(f"{base}/leads/{lid}").text)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    posted = s1.post(f"{base}/follow-ups/new", data={"csrf_token": token, "lead_id": lid, "follow_type": "visit",
                                                     "content": "删前的跟进", "attachment": (io.BytesIO(png), "c.png"),
                                                     "next_follow_time": "2099-01-01T09:00"},
                     content_type="multipart/form-data")
    assert posted.status_code == 302, posted.text
    fid, attachment = sql(t, "SELECT f.id, a.id FROM crm_attachment a JOIN crm_follow_up f ON f.id = a.owner_id "
                             "WHERE f.relation_type = 'lead' AND f.relation_id = :i", i=int(lid))[0]
    return lid, str(fid), attachment, s1


def test_delete_keeps_the_lead_its_follow_ups_and_attachments_and_hides_it_everywhere(app, team):
    from tests.conftest import csrf_from

    t = team.tenant
    base = f"/t/{t.code}"
    lid, fid, attachment, s1_page = _lead_with_attachment(app, team, lead_name="将删除的线索", phone="13800138501",
                                                          pool_id=team.pool_id)
    s1, admin = team.api("s1"), team.api("admin")
    assert s1.get(f"/follow-ups/{fid}").status_code == 200
    home = s1_page.get(f"{base}/")
    assert "将删除的线索" in home.text  # due for a follow-up: on the home panel before the delete
    assert s1.delete(f"/leads/{lid}").status_code == 403  # a sales user may not delete
    assert team.api("mgr").delete(f"/leads/{lid}").status_code == 204
    # nothing is lost: the row, its follow-up and the attachment stay, marked deleted by the manager
    assert sql(t, "SELECT deleted_by, deleted_at IS NOT NULL FROM crm_lead WHERE id = :i", i=int(lid)) \
        == [(team.ids["mgr"], 1)]
    assert sql(t, "SELECT COUNT(*) FROM crm_follow_up WHERE id = :i", i=int(fid))[0][0] == 1
    assert sql(t, "SELECT COUNT(*) FROM crm_attachment WHERE id = :i", i=attachment)[0][0] == 1
    # ... and it is gone for every user, the administrator included
    for name in ("s1", "mgr", "admin"):
        client = team.api(name)
        assert "将删除的线索" not in _visible(client), name
        assert client.get(f"/leads/{lid}").status_code == 404
        assert client.patch(f"/leads/{lid}", json={"remark": "x"}).status_code == 404
        assert client.delete(f"/leads/{lid}").status_code == (403 if name == "s1" else 404)
        assert client.get(f"/leads/{lid}/history").status_code == 404
        assert client.get(f"/follow-ups/{fid}").status_code == 404
        assert fid not in {f["id"] for f in client.get("/follow-ups?limit=200").json["items"]}
    assert s1.post(f"/leads/{lid}/return", json={"reason": "x"}).status_code == 404
    assert admin.post(f"/leads/{lid}/assign", json={"user_id": str(team.ids["s1"])}).status_code == 404
    assert s1.post(f"/leads/{lid}/convert", json={}).status_code == 404
    follow = s1.post("/follow-ups", json={"lead_id": lid, "follow_type": "phone", "content": "x"})
    assert follow.status_code == 422 and "lead_id" in follow.json["error"]["fields"]
    download = s1_page.get(f"{base}/attachments/{attachment}")
    download.close()
    assert download.status_code == 404
    assert s1_page.get(f"{base}/leads/{lid}").status_code == 404
    assert "将删除的线索" not in s1_page.get(f"{base}/").text  # the home panel
    assert "将删除的线索" not in s1_page.get(f"{base}/leads/?view=all").text
    token = csrf_from(s1_page.get(f"{base}/leads/").text)
    assert s1_page.post(f"{base}/leads/{lid}/return", data={"csrf_token": token, "reason": "x"}).status_code == 404
    # the phone stays taken until the lead is purged
    again = s1.post("/leads", json=lead_body(phone="13800138501"))
    assert again.status_code == 409 and "phone" in again.json["error"]["fields"]
    assert again.json["error"]["duplicates"][0]["visible"] is False


def test_a_deleted_pool_lead_is_neither_counted_claimed_nor_recycled(app, team):
    from tenant_runtime.context import current_tenant
    from tenant_runtime.core import jobs
    from tenant_runtime.core.tasks import TASKS
    from tenant_runtime.models import utcnow

    t, admin = team.tenant, team.api("admin")
    pool = admin.post("/lead-pools", json={"pool_name": "删除回收池", "is_public": True, "recycle_days": 15}).json["id"]
    in_pool = admin.post("/leads", json=lead_body(lead_name="池里删的", owner_id="pool", pool_id=pool)).json["id"]
    kept = admin.post("/leads", json=lead_body(lead_name="池里留的", owner_id="pool", pool_id=pool)).json["id"]
    stale = team.api("s1").post("/leads", json=lead_body(pool_id=pool)).json["id"]
    assert admin.get(f"/lead-pools/{pool}").json["lead_count"] == 2
    for lid in (in_pool, stale):
        assert admin.delete(f"/leads/{lid}").status_code == 204
    assert admin.get(f"/lead-pools/{pool}").json["lead_count"] == 1
    pooled = {i["id"] for i in team.api("s2").get(f"/leads?view=pool&pool_id={pool}").json["items"]}
    assert pooled == {kept}
    assert team.api("s2").post(f"/leads/{in_pool}/claim").status_code == 404
    old = utcnow() - timedelta(days=40)
    sql(t, "UPDATE crm_lead SET claimed_at = :d, created_at = :d WHERE id = :i", d=old, i=int(stale))
    with app.app_context():
        jobs.bind(t.id)
        try:
            result = TASKS["leads.recycle"].run(current_tenant.session, utcnow())
        finally:
            current_tenant.session.rollback()
            current_tenant.close()
    assert result == {"recycled": 0}
    assert sql(t, "SELECT owner_id FROM crm_lead WHERE id = :i", i=int(stale)) == [(team.ids["s1"],)]


def test_a_converted_lead_is_not_deleted_and_a_deleted_one_leaves_the_customer_view(admin):
    lid = admin.post("/leads", json=lead_body(lead_name="转了的线索")).json["id"]
    customer = admin.post(f"/leads/{lid}/convert", json={"customer_name": f"软删转化{lid}有限公司"}).json["customer"]
    refused = admin.delete(f"/leads/{lid}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "lead_converted"
    assert admin.get(f"/leads/{lid}").status_code == 200
    # a second lead attached to the same customer, then deleted: the 360 view lists only the live one
    other = admin.post("/leads", json=lead_body(lead_name="附上的线索")).json["id"]
    sql(admin.tenant, "UPDATE crm_lead SET converted_customer_id = :c WHERE id = :i", c=int(customer["id"]),
        i=int(other))
    assert {s["id"] for s in admin.get(f"/customers/{customer['id']}/360").json["source_leads"]} == {lid, other}
    assert admin.delete(f"/leads/{other}").status_code == 204
    assert [s["id"] for s in admin.get(f"/customers/{customer['id']}/360").json["source_leads"]] == [lid]


def test_an_administrator_restores_a_deleted_lead_with_its_follow_ups(app, team):
    lid, fid, attachment, s1_page = _lead_with_attachment(app, team, lead_name="待恢复的线索", phone="13800138502")
    s1, mgr, admin = team.api("s1"), team.api("mgr"), team.api("admin")
    assert s1.post(f"/leads/{lid}/restore").status_code == 403
    live = admin.post(f"/leads/{lid}/restore")
    assert live.status_code == 404  # not deleted: nothing to restore
    assert mgr.delete(f"/leads/{lid}").status_code == 204
    binned = next(i for i in admin.get("/leads/deleted").json["items"] if i["id"] == lid)
    assert binned["deleted_by"] == str(team.ids["mgr"]) and binned["deleted_at"].endswith("+08:00")
    assert s1.get("/leads/deleted").status_code == 403 and mgr.get("/leads/deleted").status_code == 403
    assert mgr.post(f"/leads/{lid}/restore").status_code == 403  # a manager may delete, not restore
    restored = admin.post(f"/leads/{lid}/restore")
    assert restored.status_code == 200, restored.json
    assert restored.json["owner"]["id"] == str(team.ids["s1"]) and restored.json["phone"] == "+8613800138502"
    assert restored.json["deleted_at"] is None and restored.json["deleted_by"] is None
    assert lid not in {i["id"] for i in admin.get("/leads/deleted").json["items"]}
    assert s1.get(f"/leads/{lid}").status_code == 200 and s1.get(f"/follow-ups/{fid}").status_code == 200
    download = s1_page.get(f"/t/{team.tenant.code}/attachments/{attachment}")
    download.close()
    assert download.status_code == 200
    assert admin.post(f"/leads/{lid}/restore").status_code == 404  # restored already: idempotent answer
    assert sql(team.tenant, "SELECT deleted_at, deleted_by FROM crm_lead WHERE id = :i", i=int(lid)) == [(None, None)]


def test_the_recycle_bin_page_restores_without_javascript(app, team):
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD, page_client

    t = team.tenant
    base = f"/t/{t.code}"
    lid = team.api("s1").post("/leads", json=lead_body(lead_name="页面恢复的线索")).json["id"]
    assert team.api("mgr").delete(f"/leads/{lid}").status_code == 204
    admin = page_client(app, t)
    listing = admin.get(f"{base}/leads/")
    assert f"{base}/leads/deleted" in listing.text
    binned = admin.get(f"{base}/leads/deleted")
    assert binned.status_code == 200 and "页面恢复的线索" in binned.text
    done = admin.post(f"{base}/leads/{lid}/restore", data={"csrf_token": csrf_from(binned.text)})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/leads/{lid}")
    assert "页面恢复的线索" in admin.get(done.headers["Location"]).text
    assert f"{base}/leads/deleted" not in _login(app, t, "ls1", PASSWORD).get(f"{base}/leads/").text


def test_a_pool_that_holds_leads_is_not_deleted(team):
    admin = team.api("admin")
    empty = admin.post("/lead-pools", json={"pool_name": "空池", "is_public": True}).json["id"]
    full = admin.post("/lead-pools", json={"pool_name": "有线索的池", "is_public": True}).json["id"]
    lid = team.api("s1").post("/leads", json=lead_body(pool_id=full)).json["id"]  # owned, but belongs to the pool
    assert team.api("mgr").delete(f"/lead-pools/{empty}").status_code == 403
    refused = admin.delete(f"/lead-pools/{full}")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "pool_not_empty"
    assert admin.delete(f"/leads/{lid}").status_code == 204
    still = admin.delete(f"/lead-pools/{full}")  # a deleted lead still belongs to it (a restore returns it there)
    assert still.status_code == 409 and still.json["error"]["code"] == "pool_not_empty"
    assert admin.get(f"/lead-pools/{full}").status_code == 200
    # the default pool, emptied for the test, is still refused (every lead created without a pool lands in it)
    default = admin.post("/leads", json=lead_body()).json["pool"]["id"]
    moved = sql(team.tenant, "SELECT id FROM crm_lead WHERE pool_id = :p", p=int(default))
    sql(team.tenant, "UPDATE crm_lead SET pool_id = :f WHERE pool_id = :p", f=int(full), p=int(default))
    try:
        refused_default = admin.delete(f"/lead-pools/{default}")
        assert refused_default.status_code == 409 and refused_default.json["error"]["code"] == "default_pool"
    finally:
        sql(team.tenant, f"UPDATE crm_lead SET pool_id = :p WHERE id IN ({','.join(str(r[0]) for r in moved)})",
            p=int(default))
    assert admin.delete(f"/lead-pools/{empty}").status_code == 204
    assert admin.get(f"/lead-pools/{empty}").status_code == 404


@pytest.mark.parametrize("body,bad", [
    ({"customer_name": ""}, "customer_name"),
    ({"with_contact": True, "contact_name": ""}, "contact_name"),
    ({"with_contact": True, "contact_phone": ""}, "contact_phone"),
])
def test_conversion_without_a_required_name_is_422_naming_it(admin, body, bad):
    lid = admin.post("/leads", json=lead_body(phone=None)).json["id"]
    before = count(admin.tenant, "crm_customer")
    resp = admin.post(f"/leads/{lid}/convert", json=body)
    assert resp.status_code == 422 and bad in resp.json["error"]["fields"], resp.json
    assert count(admin.tenant, "crm_customer") == before and admin.get(f"/leads/{lid}").json["status"] != "converted"


def test_the_convert_form_shows_the_leads_phone_as_typed(app, admin):
    """The lead's stored +86 number fills the customer's and the contact's phone as its 11 digits."""
    import re

    from tests.tenant_runtime.crm import page_client

    t = admin.tenant
    lid = admin.post("/leads", json=lead_body(phone="17716951988")).json["id"]
    form = page_client(app, t).get(f"/t/{t.code}/leads/{lid}/convert")
    assert form.status_code == 200
    for name in ("phone", "contact_phone"):
        assert re.search(rf'<input[^>]*name="{name}"[^>]*value="17716951988"', form.text), name
    assert "+8617716951988" not in form.text


def _marked(html, name):
    """Whether the field's label carries the required marker, as the form field macro writes it."""
    import re

    return re.search(rf'<label for="{name}">[^<]*<span class="req">\*</span></label>', html) is not None


def test_required_fields_are_marked(app, admin):
    """线索名称 on the new lead, 客户名称 on the conversion, the pool's name and the follow-up's content are
    required: each label shows the marker, and a field that is not required shows none."""
    from tests.tenant_runtime.crm import page_client

    t = admin.tenant
    client = page_client(app, t)
    new = client.get(f"/t/{t.code}/leads/new").text
    assert _marked(new, "lead_name") and not _marked(new, "phone") and not _marked(new, "company")
    lid = admin.post("/leads", json=lead_body()).json["id"]
    convert = client.get(f"/t/{t.code}/leads/{lid}/convert").text
    assert _marked(convert, "customer_name") and not _marked(convert, "tax_id")
    detail = client.get(f"/t/{t.code}/leads/{lid}").text
    assert _marked(detail, "content") and _marked(detail, "reason") and _marked(detail, "to_user_id")
    pool = client.get(f"/t/{t.code}/lead-pools/new").text
    assert _marked(pool, "pool_name") and not _marked(pool, "description")


def test_the_convert_page_ticks_the_contact_it_fills_in(app, admin):
    """The contact fields come filled in from the lead, so creating the contact is ticked; unticked on the post,
    no contact is made. The API still makes one only when asked."""
    import re

    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    t = admin.tenant
    lid = admin.post("/leads", json=lead_body(lead_name="王经理", phone="13800138401")).json["id"]
    client = page_client(app, t)
    form = client.get(f"/t/{t.code}/leads/{lid}/convert")
    assert re.search(r'<input checked[^>]*name="with_contact"', form.text), form.text
    no_phone = admin.post("/leads", json=lead_body(lead_name="只有名字", phone=None, email="x@example.com")).json["id"]
    assert not re.search(r'<input checked[^>]*name="with_contact"',
                         client.get(f"/t/{t.code}/leads/{no_phone}/convert").text)  # nothing to make a contact of
    done = client.post(f"/t/{t.code}/leads/{lid}/convert", data={
        "csrf_token": csrf_from(form.text), "customer_type": "enterprise", "customer_name": "勾选测试有限公司",
        "phone": "13800138401", "level": "normal", "contact_name": "王经理", "contact_phone": "13800138401"})
    assert done.status_code == 302, done.text
    customer = done.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    assert admin.get(f"/contacts?customer_id={customer}").json["items"] == []
    other = admin.post("/leads", json=lead_body(phone="13800138402")).json["id"]
    converted = admin.post(f"/leads/{other}/convert", json={"customer_name": "接口转化有限公司"})
    assert converted.status_code == 201, converted.json
    assert converted.json["contact"] is None


def test_a_new_lead_that_is_already_a_customer_says_so_on_the_page(app, admin):
    """新建线索 with a customer's phone: the page names the customer (a link to it), the lead is not saved, and
    only then is 仍然保存 offered; ticked, the lead is saved."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    cid = admin.post("/customers", json=customer_body(customer_name="北京恒泰物流有限公司", phone="13911503392")).json["id"]
    client = page_client(app, admin.tenant)
    base = f"/t/{admin.tenant.code}"
    blank = client.get(f"{base}/leads/new")
    assert 'name="confirm_duplicate"' not in blank.text  # not asked before there is a match
    form = {"csrf_token": csrf_from(blank.text), "lead_name": "周先生", "phone": "13911503392", "status": "new"}
    refused = client.post(f"{base}/leads/new", data=form)
    assert refused.status_code == 409 and 'id="duplicates"' in refused.text
    assert f'href="{base}/customers/{cid}">北京恒泰物流有限公司</a>' in refused.text
    assert 'name="confirm_duplicate"' in refused.text and admin.get("/leads?q=周先生").json["items"] == []
    saved = client.post(f"{base}/leads/new", data={**form, "confirm_duplicate": "y"})
    assert saved.status_code == 302 and len(admin.get("/leads?q=周先生").json["items"]) == 1
