"""Follow-up records on real MariaDB tenants: methods, the next follow-up time, the customer's last and next
follow-up moved in the same transaction (a failure keeps both), the home page's due-today and overdue
lists per user, and the timeline of the 360 view."""

import functools
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from common.timeutil import from_local
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


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


@pytest.fixture
def customer(admin):
    resp = admin.post("/customers", json=customer_body())
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def follow_body(customer, **overrides):
    body = {"customer_id": customer, "follow_type": "phone", "content": "电话沟通了续约意向"}
    body.update(overrides)
    return body


def follow_up_count(tenant):
    return db_row(tenant, "SELECT COUNT(*) FROM crm_follow_up")[0]


def customer_times(tenant, customer):
    return tuple(db_row(tenant, "SELECT last_follow_up_at, next_follow_up_at FROM crm_customer WHERE id = :i",
                        i=customer))


def set_next_follow_up(tenant, customer, when):
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE crm_customer SET next_follow_up_at = :t WHERE id = :i"), {"t": when, "i": customer})
    engine.dispose()


def sales_east_and_west(tenant, prefix, names=("东区", "西区"), parent=None):
    """A sales user in each of two sibling departments: ``<prefix>_east`` and ``<prefix>_west``."""
    for name, side in zip(names, ("east", "west"), strict=True):
        add_user(tenant, f"{prefix}_{side}", ("sales",), add_dept(tenant, name, parent))


def recent_activity(app, tenant, username):
    """The 最近动态 card of the user's home page."""
    html = page_client(app, tenant, username).get(f"/t/{tenant.code}/").text
    return re.search(r'<section class="card" id="recent">(.*?)</section>', html, re.DOTALL).group(1)


@pytest.mark.parametrize("method", ["phone", "visit", "wechat", "email", "other"])
def test_each_method_is_recorded(admin, customer, method):
    resp = admin.post("/follow-ups", json=follow_body(customer, follow_type=method))
    assert resp.status_code == 201, resp.json
    assert resp.json["follow_type"] == method
    assert admin.get(f"/follow-ups?customer_id={customer}&follow_type={method}").json["items"][0]["id"] == \
        resp.json["id"]


@pytest.mark.parametrize("fields,bad", [
    ({"follow_type": "fax"}, "follow_type"),
    ({"content": "   "}, "content"),
    ({"content": "字" * 5001}, "content"),
    ({"next_follow_time": "next tuesday"}, "next_follow_time"),
    ({"next_content": "x" * 501}, "next_content"),
    ({"customer_id": "999999999"}, "customer_id"),
    ({"customer_id": "abc"}, "customer_id"),
    ({"contact_id": "abc"}, "contact_id"),
    ({"contact_id": "999999999"}, "contact_id"),
])
def test_bad_input_is_422_naming_the_field_and_changes_nothing(admin, customer, fields, bad):
    tenant = admin.tenant
    before, times = follow_up_count(tenant), customer_times(tenant, customer)
    resp = admin.post("/follow-ups", json=follow_body(customer, **fields))
    assert resp.status_code == 422, resp.json
    assert bad in resp.json["error"]["fields"], resp.json
    assert follow_up_count(tenant) == before and customer_times(tenant, customer) == times


def test_the_contact_spoken_to_must_be_one_of_the_customers(admin, customer):
    other = admin.post("/customers", json=customer_body()).json["id"]
    theirs = admin.post("/contacts", json={"customer_id": other, "contact_name": "外人", "phone": "13700137000"}).json
    ours = admin.post("/contacts", json={"customer_id": customer, "contact_name": "自己人", "phone": "13700137001"}).json
    refused = admin.post("/follow-ups", json=follow_body(customer, contact_id=theirs["id"]))
    assert refused.status_code == 422 and "contact_id" in refused.json["error"]["fields"]
    assert admin.delete(f"/contacts/{ours['id']}").status_code == 204
    gone = admin.post("/follow-ups", json=follow_body(customer, contact_id=ours["id"]))
    assert gone.status_code == 422 and "contact_id" in gone.json["error"]["fields"]
    kept = admin.post("/contacts", json={"customer_id": customer, "contact_name": "新人", "phone": "13700137002"}).json
    ok = admin.post("/follow-ups", json=follow_body(customer, contact_id=kept["id"]))
    assert ok.status_code == 201 and ok.json["contact_id"] == kept["id"]


