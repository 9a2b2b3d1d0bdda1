"""The public pool (公海) on real MariaDB tenants: every rule kind and AND/OR combination, days per level,
rule order, the pool clock, exemptions through their registry, the dry run equal to the real run,
idempotence, locked customers, caps and cool-down, a claim race, assign within scope, return with a
reason, reminders deduplicated per customer and day, and the pages."""

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.tenant_runtime.crm import add_dept, add_user, at_once, tenant_api

DAY = timedelta(days=1)


def now():
    return datetime.now(UTC).replace(tzinfo=None)


def execute(tenant, sql, params=None):
    engine = tenant.engine()
    with engine.begin() as conn:
        result = conn.execute(sa.text(sql), params or {})
        rows = result.all() if result.returns_rows else result.lastrowid
    engine.dispose()
    return rows


def user_dept(tenant, user_id):
    return execute(tenant, "SELECT dept_id FROM sys_user WHERE id = :u", {"u": user_id})[0][0]


def add_customer(tenant, owner, quiet=10, followed=None, level="normal", **cols):
    """A customer owned by ``owner`` since ``quiet`` days, last followed up ``followed`` days ago (None:
    never). Written straight into the database, as time cannot be waited for."""
    t = now()
    values = {"customer_name": f"客户{secrets.token_hex(3)}", "customer_type": "enterprise", "level": level,
              "status": "active", "deal_status": "potential", "owner_id": owner,
              "dept_id": user_dept(tenant, owner) if owner else None,
              "owned_since": t - quiet * DAY if owner else None,
              "last_follow_up_at": t - followed * DAY if followed is not None else None,
              "created_by": owner or 1, "created_at": t - (quiet + 1) * DAY, "updated_at": t, **cols}
    values["name_key"] = values["customer_name"]
    names = ", ".join(values)
    return execute(tenant, f"INSERT INTO crm_customer ({names}) VALUES ({', '.join(':' + k for k in values)})",
                   values)


def customer(tenant, customer_id):
    return execute(tenant, "SELECT owner_id, status, sea_time, dept_id, owned_since FROM crm_customer "
                           "WHERE id = :c", {"c": customer_id})[0]


def pool_row(tenant, customer_id):
    rows = execute(tenant, "SELECT original_owner_id, recycle_reason, inactive_days, pool_status, assigned_to, "
                           "id FROM customer_pool WHERE customer_id = :c", {"c": str(customer_id)})
    return rows[0] if rows else None


def inactive_rule(days, match="all", *extra):
    return {"match": match, "items": [{"field": "inactive_days", "op": "gte", "value": days}, *extra]}


@pytest.fixture
def world(app, tenants):
    """销售部 with two sales users and their manager; 客服部 with a sales user outside the manager's scope."""
    t = tenants[0]
    sales, other = add_dept(t, "销售部"), add_dept(t, "客服部")
    users = {"s1": add_user(t, "s1", ("sales",), sales), "s2": add_user(t, "s2", ("sales",), sales),
             "mgr": add_user(t, "mgr", ("sales_manager",), sales), "far": add_user(t, "far", ("sales",), other)}

    class World:
        tenant, admin = t, tenant_api(app, t)

        def api(self, name):
            return tenant_api(app, t, name)

        def rule(self, conditions, name=None, **kw):
            resp = self.admin.post("/pool/rules", json={"rule_name": name or f"规则{secrets.token_hex(2)}",
                                                        "conditions": conditions, **kw})
            assert resp.status_code == 201, resp.json
            return resp.json

        def preview(self):
            items, cursor = [], None
            while True:
                resp = self.admin.get("/pool/preview?limit=2" + (f"&cursor={cursor}" if cursor else ""))
                assert resp.status_code == 200, resp.json
                items += resp.json["items"]
                cursor = resp.json["next_cursor"]
                if cursor is None:
                    return resp.json["total"], items

        def taken(self):
            return {int(i["customer_id"]) for i in self.preview()[1]}

        def settings(self, **values):
            resp = self.admin.patch("/pool/settings", json=values)
            assert resp.status_code == 200, resp.json
            return resp.json

    w = World()
    w.users = users
    return w


# ---------------------------------------------------------------------- rules: validation


@pytest.mark.parametrize("conditions,bad", [
    (None, "conditions"),
    ([], "conditions"),
    ({"match": "xor", "items": [{"field": "inactive_days", "op": "gte", "value": 3}]}, "conditions.match"),
    ({"match": "all", "items": []}, "conditions.items"),
    ({"match": "all", "items": [{"field": "level", "op": "in", "value": ["normal"]}]}, "conditions.items"),
    ({"match": "all", "items": [{"field": "inactive_days", "op": "gte", "value": 0}]}, "conditions.items[0].value"),
    ({"match": "all", "items": [{"field": "inactive_days", "op": "gte", "value": "30"}]},
     "conditions.items[0].value"),
    ({"match": "all", "items": [{"field": "inactive_days", "op": "lt", "value": 30}]}, "conditions.items[0].op"),
    ({"match": "all", "items": [{"field": "inactive_days", "op": "gte", "value": {"vip": 3}}]},
     "conditions.items[0].value.vip"),
    ({"match": "all", "items": [{"field": "inactive_days", "op": "gte", "value": {"normal": 9999}}]},
     "conditions.items[0].value.normal"),
    ({"match": "any", "items": [{"field": "inactive_days", "op": "gte", "value": 30},
                                {"field": "owner_id", "op": "in", "value": [1]}]}, "conditions.items[1].field"),
    ({"match": "any", "items": [{"field": "inactive_days", "op": "gte", "value": 30},
                                {"field": "level", "op": "in", "value": ["vip"]}]}, "conditions.items[1].value"),
    ({"match": "any", "items": [{"field": "inactive_days", "op": "gte", "value": 30,
                                 "extra": 1}]}, "conditions.items[0].extra"),
    ({"match": "any", "items": [{"field": "inactive_days", "op": "gte", "value": 30}], "x": 1}, "conditions.x"),
    ({"match": "all", "items": [{"field": "inactive_days", "op": "gte", "value": 30},
                                {"field": "never_followed_up", "op": "is", "value": "yes"}]},
     "conditions.items[1].value"),
    # a JSON object or list where a name belongs is a bad name, not a server error
    ({"match": {"all": 1}, "items": [{"field": "inactive_days", "op": "gte", "value": 30}]}, "conditions.match"),
    ({"match": "all", "items": [{"field": ["inactive_days"], "op": "gte", "value": 30}]},
     "conditions.items[0].field"),
    ({"match": "all", "items": [{"field": "inactive_days", "op": {"gte": 1}, "value": 30}]},
     "conditions.items[0].op"),
])
def test_rule_conditions_are_checked_strictly_422_naming_the_bad_part(world, conditions, bad):
    body = {"rule_name": "坏规则"}
    if conditions is not None:
        body["conditions"] = conditions
    resp = world.admin.post("/pool/rules", json=body)
    assert resp.status_code == 422, resp.json
    assert bad in resp.json["error"]["fields"], resp.json
    assert world.admin.get("/pool/rules").json["items"] == []


