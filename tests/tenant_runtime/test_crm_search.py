"""Searching as a sales team searches: names by their pinyin (hengtai, bjht, wanghua, wh), a customer by its
contacts' names and phones, a contact by its customer's name, a follow-up by its customer's or lead's name, never
past the user's data scope; and a column header's first click sorts the way the column is read (names A to Z,
the next follow-up soonest first, times latest first). Real MariaDB tenants; the revision that fills the pinyin
for rows already there runs on MariaDB and SQLite."""

import re
from html import unescape
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from alembic import command

from datasource_registry import tenant_schema
from tenant_runtime.core import listing, pinyin, words
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    Statements,
    add_dept,
    add_user,
    customer_body,
    every_item,
    page_client,
    tenant_api,
)
from tests.tenant_runtime.test_crm_scale import (  # noqa: F401 (volume: a fixture)
    FILL_PASSWORD,
    explain,
    list_statement,
    probe_statement,
    rows,
    volume,
)
from tests.tenant_runtime.test_tenant_schema import _customers_at, engine  # noqa: F401 (a fixture)

COMPANY = "北京恒泰物流有限公司"


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


@pytest.fixture(params=["read_first", "per_row"])
def linked_reads(request, monkeypatch):
    """How a search looks in linked records: their few matches read first (through their word index or on their
    own), or, when they are many, each row looking up its own (here forced: no index narrows, no read first)."""
    if request.param == "per_row":
        monkeypatch.setattr(words, "CAP", 0)
        monkeypatch.setattr(listing, "LINKED_CAP", 0)
    return request.param


def _found(api, path, q, field):
    resp = api.get(path + ("&" if "?" in path else "?") + urlencode({"q": q, "limit": 100}))
    assert resp.status_code == 200, resp.json
    return {item[field] for item in resp.json["items"]}


def _customer(api, name, **fields):
    resp = api.post("/customers", json=customer_body(customer_name=name, **fields))
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def _contact(api, customer, name, phone):
    resp = api.post("/contacts", json={"customer_id": customer, "contact_name": name, "phone": phone})
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


# --- pinyin -----------------------------------------------------------------------------------------------


def test_the_searchable_pinyin_holds_initials_and_whole_pinyin():
    assert pinyin.pinyin_search_text(COMPANY) == "bjhtwlyxgs beijinghengtaiwuliuyouxiangongsi"
    assert pinyin.pinyin_search_text("曾华", True) == "zh zenghua"  # a person's surname, as the sort key reads it
    assert pinyin.pinyin_search_text("单于夫", True) == "cyf chanyufu"
    assert pinyin.pinyin_search_text("ＩＢＭ中国 2号") == "ibmzgh ibmzhongguohao"
    assert [pinyin.search_letters(q) for q in ("HengTai", "heng tai", "xi'an", "恒泰", "ht2", "")] == [
        "hengtai", "hengtai", "xian", None, None, None]
    # typed in full width (an IME's full-width mode): the same letters, as the name's own are kept (NFKC)
    assert [pinyin.search_letters(q) for q in ("ｈｅｎｇｔａｉ", "ＢＪＨＴ", "ｘｉ’ａｎ")] == ["hengtai", "bjht", "xian"]


@CONTROL_ON_MARIADB
def test_customers_are_found_by_whole_pinyin_and_initials_in_any_case(app, admin):
    _customer(admin, COMPANY)
    _customer(admin, "上海华联超市有限公司")
    for q in ("hengtai", "HengTai", "beijinghengtai", "bjht", "ht", "BJHT", "heng tai"):
        assert _found(admin, "/customers", q, "customer_name") == {COMPANY}, q
    assert _found(admin, "/customers", "恒泰", "customer_name") == {COMPANY}  # Chinese as before
    assert _found(admin, "/customers", "hengtaiwl", "customer_name") == set()  # whole pinyin or initials, not both
    assert _found(admin, "/customers", "hl", "customer_name") == {"上海华联超市有限公司"}
    page = page_client(app, admin.tenant).get(f"/t/{admin.tenant.code}/customers/?q=bjht")
    assert page.status_code == 200 and COMPANY in page.text and "上海华联" not in page.text