def test_recording_one_moves_the_customers_last_and_next_follow_up(app, admin, customer):
    assert admin.get(f"/customers/{customer}").json["last_follow_up_at"] is None
    made = admin.post("/follow-ups", json=follow_body(customer, next_follow_time="2030-05-01T09:00",
                                                      next_content="带合同上门"))
    assert made.status_code == 201, made.json
    assert made.json["next_follow_time"] == "2030-05-01T09:00:00+08:00"
    assert made.json["next_content"] == "带合同上门" and made.json["created_by_name"]
    after = admin.get(f"/customers/{customer}").json
    assert after["next_follow_up_at"] == "2030-05-01T09:00:00+08:00"
    assert after["last_follow_up_at"] == made.json["created_at"]
    page = page_client(app, admin.tenant).get(f"/t/{admin.tenant.code}/customers/{customer}").text
    assert "不填则保留 2030-05-01 09:00 的计划" in page.split('id="add-follow-up"', 1)[1].split("</form>", 1)[0]
    # a call before the planned visit, recorded without a plan, keeps the visit planned
    later = admin.post("/follow-ups", json=follow_body(customer, follow_type="phone")).json
    after = admin.get(f"/customers/{customer}").json
    assert after["next_follow_up_at"] == "2030-05-01T09:00:00+08:00" and after["last_follow_up_at"] == later["created_at"]
    # once the plan is due, the follow-up without a new plan is the one that was due: nothing is due any more
    set_next_follow_up(admin.tenant, customer, datetime(2020, 5, 1, 1, 0))
    page = page_client(app, admin.tenant).get(f"/t/{admin.tenant.code}/customers/{customer}").text
    form = page.split('id="add-follow-up"', 1)[1].split("</form>", 1)[0]  # it says so before, not after
    assert "此次跟进即完成 2020-05-01 09:00 逾期的计划" in form and "不填则不再安排下次跟进" in form, form
    admin.post("/follow-ups", json=follow_body(customer, follow_type="visit"))
    assert admin.get(f"/customers/{customer}").json["next_follow_up_at"] is None


def test_a_next_follow_up_on_a_day_already_past_is_refused(app, admin, customer):
    """A year typed wrong or a day picked from last month would show the customer overdue the moment it is
    saved; today (even an hour already past) is a plan for today."""
    from common.timeutil import local_today

    with app.app_context():
        today = local_today()
    refused = admin.post("/follow-ups", json=follow_body(customer, next_follow_time=_local(today - timedelta(days=1), 9)))
    assert refused.status_code == 422 and set(refused.json["error"]["fields"]) == {"next_follow_time"}, refused.json
    assert admin.get(f"/customers/{customer}").json["last_follow_up_at"] is None
    today_plan = admin.post("/follow-ups", json=follow_body(customer, next_follow_time=_local(today, 0, 1)))
    assert today_plan.status_code == 201, today_plan.json


def test_follow_ups_are_records_never_edited_or_deleted(admin, customer):
    made = admin.post("/follow-ups", json=follow_body(customer)).json
    assert admin.patch(f"/follow-ups/{made['id']}", json={"content": "改过"}).status_code == 405
    assert admin.delete(f"/follow-ups/{made['id']}").status_code == 405
    assert admin.get(f"/follow-ups/{made['id']}").json["content"] == made["content"]


