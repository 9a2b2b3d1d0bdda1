"""The customer archive on real MariaDB tenants: validation, uniqueness (also under 50 concurrent creates),
the duplicate check, change history, soft delete and restore, filters, sorting and keyset pages."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.factories import credit_code
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    add_dept,
    add_user,
    at_once,
    customer_body,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


def count_customers(tenant):
    engine = tenant.engine()
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM crm_customer")).scalar()
    engine.dispose()
    return n


def test_create_normalises_the_phone_and_owns_it_by_the_creator(admin):
    resp = admin.post("/customers", json=customer_body(phone="138-0013-8000", tax_id=credit_code().lower(),
                                                       tags="重点，老客户 重点", province_code="31", city_code="3100"))
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["phone"] == "+8613800138000"
    assert body["tax_id"] == body["tax_id"].upper() and len(body["tax_id"]) == 18
    assert body["tags"] == ["老客户", "重点"]
    assert body["owner"]["name"] and body["dept"]["id"]
    assert body["province_name"] == "上海市" and body["created_at"].endswith("+08:00")
    assert admin.get(f"/customers/{body['id']}").json == body


@pytest.mark.parametrize("fields,bad", [
    ({"customer_name": "  "}, "customer_name"),
    ({"phone": "12345"}, "phone"),
    ({"tax_id": "91310115MA1K3YJ59R"}, "tax_id"),  # wrong check digit
    ({"customer_type": "individual", "tax_id": None}, None),  # fine, control
    ({"customer_type": "individual", "scale": "lt50"}, "scale"),
    ({"customer_type": "robot"}, "customer_type"),
    ({"level": "vip"}, "level"),
    ({"city_code": "4403", "province_code": "31"}, "city_code"),
    ({"next_follow_up_at": "next tuesday"}, "next_follow_up_at"),
    ({"tags": ["x" * 31]}, "tags"),
    ({"owner_id": "999999"}, "owner_id"),
])
def test_bad_input_is_422_naming_the_field_and_saves_nothing(admin, fields, bad):
    tenant = admin.tenant
    before = count_customers(tenant)
    body = customer_body(**fields)
    resp = admin.post("/customers", json={k: v for k, v in body.items() if v is not None})
    if bad is None:
        assert resp.status_code == 201, resp.json
        return
    assert resp.status_code == 422, resp.json
    assert bad in resp.json["error"]["fields"]
    assert count_customers(tenant) == before


def test_an_individual_cannot_carry_a_tax_id(admin):
    resp = admin.post("/customers", json=customer_body(customer_type="individual", customer_name="王先生",
                                                       tax_id=credit_code()))
    assert resp.status_code == 422 and "tax_id" in resp.json["error"]["fields"]


def test_phone_and_tax_id_are_unique_409_naming_the_field(admin):
    code = credit_code()
    assert admin.post("/customers", json=customer_body(phone="13800138001", tax_id=code)).status_code == 201
    again = admin.post("/customers", json=customer_body(phone="+86 138 0013 8001"))
    assert again.status_code == 409
    assert again.json["error"]["code"] == "duplicate" and set(again.json["error"]["fields"]) == {"phone"}
    taxed = admin.post("/customers", json=customer_body(tax_id=code))
    assert taxed.status_code == 409 and set(taxed.json["error"]["fields"]) == {"tax_id"}


def test_fifty_concurrent_creates_with_one_phone_give_one_201(app, tenants, monkeypatch):
    """The unique index decides: every loser gets 409 duplicate naming the phone, never a 500. (The tenant
    has 5 connections: requests queue for them, and on a busy test machine may wait longer than the
    default two seconds, which is not what this test is about.)"""
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    # and all 50 must reach the database: the bulkhead's fast 503 for a busy tenant is tested on its own
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    tenant = tenants[0]
    clients = [tenant_api(app, tenant) for _ in range(5)]

    def create(i):
        resp = clients[i % 5].post("/customers", json=customer_body(phone="13900000000"))
        return (resp.status_code, resp.json)

    results = at_once(50, create)
    statuses = sorted(code for code, _ in results)
    assert statuses == [201] + [409] * 49, [body for code, body in results if code not in (201, 409)] or statuses
    assert all(body["error"]["fields"] == {"phone": ["Already in use."]} or "phone" in body["error"]["fields"]
               for code, body in results if code == 409)


def test_concurrent_creates_of_names_sharing_words_all_succeed(app, tenants, monkeypatch):
    """Customers created at the same moment whose names share words (龙腾, 物业) all get 201: writing a new
    customer's rows of the word index takes no lock that another create waits on in turn (it once began with a
    DELETE of the new id's rows, whose gap lock deadlocked such creates: 409 concurrent_change)."""
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    tenant = tenants[0]
    clients = [tenant_api(app, tenant) for _ in range(5)]

    def create(i):
        name = f"龙腾物业{chr(0x5C71 + i)}{chr(0x6C34 + i)}苑"  # distinct names, not one another's duplicates
        resp = clients[i % 5].post("/customers", json=customer_body(customer_name=name, phone=f"1390001{i:04d}"))
        return (resp.status_code, resp.json)

    results = at_once(30, create)
    assert sorted(code for code, _ in results) == [201] * 30, [body for code, body in results if code != 201][:3]
    found = clients[0].get("/customers", query_string={"q": "龙腾物业", "limit": 100}).json["items"]
    assert len(found) == 30