def test_a_rule_is_created_changed_and_deleted_by_the_administrator_only(world):
    rule = world.rule(inactive_rule({"normal": 30, "important": 60}), name="三十天")
    assert rule["conditions"]["items"][0]["value"] == {"important": 60, "normal": 30}  # levels in their order
    assert world.api("s1").post("/pool/rules", json={"rule_name": "x", "conditions": inactive_rule(3)}
                                ).status_code == 403
    changed = world.admin.patch(f"/pool/rules/{rule['id']}", json={"enabled": False})
    assert changed.status_code == 200 and changed.json["enabled"] is False
    assert changed.json["conditions"] == rule["conditions"]
    bad = world.admin.patch(f"/pool/rules/{rule['id']}", json={"conditions": {"match": "all"}})
    assert bad.status_code == 422 and "conditions.items" in bad.json["error"]["fields"]
    assert world.admin.delete(f"/pool/rules/{rule['id']}").status_code == 204
    assert world.admin.get(f"/pool/rules/{rule['id']}").status_code == 404


# ---------------------------------------------------------------------- rules: what they take


def test_days_per_level(world):
    t, s1 = world.tenant, world.users["s1"]
    world.rule(inactive_rule({"important": 60, "normal": 30}))
    imp59, imp61 = add_customer(t, s1, 59, level="important"), add_customer(t, s1, 61, level="important")
    n29, n31 = add_customer(t, s1, 29), add_customer(t, s1, 31)
    potential = add_customer(t, s1, 500, level="potential")  # no number for its level: never taken
    assert world.taken() == {imp61, n31}
    assert {imp59, n29, potential}.isdisjoint(world.taken())


def test_days_count_from_the_later_of_the_last_follow_up_and_owned_since(world):
    t, s1 = world.tenant, world.users["s1"]
    world.rule(inactive_rule(30))
    followed_lately = add_customer(t, s1, quiet=100, followed=5)
    owned_lately = add_customer(t, s1, quiet=5, followed=100)
    both_old = add_customer(t, s1, quiet=40, followed=35)
    total, items = world.preview()
    assert total == 1 and items[0]["customer_id"] == str(both_old) and items[0]["inactive_days"] == 35
    assert {followed_lately, owned_lately}.isdisjoint(world.taken())


@pytest.mark.parametrize("match,extra,expected", [
    # AND: 30 days without follow-up, and not won
    ("all", [{"field": "deal_status", "op": "not_in", "value": ["won"]}], {"quiet_open", "quiet_individual",
                                                                           "quiet_never", "quiet_web"}),
    # AND: only enterprises
    ("all", [{"field": "customer_type", "op": "in", "value": ["enterprise"]}], {"quiet_open", "quiet_won",
                                                                               "quiet_never", "quiet_web"}),
    # AND: never followed up
    ("all", [{"field": "never_followed_up", "op": "is", "value": True}], {"quiet_never"}),
    ("all", [{"field": "never_followed_up", "op": "is", "value": False}], {"quiet_open", "quiet_won",
                                                                           "quiet_individual", "quiet_web"}),
    # AND: a source (NULL source is none of the listed ones)
    ("all", [{"field": "source", "op": "in", "value": ["website"]}], {"quiet_web"}),
    ("all", [{"field": "source", "op": "not_in", "value": ["website"]}], {"quiet_open", "quiet_won",
                                                                          "quiet_individual", "quiet_never"}),
    # AND: level
    ("all", [{"field": "level", "op": "in", "value": ["important"]}], set()),
    ("all", [{"field": "level", "op": "not_in", "value": ["important"]}], {"quiet_open", "quiet_won",
                                                                            "quiet_individual", "quiet_never",
                                                                            "quiet_web"}),
    # AND: created long ago (every quiet customer was created 41 days ago)
    ("all", [{"field": "created_days", "op": "gte", "value": 41}], {"quiet_open", "quiet_won",
                                                                     "quiet_individual", "quiet_never",
                                                                     "quiet_web"}),
    ("all", [{"field": "created_days", "op": "gte", "value": 200}], set()),
    # OR: 30 days without follow-up, or never followed up at all (the recent one too)
    ("any", [{"field": "never_followed_up", "op": "is", "value": True}], {"quiet_open", "quiet_won",
                                                                          "quiet_individual", "quiet_never",
                                                                          "quiet_web", "recent_never"}),
    # OR: 30 days, or a won deal (a recent won customer too)
    ("any", [{"field": "deal_status", "op": "in", "value": ["won"]}], {"quiet_open", "quiet_won",
                                                                       "quiet_individual", "quiet_never",
                                                                       "quiet_web", "recent_won"}),
])
def test_each_condition_and_its_and_or_combination(world, match, extra, expected):
    t, s1 = world.tenant, world.users["s1"]
    made = {
        "quiet_open": add_customer(t, s1, 40, followed=35),
        "quiet_won": add_customer(t, s1, 40, followed=35, deal_status="won"),
        "quiet_individual": add_customer(t, s1, 40, followed=35, customer_type="individual"),
        "quiet_never": add_customer(t, s1, 40),
        "quiet_web": add_customer(t, s1, 40, followed=35, source="website"),
        "recent_never": add_customer(t, s1, 2),
        "recent_won": add_customer(t, s1, 2, followed=1, deal_status="won"),
    }
    world.rule(inactive_rule(30, match, *extra))
    names = {v: k for k, v in made.items()}
    assert {names[c] for c in world.taken()} == expected


def test_several_rules_any_takes_and_the_first_in_order_is_credited(world):
    t, s1 = world.tenant, world.users["s1"]
    loose = world.rule(inactive_rule(10), name="十天", sort=2)
    strict = world.rule(inactive_rule(30), name="三十天", sort=1)
    world.rule(inactive_rule(1), name="停用", enabled=False)
    old, newer, fresh = add_customer(t, s1, 40), add_customer(t, s1, 15), add_customer(t, s1, 5)
    items = {int(i["customer_id"]): i for i in world.preview()[1]}
    assert set(items) == {old, newer}
    assert items[old]["rule_name"] == "三十天" and items[old]["rule_id"] == strict["id"]
    assert items[newer]["rule_name"] == "十天" and items[newer]["rule_id"] == loose["id"]
    assert fresh not in items


def test_no_enabled_rule_recycles_nobody(world):
    add_customer(world.tenant, world.users["s1"], 400)
    world.rule(inactive_rule(1), enabled=False)
    assert world.preview()[0] == 0
    assert world.admin.post("/pool/recycle").json == {"recycled": 0}


# ---------------------------------------------------------------------- the run