def test_a_failure_saving_the_customer_keeps_neither(app, admin, customer):
    """The database refuses the customer's new times (a trigger stands in for any failure of that write):
    the follow-up written a moment earlier in the same request is not kept either."""
    tenant = admin.tenant
    first = admin.post("/follow-ups", json=follow_body(customer, next_follow_time="2030-05-01T09:00")).json
    before, times = follow_up_count(tenant), customer_times(tenant, customer)
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TRIGGER crm_test_refuse_2099 BEFORE UPDATE ON crm_customer FOR EACH ROW "
            "BEGIN IF YEAR(NEW.next_follow_up_at) = 2099 THEN "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by test'; END IF; END"))
    try:
        resp = admin.post("/follow-ups", json=follow_body(customer, next_follow_time="2099-01-01T09:00"))
        assert resp.status_code in (500, 503), resp.status_code
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS crm_test_refuse_2099"))
        engine.dispose()
    assert follow_up_count(tenant) == before
    assert customer_times(tenant, customer) == times
    assert [f["id"] for f in admin.get(f"/follow-ups?customer_id={customer}").json["items"]] == [first["id"]]


def test_a_refused_attachment_keeps_neither(app, admin, customer):
    """The page's form with a file that is not an image, PDF or Office document: 422 on the form, and neither
    the follow-up nor the customer's times are saved."""
    import io

    tenant = admin.tenant
    before, times = follow_up_count(tenant), customer_times(tenant, customer)
    client = page_client(app, tenant)
    page = client.get(f"/t/{tenant.code}/customers/{customer}")
    resp = client.post(f"/t/{tenant.code}/follow-ups/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page.text), "customer_id": customer, "follow_type": "phone", "content": "附件不对",
        "next_follow_time": "2030-01-01T10:00", "attachment": (io.BytesIO(b"MZ\x90\x00 not a document"), "合同.pdf")})
    assert resp.status_code == 422
    assert 'class="field has-error" id="field-attachment"' in resp.text
    assert follow_up_count(tenant) == before and customer_times(tenant, customer) == times


def _local(day, hour, minute=0):
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute).strftime("%Y-%m-%dT%H:%M")


def _due_section(html):
    return re.search(r'<section class="card" id="due">(.*?)</section>', html, re.DOTALL).group(1)


def test_home_page_lists_my_follow_ups_due_today_and_overdue(app, tenants):
    from common.timeutil import local_today

    tenant = tenants[0]
    dept = add_dept(tenant, "销售部")
    add_user(tenant, "due_a", ("sales",), dept)
    add_user(tenant, "due_b", ("sales",), dept)
    a, b = tenant_api(app, tenant, "due_a"), tenant_api(app, tenant, "due_b")
    with app.app_context():
        today = local_today()
    plan = {"逾期甲有限公司": (a, _local(today - timedelta(days=3), 10)),
            "今日乙有限公司": (a, _local(today, 0, 1)),
            "明日丙有限公司": (a, _local(today + timedelta(days=1), 9)),
            "无计划丁有限公司": (a, None),
            "别人的逾期戊有限公司": (b, _local(today - timedelta(days=1), 9))}
    for name, (who, when) in plan.items():
        cid = who.post("/customers", json=customer_body(customer_name=name)).json["id"]
        past = when is not None and when < _local(today, 0)
        body = follow_body(cid) | ({"next_follow_time": when} if when and not past else {})
        assert who.post("/follow-ups", json=body).status_code == 201
        if past:  # planned days ago and not done since: time passed (no form takes a day already gone)
            with app.app_context():
                set_next_follow_up(tenant, cid, from_local(datetime.fromisoformat(when)))
    due = _due_section(page_client(app, tenant, "due_a").get(f"/t/{tenant.code}/").text)
    rows = re.findall(r"<tr( class=\"overdue\")?><td[^>]*><a [^>]*>([^<]+)</a>", due)
    assert rows == [(' class="overdue"', "逾期甲有限公司"), ("", "今日乙有限公司")]
    other = _due_section(page_client(app, tenant, "due_b").get(f"/t/{tenant.code}/").text)
    assert "别人的逾期戊有限公司" in other and "逾期甲有限公司" not in other and "今日乙有限公司" not in other
    # a follow-up done today clears the overdue one
    overdue_id = a.get("/customers?q=逾期甲").json["items"][0]["id"]
    assert a.post("/follow-ups", json=follow_body(overdue_id)).status_code == 201
    due = _due_section(page_client(app, tenant, "due_a").get(f"/t/{tenant.code}/").text)
    assert "逾期甲有限公司" not in due and "今日乙有限公司" in due
    # one set aside (非活跃) is no reminder: "kept, not worked for now"
    today_id = a.get("/customers?q=今日乙").json["items"][0]["id"]
    assert a.patch(f"/customers/{today_id}", json={"status": "inactive"}).status_code == 200
    assert "今日乙有限公司" not in _due_section(page_client(app, tenant, "due_a").get(f"/t/{tenant.code}/").text)