@CONTROL_ON_MARIADB
def test_contacts_and_leads_are_found_by_pinyin(admin):
    customer = _customer(admin, "拼音测试物业有限公司")
    _contact(admin, customer, "王华", "13700150001")
    _contact(admin, customer, "曾华", "13700150002")
    assert admin.post("/leads", json={"lead_name": "王华", "source": "exhibition"}).status_code == 201
    for q in ("wanghua", "wh", "WH", "Wang Hua"):
        assert _found(admin, "/contacts", q, "contact_name") == {"王华"}, q
        assert _found(admin, "/leads?view=all", q, "lead_name") == {"王华"}, q
    assert _found(admin, "/contacts", "zenghua", "contact_name") == {"曾华"}  # a surname's reading
    assert _found(admin, "/contacts", "hua", "contact_name") == {"王华", "曾华"}


@CONTROL_ON_MARIADB
def test_a_renamed_customer_is_found_by_its_new_pinyin_and_not_its_old(admin):
    customer = _customer(admin, "北京恒泰物流有限公司")
    assert admin.patch(f"/customers/{customer}", json={"customer_name": "广州鼎盛商贸有限公司"}).status_code == 200
    assert _found(admin, "/customers", "dingsheng", "customer_name") == {"广州鼎盛商贸有限公司"}
    assert _found(admin, "/customers", "hengtai", "customer_name") == set()
    history = admin.get(f"/customers/{customer}/history").json["items"]
    assert all(change["field"] != "name_search" for entry in history for change in entry["changes"])


@CONTROL_ON_MARIADB
def test_the_volume_fill_writes_the_searchable_pinyin(app, tenants):
    tenant = tenants[0]
    result = app.test_cli_runner().invoke(args=["crm", "fill", tenant.code, "--customers", "30", "--follow-ups", "0",
                                                "--contacts", "30", "--password", "Volume-Pass-42"])
    assert result.exit_code == 0, result.output
    engine_ = tenant.engine()
    with engine_.connect() as conn:
        for table, name in (("crm_customer", "customer_name"), ("crm_contact", "contact_name")):
            rows = conn.execute(sa.text(f"SELECT {name}, name_search FROM {table}")).all()
            assert rows and all(spelt == pinyin.pinyin_search_text(value, table == "crm_contact")
                                for value, spelt in rows)
    engine_.dispose()


# --- what the list shows beside the box -------------------------------------------------------------------


@CONTROL_ON_MARIADB
def test_a_customer_is_found_by_its_live_contacts_name_or_phone(admin, linked_reads):
    customer = _customer(admin, "鼎盛商贸有限公司", phone="13900001111")
    _customer(admin, "华联超市有限公司")
    _contact(admin, customer, "李明", "13900002222")
    gone = _contact(admin, customer, "赵敏", "13900003333")
    assert admin.delete(f"/contacts/{gone}").status_code == 204
    for q in ("李明", "liming", "lm", "139 0000 2222", "+86 139-0000-2222", "0000222", "2222"):
        assert _found(admin, "/customers", q, "customer_name") == {"鼎盛商贸有限公司"}, q
    for q in ("赵敏", "zhaomin", "13900003333", "3333"):  # a deleted contact finds nothing
        assert _found(admin, "/customers", q, "customer_name") == set(), q
    assert _found(admin, "/customers", "13900001111", "customer_name") == {"鼎盛商贸有限公司"}  # its own phone


@CONTROL_ON_MARIADB
def test_a_contact_is_found_by_its_customer_s_name(admin, linked_reads):
    customer = _customer(admin, COMPANY)
    other = _customer(admin, "华联超市有限公司")
    _contact(admin, customer, "李明", "13900004444")
    _contact(admin, other, "王芳", "13900005555")
    assert _found(admin, "/contacts", "恒泰物流", "contact_name") == {"李明"}
    assert _found(admin, "/contacts", "hengtai", "contact_name") == {"李明"}
    assert _found(admin, "/contacts", "王芳", "contact_name") == {"王芳"}  # its own name as before


