"""Searching customers and contacts by a Chinese word through the word index (tenant_runtime/core/words.py), on
real MariaDB tenants: the index gives the same answers as reading every name, follows renames, keeps to the data
scope, and is used only when one of the word's pairs is rare."""

import pytest

from tenant_runtime.core import words
from tenant_runtime.customers.models import CUSTOMER_WORDS
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    Statements,
    add_dept,
    add_user,
    customer_body,
    tenant_api,
)


def test_pairs_of_han_characters_are_the_words_of_a_name():
    code = words.pair_code
    assert words.pairs("上海明德物业") == [code("上", "海"), code("海", "明"), code("明", "德"), code("德", "物"),
                                        code("物", "业")]
    assert words.pairs("A栋物业3号楼") == [code("栋", "物"), code("物", "业"), code("号", "楼")]  # no pair across a letter
    assert words.pairs("物业物业") == [code("物", "业"), code("业", "物")]  # each once
    assert words.pairs("ＡＢＣ") == [] and words.pairs("乙") == [] and words.pairs("") == []
    assert words.pairs("\uf900\u4e00") == [code("\u8c48", "\u4e00")]  # a compatibility ideograph, folded (NFKC)


def _names(client, q, **params):
    resp = client.get("/customers", query_string={"q": q, "limit": 200, **params})
    assert resp.status_code == 200, resp.json
    return sorted(c["customer_name"] for c in resp.json["items"])


@pytest.fixture
def few_are_rare(monkeypatch):
    """A word index where a pair held by fewer than 3 customers is rare (the real cap is 2,000)."""
    monkeypatch.setattr(words, "CAP", 3)


@CONTROL_ON_MARIADB
def test_a_rare_word_is_found_through_the_index_with_the_same_answer(app, tenants, few_are_rare):
    admin = tenant_api(app, tenants[0])
    names = ["上海明德物业有限公司", "北京明德物业有限公司", "杭州明德科技有限公司", "上海龙腾四海物业", "深圳四海通物流",
             "广州德物业务中心", "业务与务物"]
    ids = {}
    for name in names:
        resp = admin.post("/customers", json=customer_body(customer_name=name))
        assert resp.status_code == 201, resp.json
        ids[name] = resp.json["id"]

    # 龙腾 is held by one customer: the index narrows; 有限公司's pairs are all held by 3: the plain plan serves
    assert _names(admin, "龙腾四海") == ["上海龙腾四海物业"]
    assert _names(admin, "四海") == ["上海龙腾四海物业", "深圳四海通物流"]
    assert _names(admin, "明德物业") == ["上海明德物业有限公司", "北京明德物业有限公司"]
    assert _names(admin, "德物业") == ["上海明德物业有限公司", "北京明德物业有限公司", "广州德物业务中心"]
    assert _names(admin, "有限公司") == ["上海明德物业有限公司", "北京明德物业有限公司", "杭州明德科技有限公司"]
    assert _names(admin, "海龙腾") == ["上海龙腾四海物业"] and _names(admin, "腾龙") == [] and _names(admin, "不存在") == []
    # every pair of 业务物 is in 业务与务物, but not the word itself: the name's LIKE still decides
    assert _names(admin, "业务物") == [] and _names(admin, "务物") == ["业务与务物"]
    # a renamed customer is found by its new name only; a deleted one not at all
    assert admin.patch(f"/customers/{ids['深圳四海通物流']}", json={"customer_name": "深圳飞鸿物流"}).status_code == 200
    assert _names(admin, "四海通") == [] and _names(admin, "飞鸿") == ["深圳飞鸿物流"]
    assert admin.delete(f"/customers/{ids['上海龙腾四海物业']}").status_code in (200, 204)
    assert _names(admin, "龙腾") == []