def test_same_company_under_another_spelling_is_a_possible_duplicate(admin):
    first = admin.post("/customers", json=customer_body(customer_name="上海华庭物业管理有限公司"))
    assert first.status_code == 201
    for spelling in ("上海华庭物业管理", " 上海 华庭物业管理有限责任公司", "上海华庭物业管理股份有限公司",
                     "上海华庭物业管理（有限公司）"):
        resp = admin.post("/customers", json=customer_body(customer_name=spelling))
        assert resp.status_code == 409, spelling
        assert resp.json["error"]["code"] == "possible_duplicate"
        assert resp.json["error"]["duplicates"][0]["customer_name"] == "上海华庭物业管理有限公司"
    # a taken phone and the same name are named in one answer, not the name on the next try
    assert admin.patch(f"/customers/{first.json['id']}", json={"phone": "13800138555"}).status_code == 200
    both = admin.post("/customers", json=customer_body(customer_name="上海华庭物业管理", phone="13800138555"))
    assert both.status_code == 409 and both.json["error"]["code"] == "duplicate"
    assert set(both.json["error"]["fields"]) == {"phone", "customer_name"}, both.json
    confirmed = admin.post("/customers", json=customer_body(customer_name="上海华庭物业管理", confirm_duplicate=True))
    assert confirmed.status_code == 201
    # an individual of the same name is not a company duplicate
    person = admin.post("/customers", json=customer_body(customer_type="individual", customer_name="上海华庭物业管理"))
    assert person.status_code == 201


def test_duplicate_check_masks_the_owner_of_a_record_the_user_cannot_see(app, admin):
    """The owner's name is masked where the user may not see the record; their department is not, so that
    "ask them or your manager" says where to ask."""
    tenant = admin.tenant
    add_user(tenant, "dupe1", dept=add_dept(tenant, "华东查重组"), full_name="欧阳娜娜")
    add_user(tenant, "dupe2")
    owner = tenant_api(app, tenant, "dupe1")
    assert owner.post("/customers", json=customer_body(customer_name="锦绣家园物业有限公司", phone="13812345678")).status_code == 201
    other = tenant_api(app, tenant, "dupe2")
    found = other.get("/customers/duplicates?phone=13812345678").json["items"]
    assert found == [{"id": None, "customer_name": "锦绣家园物业有限公司", "matched_on": ["phone"], "owner_name": "欧***",
                      "owner_dept": "华东查重组", "in_pool": False, "deleted": False, "visible": False}]
    page = page_client(app, tenant, "dupe2").get(f"/t/{tenant.code}/customers/duplicates?phone=13812345678").text
    assert "欧***" in page and "华东查重组" in page and "欧阳娜娜" not in page
    by_name = other.get("/customers/duplicates?name=锦绣家园物业").json["items"]
    assert by_name[0]["matched_on"] == ["name"]
    seen = admin.get("/customers/duplicates?phone=13812345678").json["items"][0]
    assert seen["owner_name"] == "欧阳娜娜" and seen["visible"] and seen["id"]
    assert other.get("/customers/duplicates").status_code == 422
    assert other.get("/customers/duplicates?phone=123").status_code == 422


