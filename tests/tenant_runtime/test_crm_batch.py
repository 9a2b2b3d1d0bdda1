"""Batch actions on the customer list (批量操作, tenant_runtime/core/batch.py) on a real MariaDB tenant: each
action does what the single one does to every ticked customer (history, pool rows, the handover lock), within
the user's data scope and role, all or nothing; the page works without JavaScript in two steps."""

import re
import secrets

import pytest
import sqlalchemy as sa

from tests.conftest import csrf_from
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    add_dept,
    add_user,
    at_once,
    customer_body,
    db_row,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB


class Sales:
    """Two departments: 华东 with a manager and two sales users, one owning three customers, 华南 with a sales user
    owning one."""

    def __init__(self, app, tenant):
        self.app, self.tenant = app, tenant
        tag = secrets.token_hex(2)
        east, south = add_dept(tenant, f"华东{tag}"), add_dept(tenant, f"华南{tag}")
        self.names = {k: f"{k}{tag}" for k in ("mgr", "east", "east2", "south")}
        self.manager_id = add_user(tenant, self.names["mgr"], ("sales_manager",), dept=east, full_name="王经理")
        self.east_id = add_user(tenant, self.names["east"], ("sales",), dept=east, full_name="李销售")
        self.east2_id = add_user(tenant, self.names["east2"], ("sales",), dept=east, full_name="钱销售")
        self.south_id = add_user(tenant, self.names["south"], ("sales",), dept=south, full_name="赵销售")
        self.east_dept = east
        self.manager, self.east, self.south = (tenant_api(app, tenant, self.names[k]) for k in ("mgr", "east", "south"))
        self.mine = [self._add(self.east, tags=["老客户"]) for _ in range(3)]
        self.theirs = self._add(self.south)

    @staticmethod
    def _add(api, **body):
        resp = api.post("/customers", json=customer_body(**body))
        assert resp.status_code == 201, resp.json
        return resp.json["id"]

    def customer(self, cid, column="level"):
        return db_row(self.tenant, f"SELECT {column} FROM crm_customer WHERE id = :i", i=int(cid))[0]

    def tags(self, cid):
        engine = self.tenant.engine()
        with engine.connect() as conn:
            tags = conn.execute(sa.text("SELECT tag FROM crm_customer_tag WHERE customer_id = :i ORDER BY tag"),
                                {"i": int(cid)}).scalars().all()
        engine.dispose()
        return tags

    def lock(self, cid):
        """``cid`` in an open handover, as a manager's started one leaves it."""
        engine = self.tenant.engine()
        with engine.begin() as conn:
            handover = conn.execute(sa.text(
                "INSERT INTO crm_handover (from_owner_id, handover_reason, current_stage, started_automatically, "
                "created_at, updated_at) VALUES (:o, 'manual', 'preparation', 0, NOW(), NOW())"),
                {"o": self.east_id}).lastrowid
            conn.execute(sa.text("INSERT INTO crm_handover_customer (handover_id, customer_id, open_marker) "
                                 "VALUES (:h, :c, 1)"), {"h": handover, "c": int(cid)})
        engine.dispose()


@pytest.fixture
def sales(app, tenants):
    return Sales(app, tenants[0])


def test_a_manager_sets_the_level_of_several_customers_at_once_and_each_records_it(sales):
    resp = sales.manager.post("/customers/batch", json={"action": "set_level", "ids": sales.mine, "level": "important"})
    assert resp.status_code == 200, resp.json
    assert resp.json == {"action": "set_level", "done": 3, "unchanged": 0, "ids": sorted(sales.mine, key=int)}
    for cid in sales.mine:
        assert sales.customer(cid) == "important"
        entry = sales.manager.get(f"/customers/{cid}/history").json["items"][0]
        assert entry["user_id"] == str(sales.manager_id)
        assert {"field": "level", "old": "normal", "new": "important"} in entry["changes"]
    again = sales.manager.post("/customers/batch", json={"action": "set_level", "ids": sales.mine[:2],
                                                         "level": "important"})
    assert again.json["done"] == 2 and again.json["unchanged"] == 2  # already important: counted, nothing recorded
    assert len(sales.manager.get(f"/customers/{sales.mine[0]}/history").json["items"]) == len(
        sales.manager.get(f"/customers/{sales.mine[2]}/history").json["items"])