def test_the_360_timeline_is_newest_first_with_authors(app, admin, customer):
    tenant = admin.tenant
    add_user(tenant, "tl_svc", ("service",), full_name="客服小周")
    service = tenant_api(app, tenant, "tl_svc")
    ids = [admin.post("/follow-ups", json=follow_body(customer, content="第一次")).json["id"],
           service.post("/follow-ups", json=follow_body(customer, follow_type="wechat", content="第二次")).json["id"],
           admin.post("/follow-ups", json=follow_body(customer, follow_type="visit", content="第三次")).json["id"]]
    view = admin.get(f"/customers/{customer}/360").json
    assert [f["id"] for f in view["follow_ups"]] == ids[::-1]
    assert [f["content"] for f in view["follow_ups"]] == ["第三次", "第二次", "第一次"]
    assert view["follow_ups"][1]["created_by_name"] == "客服小周"
    assert view["customer"]["last_follow_up_at"] == view["follow_ups"][0]["created_at"]
    page = page_client(app, tenant).get(f"/t/{tenant.code}/customers/{customer}").text
    assert page.index("第三次") < page.index("第二次") < page.index("第一次")


def test_the_form_does_not_offer_the_contacts_of_a_customer_the_user_cannot_see(app, tenants):
    """Opening the follow-up form with another department's customer number shows none of its contacts
    (the choices are part of that customer's record), neither on the first view nor after an error."""
    tenant = tenants[0]
    sales_east_and_west(tenant, "fu")
    owner = tenant_api(app, tenant, "fu_east")
    cid = owner.post("/customers", json=customer_body()).json["id"]
    assert owner.post("/contacts", json={"customer_id": cid, "contact_name": "机密联系人王",
                                         "phone": "13700137000"}).status_code == 201
    mine = page_client(app, tenant, "fu_east").get(f"/t/{tenant.code}/follow-ups/new?customer_id={cid}")
    assert "机密联系人王" in mine.text  # control: the owner is offered the contact
    stranger = page_client(app, tenant, "fu_west")
    form = stranger.get(f"/t/{tenant.code}/follow-ups/new?customer_id={cid}")
    assert form.status_code in (200, 404) and "机密联系人王" not in form.text
    posted = stranger.post(f"/t/{tenant.code}/follow-ups/new", data={
        "csrf_token": csrf_from(stranger.get(f"/t/{tenant.code}/follow-ups/new").text), "customer_id": cid,
        "follow_type": "phone", "content": ""})
    assert posted.status_code == 422 and "机密联系人王" not in posted.text
    assert follow_up_count(tenant) == 0


def test_recent_activity_on_the_home_page_follows_the_data_scope(app, tenants):
    tenant = tenants[0]
    sales = add_dept(tenant, "销售部")
    sales_east_and_west(tenant, "ra", parent=sales)
    add_user(tenant, "ra_mgr", ("sales_manager",), sales)
    for who, text in (("ra_east", "东区的拜访纪要"), ("ra_west", "西区的电话纪要")):
        api = tenant_api(app, tenant, who)
        cid = api.post("/customers", json=customer_body()).json["id"]
        assert api.post("/follow-ups", json=follow_body(cid, content=text)).status_code == 201
    recent = functools.partial(recent_activity, app, tenant)
    assert "东区的拜访纪要" in recent("ra_east") and "西区的电话纪要" not in recent("ra_east")
    assert "西区的电话纪要" in recent("ra_west") and "东区的拜访纪要" not in recent("ra_west")
    assert "东区的拜访纪要" in recent("ra_mgr") and "西区的电话纪要" in recent("ra_mgr")
    east_list = tenant_api(app, tenant, "ra_east").get("/follow-ups?view=all").json["items"]
    assert [f["content"] for f in east_list] == ["东区的拜访纪要"]