def test_the_duplicate_check_finds_names_that_start_with_a_short_one(app, admin):
    """Typing the short name colleagues use (西安宏图) or a word of it (宏图) finds 西安宏图商贸有限公司 as a similar
    name, masked where the user may not see it; a code that is no credit code is refused, not answered 'you can
    create it'."""
    from tests.tenant_runtime.crm import page_client

    tenant = admin.tenant
    add_user(tenant, "sim1", full_name="王小明")
    add_user(tenant, "sim2")
    assert tenant_api(app, tenant, "sim1").post("/customers", json=customer_body(
        customer_name="西安宏图商贸有限公司")).status_code == 201
    other = tenant_api(app, tenant, "sim2")
    found = other.get("/customers/duplicates?name=西安宏图").json["items"]
    assert [(m["customer_name"], m["matched_on"], m["owner_name"], m["visible"]) for m in found] == [
        ("西安宏图商贸有限公司", ["similar_name"], "王**", False)]
    assert other.get("/customers/duplicates?name=西安宏图商贸").json["items"][0]["matched_on"] == ["name"]
    assert other.get("/customers/duplicates?name=西").json["items"] == []  # one character is not a name
    # a word inside the name (the brand people know it by) finds it too, through the word index
    assert [m["customer_name"] for m in other.get("/customers/duplicates?name=宏图商贸").json["items"]] == [
        "西安宏图商贸有限公司"]
    assert other.get("/customers/duplicates?name=宏图").json["items"][0]["matched_on"] == ["similar_name"]
    # a phone or a credit code typed in the name box is looked up as what it is
    phoned = tenant_api(app, tenant, "sim1").post("/customers", json=customer_body(
        customer_name="咸阳秦都物业", phone="13102135503")).json
    by_phone = other.get("/customers/duplicates?name=131 0213 5503").json["items"]
    assert [(m["customer_name"], m["matched_on"]) for m in by_phone] == [("咸阳秦都物业", ["phone"])], phoned
    bad = other.get("/customers/duplicates?tax_id=123")
    assert bad.status_code == 422 and "tax_id" in bad.json["error"]["fields"]
    pages = page_client(app, tenant)
    assert "名称相近" in pages.get(f"/t/{tenant.code}/customers/duplicates?name=西安宏图").text
    empty = pages.get(f"/t/{tenant.code}/customers/duplicates?name=&phone=&tax_id=").text
    assert "请填写" in empty or "alert-danger" in empty
    assert "可以新建" not in pages.get(f"/t/{tenant.code}/customers/duplicates?tax_id=123").text


def test_every_change_is_in_the_history_with_who_and_what(admin):
    cid = admin.post("/customers", json=customer_body(level="normal", tags=["甲"])).json["id"]
    assert admin.patch(f"/customers/{cid}", json={"level": "important", "tags": ["乙"],
                                                  "next_follow_up_at": "2030-05-01T09:00"}).status_code == 200
    history = admin.get(f"/customers/{cid}/history").json["items"]
    assert [h["action"] for h in history] == ["update", "update", "create"]
    changes = {c["field"]: c for h in history[:2] for c in h["changes"]}
    assert (changes["level"]["old"], changes["level"]["new"]) == ("normal", "important")
    assert (changes["tags"]["old"], changes["tags"]["new"]) == (["甲"], ["乙"])
    assert changes["next_follow_up_at"]["new"] == "2030-05-01T01:00:00+00:00"  # 09:00 in Shanghai
    assert all(h["user_name"] for h in history)
    assert admin.get(f"/customers/{cid}").json["next_follow_up_at"] == "2030-05-01T09:00:00+08:00"
    created = {c["field"]: c["new"] for c in history[-1]["changes"]}  # ids are strings here too
    assert isinstance(created["created_by"], str) and created["created_by"] == created["owner_id"]


def test_each_customer_on_a_page_shows_its_own_tags_and_a_change_shows_at_once(admin):
    """A page reads every listed customer's tags in one statement (``preload_tag_names``), and an answer after
    a change shows the new tags, not those read before it."""
    made = {key: admin.post("/customers", json=customer_body(customer_name=f"标签{key}公司", tags=tags)).json["id"]
            for key, tags in (("a", ["甲", "乙"]), ("b", []), ("c", ["丙"]))}
    listed = {c["id"]: c["tags"] for c in admin.get("/customers").json["items"]}
    assert [listed[made[k]] for k in "abc"] == [sorted(["甲", "乙"]), [], ["丙"]]
    changed = admin.patch(f"/customers/{made['a']}", json={"tags": ["丁"]})
    assert changed.status_code == 200 and changed.json["tags"] == ["丁"]
    assert admin.get(f"/customers/{made['a']}").json["tags"] == ["丁"]
    listed = {c["id"]: c["tags"] for c in admin.get("/customers").json["items"]}
    assert [listed[made[k]] for k in "abc"] == [["丁"], [], ["丙"]]


def test_a_patch_that_changes_nothing_records_nothing(admin):
    cid = admin.post("/customers", json=customer_body()).json["id"]
    assert admin.patch(f"/customers/{cid}", json={}).status_code == 200
    assert len(admin.get(f"/customers/{cid}/history").json["items"]) == 1


def test_soft_delete_keeps_the_phone_taken_and_only_an_admin_restores(app, admin):
    tenant = admin.tenant
    cid = admin.post("/customers", json=customer_body(phone="13811112222")).json["id"]
    assert admin.delete(f"/customers/{cid}").status_code == 204
    assert admin.get(f"/customers/{cid}").status_code == 404
    assert cid not in [c["id"] for c in admin.get("/customers").json["items"]]
    again = admin.post("/customers", json=customer_body(phone="13811112222"))
    assert again.status_code == 409 and again.json["error"]["duplicates"][0]["deleted"] is True
    assert [c["id"] for c in admin.get("/customers/deleted").json["items"]] == [cid]
    add_user(tenant, "mgr_r", ("sales_manager",))
    manager = tenant_api(app, tenant, "mgr_r")
    assert manager.post(f"/customers/{cid}/restore").status_code == 403
    restored = admin.post(f"/customers/{cid}/restore")
    assert restored.status_code == 200 and restored.json["id"] == cid
    assert admin.post(f"/customers/{cid}/restore").status_code == 404  # not deleted any more
    actions = [h["action"] for h in admin.get(f"/customers/{cid}/history").json["items"]]
    assert actions[:2] == ["restore", "delete"]