def test_one_customer_outside_the_scope_refuses_the_whole_batch_and_names_it(sales):
    resp = sales.east.post("/customers/batch", json={"action": "set_level", "ids": [*sales.mine, sales.theirs],
                                                     "level": "potential"})
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["refused"] == [sales.theirs]
    assert len(error["fields"]["ids"]) == 1 and sales.theirs in error["fields"]["ids"][0]
    assert [sales.customer(c) for c in sales.mine] == ["normal"] * 3  # nothing changed, not even the visible ones


def test_tags_are_added_beside_the_old_ones_and_removed(sales):
    add = sales.east.post("/customers/batch", json={"action": "add_tags", "ids": sales.mine[:2],
                                                    "tags": ["重点", "老客户"]})
    assert add.status_code == 200, add.json
    assert sales.tags(sales.mine[0]) == sorted(["重点", "老客户"]) and sales.tags(sales.mine[2]) == ["老客户"]
    history = sales.east.get(f"/customers/{sales.mine[0]}/history").json["items"][0]
    assert {"field": "tags", "old": ["老客户"], "new": ["老客户", "重点"]} in history["changes"]
    assert add.json["unchanged"] == 0
    remove = sales.east.post("/customers/batch", json={"action": "remove_tags", "ids": sales.mine, "tags": "重点"})
    assert remove.status_code == 200, remove.json
    assert remove.json["unchanged"] == 1  # the third never had it
    assert [sales.tags(c) for c in sales.mine] == [["老客户"], ["老客户"], ["老客户"]]
    add = sales.east.post("/customers/batch", json={"action": "add_tags", "ids": sales.mine, "tags": ["重点"]})
    remove = sales.east.post("/customers/batch", json={"action": "remove_tags", "ids": sales.mine, "tags": "老客户"})
    assert remove.status_code == 200, remove.json
    assert [sales.tags(c) for c in sales.mine] == [["重点"], ["重点"], ["重点"]]
    too_many = sales.east.post("/customers/batch", json={"action": "add_tags", "ids": sales.mine[:1],
                                                         "tags": [f"t{i}" for i in range(10)]})
    assert too_many.status_code == 422 and too_many.json["error"]["refused"] == [sales.mine[0]]
    assert sales.tags(sales.mine[0]) == ["重点"]


def test_the_page_says_how_many_ticked_customers_needed_no_change(app, sales):
    client = page_client(app, sales.tenant, sales.names["mgr"])
    sales.manager.post("/customers/batch", json={"action": "add_tags", "ids": sales.mine[:1], "tags": ["重点"]})
    resp = client.post(f"/t/{sales.tenant.code}/customers/batch", data={
        "csrf_token": csrf_from(_list_page(client, sales.tenant)), "action": "remove_tags", "ids": sales.mine,
        "tags": "重点", "confirm": "y"})
    assert resp.status_code == 302, resp.text
    shown = client.get(resp.headers["Location"]).text
    assert "已从 3 个客户移除标签" in shown and "其中 2 个无需更改" in shown


def test_returning_to_the_pool_needs_a_reason_and_stops_at_a_customer_in_a_handover(sales):
    first, second, third = sales.mine
    no_reason = sales.east.post("/customers/batch", json={"action": "to_pool", "ids": [first, second]})
    assert no_reason.status_code == 422 and "reason" in no_reason.json["error"]["fields"]
    sales.lock(third)
    locked = sales.east.post("/customers/batch", json={"action": "to_pool", "ids": [first, third], "reason": "无需求"})
    assert locked.status_code == 422 and locked.json["error"]["refused"] == [third]
    assert "正在交接" in locked.json["error"]["fields"]["ids"][0]
    assert sales.customer(first, "status") == "active"  # the free one stayed too
    back = sales.east.post("/customers/batch", json={"action": "to_pool", "ids": [first, second], "reason": "无需求"})
    assert back.status_code == 200, back.json
    for cid in (first, second):
        assert sales.customer(cid, "status") == "in_pool" and sales.customer(cid, "owner_id") is None
        row = db_row(sales.tenant, "SELECT original_owner_id, recycle_reason, pool_status FROM customer_pool "
                                   "WHERE customer_id = :c", c=cid)
        assert tuple(row) == (str(sales.east_id), "manual:无需求", "available")