@CONTROL_ON_MARIADB
def test_the_index_is_used_only_for_a_rare_pair(app, tenants, few_are_rare):
    admin = tenant_api(app, tenants[0])
    for name in ("甲乙物业", "丙丁物业", "戊己物业", "庚辛物业"):
        assert admin.post("/customers", json=customer_body(customer_name=name)).status_code == 201
    from sqlalchemy.orm import Session

    engine = tenants[0].engine()
    try:
        with Session(bind=engine) as session:
            assert CUSTOMER_WORDS.rarest(session, "物业") is None  # held by 4: common
            assert CUSTOMER_WORDS.rarest(session, "甲乙物业") == words.pair_code("甲", "乙")  # the rarest of its three pairs
            assert CUSTOMER_WORDS.rarest(session, "ABC") is None and CUSTOMER_WORDS.rarest(session, "甲") is None
            assert CUSTOMER_WORDS.rarest(session, "壬癸") == words.pair_code("壬", "癸")  # held by none: nothing to read
    finally:
        engine.dispose()


@CONTROL_ON_MARIADB
def test_a_word_search_keeps_to_the_data_scope(app, tenants, few_are_rare):
    tenant = tenants[0]
    east, west = add_dept(tenant, "东区"), add_dept(tenant, "西区")
    add_user(tenant, "w_east", ("sales",), east)
    add_user(tenant, "w_west", ("sales",), west)
    east_api, west_api = tenant_api(app, tenant, "w_east"), tenant_api(app, tenant, "w_west")
    assert east_api.post("/customers", json=customer_body(customer_name="东区龙腾物业")).status_code == 201
    assert west_api.post("/customers", json=customer_body(customer_name="西区龙腾物业")).status_code == 201
    assert _names(east_api, "龙腾") == ["东区龙腾物业"]
    assert _names(west_api, "龙腾") == ["西区龙腾物业"]
    assert _names(tenant_api(app, tenant), "龙腾") == ["东区龙腾物业", "西区龙腾物业"]
    page = east_api.get("/customers", query_string={"q": "龙腾物业", "view": "mine"})
    assert [c["customer_name"] for c in page.json["items"]] == ["东区龙腾物业"]


def _contacts(client, q):
    resp = client.get("/contacts", query_string={"q": q, "limit": 200})
    assert resp.status_code == 200, resp.json
    return sorted(c["contact_name"] for c in resp.json["items"])


@CONTROL_ON_MARIADB
def test_contacts_are_found_by_a_rare_word_through_their_own_index(app, tenants, few_are_rare):
    """Contacts' names have an index of their own (crm_contact_word): a rare name reads its few contacts, the
    name's LIKE still decides, a renamed or deleted contact follows, and a sales user finds only the contacts of
    their own customers."""
    tenant = tenants[0]
    dept = add_dept(tenant, "慕组")
    add_user(tenant, "mu_sales", ("sales",), dept)
    admin, sales = tenant_api(app, tenant), tenant_api(app, tenant, "mu_sales")
    theirs = admin.post("/customers", json=customer_body()).json["id"]
    mine = sales.post("/customers", json=customer_body()).json["id"]
    made = {}
    for i, (customer, name) in enumerate([(theirs, "沈慕白"), (theirs, "王慕白"), (mine, "沈慕青"),
                                          (mine, "慕容白"), (mine, "白慕")]):
        resp = admin.post("/contacts", json={"customer_id": customer, "contact_name": name,
                                             "phone": f"1371234{i:04d}"})
        assert resp.status_code == 201, resp.json
        made[name] = resp.json["id"]

    statements = Statements(tenant)
    statements.during(lambda: admin.get("/contacts", query_string={"q": "慕白"}))
    assert any("crm_contact_word" in st for st, _p in statements.seen), statements.seen  # narrowed by the index
    assert _contacts(admin, "慕白") == ["沈慕白", "王慕白"]  # not 白慕 nor 慕容白: the LIKE decides
    assert _contacts(admin, "沈慕") == ["沈慕白", "沈慕青"]
    assert _contacts(sales, "慕") == ["慕容白", "沈慕青", "白慕"]  # one character: no pair, the plain search
    assert _contacts(sales, "沈慕") == ["沈慕青"]  # the index keeps to the data scope
    assert admin.patch(f"/contacts/{made['王慕白']}", json={"contact_name": "王若白"}).status_code == 200
    assert _contacts(admin, "慕白") == ["沈慕白"] and _contacts(admin, "若白") == ["王若白"]
    assert admin.delete(f"/contacts/{made['沈慕白']}").status_code in (200, 204)
    assert _contacts(admin, "慕白") == []
    # the list searches the email beside the name, and an address may be written in Chinese: indexed too
    resp = admin.patch(f"/contacts/{made['沈慕青']}", json={"email": "慕青@例子.中国"})
    assert resp.status_code == 200, resp.json
    assert _contacts(admin, "例子") == ["沈慕青"]
    assert admin.patch(f"/contacts/{made['沈慕青']}", json={"email": "qing@example.com"}).status_code == 200
    assert _contacts(admin, "例子") == []