@CONTROL_ON_MARIADB
def test_a_follow_up_is_found_by_its_customer_s_or_lead_s_name(admin, linked_reads):
    customer = _customer(admin, COMPANY)
    _customer(admin, "华联超市有限公司")
    assert admin.post("/follow-ups", json={"customer_id": customer, "follow_type": "phone",
                                           "content": "电话沟通了续约意向"}).status_code == 201
    lead = admin.post("/leads", json={"lead_name": "周杰", "company": "鼎盛商贸", "source": "exhibition"}).json["id"]
    assert admin.post("/follow-ups", json={"lead_id": lead, "follow_type": "visit",
                                           "content": "约了下周看样板间"}).status_code == 201
    assert _found(admin, "/follow-ups?view=all", "恒泰", "content") == {"电话沟通了续约意向"}
    assert _found(admin, "/follow-ups?view=all", "bjht", "content") == {"电话沟通了续约意向"}
    assert _found(admin, "/follow-ups?view=all", "周杰", "content") == {"约了下周看样板间"}
    assert _found(admin, "/follow-ups?view=all", "续约", "content") == {"电话沟通了续约意向"}  # its content as before


# --- never past the data scope ---------------------------------------------------------------------------


@pytest.fixture
def two_sales(app, tenants):
    """Two sales users in sibling departments, each owning a customer with a contact and a follow-up."""
    t = tenants[0]
    east, west = add_dept(t, "华东组"), add_dept(t, "华南组")
    add_user(t, "east1", ("sales",), east)
    add_user(t, "west1", ("sales",), west)
    apis = {name: tenant_api(app, t, name) for name in ("east1", "west1")}
    for name, company, person, phone in (("east1", "东方恒泰有限公司", "李明", "13900006666"),
                                         ("west1", "西部恒泰有限公司", "李敏", "13900007777")):
        customer = _customer(apis[name], company)
        _contact(apis[name], customer, person, phone)
        assert apis[name].post("/follow-ups", json={"customer_id": customer, "follow_type": "phone",
                                                    "content": f"{name}的跟进"}).status_code == 201
    return apis


@CONTROL_ON_MARIADB
@pytest.mark.parametrize("q", ["李敏", "limin", "13900007777", "7777", "恒泰", "hengtai", "ht"])
def test_a_search_never_finds_what_the_user_may_not_see(two_sales, q, linked_reads):
    east = two_sales["east1"]
    assert _found(east, "/customers?view=all", q, "customer_name") <= {"东方恒泰有限公司"}
    assert _found(east, "/contacts", q, "contact_name") <= {"李明"}
    assert _found(east, "/follow-ups?view=all", q, "content") <= {"east1的跟进"}


@CONTROL_ON_MARIADB
def test_a_search_finds_the_user_s_own_through_the_links(two_sales, linked_reads):
    east = two_sales["east1"]
    assert _found(east, "/customers", "liming", "customer_name") == {"东方恒泰有限公司"}
    assert _found(east, "/customers", "13900006666", "customer_name") == {"东方恒泰有限公司"}
    assert _found(east, "/contacts", "东方恒泰", "contact_name") == {"李明"}
    assert _found(east, "/follow-ups?view=all", "东方恒泰", "content") == {"east1的跟进"}
    assert _found(two_sales["west1"], "/customers", "limin", "customer_name") == {"西部恒泰有限公司"}


# --- a header's first click ------------------------------------------------------------------------------


def _header_links(html):
    """The sort each sortable column header links to, by its label."""
    return {label.strip(" ↑↓"): re.search(r"[?&]sort=([^&]*)", unescape(href)).group(1)
            for href, label in re.findall(r'<a class="sort[^"]*" href="([^"]+)">([^<]+)</a>', html)}