def test_a_manager_gives_customers_to_another_owner_and_their_contacts_follow(sales):
    first, second, third = sales.mine
    contact = sales.east.post("/contacts", json={"customer_id": first, "contact_name": "陈采购", "phone": "13911112222"})
    assert contact.status_code == 201, contact.json
    outside = sales.manager.post("/customers/batch", json={"action": "transfer", "ids": [first],
                                                           "owner_id": str(sales.south_id)})
    assert outside.status_code == 422 and "owner_id" in outside.json["error"]["fields"]  # not one he manages
    resp = sales.manager.post("/customers/batch", json={"action": "transfer", "ids": [first, second],
                                                        "owner_id": str(sales.east2_id)})
    assert resp.status_code == 200, resp.json
    assert [sales.customer(c, "owner_id") for c in sales.mine] == [sales.east2_id, sales.east2_id, sales.east_id]
    assert db_row(sales.tenant, "SELECT owner_id FROM crm_contact WHERE id = :i", i=int(contact.json["id"]))[0] == \
        sales.east2_id
    changes = sales.manager.get(f"/customers/{first}/history").json["items"][0]["changes"]
    assert {"field": "owner_id", "old": str(sales.east_id), "new": str(sales.east2_id)} in [
        {k: str(v) if k != "field" else v for k, v in c.items()} for c in changes]
    east2 = tenant_api(sales.app, sales.tenant, sales.names["east2"])
    assert east2.get(f"/customers/{first}").status_code == 200 and sales.east.get(f"/customers/{first}").status_code == 404
    sales.lock(third)
    locked = sales.manager.post("/customers/batch", json={"action": "transfer", "ids": [third],
                                                          "owner_id": str(sales.east2_id)})
    assert locked.status_code == 422 and locked.json["error"]["refused"] == [third]
    assert sales.customer(third, "owner_id") == sales.east_id


def test_a_customer_in_the_pool_gets_its_owner_from_the_pool_not_from_an_edit(sales):
    cid = sales.mine[0]
    assert sales.east.post("/customers/batch", json={"action": "to_pool", "ids": [cid], "reason": "无需求"}
                           ).status_code == 200
    admin = tenant_api(sales.app, sales.tenant)
    edit = admin.patch(f"/customers/{cid}", json={"owner_id": str(sales.east2_id)})
    assert edit.status_code == 409 and edit.json["error"]["code"] == "in_pool"
    batch = admin.post("/customers/batch", json={"action": "transfer", "ids": [cid], "owner_id": str(sales.east2_id)})
    assert batch.status_code == 422 and batch.json["error"]["refused"] == [cid]
    assert sales.customer(cid, "owner_id") is None and sales.customer(cid, "status") == "in_pool"


def test_six_batches_returning_the_same_customers_at_once_return_them_once(app, sales):
    clients = [tenant_api(app, sales.tenant, sales.names["east"]) for _ in range(6)]
    answers = at_once(6, lambda i: clients[i].post("/customers/batch", json={
        "action": "to_pool", "ids": sales.mine, "reason": f"第{i}次"}))
    assert sorted(a.status_code for a in answers) == [200] + [422] * 5, [a.json for a in answers]
    for late in (a for a in answers if a.status_code == 422):
        assert late.json["error"]["refused"] == sorted(sales.mine, key=int)  # gone from their scope, all of them
    for cid in sales.mine:
        assert db_row(sales.tenant, "SELECT COUNT(*) FROM customer_pool WHERE customer_id = :c", c=cid)[0] == 1
        returns = db_row(sales.tenant, "SELECT COUNT(*) FROM crm_change_log WHERE entity_type = 'customer' AND "
                                       "entity_id = :c AND action = 'return'", c=int(cid))[0]
        assert returns == 1