def test_recent_activity_holds_follow_ups_on_leads_too_linking_the_lead(app, tenants):
    """A sales team's day is as much leads as customers: the home page's recent activity shows both, newest
    first, each linked to its record, and a lead's only to whoever may see the lead."""
    tenant = tenants[0]
    sales_east_and_west(tenant, "rl", names=("线索东区", "线索西区"))
    api = tenant_api(app, tenant, "rl_east")
    cid = api.post("/customers", json=customer_body()).json["id"]
    lead = api.post("/leads", json={"lead_name": "线索王先生", "company": "上海明德物业有限公司", "source": "exhibition"})
    assert lead.status_code == 201, lead.json
    assert api.post("/follow-ups", json=follow_body(cid, content="客户的电话纪要")).status_code == 201
    assert api.post("/follow-ups", json={"lead_id": lead.json["id"], "follow_type": "visit",
                                         "content": "线索的上门纪要"}).status_code == 201
    recent = functools.partial(recent_activity, app, tenant)
    mine = recent("rl_east")
    assert mine.index("线索的上门纪要") < mine.index("客户的电话纪要")  # the newest first
    assert f'/t/{tenant.code}/leads/{lead.json["id"]}"' in mine and f'/t/{tenant.code}/customers/{cid}"' in mine
    assert "线索的上门纪要" not in recent("rl_west")


def test_one_records_follow_ups_are_everyones_the_user_may_see_as_on_its_page(app, tenants):
    """``/follow-ups?customer_id=`` (or ``lead_id``) without ``view`` lists the record's follow-ups by anyone,
    as the record's page does; the plain list stays 我的跟进."""
    tenant = tenants[0]
    sales = add_dept(tenant, "销售部")
    add_user(tenant, "fv_sales", ("sales",), sales)
    add_user(tenant, "fv_mgr", ("sales_manager",), sales)
    owner, manager = tenant_api(app, tenant, "fv_sales"), tenant_api(app, tenant, "fv_mgr")
    cid = owner.post("/customers", json=customer_body()).json["id"]
    assert owner.post("/follow-ups", json=follow_body(cid, content="销售的拜访")).status_code == 201
    assert manager.post("/follow-ups", json=follow_body(cid, content="经理的电话")).status_code == 201
    for api in (owner, manager):
        listed = api.get(f"/follow-ups?customer_id={cid}").json["items"]
        assert {f["content"] for f in listed} == {"销售的拜访", "经理的电话"}
    assert {f["content"] for f in owner.get("/follow-ups").json["items"]} == {"销售的拜访"}
    assert {f["content"] for f in owner.get(f"/follow-ups?customer_id={cid}&view=mine").json["items"]} == {"销售的拜访"}


def test_follow_ups_recorded_at_the_same_moment_leave_the_newest_ones_times(app, admin, customer, monkeypatch):
    """Eight colleagues record a follow-up on one customer at once, each with another next time: the
    customer's next follow-up is the newest record's, and its last follow-up that record's time."""
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    clients = [tenant_api(app, admin.tenant) for _ in range(4)]

    def record(i):
        resp = clients[i % 4].post("/follow-ups", json=follow_body(customer, next_follow_time=f"2030-01-{i + 10}T09:00"))
        return resp.status_code

    results = at_once(8, record)
    assert results == [201] * 8
    newest = admin.get(f"/follow-ups?customer_id={customer}&limit=1").json["items"][0]
    after = admin.get(f"/customers/{customer}").json
    assert after["next_follow_up_at"] == newest["next_follow_time"]
    assert after["last_follow_up_at"] == newest["created_at"]