def _names(resp):
    assert resp.status_code == 200, resp.json
    return [c["customer_name"] for c in resp.json["items"]]


def test_filters_search_and_sorting(app, admin):
    tenant = admin.tenant
    made = {}
    for name, level, tag in (("甲公司", "important", "重点"), ("乙公司", "normal", None), ("丙公司", "potential", "重点")):
        body = customer_body(customer_name=name, level=level, tags=[tag] if tag else [])
        made[name] = admin.post("/customers", json=body).json["id"]
    engine = tenant.engine()
    with engine.begin() as conn:  # 乙 was followed up 40 days ago, 甲 yesterday, 丙 never (created 100 days ago)
        conn.execute(sa.text("UPDATE crm_customer SET last_follow_up_at = UTC_TIMESTAMP() - INTERVAL 40 DAY "
                             "WHERE id = :i"), {"i": made["乙公司"]})
        conn.execute(sa.text("UPDATE crm_customer SET last_follow_up_at = UTC_TIMESTAMP() - INTERVAL 1 DAY "
                             "WHERE id = :i"), {"i": made["甲公司"]})
        conn.execute(sa.text("UPDATE crm_customer SET created_at = UTC_TIMESTAMP() - INTERVAL 100 DAY "
                             "WHERE id = :i"), {"i": made["丙公司"]})
    engine.dispose()
    assert _names(admin.get("/customers?level=important")) == ["甲公司"]
    assert sorted(_names(admin.get("/customers?level=important&level=potential"))) == ["丙公司", "甲公司"]
    assert sorted(_names(admin.get("/customers?tag=重点"))) == ["丙公司", "甲公司"]
    assert sorted(_names(admin.get("/customers?no_follow_days=30"))) == ["丙公司", "乙公司"]
    assert _names(admin.get("/customers?q=乙")) == ["乙公司"]
    assert _names(admin.get("/customers?sort=-last_follow_up")) == ["甲公司", "乙公司", "丙公司"]  # never: last
    assert _names(admin.get("/customers?sort=last_follow_up")) == ["乙公司", "甲公司", "丙公司"]
    from common.timeutil import local_today

    with app.app_context():
        today, earlier = local_today().isoformat(), (local_today() - timedelta(days=99)).isoformat()
    assert sorted(_names(admin.get(f"/customers?created_from={today}&created_to={today}"))) == ["乙公司", "甲公司"]
    assert _names(admin.get(f"/customers?created_to={earlier}")) == ["丙公司"]


@pytest.mark.parametrize("query,param", [
    ("level=vip", "level"), ("owner_id=abc", "owner_id"), ("created_from=2026-13-01", "created_from"),
    ("created_from=2026-02-01&created_to=2026-01-01", "created_from"), ("no_follow_days=0", "no_follow_days"),
    ("sort=-password", "sort"), ("sort=--created", "sort"), ("limit=0", "limit"), ("limit=201", "limit"),
    ("cursor=bm9wZQ", "cursor"),
])
def test_bad_list_parameters_are_422_naming_them(admin, query, param):
    resp = admin.get(f"/customers?{query}")
    assert resp.status_code == 422, resp.json
    assert param in resp.json["error"]["fields"]