def test_the_dry_run_is_exactly_what_the_real_run_takes_and_a_second_run_takes_nothing(world):
    t, s1, s2 = world.tenant, world.users["s1"], world.users["s2"]
    world.rule(inactive_rule({"important": 60, "normal": 30, "potential": 15}), name="按级别")
    for k in range(12):
        add_customer(t, (s1, s2)[k % 2], quiet=10 + 7 * k, level=("important", "normal", "potential")[k % 3])
    deleted = add_customer(t, s1, 400, deleted_at=now())
    total, items = world.preview()
    assert total == len(items) > 3
    planned = {int(i["customer_id"]): (i["rule_name"], i["inactive_days"], int(i["owner_id"])) for i in items}
    assert deleted not in planned

    resp = world.admin.post("/pool/recycle")
    assert resp.status_code == 200 and resp.json == {"recycled": total}
    in_pool = execute(t, "SELECT id FROM crm_customer WHERE status = 'in_pool' AND owner_id IS NULL "
                         "AND sea_time IS NOT NULL")
    assert {r[0] for r in in_pool} == set(planned)
    for cid, (rule_name, days, owner) in planned.items():
        original, reason, inactive, status, assigned, row_id = pool_row(t, cid)
        assert (original, reason, inactive, status, assigned) == (str(owner), f"inactive_days:{rule_name}", days,
                                                                   "available", None)
        assert len(row_id) == 32 and uuid.UUID(row_id).version == 7 and uuid.UUID(row_id).hex == row_id
        history = world.admin.get(f"/customers/{cid}/history").json["items"]
        assert history[0]["action"] == "recycle"
        changes = {c["field"]: (c["old"], c["new"]) for c in history[0]["changes"]}
        assert changes["owner_id"] == (str(owner), None) and changes["status"] == ("active", "in_pool")
    again = world.admin.post("/pool/recycle")
    assert again.json == {"recycled": 0}
    assert execute(t, "SELECT COUNT(*) FROM customer_pool")[0][0] == total
    assert execute(t, "SELECT COUNT(*) FROM crm_change_log WHERE action = 'recycle'")[0][0] == total
    assert world.preview()[0] == 0


def test_customers_in_an_open_handover_are_never_recycled(world):
    t, s1 = world.tenant, world.users["s1"]
    world.rule(inactive_rule(30))
    locked, free, closed = add_customer(t, s1, 90), add_customer(t, s1, 90), add_customer(t, s1, 90)
    handover = execute(t, "INSERT INTO crm_handover (from_owner_id, handover_reason, current_stage, "
                          "started_automatically, created_at, updated_at) VALUES (:o, 'manual', 'preparation', 0, "
                          ":t, :t)", {"o": s1, "t": now()})
    execute(t, "INSERT INTO crm_handover_customer (handover_id, customer_id, open_marker) VALUES (:h, :c, 1)",
            {"h": handover, "c": locked})
    execute(t, "INSERT INTO crm_handover_customer (handover_id, customer_id, open_marker) VALUES (:h, :c, NULL)",
            {"h": handover, "c": closed})
    assert world.taken() == {free, closed}
    assert world.admin.post("/pool/recycle").json == {"recycled": 2}
    assert customer(t, locked)[:2] == (s1, "active") and pool_row(t, locked) is None


def test_exemptions_apply_through_their_registry_once_the_table_exists(world):
    """seed 002's crm_opportunity (status 1 = in progress) and crm_contract (status 3 = signed) do not exist
    yet; the test creates them as seed 002 defines their keys, and drops them after."""
    t, s1 = world.tenant, world.users["s1"]
    world.rule(inactive_rule(30))
    open_opp, won_opp, signed, draft = (add_customer(t, s1, 90) for _ in range(4))
    assert world.admin.get("/pool/settings").json["exemptions_in_force"] == []
    assert len(world.taken()) == 4  # switched on, but no table: nobody exempt
    try:
        execute(t, "CREATE TABLE crm_opportunity (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL, "
                   "status TINYINT NOT NULL DEFAULT 1, KEY idx_customer (customer_id))")
        execute(t, "CREATE TABLE crm_contract (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id BIGINT NOT NULL, "
                   "status TINYINT NOT NULL, KEY idx_customer (customer_id))")
        execute(t, "INSERT INTO crm_opportunity (customer_id, status) VALUES (:a, 1), (:b, 2)",
                {"a": open_opp, "b": won_opp})
        execute(t, "INSERT INTO crm_contract (customer_id, status) VALUES (:a, 3), (:b, 1)", {"a": signed, "b": draft})
        assert world.admin.get("/pool/settings").json["exemptions_in_force"] == ["open_opportunities",
                                                                                 "signed_contracts"]
        assert world.taken() == {won_opp, draft}
        world.settings(exempt_open_opportunities=False)
        assert world.taken() == {won_opp, draft, open_opp}
        world.settings(exempt_signed_contracts=False)
        assert world.taken() == {won_opp, draft, open_opp, signed}
        world.settings(exempt_open_opportunities=True, exempt_signed_contracts=True)
        assert world.admin.post("/pool/recycle").json == {"recycled": 2}
        assert customer(t, open_opp)[1] == "active" and customer(t, signed)[1] == "active"
    finally:
        execute(t, "DROP TABLE IF EXISTS crm_opportunity")
        execute(t, "DROP TABLE IF EXISTS crm_contract")


def test_the_scheduled_task_recycles_and_is_idempotent(app, world):
    from tenant_runtime.core import jobs
    from tenant_runtime.core.tasks import TASKS

    t = world.tenant
    world.rule(inactive_rule(30))
    taken = add_customer(t, world.users["s1"], 90)
    assert {"pool.recycle", "pool.remind"} <= set(TASKS)
    assert TASKS["pool.recycle"].order < TASKS["pool.remind"].order
    for expected in (1, 0):
        with app.app_context():
            tenant = jobs.bind(t.id)
            try:
                assert TASKS["pool.recycle"].run(tenant.session, now()) == {"recycled": expected}
            finally:
                tenant.close()
    assert customer(t, taken)[1] == "in_pool"


# ---------------------------------------------------------------------- claim, assign, return


def pooled(world, n=1, owner=None, days=90):
    """``n`` customers put in the pool by the recycling (their original owner ``owner``, default s2)."""
    owner = owner or world.users["s2"]
    ids = [add_customer(world.tenant, owner, days) for _ in range(n)]
    if not world.admin.get("/pool/rules").json["items"]:
        world.rule(inactive_rule(30))
    assert world.admin.post("/pool/recycle").json["recycled"] >= n
    return ids


def test_a_sales_user_claims_from_the_pool(world):
    t, s1 = world.tenant, world.users["s1"]
    (cid,) = pooled(world)
    listed = world.api("s1").get("/pool").json["items"]
    assert [c["id"] for c in listed] == [str(cid)]
    assert listed[0]["original_owner"]["id"] == str(world.users["s2"]) and listed[0]["pool_status"] == "available"
    assert listed[0]["sea_time"].endswith("+08:00")
    resp = world.api("s1").post(f"/pool/{cid}/claim")
    assert resp.status_code == 200, resp.json
    assert resp.json["owner"]["id"] == str(s1) and resp.json["status"] == "active"
    owner, status, sea_time, dept, owned_since = customer(t, cid)
    assert (owner, status, sea_time, dept) == (s1, "active", None, user_dept(t, s1))
    assert now() - owned_since < timedelta(minutes=5)  # the pool clock restarts
    assert pool_row(t, cid)[3:5] == ("claimed", str(s1))
    assert world.api("s1").get("/pool").json["items"] == []
    history = world.admin.get(f"/customers/{cid}/pool-history").json["items"]
    assert [h["action"] for h in history] == ["claim", "recycle"]
    again = world.api("s2").post(f"/pool/{cid}/claim")
    assert again.status_code == 409 and again.json["error"]["code"] == "not_in_pool"