def test_a_customer_in_an_open_handover_is_not_deleted_alone_nor_in_a_batch(sales):
    first, second, _third = sales.mine
    sales.lock(second)
    alone = sales.manager.delete(f"/customers/{second}")
    assert alone.status_code == 409 and alone.json["error"]["code"] == "customer_in_handover"
    batch = sales.manager.post("/customers/batch", json={"action": "delete", "ids": [first, second]})
    assert batch.status_code == 422 and batch.json["error"]["refused"] == [second]
    assert sales.customer(first, "deleted_at") is None and sales.customer(second, "deleted_at") is None


def test_deleting_needs_the_delete_permission_and_is_soft(sales):
    refused = sales.east.post("/customers/batch", json={"action": "delete", "ids": sales.mine})
    assert refused.status_code == 403, refused.json
    assert all(sales.customer(c, "deleted_at") is None for c in sales.mine)
    resp = sales.manager.post("/customers/batch", json={"action": "delete", "ids": sales.mine[:2]})
    assert resp.status_code == 200, resp.json
    assert [sales.customer(c, "deleted_by") for c in sales.mine] == [sales.manager_id] * 2 + [None]
    binned = tenant_api(sales.app, sales.tenant).get("/customers/deleted?limit=100").json["items"]
    assert set(sales.mine[:2]) <= {c["id"] for c in binned}


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "paint", "ids": ["1"]}, "action"),
    ({"ids": ["1"]}, "action"),
    ({"action": "set_level", "ids": [], "level": "important"}, "ids"),
    ({"action": "set_level", "level": "important"}, "ids"),
    ({"action": "set_level", "ids": ["x1"], "level": "important"}, "ids"),
    ({"action": "set_level", "ids": ["²"], "level": "important"}, "ids"),  # a digit to Python, no id
    ({"action": "set_level", "ids": ["１４１"], "level": "important"}, "ids"),  # full-width
    ({"action": "set_level", "ids": ["12"], "level": "top"}, "level"),
    ({"action": "set_level", "ids": "12", "level": "important"}, "ids"),  # one id, not a list of them
    ({"action": "set_level", "ids": [str(i) for i in range(1, 202)], "level": "important"}, "ids"),
    ({"action": "handover", "ids": ["1"]}, "action"),  # the pages' way to a handover's start page
])
def test_bad_input_is_a_422_naming_the_field(sales, body, field):
    resp = sales.manager.post("/customers/batch", json=body)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["error"]["fields"], resp.json
    assert not any("int()" in m for msgs in resp.json["error"]["fields"].values() for m in msgs)  # no Python