def _leads(client, q):
    resp = client.get("/leads", query_string={"q": q, "limit": 200})
    assert resp.status_code == 200, resp.json
    return sorted((lead["lead_name"], lead["company"]) for lead in resp.json["items"])


@CONTROL_ON_MARIADB
def test_leads_are_found_by_a_rare_word_of_their_name_or_company(app, tenants, few_are_rare):
    """Leads have one index over both columns their list searches (crm_lead_word): a rare word of the name or of
    the company reads its few leads, the LIKE still decides, and a lead whose company changes follows."""
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    made = {}
    for i, (name, company) in enumerate([("沈慕白", "龙腾物业"), ("王芳", "龙腾四海物业"), ("龙腾", None),
                                         ("李雷", "金地物业"), ("韩梅梅", "腾龙科技")]):
        resp = admin.post("/leads", json={"lead_name": name, "company": company, "phone": f"1391234{i:04d}"})
        assert resp.status_code == 201, resp.json
        made[name] = resp.json["id"]

    statements = Statements(tenant)
    statements.during(lambda: admin.get("/leads", query_string={"q": "龙腾"}))
    assert any("crm_lead_word" in st for st, _p in statements.seen), statements.seen  # narrowed by the index
    # in the company of two, the name of the third; not 腾龙
    assert _leads(admin, "龙腾") == [("沈慕白", "龙腾物业"), ("王芳", "龙腾四海物业"), ("龙腾", None)]
    assert _leads(admin, "慕白") == [("沈慕白", "龙腾物业")]
    assert _leads(admin, "腾四") == [("王芳", "龙腾四海物业")] and _leads(admin, "白龙") == []  # no pair across columns
    assert admin.patch(f"/leads/{made['李雷']}", json={"company": "龙腾地产"}).status_code == 200
    assert _leads(admin, "龙腾地产") == [("李雷", "龙腾地产")] and _leads(admin, "金地") == []
    assert admin.patch(f"/leads/{made['王芳']}", json={"company": None}).status_code == 200
    assert _leads(admin, "腾四") == []
    assert admin.delete(f"/leads/{made['沈慕白']}").status_code in (200, 204)
    assert _leads(admin, "慕白") == []


def test_digit_runs_are_words_and_a_search_narrows_by_those_a_phone_holds_too():
    assert words.digit_runs("金地3号楼1201室") == [1201] and words.digit_runs("１２０１") == [1201]  # NFKC
    assert words.digit_runs("房号١٢٠١") == [1201]  # Arabic-Indic digits, which MariaDB compares equal to 1201
    assert words.digit_runs("+8613900000001") == [8613, 6139, 1390, 3900, 9000, 0, 1]
    assert words.codes("号楼1201") == [words.pair_code("号", "楼"), 1201]
    # 0099963 is looked for in a phone as 99963 (no leading 0): only the runs within it narrow
    assert words.searched_codes("0099963", phones=True) == [9996, 9963]
    assert words.searched_codes("0099963") == [99, 999, 9996, 9963]  # no phone searched: every run of the text
    assert words.searched_codes("139 1234", phones=True) == [1234]