def test_a_pool_customer_is_seen_before_claiming_without_its_phone_and_contacts(world):
    """Whoever may claim sees what the customer is, why it is in the pool and what was done with it (the
    follow-ups and moves), but not how to reach it: phone, tax id, address and contacts come with the claim."""
    t, s2 = world.tenant, world.users["s2"]
    cid = add_customer(t, s2, 90, phone="+8613812345678", tax_id="91310000MA1FL8XQ30", address="浦东新区世纪大道1号",
                       industry="real_estate", source="referral")
    execute(t, "INSERT INTO crm_contact (customer_id, contact_name, phone, do_not_contact, created_by, created_at, "
               "updated_at) VALUES (:c, '王总', '+8613911112222', 0, :u, :t, :t)",
            {"c": cid, "u": s2, "t": now() - 80 * DAY})
    execute(t, "INSERT INTO crm_follow_up (relation_type, relation_id, follow_type, content, created_by, created_at, "
               "updated_at) VALUES ('customer', :c, 'visit', '上门拜访，对方预算未定', :u, :t, :t)",
            {"c": cid, "u": s2, "t": now() - 85 * DAY})
    world.rule(inactive_rule(30))
    assert world.admin.post("/pool/recycle").json["recycled"] == 1
    seen = world.api("s1").get(f"/pool/{cid}")
    assert seen.status_code == 200, seen.json
    body = seen.json
    assert body["customer_name"] and body["industry"] == "real_estate" and body["source"] == "referral"
    assert body["original_owner"]["id"] == str(s2) and body["recycle_reason"].startswith("inactive_days:")
    assert [(f["follow_type"], f["content"]) for f in body["follow_ups"]] == [("visit", "上门拜访，对方预算未定")]
    assert body["follow_ups"][0]["created_by_name"] and [h["action"] for h in body["history"]] == ["recycle"]
    text = seen.get_data(as_text=True)
    assert not {"phone", "tax_id", "address", "contacts"} & set(body)
    assert "13812345678" not in text and "91310000MA1FL8XQ30" not in text and "世纪大道" not in text
    assert "13911112222" not in text and "王总" not in text
    # claimed, it is no longer in the pool: its own page shows everything to its new owner
    assert world.api("s1").post(f"/pool/{cid}/claim").status_code == 200
    assert world.api("s1").get(f"/pool/{cid}").status_code == 404
    assert world.api("s1").get(f"/customers/{cid}").json["phone"] == "+8613812345678"


def test_an_owned_or_missing_customer_is_not_in_the_pool(world):
    owned = add_customer(world.tenant, world.users["s2"], 1)
    for path in (f"/pool/{owned}", "/pool/999999999", "/pool/0"):
        resp = world.admin.get(path)
        assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found", (path, resp.json)


def test_a_claimed_customer_left_quiet_is_recycled_again_into_its_one_pool_row(world):
    t, s1 = world.tenant, world.users["s1"]
    (cid,) = pooled(world)
    assert world.api("s1").post(f"/pool/{cid}/claim").status_code == 200
    assert world.admin.post("/pool/recycle").json == {"recycled": 0}  # the claim restarted the pool clock
    execute(t, "UPDATE crm_customer SET owned_since = :t WHERE id = :c", {"t": now() - 45 * DAY, "c": cid})
    assert world.admin.post("/pool/recycle").json == {"recycled": 1}
    assert execute(t, "SELECT COUNT(*) FROM customer_pool WHERE customer_id = :c", {"c": str(cid)})[0][0] == 1
    assert pool_row(t, cid)[:5] == (str(s1), pool_row(t, cid)[1], 45, "available", None)
    actions = [h["action"] for h in world.admin.get(f"/customers/{cid}/pool-history").json["items"]]
    assert actions == ["recycle", "claim", "recycle"]


def test_the_daily_claim_cap(world):
    world.settings(daily_claim_cap=2)
    ids = pooled(world, 3)
    api = world.api("s1")
    assert [api.post(f"/pool/{c}/claim").status_code for c in ids[:2]] == [200, 200]
    third = api.post(f"/pool/{ids[2]}/claim")
    assert third.status_code == 409 and third.json["error"]["code"] == "daily_claim_cap"
    assert customer(world.tenant, ids[2])[1] == "in_pool"
    # returning a claimed customer does not give the claim back
    assert api.post(f"/customers/{ids[0]}/return-to-pool", json={"reason": "退回"}).status_code == 200
    assert api.post(f"/pool/{ids[2]}/claim").json["error"]["code"] == "daily_claim_cap"
    assert world.api("mgr").post(f"/pool/{ids[2]}/claim").status_code == 200  # the cap is per user


def test_the_holding_cap(app, world):
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    t, s1 = world.tenant, world.users["s1"]
    add_customer(t, s1, 1)
    add_customer(t, s1, 1)
    world.settings(holding_cap=2)
    (cid,) = pooled(world)
    resp = world.api("s1").post(f"/pool/{cid}/claim")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "holding_cap"
    assigned = world.api("mgr").post(f"/pool/{cid}/assign", json={"to_user_id": str(s1)})
    assert assigned.status_code == 409 and assigned.json["error"]["code"] == "holding_cap"
    assert customer(t, cid)[1] == "in_pool"
    # on the page the refusal says which customer it was about, as a refused claim does
    client = page_client(app, t, "mgr")
    url = f"/t/{t.code}/pool/{cid}/assign"
    refused = client.post(url, data={"csrf_token": csrf_from(client.get(url).text), "to_user_id": str(s1)},
                          follow_redirects=True)
    name = execute(t, "SELECT customer_name FROM crm_customer WHERE id = :i", {"i": cid})[0][0]
    assert f"未能分配 {name}：" in refused.text and customer(t, cid)[1] == "in_pool"


def test_the_previous_owner_may_not_reclaim_during_the_cool_down(world):
    (cid,) = pooled(world, owner=world.users["s1"])
    resp = world.api("s1").post(f"/pool/{cid}/claim")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "reclaim_cooldown"
    world.settings(reclaim_cooldown_days=0)
    assert world.api("s1").post(f"/pool/{cid}/claim").status_code == 200


def test_twenty_concurrent_claims_of_one_customer_one_wins(app, world, monkeypatch):
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    t = world.tenant
    (cid,) = pooled(world)
    sales = add_dept(t, "抢客部")
    clients = [tenant_api(app, t, f"c{k}") for k in range(20)
               if add_user(t, f"c{k}", ("sales",), sales)]

    def claim(k):
        client = clients[k]
        resp = client.post(f"/pool/{cid}/claim")
        return (resp.status_code, (resp.json or {}).get("error", {}).get("code"))

    results = at_once(20, claim)
    assert sorted(results) == [(200, None)] + [(409, "not_in_pool")] * 19, results
    assert execute(t, "SELECT COUNT(*) FROM crm_change_log WHERE entity_id = :c AND action = 'claim'",
                   {"c": cid})[0][0] == 1


def test_a_manager_assigns_within_their_scope(world):
    t = world.tenant
    ids = pooled(world, 2)
    far = world.api("mgr").post(f"/pool/{ids[0]}/assign", json={"to_user_id": str(world.users["far"])})
    assert far.status_code == 422 and "to_user_id" in far.json["error"]["fields"]
    assert world.api("s1").post(f"/pool/{ids[0]}/assign", json={"to_user_id": str(world.users["s1"])}
                                ).status_code == 403
    resp = world.api("mgr").post(f"/pool/{ids[0]}/assign", json={"to_user_id": str(world.users["s1"])})
    assert resp.status_code == 200, resp.json
    assert customer(t, ids[0])[:2] == (world.users["s1"], "active")
    assert pool_row(t, ids[0])[3:5] == ("assigned", str(world.users["s1"]))
    assert world.admin.get(f"/customers/{ids[0]}/history").json["items"][0]["action"] == "assign"