def test_the_follow_ups_list_links_each_customer_and_lead(app, admin, customer):
    """The list's 客户 column opens the customer (or the lead) a follow-up is on, as the customers list links
    its names."""
    tenant = admin.tenant
    name = admin.get(f"/customers/{customer}").json["customer_name"]
    assert admin.post("/follow-ups", json=follow_body(customer)).status_code == 201
    lead = admin.post("/leads", json={"lead_name": "列表里的线索"}).json["id"]
    assert admin.post("/follow-ups", json={"lead_id": lead, "follow_type": "phone", "content": "线索跟进"}).status_code == 201
    page = page_client(app, tenant).get(f"/t/{tenant.code}/follow-ups/?view=all")
    assert page.status_code == 200
    assert f'<td><a href="/t/{tenant.code}/customers/{customer}">{name}</a></td>' in page.text
    assert re.search(rf'<td><a href="/t/{tenant.code}/leads/{lead}">[^<]*列表里的线索</a></td>', page.text)


def _hidden_customer(html):
    found = re.search(r'<input type="hidden" name="customer_id" value="(\d+)">', html)
    return found.group(1) if found else None


def test_the_customer_picker_finds_only_customers_the_user_can_see(app, tenants):
    """新建跟进 without a customer searches by name or phone among the user's customers only: a sales user does
    not find another department's customer, by name or by number, and cannot choose it by its id either."""
    tenant = tenants[0]
    east, west = add_dept(tenant, "东区"), add_dept(tenant, "西区")
    add_user(tenant, "pick_east", ("sales",), east)
    add_user(tenant, "pick_west", ("sales",), west)
    mine = tenant_api(app, tenant, "pick_east").post("/customers", json=customer_body(
        customer_name="东区选我物业有限公司", phone="13759684922")).json["id"]
    theirs = tenant_api(app, tenant, "pick_west").post("/customers", json=customer_body(
        customer_name="西区别选物业有限公司", phone="13759684933")).json["id"]
    client = page_client(app, tenant, "pick_east")
    base = f"/t/{tenant.code}/follow-ups/new"
    first = client.get(base)
    assert first.status_code == 200 and 'id="pick-customer"' in first.text and _hidden_customer(first.text) is None
    assert f'href="{base}?customer_id={mine}"' in first.text and "西区别选" not in first.text
    for q in ("选", "物业", "1375968", "137-5968-4922"):
        found = client.get(base, query_string={"q": q}).text
        assert f'href="{base}?customer_id={mine}"' in found, q
        assert "西区别选" not in found and f"customer_id={theirs}" not in found, q
    assert "东区选我" not in client.get(base, query_string={"q": "西区别选"}).text
    refused = client.get(f"{base}?customer_id={theirs}")
    assert "西区别选" not in refused.text and _hidden_customer(refused.text) is None
    assert 'id="pick-customer"' in refused.text and "请选择您有权查看的客户。" in refused.text


def test_choosing_a_customer_sets_the_form(app, admin, customer):
    """A match's 选择 link opens the form for that customer: its name links to it, 更换 goes back to the search,
    its id is a hidden field, and the follow-up is recorded on it."""
    tenant = admin.tenant
    name = admin.get(f"/customers/{customer}").json["customer_name"]
    client = page_client(app, tenant)
    base = f"/t/{tenant.code}/follow-ups/new"
    form = client.get(f"{base}?customer_id={customer}")
    assert form.status_code == 200 and 'id="pick-customer"' not in form.text
    assert f'<a href="/t/{tenant.code}/customers/{customer}">{name}</a>' in form.text
    assert f'href="{base}">更换</a>' in form.text and _hidden_customer(form.text) == customer
    assert re.search(r'<label>客户<span class="req">\*</span></label>', form.text)
    posted = client.post(base, data={"csrf_token": csrf_from(form.text), "customer_id": customer,
                                     "follow_type": "phone", "content": "选好客户再记"})
    assert posted.status_code == 302 and f"/customers/{customer}" in posted.headers["Location"]
    assert admin.get(f"/follow-ups?customer_id={customer}").json["items"][0]["content"] == "选好客户再记"