@CONTROL_ON_MARIADB
def test_a_column_header_sorts_its_natural_way_first_and_the_other_way_next(app, admin):
    _customer(admin, COMPANY)
    client, base = page_client(app, admin.tenant), f"/t/{admin.tenant.code}"
    links = _header_links(client.get(f"{base}/customers/").text)
    assert links == {"客户名称": "name", "客户分级": "level", "最近跟进": "-last_follow_up",
                     "下次跟进时间": "next_follow_up"}
    assert _header_links(client.get(f"{base}/customers/?sort=name").text)["客户名称"] == "-name"
    assert _header_links(client.get(f"{base}/customers/?sort=-name").text)["客户名称"] == "name"
    assert _header_links(client.get(f"{base}/customers/?sort=-last_follow_up").text)["最近跟进"] == "last_follow_up"
    assert _header_links(client.get(f"{base}/customers/?sort=next_follow_up").text)["下次跟进时间"] == "-next_follow_up"
    assert admin.post("/leads", json={"lead_name": "王华", "source": "exhibition"}).status_code == 201
    assert _header_links(client.get(f"{base}/leads/?view=all").text) == {"线索名称": "name",
                                                                          "下次跟进时间": "next_follow_up"}


# --- the revision that fills it for rows already there ---------------------------------------------------