def test_a_customer_in_an_open_handover_cannot_be_claimed_or_returned(world):
    t, s1 = world.tenant, world.users["s1"]
    (cid,) = pooled(world)
    mine = add_customer(t, s1, 1)
    handover = execute(t, "INSERT INTO crm_handover (from_owner_id, handover_reason, current_stage, "
                          "started_automatically, created_at, updated_at) VALUES (:o, 'manual', 'preparation', 0, "
                          ":t, :t)", {"o": s1, "t": now()})
    for c in (cid, mine):
        execute(t, "INSERT INTO crm_handover_customer (handover_id, customer_id, open_marker) VALUES (:h, :c, 1)",
                {"h": handover, "c": c})
    claim = world.api("s1").post(f"/pool/{cid}/claim")
    assert claim.status_code == 409 and claim.json["error"]["code"] == "locked"
    back = world.api("s1").post(f"/customers/{mine}/return-to-pool", json={"reason": "不再跟进"})
    assert back.status_code == 409 and back.json["error"]["code"] == "locked"
    assert customer(t, mine)[:2] == (s1, "active")


def test_the_owner_returns_a_customer_with_a_reason(world):
    t, s1 = world.tenant, world.users["s1"]
    cid = add_customer(t, s1, quiet=12)
    api = world.api("s1")
    missing = api.post(f"/customers/{cid}/return-to-pool", json={"reason": "  "})
    assert missing.status_code == 422 and "reason" in missing.json["error"]["fields"]
    assert world.api("s2").post(f"/customers/{cid}/return-to-pool", json={"reason": "x"}).status_code == 404
    resp = api.post(f"/customers/{cid}/return-to-pool", json={"reason": "客户已无需求"})
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == "in_pool" and resp.json["owner"] is None
    assert pool_row(t, cid)[:5] == (str(s1), "manual:客户已无需求", 12, "available", None)
    again = api.post(f"/customers/{cid}/return-to-pool", json={"reason": "x"})
    assert again.status_code in (404, 409)  # no longer the owner's: out of their scope
    history = world.admin.get(f"/customers/{cid}/pool-history").json["items"]
    assert history[0]["action"] == "return"
    assert {"field": "recycle_reason", "old": None, "new": "manual:客户已无需求"} in history[0]["changes"]
    reason = world.admin.get("/pool?reason=manual").json["items"]
    assert [c["id"] for c in reason] == [str(cid)]
    assert world.admin.get("/pool?reason=inactive_days").json["items"] == []
    assert [c["id"] for c in world.admin.get(f"/pool?original_owner_id={s1}").json["items"]] == [str(cid)]


def test_a_returned_customers_page_leads_its_old_owner_to_the_pool(app, world):
    """After 退回公海 the rep's link to the customer (its page, a bookmark) was a bare 404: it opens the customer's
    page in the pool, saying why. The API keeps its 404; a customer deleted, or out of the pool, stays a 404."""
    from tests.tenant_runtime.crm import page_client

    t, s1 = world.tenant, world.users["s1"]
    cid = add_customer(t, s1, quiet=12)
    assert world.api("s1").post(f"/customers/{cid}/return-to-pool", json={"reason": "不再跟进"}).status_code == 200
    client = page_client(app, t, "s1")
    moved = client.get(f"/t/{t.code}/customers/{cid}")
    assert moved.status_code == 302 and moved.headers["Location"].endswith(f"/t/{t.code}/pool/{cid}")
    shown = client.get(moved.headers["Location"])
    assert shown.status_code == 200 and "该客户已在公海中。" in shown.text
    assert world.api("s1").get(f"/customers/{cid}").status_code == 404
    assert client.get(f"/t/{t.code}/customers/{cid + 1000}").status_code == 404


def test_a_claimed_customers_pool_page_leads_to_its_own_page(app, world):
    """The back button after 领取 (or a colleague's assignment) landed on the pool page, then a bare 404: it
    opens the customer's own page for whoever may see it there, saying why; for a user out of its owner's scope,
    and on the API, the pool page stays a 404."""
    from tests.tenant_runtime.crm import page_client

    t = world.tenant
    cid = add_customer(t, world.users["s2"], quiet=12)
    assert world.api("s2").post(f"/customers/{cid}/return-to-pool", json={"reason": "不再跟进"}).status_code == 200
    assert world.api("s1").post(f"/pool/{cid}/claim").status_code == 200
    client = page_client(app, t, "s1")
    moved = client.get(f"/t/{t.code}/pool/{cid}")
    assert moved.status_code == 302 and moved.headers["Location"].endswith(f"/t/{t.code}/customers/{cid}")
    shown = client.get(moved.headers["Location"])
    assert shown.status_code == 200 and "该客户已不在公海中。" in shown.text
    assert page_client(app, t, "far").get(f"/t/{t.code}/pool/{cid}").status_code == 404
    assert world.api("s1").get(f"/pool/{cid}").status_code == 404


def test_the_customers_page_tells_a_pool_move_in_words_not_codes(app, world):
    """The change history on the customer's page: field names and values as a person reads them: the status,
    the department by name, and the reason by its label with the owner's words."""
    from tests.tenant_runtime.crm import page_client

    t, s1 = world.tenant, world.users["s1"]
    cid = add_customer(t, s1, quiet=12)
    dept_name = execute(t, "SELECT d.dept_name FROM sys_dept d JOIN sys_user u ON u.dept_id = d.id WHERE u.id = :u",
                        {"u": s1})[0][0]
    assert world.api("s1").post(f"/customers/{cid}/return-to-pool", json={"reason": "客户已无需求"}).status_code == 200
    page = page_client(app, t).get(f"/t/{t.code}/customers/{cid}")
    assert page.status_code == 200
    history = page.text.split('id="history"')[1]
    assert "<b>状态</b>: <span class=\"muted\">活跃</span> → 在公海中" in history
    assert "手动退回 · 客户已无需求" in history and "manual:" not in history
    assert "status" not in history and "recycle_reason" not in history
    moved = world.admin.post(f"/pool/{cid}/assign", json={"to_user_id": str(world.users["far"])})  # 客服部's
    assert moved.status_code == 200, moved.json
    history = page_client(app, t).get(f"/t/{t.code}/customers/{cid}").text.split('id="history"')[1]
    assert f"<b>部门</b>: <span class=\"muted\">{dept_name}</span> → 客服部" in history
    # a recycle reads as the 公海记录 beside it does: 回收到公海 (回收入池 is a lead's, back to its 线索池)
    world.rule(inactive_rule(30))
    recycled = add_customer(t, s1, quiet=45)
    assert world.admin.post("/pool/recycle").json["recycled"] >= 1
    history = page_client(app, t).get(f"/t/{t.code}/customers/{recycled}").text.split('id="history"')[1]
    assert "回收到公海" in history and "回收入池" not in history