def test_an_empty_inline_follow_up_keeps_its_customer(app, admin, customer):
    """The 跟进 form on a customer's page sent without content comes back naming that customer (and carrying
    it), and 取消 goes back to the customer's page, not to the follow-ups list."""
    tenant = admin.tenant
    name = admin.get(f"/customers/{customer}").json["customer_name"]
    client = page_client(app, tenant)
    page = client.get(f"/t/{tenant.code}/customers/{customer}")
    assert re.search(r'<label for="content">[^<]*<span class="req">\*</span>', page.text)  # required, marked
    before = follow_up_count(tenant)
    resp = client.post(f"/t/{tenant.code}/follow-ups/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page.text), "customer_id": customer, "follow_type": "phone", "contact_id": "",
        "content": "", "next_follow_time": "", "next_content": ""})
    assert resp.status_code == 422 and "此项为必填项。" in resp.text
    assert f'<a href="/t/{tenant.code}/customers/{customer}">{name}</a>' in resp.text
    assert _hidden_customer(resp.text) == customer and 'id="pick-customer"' not in resp.text
    cancel = re.search(r'<a class="btn btn-ghost" href="([^"]+)">取消</a>', resp.text).group(1)
    assert cancel == f"/t/{tenant.code}/customers/{customer}"
    assert follow_up_count(tenant) == before


def test_a_follow_up_without_customer_or_lead_names_the_customer_with_the_other_errors(admin):
    """Neither a customer nor a lead: 422 naming the customer, together with any other bad field, on one answer."""
    resp = admin.post("/follow-ups", json={"follow_type": "fax", "content": "没有客户"})
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == {"customer_id", "follow_type"}
    assert admin.post("/follow-ups", json={"customer_id": "", "follow_type": "phone", "content": "x"}).status_code == 422


def test_a_record_page_with_more_follow_ups_than_it_shows_links_to_them_all(app, admin, customer):
    """A customer's (or a lead's) page shows its latest 50 follow-ups and counted them as "跟进时间线 50" however many
    there were, the older ones out of reach from the page: it now says that the latest 50 are shown and links to
    the follow-up list filtered to the record, which has them all."""
    engine = admin.tenant.engine()
    lead = admin.post("/leads", json={"lead_name": "林静", "company": "上海明德物业有限公司"}).json["id"]
    now = datetime.utcnow()
    with engine.begin() as conn:  # 51 each, written at once (the page is what is under test)
        for relation, rid in (("customer", customer), ("lead", lead)):
            conn.execute(sa.text(
                "INSERT INTO crm_follow_up (relation_type, relation_id, follow_type, content, created_by, created_at, "
                "updated_at) "
                "VALUES (:t, :r, 'phone', :c, 1, :at, :at)"),
                [{"t": relation, "r": rid, "c": f"第{k}次沟通", "at": now - timedelta(hours=k)} for k in range(51)])
    engine.dispose()
    pages = page_client(app, admin.tenant)
    base = f"/t/{admin.tenant.code}"
    page = pages.get(f"{base}/customers/{customer}").text
    assert "此处显示最近的 50 条跟进。" in page and f'href="{base}/follow-ups/?customer_id={customer}"' in page
    listed = pages.get(f"{base}/follow-ups/?customer_id={customer}").text
    assert re.search(r"共 ?51 ?条", listed), listed[-2000:]
    lead_page = pages.get(f"{base}/leads/{lead}").text
    assert "此处显示最近的 50 条跟进。" in lead_page and f'href="{base}/follow-ups/?lead_id={lead}"' in lead_page
    # a record with fewer says nothing of the kind
    other = admin.post("/customers", json=customer_body()).json["id"]
    assert admin.post("/follow-ups", json=follow_body(other)).status_code == 201
    assert "此处显示最近的" not in pages.get(f"{base}/customers/{other}").text