def _customer_names(client, q):
    resp = client.get("/customers", query_string={"q": q, "limit": 200})
    assert resp.status_code == 200, resp.json
    return sorted(c["customer_name"] for c in resp.json["items"])


@CONTROL_ON_MARIADB
def test_part_of_a_number_is_found_through_the_index_in_phones_and_names(app, tenants, few_are_rare):
    """尾号: a phone's last digits, or a number in a name, read the few records holding the rarest run of four of
    them (crm_customer_word; contacts and leads alike), with the answer the LIKE gives; a whole number is
    compared as stored and reads no index; a changed phone follows."""
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    made = {}
    for i, (name, phone) in enumerate([("尾号甲", "13912345678"), ("尾号乙", "13812345678"), ("尾号丙", "13987655678"),
                                       ("金地3号楼1201室", "13700001111"), ("尾号丁", "010-85881201")]):
        resp = admin.post("/customers", json=customer_body(customer_name=name, phone=phone))
        assert resp.status_code == 201, resp.json
        made[name] = resp.json["id"]

    statements = Statements(tenant)
    statements.during(lambda: admin.get("/customers", query_string={"q": "2345678"}))
    assert any("crm_customer_word" in st for st, _p in statements.seen), statements.seen  # narrowed by the index
    assert _customer_names(admin, "2345678") == ["尾号乙", "尾号甲"]
    assert _customer_names(admin, "912345678") == ["尾号甲"]
    assert _customer_names(admin, "1201") == ["尾号丁", "金地3号楼1201室"]  # a landline's digits, a name's
    assert _customer_names(admin, "楼1201") == ["金地3号楼1201室"]
    assert _customer_names(admin, "8765 5678") == ["尾号丙"]  # typed with a space
    assert _customer_names(admin, "0108588") == ["尾号丁"]  # 010 written: stored as +86 10 8588…
    statements = Statements(tenant)
    statements.during(lambda: admin.get("/customers", query_string={"q": "139 1234 5678"}))
    assert not any("crm_customer_word" in st for st, _p in statements.seen)  # a whole number: its own index
    assert _customer_names(admin, "139 1234 5678") == ["尾号甲"]
    assert admin.patch(f"/customers/{made['尾号甲']}", json={"phone": "13911112222"}).status_code == 200
    assert _customer_names(admin, "2345678") == ["尾号乙"] and _customer_names(admin, "11112222") == ["尾号甲"]
    # the database compares another script's digits equal to 0-9: the index holds them as the number too
    assert admin.post("/customers", json=customer_body(customer_name="房号١٢٠١", phone="13622223333")).status_code == 201
    assert _customer_names(admin, "1201") == ["尾号丁", "房号١٢٠١", "金地3号楼1201室"]

    customer = made["尾号乙"]
    for i, (name, phone, email) in enumerate([("沈一", "13655554321", None), ("沈二", "13666664321", None),
                                              ("沈三", "13677778888", "shen4321@example.com")]):
        resp = admin.post("/contacts", json={"customer_id": customer, "contact_name": name, "phone": phone,
                                             "email": email})
        assert resp.status_code == 201, resp.json
    statements = Statements(tenant)
    statements.during(lambda: admin.get("/contacts", query_string={"q": "54321"}))
    assert any("crm_contact_word" in st for st, _p in statements.seen), statements.seen
    assert _contacts(admin, "54321") == ["沈一"]
    assert _contacts(admin, "4321") == ["沈一", "沈三", "沈二"]  # the e-mail's digits too

    for i, (name, phone) in enumerate([("线索甲", "13544449876"), ("线索乙", "13533339876")]):
        assert admin.post("/leads", json={"lead_name": name, "phone": phone}).status_code == 201
    assert [lead for lead, _company in _leads(admin, "4449876")] == ["线索甲"]
    assert [lead for lead, _company in _leads(admin, "9876")] == ["线索乙", "线索甲"]