def test_a_customer_returned_by_hand_reads_as_its_pool_record_does_in_its_history(app, world):
    """退回公海 showed in the customer's 变更记录 as "退回池中", a lead's words (back to its 线索池), while the 公海记录
    beside it said 退回公海: a customer's history says it as the pool's record does."""
    from tests.tenant_runtime.crm import page_client

    t, s1 = world.tenant, world.users["s1"]
    cid = add_customer(t, s1, quiet=12)
    assert world.api("s1").post(f"/customers/{cid}/return-to-pool", json={"reason": "客户已无需求"}).status_code == 200
    history = page_client(app, t).get(f"/t/{t.code}/customers/{cid}").text.split('id="history"')[1]
    assert "· 退回公海</div>" in history and "退回池中" not in history


def test_a_manager_returns_a_subordinates_customer_a_colleague_cannot(world):
    t = world.tenant
    cid = add_customer(t, world.users["s2"], 3)
    assert world.api("s1").post(f"/customers/{cid}/return-to-pool", json={"reason": "x"}).status_code == 404
    resp = world.api("mgr").post(f"/customers/{cid}/return-to-pool", json={"reason": "重新分配"})
    assert resp.status_code == 200, resp.json


def test_pool_list_filters(world):
    t = world.tenant
    imp = add_customer(t, world.users["s2"], 90, level="important")
    norm = add_customer(t, world.users["s2"], 90)
    pooled(world, 0)
    listed = world.admin.get("/pool?level=important").json["items"]
    assert [c["id"] for c in listed] == [str(imp)]
    today = now().date().isoformat()
    assert {c["id"] for c in world.admin.get(f"/pool?recycled_from={today}").json["items"]} >= {str(imp), str(norm)}
    assert world.admin.get("/pool?recycled_to=2020-01-01").json["items"] == []
    bad = world.admin.get("/pool?level=vip")
    assert bad.status_code == 422 and "level" in bad.json["error"]["fields"]


# ---------------------------------------------------------------------- reminders


def test_reminders_go_once_per_customer_and_day_in_app_and_by_message(app, world):
    from tenant_runtime.core import jobs
    from tenant_runtime.core.tasks import TASKS

    t, s1 = world.tenant, world.users["s1"]
    execute(t, "UPDATE sys_user SET phone = '+8613800138111', email = 's1@example.com' WHERE id = :u", {"u": s1})
    world.rule(inactive_rule(30))
    world.settings(remind_days_before=3)
    soon = add_customer(t, s1, 28)  # taken in 2 days
    due = add_customer(t, s1, 31)  # taken today: no reminder, it goes tonight
    add_customer(t, s1, 10)  # far off
    panel = world.api("s1").get("/pool/soon").json["items"]
    assert [(int(i["customer_id"]), i["days_left"]) for i in panel] == [(soon, 2)]
    for _ in range(2):
        with app.app_context():
            tenant = jobs.bind(t.id)
            try:
                TASKS["pool.remind"].run(tenant.session, now())
            finally:
                tenant.close()
    notes = execute(t, "SELECT user_id, kind, dedupe_key FROM crm_notification ORDER BY id")
    assert [(n[0], n[1]) for n in notes] == [(s1, "recycle_soon"), (s1, "recycle_digest")]
    assert notes[0][2].startswith(f"recycle_soon:{soon}:")
    assert due not in [int(n[2].split(":")[1]) for n in notes if n[1] == "recycle_soon"]
    with app.app_context():
        from extensions import db
        from platform_admin.messaging.models import OutboxMessage

        sent = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.purpose == "pool_reminder")).all()
        assert sorted((m.channel, m.to) for m in sent) == [("email", "s1@example.com"), ("sms", "+8613800138111")]
        assert "1" in sent[0].body


# ---------------------------------------------------------------------- pages


def test_pages(app, world):
    from tests.conftest import csrf_from as csrf_in

    def csrf_from(resp):
        return csrf_in(resp.get_data(as_text=True))

    t = world.tenant
    client = app.test_client()
    base = f"/t/{t.code}"
    resp = client.post(f"{base}/login", data={"username": "admin", "password": t.admin_password,
                                              "csrf_token": csrf_from(client.get(f"{base}/login"))})
    assert resp.status_code == 302
    page = client.get(f"{base}/pool/rules/new")
    form = {"csrf_token": csrf_from(page), "rule_name": "页面规则", "match": "all", "inactive_normal": "30",
            "inactive_important": "", "enabled": "y", "sort": "0"}
    bad = client.post(f"{base}/pool/rules/new", data={**form, "inactive_normal": "0"})
    assert bad.status_code == 422
    assert client.post(f"{base}/pool/rules/new", data={**form, "inactive_normal": ""}).status_code == 422
    assert client.post(f"{base}/pool/rules/new", data=form).status_code == 302
    rules = world.admin.get("/pool/rules").json["items"]
    assert [r["conditions"] for r in rules] == [inactive_rule({"normal": 30})]
    edit = client.get(f"{base}/pool/rules/{rules[0]['id']}/edit")
    assert edit.status_code == 200 and 'value="30"' in edit.get_data(as_text=True)
    cid = add_customer(t, world.users["s2"], 45)
    me = world.admin.get("/me").json["id"]
    soon = add_customer(t, int(me), 28, customer_name="快到期物业")
    home = client.get(f"{base}/").get_data(as_text=True)
    assert 'id="recycle-soon"' in home and "快到期物业" in home
    preview = client.get(f"{base}/pool/preview").get_data(as_text=True)
    assert "页面规则" in preview and "45" in preview
    assert client.post(f"{base}/pool/recycle", data={"csrf_token": csrf_from(client.get(f"{base}/pool/preview"))}
                       ).status_code == 302
    listing = client.get(f"{base}/pool/").get_data(as_text=True)
    assert f'data-customer="{cid}"' in listing and f'data-customer="{soon}"' not in listing
    assert f'href="{base}/pool/{cid}"' in listing
    pool_page = client.get(f"{base}/pool/{cid}")
    assert pool_page.status_code == 200
    assert 'id="follow_ups"' in pool_page.get_data(as_text=True) and f"/pool/{cid}/claim" in pool_page.get_data(
        as_text=True)
    owned = client.get(f"{base}/pool/{soon}")  # owned: not in the pool, on its own page
    assert owned.status_code == 302 and owned.headers["Location"].endswith(f"{base}/customers/{soon}")
    detail = client.get(f"{base}/customers/{cid}").get_data(as_text=True)
    assert 'id="pool_history"' in detail
    settings = client.get(f"{base}/pool/settings")
    saved = client.post(f"{base}/pool/settings", data={"csrf_token": csrf_from(settings), "remind_days_before": "5",
                                                       "daily_claim_cap": "3", "holding_cap": "50",
                                                       "reclaim_cooldown_days": "2"})
    assert saved.status_code == 302
    assert world.admin.get("/pool/settings").json["daily_claim_cap"] == 3
    assert world.admin.get("/pool/settings").json["exempt_open_opportunities"] is False
    wrong = client.post(f"{base}/pool/settings", data={"csrf_token": csrf_from(settings), "remind_days_before": "99",
                                                       "daily_claim_cap": "3", "holding_cap": "50",
                                                       "reclaim_cooldown_days": "2"})
    assert wrong.status_code == 422
    # return a customer to the pool with a reason, then assign it, all through the pages
    mine = add_customer(t, int(me), 3, customer_name="退回物业")
    form_page = client.get(f"{base}/customers/{mine}/return-to-pool")
    empty = client.post(f"{base}/customers/{mine}/return-to-pool", data={"csrf_token": csrf_from(form_page),
                                                                          "reason": " "})
    assert empty.status_code == 422 and 'class="error"' in empty.get_data(as_text=True)
    assert customer(t, mine)[1] == "active"
    back = client.post(f"{base}/customers/{mine}/return-to-pool", data={"csrf_token": csrf_from(form_page),
                                                                         "reason": "客户搬迁"})
    assert back.status_code == 302 and customer(t, mine)[:2] == (None, "in_pool")
    assign_page = client.get(f"{base}/pool/{mine}/assign")
    assert "s1名" in assign_page.get_data(as_text=True)
    given = client.post(f"{base}/pool/{mine}/assign", data={"csrf_token": csrf_from(assign_page),
                                                            "to_user_id": str(world.users["s1"])})
    assert given.status_code == 302 and customer(t, mine)[:2] == (world.users["s1"], "active")