def test_the_api_document_describes_the_batch(sales):
    operation = sales.manager.get("/openapi.json").json["paths"]["/customers/batch"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    props = body.get("properties")
    if props is None:  # a reference to the component
        name = body["$ref"].rsplit("/", 1)[1]
        props = sales.manager.get("/openapi.json").json["components"]["schemas"][name]["properties"]
    assert {"action", "ids", "level", "tags", "reason", "owner_id"} <= props.keys()
    assert set(props["action"]["enum"]) == {"set_level", "add_tags", "remove_tags", "transfer", "to_pool", "delete"}
    assert props["ids"]["type"] == "array" and props["ids"]["maxItems"] == 200
    assert {"403", "422"} <= operation["responses"].keys()


# ---------------------------------------------------------------------- the page, without JavaScript


def _list_page(client, tenant):
    page = client.get(f"/t/{tenant.code}/customers/")
    assert page.status_code == 200
    return page.text


def test_the_page_ticks_rows_confirms_and_applies(app, sales):
    tenant, code = sales.tenant, sales.tenant.code
    client = page_client(app, tenant, sales.names["mgr"])
    listing = _list_page(client, tenant)
    ticks = set(re.findall(r'name="ids" value="(\d+)" form="batch-form"', listing))
    assert set(sales.mine) <= ticks and sales.theirs not in ticks
    offered = re.findall(r'<option value="(\w+)">', listing.split('id="batch-form"')[1].split("</form>")[0])
    assert offered == ["set_level", "add_tags", "remove_tags", "transfer", "handover", "to_pool", "delete"]
    back = f"/t/{code}/customers/?level=normal"
    step1 = client.post(f"/t/{code}/customers/batch", data={
        "csrf_token": csrf_from(listing), "action": "set_level", "ids": sales.mine[:2], "next": back})
    assert step1.status_code == 200
    assert re.findall(r'name="ids" value="(\d+)"', step1.text) == sales.mine[:2]
    assert 'name="level"' in step1.text and "2 条" in step1.text  # what is about to change, and what it needs
    missing = client.post(f"/t/{code}/customers/batch", data={
        "csrf_token": csrf_from(step1.text), "action": "set_level", "ids": sales.mine[:2], "next": back,
        "confirm": "y"})
    assert missing.status_code == 422 and 'name="level"' in missing.text
    assert sales.customer(sales.mine[0]) == "normal"
    done = client.post(f"/t/{code}/customers/batch", data={
        "csrf_token": csrf_from(step1.text), "action": "set_level", "ids": sales.mine[:2], "next": back,
        "confirm": "y", "level": "important"})
    assert done.status_code == 302 and done.headers["Location"].endswith(back)
    assert [sales.customer(c) for c in sales.mine] == ["important", "important", "normal"]
    assert "2" in client.get(back).text  # the flash names how many


def test_a_sales_user_is_offered_only_what_their_role_allows(app, sales):
    client = page_client(app, sales.tenant, sales.names["east"])
    bar = _list_page(client, sales.tenant).split('id="batch-form"')[1].split("</form>")[0]
    offered = re.findall(r'<option value="(\w+)">', bar)
    # no delete nor handover (their role), no transfer (the only owner they may choose is themselves)
    assert offered == ["set_level", "add_tags", "remove_tags", "to_pool"]


def test_the_page_names_a_refused_customer_and_goes_on_with_the_others(app, sales):
    code, (first, second, third) = sales.tenant.code, sales.mine
    sales.lock(third)
    client = page_client(app, sales.tenant, sales.names["east"])
    token = csrf_from(_list_page(client, sales.tenant))
    refused = client.post(f"/t/{code}/customers/batch", data={
        "csrf_token": token, "action": "to_pool", "ids": [first, third], "reason": "无需求", "confirm": "y"})
    assert refused.status_code == 422
    assert 'id="refused"' in refused.text
    assert re.findall(r'name="ids" value="(\d+)"', refused.text) == [first]  # the refused one left out
    assert sales.customer(first, "status") == "active"
    again = client.post(f"/t/{code}/customers/batch", data={
        "csrf_token": csrf_from(refused.text), "action": "to_pool", "ids": [first], "reason": "无需求",
        "confirm": "y"})
    assert again.status_code == 302
    assert sales.customer(first, "status") == "in_pool" and sales.customer(second, "status") == "active"


def test_when_every_ticked_record_is_refused_the_page_says_so_and_asks_nothing(app, sales):
    code, third = sales.tenant.code, sales.mine[2]
    sales.lock(third)
    client = page_client(app, sales.tenant, sales.names["east"])
    refused = client.post(f"/t/{code}/customers/batch", data={
        "csrf_token": csrf_from(_list_page(client, sales.tenant)), "action": "to_pool", "ids": [third],
        "reason": "无需求", "confirm": "y"})
    assert refused.status_code == 422
    assert "没有可以执行此操作的记录" in refused.text
    assert 'name="reason"' not in refused.text and 'type="submit"' not in refused.text.split('id="refused"')[1]


def test_a_handover_of_ticked_customers_opens_its_start_page_with_them(app, sales):
    code = sales.tenant.code
    client = page_client(app, sales.tenant, sales.names["mgr"])
    token = csrf_from(_list_page(client, sales.tenant))
    resp = client.post(f"/t/{code}/customers/batch", data={"csrf_token": token, "action": "handover",
                                                           "ids": sales.mine[:2]})
    assert resp.status_code == 302
    target = resp.headers["Location"]
    assert f"from_owner_id={sales.east_id}" in target
    assert re.findall(r"customer_id=(\d+)", target) == sales.mine[:2]
    start = client.get(target)
    assert start.status_code == 200
    cancel = re.search(r'<a class="btn btn-ghost" href="([^"]+)">取消</a>', start.text).group(1)
    assert cancel.replace("&amp;", "&") == f"/t/{code}/customers/"  # back to the list the batch came from
    for cid in sales.mine[:2]:
        assert re.search(rf'value="{cid}"[^>]*checked', start.text), cid
    admin = page_client(app, sales.tenant)
    token = csrf_from(_list_page(admin, sales.tenant))
    mixed = admin.post(f"/t/{code}/customers/batch", data={"csrf_token": token, "action": "handover",
                                                           "ids": [sales.mine[0], sales.theirs]})
    assert mixed.status_code == 302 and "/handovers/" not in mixed.headers["Location"]
    back = admin.get(mixed.headers["Location"]).text
    assert "同一负责人" in back
    for cid in (sales.mine[0], sales.theirs):  # the list comes back with both still ticked, to untick one
        assert re.search(rf'name="ids" value="{cid}"[^>]*checked', back), cid
    assert not re.search(rf'name="ids" value="{sales.mine[1]}"[^>]*checked', back)
    assert "batch-ticked" not in back and not re.search(r'name="ids" value="\d+"[^>]*checked',
                                                        admin.get(mixed.headers["Location"]).text)  # once
    sales.lock(sales.mine[2])  # one already in a handover: named, not dropped (none ticked offers them all)
    busy = client.post(f"/t/{code}/customers/batch", data={"csrf_token": csrf_from(_list_page(client, sales.tenant)),
                                                           "action": "handover",
                                                           "ids": sales.mine[1:]})
    assert busy.status_code == 302 and "/handovers/" not in busy.headers["Location"]
    shown = client.get(busy.headers["Location"]).text
    assert "已在进行中的交接" in shown
    assert sales.manager.get(f"/customers/{sales.mine[2]}").json["customer_name"] in shown


def test_nothing_ticked_goes_back_to_the_list_saying_so(app, sales):
    client = page_client(app, sales.tenant, sales.names["mgr"])
    token = csrf_from(_list_page(client, sales.tenant))
    resp = client.post(f"/t/{sales.tenant.code}/customers/batch", data={"csrf_token": token, "action": "set_level"})
    assert resp.status_code == 302
    assert "请至少勾选一条记录" in client.get(resp.headers["Location"]).text
    no_action = client.post(f"/t/{sales.tenant.code}/customers/batch", data={"csrf_token": token, "action": "",
                                                                               "ids": sales.mine[1:]})
    assert no_action.status_code == 302
    back = client.get(no_action.headers["Location"]).text
    assert "请选择批量操作" in back
    assert sorted(re.findall(r'name="ids" value="(\d+)"[^>]*checked', back)) == sorted(sales.mine[1:])


# ---------------------------------------------------------------------- leads: the same pattern, the leads' rules


def _lead(api, **body):
    resp = api.post("/leads", json={"lead_name": f"线索{secrets.token_hex(2)}", "company": "上海明德物业有限公司",
                                    "source": "exhibition", "intent_level": "high", **body})
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def test_a_manager_hands_out_pool_leads_at_once_and_a_converted_one_stops_the_batch(sales):
    waiting = [_lead(sales.manager, owner_id="pool") for _ in range(3)]
    converted = _lead(sales.east)
    assert sales.east.post(f"/leads/{converted}/convert", json={}).status_code in (200, 201)
    refused = sales.manager.post("/leads/batch", json={"action": "assign", "ids": [*waiting, converted],
                                                       "owner_id": str(sales.east2_id)})
    assert refused.status_code == 422 and refused.json["error"]["refused"] == [converted]
    assert all(db_row(sales.tenant, "SELECT owner_id FROM crm_lead WHERE id = :i", i=int(i))[0] is None
               for i in waiting)
    resp = sales.manager.post("/leads/batch", json={"action": "assign", "ids": waiting,
                                                    "owner_id": str(sales.east2_id)})
    assert resp.status_code == 200, resp.json
    east2 = tenant_api(sales.app, sales.tenant, sales.names["east2"])
    mine = {lead["id"] for lead in east2.get("/leads?view=mine&limit=100").json["items"]}
    assert set(waiting) <= mine
    history = east2.get(f"/leads/{waiting[0]}/history").json["items"][0]
    assert history["action"] == "assign" and history["user_id"] == str(sales.manager_id)
    back = east2.post("/leads/batch", json={"action": "return", "ids": waiting[:2], "reason": "联系不上"})
    assert back.status_code == 200, back.json
    assert [db_row(sales.tenant, "SELECT owner_id FROM crm_lead WHERE id = :i", i=int(i))[0] for i in waiting] == \
        [None, None, sales.east2_id]
    assert east2.post("/leads/batch", json={"action": "delete", "ids": waiting[2:]}).status_code == 403  # sales


def test_the_lead_list_offers_its_batch_actions(app, sales):
    _lead(sales.manager, owner_id="pool")
    client = page_client(app, sales.tenant, sales.names["mgr"])
    page = client.get(f"/t/{sales.tenant.code}/leads/?view=all")
    assert page.status_code == 200
    bar = page.text.split('id="batch-form"')[1].split("</form>")[0]
    assert re.findall(r'<option value="(\w+)">', bar) == ["assign", "return", "delete"]


# ---------------------------------------------------------------------- contacts


def test_contacts_are_marked_do_not_contact_together_recording_who(sales):
    customer = sales.mine[0]
    people = [sales.east.post("/contacts", json={"customer_id": customer, "contact_name": name,
                                                 "phone": f"1391111{n:04d}"}).json["id"]
              for n, name in enumerate(("陈采购", "孙总", "周会计"))]
    elsewhere = sales.south.post("/contacts", json={"customer_id": sales.theirs, "contact_name": "吴经理",
                                                        "phone": "13922220000"}).json["id"]
    refused = sales.east.post("/contacts/batch", json={"action": "do_not_contact", "ids": [*people, elsewhere]})
    assert refused.status_code == 422 and refused.json["error"]["refused"] == [elsewhere]
    resp = sales.east.post("/contacts/batch", json={"action": "do_not_contact", "ids": people[:2]})
    assert resp.status_code == 200, resp.json
    for cid in people[:2]:
        contact = sales.east.get(f"/contacts/{cid}").json
        assert contact["do_not_contact"] is True and contact["dnc_set_by"] == str(sales.east_id)
    assert sales.east.get(f"/contacts/{people[2]}").json["do_not_contact"] is False
    cleared = sales.east.post("/contacts/batch", json={"action": "may_contact", "ids": people[:1]})
    assert cleared.status_code == 200 and sales.east.get(f"/contacts/{people[0]}").json["do_not_contact"] is False
    gone = sales.east.post("/contacts/batch", json={"action": "delete", "ids": people[:2]})
    assert gone.status_code == 200, gone.json
    left = sales.east.get(f"/contacts?customer_id={customer}").json["items"]
    assert [c["id"] for c in left] == [people[2]] and left[0]["is_primary"] is True  # the primary moved on


# ---------------------------------------------------------------------- the public pool: claim and assign many


def _pooled(sales, n=3):
    """``n`` customers of a colleague in the pool (the user claiming them is no previous owner: no cool-down)."""
    ids = [sales._add(sales.east) for _ in range(n)]
    resp = sales.east.post("/customers/batch", json={"action": "to_pool", "ids": ids, "reason": "无需求"})
    assert resp.status_code == 200, resp.json
    return ids


def test_a_sales_user_claims_several_pool_customers_up_to_the_days_cap(sales):
    admin = tenant_api(sales.app, sales.tenant)
    assert admin.patch("/pool/settings", json={"daily_claim_cap": 2}).status_code == 200
    first, second, third = _pooled(sales)
    east2 = tenant_api(sales.app, sales.tenant, sales.names["east2"])
    over = east2.post("/pool/batch", json={"action": "claim", "ids": [third, first, second]})
    assert over.status_code == 422 and over.json["error"]["refused"] == [second], over.json  # the last ticked
    assert "还可领取 2 个客户" in over.json["error"]["fields"]["ids"][0]  # what is left of the cap, not "已领取"
    assert all(sales.customer(c, "owner_id") is None for c in (first, second, third))  # none taken
    resp = east2.post("/pool/batch", json={"action": "claim", "ids": [first, second]})
    assert resp.status_code == 200, resp.json
    assert [sales.customer(c, "owner_id") for c in (first, second)] == [sales.east2_id] * 2
    assert sales.customer(third, "status") == "in_pool"
    assert east2.post("/pool/batch", json={"action": "assign", "ids": [third], "owner_id": str(sales.manager_id)}
                      ).status_code == 403  # a sales user does not assign, whoever they name
    assert admin.patch("/pool/settings", json={"holding_cap": 2}).status_code == 200  # east2 holds those two
    full = sales.manager.post("/pool/batch", json={"action": "assign", "ids": [third], "owner_id": str(sales.east2_id)})
    message = full.json["error"]["fields"]["ids"][0]
    assert full.status_code == 422 and "钱销售" in message and "还可持有 0 个客户" in message, full.json
    assert admin.patch("/pool/settings", json={"holding_cap": 200}).status_code == 200
    assert sales.manager.post("/pool/batch", json={"action": "assign", "ids": [third],
                                                   "owner_id": str(sales.east_id)}).status_code == 200
    taken = tenant_api(sales.app, sales.tenant, sales.names["south"]).post("/pool/batch", json={
        "action": "claim", "ids": [third]})  # a colleague was first: said so, without the name of what it was
    assert taken.status_code == 422 and "已不在此列表" in taken.json["error"]["fields"]["ids"][0], taken.json


def test_a_manager_assigns_several_pool_customers_from_the_pool_page(app, sales):
    ids = _pooled(sales, 2)
    client = page_client(app, sales.tenant, sales.names["mgr"])
    page = client.get(f"/t/{sales.tenant.code}/pool/")
    assert page.status_code == 200
    assert set(ids) <= set(re.findall(r'name="ids" value="(\d+)" form="batch-form"', page.text))
    bar = page.text.split('id="batch-form"')[1].split("</form>")[0]
    assert re.findall(r'<option value="(\w+)">', bar) == ["claim", "assign"]
    step1 = client.post(f"/t/{sales.tenant.code}/pool/batch", data={
        "csrf_token": csrf_from(page.text), "action": "assign", "ids": ids, "next": f"/t/{sales.tenant.code}/pool/"})
    assert step1.status_code == 200 and 'name="owner_id"' in step1.text
    assert f'/pool/{ids[0]}"' in step1.text  # each links to its page in the pool
    done = client.post(f"/t/{sales.tenant.code}/pool/batch", data={
        "csrf_token": csrf_from(step1.text), "action": "assign", "ids": ids, "owner_id": str(sales.east2_id),
        "confirm": "y", "next": f"/t/{sales.tenant.code}/pool/"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/pool/")
    assert [sales.customer(c, "owner_id") for c in ids] == [sales.east2_id] * 2
    assert "已分配 2 个客户" in client.get(done.headers["Location"]).text


def test_service_staff_who_only_see_the_pool_get_no_boxes(app, sales):
    _pooled(sales, 1)
    add_user(sales.tenant, f"svc{sales.names['mgr']}", ("service",), full_name="孙客服")
    client = page_client(app, sales.tenant, f"svc{sales.names['mgr']}")
    page = client.get(f"/t/{sales.tenant.code}/pool/")
    assert page.status_code == 200 and 'id="batch-form"' not in page.text and 'class="batch-pick"' not in page.text