@pytest.mark.parametrize("sort", ["-created", "created", "name", "-last_follow_up", "next_follow_up"])
def test_keyset_pages_walk_every_row_once(admin, sort):
    tenant = admin.tenant
    for i in range(23):
        admin.post("/customers", json=customer_body(customer_name=f"分页{i:02d}公司", level="normal"))
    engine = tenant.engine()
    with engine.begin() as conn:  # ties and NULLs in the sort key, so the id tie-breaker is exercised
        conn.execute(sa.text("UPDATE crm_customer SET last_follow_up_at = '2026-01-01 00:00:00', "
                             "next_follow_up_at = NULL WHERE id % 3 = 0"))
        conn.execute(sa.text("UPDATE crm_customer SET next_follow_up_at = '2026-02-01 00:00:00' WHERE id % 3 = 1"))
    engine.dispose()
    seen, cursor = [], None
    while True:
        resp = admin.get(f"/customers?sort={sort}&limit=5" + (f"&cursor={cursor}" if cursor else ""))
        assert resp.status_code == 200, resp.json
        seen += [c["id"] for c in resp.json["items"]]
        cursor = resp.json["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 23


def test_the_detail_page_names_the_region_in_the_readers_language(app, tenants):
    """浙江省 杭州市 in Chinese, "Hangzhou, Zhejiang" in English (the stored codes, read for the reader)."""
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    made = tenant_api(app, tenant).post("/customers", json=customer_body(province_code="33", city_code="3301"))
    assert made.status_code == 201, made.json
    client = page_client(app, tenant)
    page = client.get(f"/t/{tenant.code}/customers/{made.json['id']}")
    assert page.status_code == 200 and "浙江省 杭州市" in page.text
    english = client.get(f"/t/{tenant.code}/customers/{made.json['id']}?lang=en")
    assert english.status_code == 200 and "Hangzhou, Zhejiang" in english.text and "浙江省" not in english.text


def test_the_customer_form_names_provinces_and_cities_in_the_readers_language(app, tenants):
    """The form's province list and its cities were in Chinese on an English page, while the detail page said
    "Hangzhou, Zhejiang": an English reader picks from English names, the stored codes are the same."""
    import json

    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    client = page_client(app, tenant)
    english = client.get(f"/t/{tenant.code}/customers/new?lang=en")
    assert english.status_code == 200
    assert '<option value="33">Zhejiang</option>' in english.text and "浙江省" not in english.text
    cities = json.loads(english.text.split('id="city-data">')[1].split("</script>")[0])
    assert ["3301", "Hangzhou"] in cities["33"] and ["1100", "Beijing"] in cities["11"]
    chinese = client.get(f"/t/{tenant.code}/customers/new?lang=zh_CN")
    assert '<option value="33">浙江省</option>' in chinese.text
    assert ["3301", "杭州市"] in json.loads(chinese.text.split('id="city-data">')[1].split("</script>")[0])["33"]
    # an English post of the codes is saved and read back as before
    made = tenant_api(app, tenant).post("/customers", json=customer_body(province_code="33", city_code="3301"),
                                        headers={"Accept-Language": "en"})
    assert made.status_code == 201 and made.json["province_name"] == "浙江省", made.json


def test_the_change_history_names_a_moved_region_not_its_code(app, tenants):
    """Moving a customer to another city showed "所属省份: — → 44, 所属城市: — → 4402" in its 变更记录: the
    history reads the codes as places, as the record's own address does."""
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    made = admin.post("/customers", json=customer_body())
    assert made.status_code == 201, made.json
    moved = admin.patch(f"/customers/{made.json['id']}", json={"province_code": "44", "city_code": "4402"})
    assert moved.status_code == 200, moved.json
    client = page_client(app, tenant)

    def history(lang):
        page = client.get(f"/t/{tenant.code}/customers/{made.json['id']}?lang={lang}")
        assert page.status_code == 200
        return page.text.split('<ul class="timeline history">')[1].split("</ul>")[0]

    chinese = history("zh_CN")
    assert "广东省</div>" in chinese and "广东省 韶关市</div>" in chinese, chinese
    assert "→ 44" not in chinese and "4402" not in chinese
    english = history("en")
    assert "Guangdong</div>" in english and "Shaoguan, Guangdong</div>" in english, english


def test_the_duplicate_check_page_says_when_it_shows_only_the_first_matches(app, tenants):
    """查重 for a word in many names (恒泰) listed the first 10 matches as if they were all, an 11th 恒泰 customer
    nowhere: the page says that only the first 10 are shown and how to narrow them; 10 or fewer, it says nothing."""
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    for k in range(11):
        assert admin.post("/customers", json=customer_body(customer_name=f"恒泰置业{k:02d}有限公司")).status_code == 201
    client = page_client(app, tenant)
    hint = "仅显示前 10 个匹配的客户"
    many = client.get(f"/t/{tenant.code}/customers/duplicates?name=恒泰置业")
    assert many.status_code == 200 and hint in many.text
    assert many.text.count("恒泰置业") - many.text.count("恒泰置业10") >= 10 and "恒泰置业10有限公司" not in many.text
    few = client.get(f"/t/{tenant.code}/customers/duplicates?name=恒泰置业0")
    assert few.status_code == 200 and "恒泰置业09有限公司" in few.text and hint not in few.text


def test_the_list_page_shows_page_two(app, tenants):
    from tests.conftest import csrf_from

    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    for i in range(25):
        admin.post("/customers", json=customer_body(customer_name=f"翻页{i:02d}有限公司"))
    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    client.post(f"/t/{tenant.code}/login", data={"username": "admin", "password": tenant.admin_password,
                                                  "csrf_token": csrf_from(page.text)})
    first = client.get(f"/t/{tenant.code}/customers/?view=all")
    assert first.status_code == 200 and "翻页24有限公司" in first.text
    import re

    link = re.search(r'href="([^"]+cursor=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(link)
    assert second.status_code == 200
    assert "翻页04有限公司" in second.text and "翻页24有限公司" not in second.text


def _pager_link(html, rel):
    import html as markup
    import re

    found = re.search(rf'<a class="btn btn-sm" rel="{rel}" href="([^"]+)"', html)
    return markup.unescape(found.group(1)) if found else None


def test_list_pages_step_back_as_well_as_forward(app, tenants):
    """Keyset pages cannot count back, so each "next" link carries the cursors that led to it: "previous" goes
    back one page at a time to the first, with the filters kept; a tampered trail is ignored, never a 500."""
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    for i in range(45):
        admin.post("/customers", json=customer_body(customer_name=f"回翻{i:02d}有限公司", level="important"))
    client = page_client(app, tenant)
    names = []
    url = f"/t/{tenant.code}/customers/?view=all&level=important&sort=name"
    pages = []
    while url:
        html = client.get(url).text
        pages.append((url, html))
        names.append(re.findall(r"回翻(\d\d)有限公司", html.split("<tbody>")[1].split("</tbody>")[0]))
        url = _pager_link(html, "next")
    assert len(pages) == 3 and sum(names, []) == [f"{i:02d}" for i in range(45)]  # 20 + 20 + 5, by name
    assert _pager_link(pages[0][1], "prev") is None
    back = _pager_link(pages[2][1], "prev")
    assert "level=important" in back and "sort=name" in back
    again = client.get(back).text
    assert re.findall(r"回翻(\d\d)有限公司", again.split("<tbody>")[1].split("</tbody>")[0]) == names[1]
    first = client.get(_pager_link(again, "prev")).text
    assert re.findall(r"回翻(\d\d)有限公司", first.split("<tbody>")[1].split("</tbody>")[0]) == names[0]
    assert _pager_link(first, "prev") is None and "trail=~" in _pager_link(first, "next")
    tampered = client.get(pages[1][0] + "&trail=%3Cscript%3E.~..zz%25")
    assert tampered.status_code == 200 and "<script>" not in tampered.text


def test_forms_show_phones_as_people_type_them(app, tenants):
    """A phone is stored in E.164 but a form shows it as typed: a mobile as its 11 digits after an error on
    another field, a landline with its area code apart on the edit page."""
    import re

    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    client = page_client(app, tenant)
    form = client.get(f"/t/{tenant.code}/customers/new")
    bad = client.post(f"/t/{tenant.code}/customers/new", data={
        "csrf_token": csrf_from(form.text), "customer_type": "enterprise", "customer_name": " ",
        "phone": "13759684922", "level": "normal"})
    assert bad.status_code == 422 and 'id="field-customer_name"' in bad.text
    assert re.search(r'<input[^>]*name="phone"[^>]*value="13759684922"', bad.text), bad.text
    assert "+8613759684922" not in bad.text
    made = tenant_api(app, tenant).post("/customers", json=customer_body(phone="01085888888"))
    assert made.status_code == 201 and made.json["phone"] == "+861085888888"  # stored as before
    edit = client.get(f"/t/{tenant.code}/customers/{made.json['id']}/edit")
    assert re.search(r'<input[^>]*name="phone"[^>]*value="010-85888888"', edit.text), edit.text


def test_sorting_by_name_follows_pinyin_and_a_renamed_customer_moves(admin):
    """Names sort as a Chinese reader orders them (北京 beijing, 重庆 chongqing, 上海 shanghai), not by code point
    (上海 before 北京), and a renamed customer takes its new place."""
    made = {name: admin.post("/customers", json=customer_body(customer_name=name)).json["id"]
            for name in ("上海拼音物业有限公司", "北京拼音物业有限公司", "重庆拼音物业有限公司")}

    def names(sort):
        return [n for n in _names(admin.get(f"/customers?q=拼音&sort={sort}")) if "拼音" in n]

    assert names("name") == ["北京拼音物业有限公司", "重庆拼音物业有限公司", "上海拼音物业有限公司"]
    assert names("-name") == ["上海拼音物业有限公司", "重庆拼音物业有限公司", "北京拼音物业有限公司"]
    assert admin.patch(f"/customers/{made['北京拼音物业有限公司']}",
                       json={"customer_name": "武汉拼音物业有限公司"}).status_code == 200
    assert names("name") == ["重庆拼音物业有限公司", "上海拼音物业有限公司", "武汉拼音物业有限公司"]
    history = admin.get(f"/customers/{made['北京拼音物业有限公司']}/history").json["items"]
    assert all(c["field"] != "name_pinyin" for h in history for c in h["changes"])  # a key, not a change


def test_a_number_is_found_however_it_is_typed(app, admin):
    """Phones are kept as E.164 (+861085888888), but people type them as they read them: with the area code's 0,
    spaces, dashes, brackets or +86. Every list's search (customers, 公海, contacts, leads, users) looks for the
    digits; a word never matches a phone."""
    office = admin.post("/customers", json=customer_body(customer_name="号码办公物业", phone="010-85888888"))
    mobile = admin.post("/customers", json=customer_body(customer_name="号码手机物业", phone="13759684922"))
    assert office.status_code == mobile.status_code == 201, (office.json, mobile.json)
    for q, expected in (("010-85888888", ["号码办公物业"]), ("(010) 8588 8888", ["号码办公物业"]),
                        ("+86 10 8588-8888", ["号码办公物业"]), ("8588 8888", ["号码办公物业"]),
                        ("137 5968 4922", ["号码手机物业"]), ("+86 137-5968-4922", ["号码手机物业"]),
                        ("4922", ["号码手机物业"]), ("+861375968", ["号码手机物业"]), ("号码", ["号码手机物业", "号码办公物业"]),
                        ("010-85888899", [])):
        assert _names(admin.get("/customers", query_string={"q": q})) == expected, q
    contact = admin.post("/contacts", json={"customer_id": office.json["id"], "contact_name": "号码联系人",
                                            "phone": "137 0013 7001"})
    assert contact.status_code == 201, contact.json
    found = admin.get("/contacts", query_string={"q": "137-0013-7001"})
    assert [c["contact_name"] for c in found.json["items"]] == ["号码联系人"]
    lead = admin.post("/leads", json={"lead_name": "号码线索", "company": "号码线索物业", "source": "exhibition",
                                      "intent_level": "high", "phone": "021-64011234"})
    assert lead.status_code == 201, lead.json
    assert [x["lead_name"] for x in admin.get("/leads", query_string={"q": "(021)6401 1234"}).json["items"]] == [
        "号码线索"]


def test_the_new_customer_page_names_a_duplicate_while_another_field_is_wrong(app, admin):
    """A mistyped credit code no longer hides that the phone and the name are a customer already: both come
    in the first answer, with the field's own error."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    made = admin.post("/customers", json=customer_body(customer_name="北京恒泰物流有限公司", phone="13911503392"))
    assert made.status_code == 201
    client = page_client(app, admin.tenant)
    url = f"/t/{admin.tenant.code}/customers/new"
    resp = client.post(url, data={"csrf_token": csrf_from(client.get(url).text), "customer_type": "enterprise",
                                  "customer_name": "北京恒泰物流", "phone": "13911503392", "tax_id": "12345",
                                  "level": "normal"})
    assert resp.status_code == 422 and 'id="duplicates"' in resp.text
    assert "北京恒泰物流有限公司" in resp.text.split('id="duplicates"', 1)[1]
    fields = {part.split('"', 1)[0]: part for part in resp.text.split('id="field-')[1:]}
    assert all('class="error"' in fields[name] for name in ("tax_id", "phone", "customer_name"))
    assert len(admin.get("/customers?q=北京恒泰物流").json["items"]) == 1


def test_an_owner_sets_a_customer_aside_and_the_status_filter_finds_it(admin):
    """非活跃 (seed 001's inactive) was a filter choice nothing could set: an edit sets it, and back; the public
    pool's own actions stay the only way in and out of the pool."""
    cid = admin.post("/customers", json=customer_body()).json["id"]
    aside = admin.patch(f"/customers/{cid}", json={"status": "inactive"})
    assert aside.status_code == 200 and aside.json["status"] == "inactive"
    assert cid in [c["id"] for c in admin.get("/customers?status=inactive").json["items"]]
    assert cid not in [c["id"] for c in admin.get("/customers?status=active").json["items"]]
    change = admin.get(f"/customers/{cid}/history").json["items"][0]["changes"]
    assert {"field": "status", "old": "active", "new": "inactive"} in change
    assert admin.patch(f"/customers/{cid}", json={"level": "important"}).json["status"] == "inactive"  # kept

    into_pool = admin.patch(f"/customers/{cid}", json={"status": "in_pool", "level": "potential"})
    assert into_pool.status_code == 422 and "status" in into_pool.json["error"]["fields"]
    unknown = admin.patch(f"/customers/{cid}", json={"status": "asleep"})
    assert unknown.status_code == 422 and "status" in unknown.json["error"]["fields"]
    assert admin.get(f"/customers/{cid}").json["level"] == "important"  # a refused edit changed nothing

    assert admin.post(f"/customers/{cid}/return-to-pool", json={"reason": "不再跟进"}).status_code == 200
    out = admin.patch(f"/customers/{cid}", json={"status": "active"})
    assert out.status_code == 422 and "status" in out.json["error"]["fields"]
    edited = admin.patch(f"/customers/{cid}", json={"remark": "公海中补充说明"})  # other fields still edit
    assert edited.status_code == 200 and edited.json["status"] == "in_pool"


def test_the_edit_page_sets_the_status_except_for_a_pool_customer(app, tenants):
    from tests.platform_admin.test_edit_forms import post_back
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    api = tenant_api(app, tenant)
    cid = api.post("/customers", json=customer_body()).json["id"]
    client = page_client(app, tenant)
    page, saved = post_back(client, f"/t/{tenant.code}/customers/{cid}/edit", {"status": "inactive"})
    select = page.text.split('name="status"')[1].split("</select>")[0]
    assert re.findall(r'<option[^>]*value="(\w+)"', select) == ["active", "inactive"] and "非活跃" in select
    assert saved.status_code == 302, saved.text[:600]
    assert api.get(f"/customers/{cid}").json["status"] == "inactive"
    assert "非活跃" in client.get(f"/t/{tenant.code}/customers/{cid}").text

    assert api.post(f"/customers/{cid}/return-to-pool", json={"reason": "不再跟进"}).status_code == 200
    page, saved = post_back(client, f"/t/{tenant.code}/customers/{cid}/edit", {"remark": "仍可补充"})
    assert 'name="status"' not in page.text  # the pool's actions move it, not this form
    assert saved.status_code == 302, saved.text[:600]
    after = api.get(f"/customers/{cid}").json
    assert (after["status"], after["remark"]) == ("in_pool", "仍可补充")


def test_saving_the_edit_page_unchanged_records_no_change(app, tenants):
    """The page shows the next follow-up to the minute: saved back unchanged, a plan with seconds (one a follow-up
    or an import set) was recorded as changed, 04:52 → 04:52."""
    from tests.platform_admin.test_edit_forms import post_back
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    api = tenant_api(app, tenant)
    cid = api.post("/customers", json=customer_body(next_follow_up_at="2030-05-01T09:30:27+08:00")).json["id"]
    _page, saved = post_back(page_client(app, tenant), f"/t/{tenant.code}/customers/{cid}/edit")
    assert saved.status_code == 302, saved.text[:600]
    assert [h["action"] for h in api.get(f"/customers/{cid}/history").json["items"]] == ["create"]
    assert api.get(f"/customers/{cid}").json["next_follow_up_at"] == "2030-05-01T09:30:27+08:00"


def test_the_detail_page_pages_back_through_a_long_history(app, admin):
    """The page showed the newest 30 changes and no way to the older ones."""
    from tests.tenant_runtime.crm import page_client

    tenant = admin.tenant
    cid = admin.post("/customers", json=customer_body(remark="第0次")).json["id"]
    for i in range(1, 35):
        assert admin.patch(f"/customers/{cid}", json={"remark": f"第{i}次"}).status_code == 200
    client = page_client(app, tenant)

    def shown(url):
        page = client.get(url)
        assert page.status_code == 200
        part = page.text.split('id="history"')[1]
        return page.text, re.findall(r"第(\d+)次</span>", part.split("</section>")[0])

    html, olds = shown(f"/t/{tenant.code}/customers/{cid}")
    assert [int(n) for n in olds] == list(range(33, 3, -1))  # 30 updates, newest first: 33→34 … 4→5
    older = re.search(r'href="([^"]*history_before=\d+[^"]*)"', html)
    assert older and "更早的变更" in html and "最新变更" not in html
    html, olds = shown(older.group(1).replace("&amp;", "&"))
    assert [int(n) for n in olds] == [3, 2, 1, 0]  # the rest of the updates, then the create
    assert "更早的变更" not in html and "最新变更" in html
    assert client.get(f"/t/{tenant.code}/customers/{cid}?history_before=x").status_code == 200


def test_the_owner_picker_offers_me_once(app, admin):
    """负责人 offered "— 我 —" and, below it, the user's own name: the same person twice. Their own entry is not
    offered; an API client may still send its own id, and an own customer's edit page saved unchanged keeps it."""
    tenant = admin.tenant
    dept = add_dept(tenant, "选人一组")
    add_user(tenant, "picker_mgr", ("sales_manager",), dept, full_name="选经理")
    add_user(tenant, "picker_rep", ("sales",), dept, full_name="选销售")
    manager = page_client(app, tenant, "picker_mgr")

    def offered(client, path):
        select = client.get(f"/t/{tenant.code}{path}").text.split('name="owner_id"', 1)[1].split("</select>", 1)[0]
        return re.findall(r"<option[^>]*>([^<]*)</option>", select)

    shown = offered(manager, "/customers/new")
    assert shown[0] == "— 我 —" and "选销售" in shown and "选经理" not in shown, shown
    assert offered(page_client(app, tenant, "picker_rep"), "/customers/new") == ["— 我 —"]
    assert "选经理" not in offered(manager, "/leads/new")
    api = tenant_api(app, tenant, "picker_mgr")
    me = api.get("/me").json["id"]
    made = api.post("/customers", json=customer_body(owner_id=me))
    assert made.status_code == 201 and made.json["owner"]["id"] == me, made.json
    form = manager.get(f"/t/{tenant.code}/customers/{made.json['id']}/edit")
    fields = {k: v for k, v in re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form.text)}
    saved = manager.post(f"/t/{tenant.code}/customers/{made.json['id']}/edit", data={
        **fields, "customer_type": "enterprise", "level": "normal", "deal_status": "potential", "owner_id": ""})
    assert saved.status_code == 302, saved.text[:2000]
    assert api.get(f"/customers/{made.json['id']}").json["owner"]["id"] == me