# ---------------------------------------------------------------------- the embedded default


def test_recycling_on_an_embedded_sqlite_tenant(app, tmp_path):
    """The same query and the same set-based statements on a SQLite tenant database (its own dialect's
    GREATEST, day counts, temporary table and ids)."""
    from datasource_registry import tenant_schema
    from tenant_runtime.context import TenantSession
    from tenant_runtime.core.models import CrmChangeLog
    from tenant_runtime.models import SysDept, SysUser
    from tenant_runtime.pool import services
    from tenant_runtime.pool.models import CrmPoolRule, CustomerPool

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tenant.db'}")
    with engine.connect() as conn:
        tenant_schema.upgrade(conn)
        conn.commit()
    t = now()
    with app.app_context(), TenantSession(bind=engine) as session:
        dept = SysDept(dept_name="总部")
        session.add(dept)
        session.flush()
        owner = SysUser(username="s1", full_name="甲", dept_id=dept.id, password_hash="x")
        session.add(owner)
        session.flush()
        ids = {}
        for name, level, quiet, followed in (("old", "normal", 40, 35), ("fresh", "normal", 40, 5),
                                             ("important", "important", 40, None), ("never", "potential", 20, None)):
            c = services.C(customer_name=name, name_key=name, level=level, owner_id=owner.id, dept_id=dept.id,
                           owned_since=t - quiet * DAY, created_by=owner.id, created_at=t - 50 * DAY,
                           last_follow_up_at=t - followed * DAY if followed else None)
            session.add(c)
            session.flush()
            ids[name] = c.id
        session.add(CrmPoolRule(rule_name="r", conditions=services.checked_conditions(
            inactive_rule({"normal": 30, "important": 60, "potential": 15}))))
        session.commit()
        items, _cursor, total = services.preview(session, now())
        assert total == 2 and {(i["customer_id"], i["inactive_days"]) for i in items} == {(ids["old"], 35),
                                                                                         (ids["never"], 20)}
        assert services.recycle(session, now()) == {"recycled": 2}
        session.commit()
        assert services.recycle(session, now()) == {"recycled": 0}
        rows = session.scalars(sa.select(CustomerPool).order_by(CustomerPool.customer_id)).all()
        assert {r.customer_id for r in rows} == {str(ids["old"]), str(ids["never"])}
        assert all(uuid.UUID(r.id).version == 7 for r in rows)
        assert session.get(services.C, ids["old"]).status == "in_pool"
        entry = session.scalar(sa.select(CrmChangeLog).where(CrmChangeLog.entity_id == ids["never"],
                                                            CrmChangeLog.action == "recycle"))
        assert (entry.action, entry.changes) == ("recycle", [
            {"field": "owner_id", "old": owner.id, "new": None}, {"field": "status", "old": "active", "new": "in_pool"},
            {"field": "recycle_reason", "old": None, "new": "inactive_days:r"}])
    engine.dispose()


# ---------------------------------------------------------------------- API.md's names


def test_api_md_s_recycle_and_assign_names(world):
    """``POST /customers/<id>/recycle`` puts a customer in the pool by hand; ``/pool/<id>/assign`` takes
    ``to_user_id`` (and, as before, ``user_id``)."""
    cid = add_customer(world.tenant, world.users["s2"])
    resp = world.api("s2").post(f"/customers/{cid}/recycle", json={"reason": "客户已转交总部采购"})
    assert resp.status_code == 200, resp.json
    assert customer(world.tenant, cid)[:2] == (None, "in_pool")
    assert world.api("s2").post(f"/customers/{cid}/recycle", json={}).status_code in (404, 409, 422)
    legacy = world.api("mgr").post(f"/pool/{cid}/assign", json={"user_id": str(world.users["s1"])})
    assert legacy.status_code == 200 and customer(world.tenant, cid)[0] == world.users["s1"]


def test_put_pool_rules_replaces_the_list_in_one_transaction(world):
    kept = world.rule(inactive_rule(30), name="三十天未跟进")
    dropped = world.rule(inactive_rule(60), name="六十天未跟进")
    bad = world.admin.put("/pool/rules", json={"rules": [
        {"id": kept["id"], "rule_name": "改名"}, {"rule_name": "", "conditions": inactive_rule(10)}]})
    assert bad.status_code == 422 and "rules.1.rule_name" in bad.json["error"]["fields"], bad.json
    assert [r["rule_name"] for r in world.admin.get("/pool/rules").json["items"]] == ["三十天未跟进", "六十天未跟进"]
    assert world.admin.put("/pool/rules", json={"rules": [{"id": "999999", "rule_name": "x"}]}).status_code == 422
    assert world.admin.put("/pool/rules", json={"rules": "all"}).status_code == 422
    resp = world.admin.put("/pool/rules", json={"rules": [
        {"rule_name": "十天未跟进", "conditions": inactive_rule(10)}, {"id": kept["id"], "enabled": False}]})
    assert resp.status_code == 200, resp.json
    items = world.admin.get("/pool/rules").json["items"]
    assert [(r["rule_name"], r["enabled"]) for r in items] == [("十天未跟进", True), ("三十天未跟进", False)]
    assert items[1]["id"] == kept["id"] and dropped["id"] not in [r["id"] for r in items]
    assert world.api("s1").put("/pool/rules", json={"rules": []}).status_code == 403
    cleared = world.admin.put("/pool/rules", json={"rules": []})  # the documented way to recycle nothing
    assert cleared.status_code == 200 and cleared.json["items"] == [], cleared.json
    assert world.admin.get("/pool/rules").json["items"] == []


def test_a_claim_does_not_tell_which_ids_are_another_department_s_customers(world):
    theirs = add_customer(world.tenant, world.users["far"])  # 客服部's, never in the pool
    assert world.api("s1").post(f"/pool/{theirs}/claim").status_code == 404
    assert world.api("s1").post("/pool/99999999/claim").status_code == 404
    mine = add_customer(world.tenant, world.users["s1"])
    assert world.api("s1").post(f"/pool/{mine}/claim").json["error"]["code"] == "not_in_pool"
    (taken,) = pooled(world)  # in the pool, then claimed by another: a late claim hears 409, as a race's loser
    assert world.api("far").post(f"/pool/{taken}/claim").status_code == 200
    assert world.api("s1").post(f"/pool/{taken}/claim").status_code == 409