def test_0017_fills_the_searchable_pinyin_of_existing_rows_and_can_run_again(engine):  # noqa: F811 (a fixture)
    names = [COMPANY, "上海金地实业有限公司", "ＩＢＭ中国"] * 700  # more than one batch
    with engine.connect() as conn:
        _customers_at(conn, "0016_pinyin_syllables", names)
        conn.execute(sa.text("INSERT INTO crm_customer (customer_name, name_key, customer_type, level, status, "
                             "deal_status, created_by, created_at, updated_at) VALUES ('曾华', '曾华', 'individual', "
                             "'normal', 'active', 'potential', 1, '2026-01-01', '2026-01-01')"))
        conn.execute(sa.text("INSERT INTO crm_contact (customer_id, contact_name, phone, created_by, created_at, "
                             "updated_at) VALUES (1, :n, :p, 1, '2026-01-01', '2026-01-01')"),
                     [{"n": n, "p": f"+86138{i:08d}"} for i, n in enumerate(["曾华", "单于夫", "王华"])])
        conn.execute(sa.text("INSERT INTO crm_lead (lead_name, company, pool_id, created_by, created_at, "
                             "updated_at) VALUES (:n, NULL, 1, 1, '2026-01-01', '2026-01-01')"),
                     [{"n": n} for n in ("乐嘉", "乐山物业")])
        conn.commit()
        assert tenant_schema.upgrade(conn) == tenant_schema.head_revision()

        def spelt(table, name, kind=None):
            extra = f", {kind}" if kind else ""
            return conn.execute(sa.text(f"SELECT {name}, name_search{extra} FROM {table} ORDER BY id")).all()

        customers = spelt("crm_customer", "customer_name", "customer_type")
        assert len(customers) == 2101 and all(
            text == pinyin.pinyin_search_text(name, kind == "individual") for name, text, kind in customers)
        assert customers[-1][1] == "zh zenghua" and customers[0][1].startswith("bjhtwlyxgs beijinghengtai")
        assert [text for _n, text in spelt("crm_contact", "contact_name")] == [
            "zh zenghua", "cyf chanyufu", "wh wanghua"]
        assert [text for _n, text in spelt("crm_lead", "lead_name")] == ["yj yuejia", "lswy leshanwuye"]
        # stopped halfway: the rows without it get it, the others keep it
        conn.execute(sa.text("UPDATE crm_customer SET name_search = NULL WHERE id > 1000"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0016_pinyin_syllables'"))
        conn.commit()
        assert tenant_schema.upgrade(conn) == tenant_schema.head_revision()
        assert spelt("crm_customer", "customer_name", "customer_type") == customers
        conn.rollback()
        command.downgrade(tenant_schema.alembic_config(conn), "0016_pinyin_syllables")
        conn.commit()
        assert "name_search" not in {c["name"] for c in sa.inspect(conn).get_columns("crm_customer")}
        conn.rollback()


# --- at volume: what the statements read (MariaDB's plans; bench/bench_crm.py measures the time) -----------


@CONTROL_ON_MARIADB
@pytest.mark.parametrize("cap", [listing.LINKED_CAP, 0])
def test_a_pinyin_search_most_names_hold_fills_the_first_try(app, volume, monkeypatch, cap):  # noqa: F811
    """A director's search for letters nearly every name holds (youxian: 有限公司) takes its page from the first
    try in id order, as a Chinese word does: the contacts are read on their own first, or (``cap`` 0: too many of
    them) each customer read looks up its own through their index, never every contact before a customer is read
    (MariaDB's plan for EXISTS, which spent the first try's budget on the contacts)."""
    monkeypatch.setattr(listing, "LINKED_CAP", cap)
    t = volume
    director = tenant_api(app, t, "vol_director", FILL_PASSWORD)
    statements = Statements(t)
    first = statements.during(lambda: director.get("/customers?q=youxian&limit=20"))
    assert len(first.json["items"]) == 20
    pages = [s for s, _p in statements.seen if s.startswith("SELECT crm_customer.") and "LIMIT" in s]
    assert pages and all("ROWS EXAMINED" in s for s in pages), statements.texts()  # the first try alone
    plan = explain(t, *probe_statement(statements))
    assert plan[0]["table"] == "crm_customer" and plan[0]["key"] == "PRIMARY", plan
    assert all(p["type"] != "ALL" and p["select_type"] != "MATERIALIZED" for p in plan), plan


@CONTROL_ON_MARIADB
def test_a_customer_is_found_by_a_contact_through_the_contacts_indexes(app, volume):  # noqa: F811
    """An administrator's search of every customer for a contact's name reads the few customers the two word
    indexes name, and for a contact's whole phone the phone's indexes: never every customer."""
    t = volume
    name, phone = rows(t, "SELECT contact_name, phone FROM crm_contact WHERE CHAR_LENGTH(contact_name) >= 2 "
                          "AND deleted_at IS NULL ORDER BY id DESC LIMIT 1")[0]
    client, statements = tenant_api(app, t), Statements(t)
    for q, where, value in ((name, "k.contact_name LIKE :v", f"%{name}%"), (phone, "k.phone = :v", phone)):
        expected = sorted(str(cid) for (cid,) in rows(
            t, "SELECT c.id FROM crm_customer c WHERE c.deleted_at IS NULL AND (c.customer_name LIKE :v OR "
               f"c.phone = :v OR EXISTS (SELECT 1 FROM crm_contact k WHERE k.customer_id = c.id AND "
               f"k.deleted_at IS NULL AND {where}))", v=value))
        found = statements.during(lambda q=q: client.get("/customers", query_string={"q": q, "limit": 100}))
        assert sorted(item["id"] for item in found.json["items"]) == expected and expected, q
        plan = [p for p in explain(t, *list_statement(statements)) if p["table"] in ("crm_customer", "crm_contact")]
        assert plan and all(p["type"] in ("eq_ref", "ref", "const", "range", "index_merge") for p in plan), (q, plan)


@pytest.mark.parametrize("sort", ["-created", "name", "-next_follow_up"])
def test_a_search_pages_on_with_its_cursor_finding_each_match_once(admin, linked_reads, sort):
    """Page 2 of a pinyin search, and of one found through contacts: every match once, in a short page at a
    time, whichever sort (the cursor carries the search's own key)."""
    by_name = {_customer(admin, f"恒泰{name}物业有限公司") for name in ("甲", "乙", "丙", "丁", "戊")}
    by_contact = set()
    for i in range(4):
        cid = _customer(admin, f"其他{i}号有限公司")
        _contact(admin, cid, "王华", f"1370013{i:04d}")
        by_contact.add(cid)
    for q, expected in (("hengtai", by_name), ("wanghua", by_contact), ("王华", by_contact)):
        found = [c["id"] for c in every_item(admin, f"/customers?{urlencode({'q': q, 'sort': sort})}&limit=2")]
        assert sorted(found) == sorted(expected), (q, sort)