# ---------------------------------------------------------------------- the pages' claim and assign


def test_the_assign_page_starts_with_no_one_chosen_and_a_blank_choice_changes_nothing(app, world):
    """分配 offers "— 请选择 —" first, as assigning a lead does: the first person listed (perhaps the one the customer
    was just recycled from) is not chosen for the manager, and submitting nobody says the field is required, once."""
    import re

    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    t = world.tenant
    (cid,) = pooled(world)
    client = page_client(app, t, "mgr")
    page = client.get(f"/t/{t.code}/pool/{cid}/assign")
    assert page.status_code == 200
    select = re.search(r'(?s)<select[^>]*name="to_user_id".*?</select>', page.text).group(0)
    options = re.findall(r'<option([^>]*)>([^<]*)</option>', select)
    assert options[0][1] == "— 请选择 —" and 'value=""' in options[0][0], options
    assert not any("selected" in attrs for attrs, _label in options[1:]), options
    blank = client.post(f"/t/{t.code}/pool/{cid}/assign", data={"csrf_token": csrf_from(page.text), "to_user_id": ""})
    assert blank.status_code == 422
    field = blank.text.split('id="field-to_user_id"')[1].split("</div>\n")[0] if 'id="field-to_user_id"' in \
        blank.text else blank.text
    assert blank.text.count('class="error"') == 1 and "此项为必填项。" in field, field
    assert customer(t, cid)[:2] == (None, "in_pool") and pool_row(t, cid)[3] == "available"
    given = client.post(f"/t/{t.code}/pool/{cid}/assign", data={"csrf_token": csrf_from(page.text),
                                                                "to_user_id": str(world.users["s1"])})
    assert given.status_code == 302 and customer(t, cid)[:2] == (world.users["s1"], "active")
    # the page of a customer assigned (or claimed) meanwhile says so before anyone fills in its form
    gone = client.get(f"/t/{t.code}/pool/{cid}/assign", follow_redirects=True)
    assert gone.status_code == 200 and 'name="to_user_id"' not in gone.text
    assert "该客户已不在公海中" in gone.text, gone.text[:2000]


def claim_button(html, cid):
    """The 领取 of customer ``cid`` on the pool list: ("form", None) when it can be pressed, else ("disabled", the
    refusal's code) with its title."""
    import re

    row = html.split(f'data-customer="{cid}"')[1].split("</tr>")[0]
    disabled = re.search(r'<button type="button" class="btn btn-sm muted" disabled title="([^"]*)" '
                         r'data-refusal="([a-z_]+)">', row)
    if disabled:
        return "disabled", disabled.group(2), disabled.group(1)
    assert f"/pool/{cid}/claim" in row, row
    return "form", None, None


def test_the_pool_pages_offer_claim_only_where_the_claim_rule_allows_it(app, world):
    """领取 is disabled, with the reason, where the claim would be refused, by the same rule (the page's reason is
    the 409's code and message): the previous owner's cool-down, an open handover, the daily cap, the holding cap."""
    from tests.tenant_runtime.crm import page_client

    t, s1 = world.tenant, world.users["s1"]
    mine, other = pooled(world, owner=s1)[0], pooled(world)[0]  # s1's until the recycling, s2's
    page = page_client(app, t, "s1")
    base = f"/t/{t.code}"

    listing = page.get(f"{base}/pool/").text
    state, code, title = claim_button(listing, mine)
    refused = world.api("s1").post(f"/pool/{mine}/claim").json["error"]
    assert (state, code) == ("disabled", "reclaim_cooldown") == ("disabled", refused["code"])
    assert title == refused["message"] and "之后再次领取" in title
    row = listing.split(f'data-customer="{mine}"')[1].split("</tr>")[0]
    when = refused["claimable_from"][:16].replace("T", " ")  # on a phone, where the title is never shown
    assert "进入公海前由您负责" in row and f"{when} 后可领取" in row and when in refused["message"], (row, refused)
    assert claim_button(listing, other)[0] == "form" and 'id="claim-refusal"' not in listing
    detail = page.get(f"{base}/pool/{mine}").text
    assert f"/pool/{mine}/claim" not in detail and 'id="claim" disabled' in detail
    assert refused["message"] in detail.split('id="claim-refusal"')[1].split("</div>")[0]
    assert 'id="claim-refusal"' not in page.get(f"{base}/pool/{other}").text
    assert claim_button(page_client(app, t, "s2").get(f"{base}/pool/").text, mine)[0] == "form"

    # an open handover
    handover = execute(t, "INSERT INTO crm_handover (from_owner_id, handover_reason, current_stage, "
                          "started_automatically, created_at, updated_at) VALUES (:o, 'manual', 'preparation', 0, "
                          ":t, :t)", {"o": world.users["s2"], "t": now()})
    execute(t, "INSERT INTO crm_handover_customer (handover_id, customer_id, open_marker) VALUES (:h, :c, 1)",
            {"h": handover, "c": other})
    assert claim_button(page.get(f"{base}/pool/").text, other)[:2] == ("disabled", "locked")
    assert world.api("s1").post(f"/pool/{other}/claim").json["error"]["code"] == "locked"
    execute(t, "DELETE FROM crm_handover_customer WHERE handover_id = :h", {"h": handover})

    # the daily cap: every row, and said once above the list
    world.settings(daily_claim_cap=1, reclaim_cooldown_days=0)
    third = pooled(world)[0]
    assert claim_button(page.get(f"{base}/pool/").text, mine)[0] == "form"
    assert world.api("s1").post(f"/pool/{other}/claim").status_code == 200
    listing = page.get(f"{base}/pool/").text
    refused = world.api("s1").post(f"/pool/{third}/claim").json["error"]
    assert refused["code"] == "daily_claim_cap"
    assert {claim_button(listing, c)[1] for c in (mine, third)} == {"daily_claim_cap"}
    assert refused["message"] in listing.split('id="claim-refusal"')[1].split("</div>")[0]

    # the holding cap
    world.settings(daily_claim_cap=10, holding_cap=1)
    listing = page.get(f"{base}/pool/").text
    refused = world.api("s1").post(f"/pool/{third}/claim").json["error"]
    assert refused["code"] == "holding_cap" and "您已持有 1 个客户" in refused["message"]
    assert claim_button(listing, third)[:2] == ("disabled", "holding_cap")
    world.settings(holding_cap=10)
    assert claim_button(page.get(f"{base}/pool/").text, third)[0] == "form"


def test_a_refused_claim_on_the_page_names_the_customer(app, world):
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    t = world.tenant
    (cid,) = pooled(world, owner=world.users["s1"])
    name = execute(t, "SELECT customer_name FROM crm_customer WHERE id = :c", {"c": cid})[0][0]
    page = page_client(app, t, "s1")
    token = csrf_from(page.get(f"/t/{t.code}/pool/").text)
    resp = page.post(f"/t/{t.code}/pool/{cid}/claim", data={"csrf_token": token}, follow_redirects=True)
    assert resp.request.path == f"/t/{t.code}/pool/"
    flashed = resp.text.split('class="alert alert-danger"')[1].split("</div>")[0]
    assert name in flashed and "之后再次领取" in flashed, flashed
    assert customer(t, cid)[:2] == (None, "in_pool")
