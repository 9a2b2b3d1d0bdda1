"""Customer export (导出) on real MariaDB tenants: the list's own rows (data scope, view, filters, search,
sort) as CSV or Excel, labels and headers in the reader's language, local times, spreadsheet formulas
neutralised, a row cap answered 422 before anything is sent, and the list page's 导出 link."""

import csv
import io
import logging
import re
from datetime import datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from tenant_runtime.io import export as export_module
from tenant_runtime.people.models import SCOPE_SELF
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    add_dept,
    add_role,
    add_user,
    customer_body,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB

BOM = b"\xef\xbb\xbf"
ZH_HEADERS = ["客户名称", "客户类型", "手机号", "统一社会信用代码", "所属行业", "企业规模", "所属省份", "所属城市", "地址",
              "客户分级", "状态", "成交状态", "客户来源", "负责人", "部门", "标签", "最近跟进", "下次跟进时间", "创建人",
              "创建时间", "备注"]


@pytest.fixture
def company(app, tenants):
    """总部 > 销售部 > (一组, 二组). Sales users s1 (一组) and s2 (二组) who may export (a role of their own,
    only own records), a manager of 销售部 and the administrator each own customers; ``plain`` is a sales user
    of 一组 with the built-in role alone (no export). ``world.api(name)`` is their signed-in API client."""
    t = tenants[0]
    sales = add_dept(t, "销售部")
    group1, group2 = add_dept(t, "销售一组", sales), add_dept(t, "销售二组", sales)
    exporter = add_role(t, "可导出的销售", SCOPE_SELF, ["customer.view", "customer.export"])
    users = {"s1": add_user(t, "s1", ("sales", exporter), group1, full_name="张一"),
             "s2": add_user(t, "s2", ("sales", exporter), group2, full_name="李二"),
             "mgr": add_user(t, "mgr", ("sales_manager",), sales, full_name="王经理"),
             "plain": add_user(t, "plain", ("sales",), group1, full_name="赵三")}
    clients = {name: tenant_api(app, t, name) for name in users}
    clients["admin"] = tenant_api(app, t)
    names = {}
    for owner, count in (("s1", 3), ("s2", 2), ("mgr", 1), ("admin", 2)):
        for k in range(count):
            name = f"{owner}客户{k}号有限公司"
            resp = clients[owner].post("/customers", json=customer_body(customer_name=name))
            assert resp.status_code == 201, resp.json
            names[name] = resp.json["id"]

    class World:
        tenant, depts, ids = t, {"sales": sales, "group1": group1, "group2": group2}, names

        def api(self, name):
            return clients[name]

    world = World()
    world.users = users
    return world


def fetch(client, path, **kw):
    """A download, read and closed (a sent file stays open until its answer is closed)."""
    resp = client.get(path, **kw)
    resp.data  # noqa: B018 - read the body before closing
    resp.close()
    return resp


def csv_rows(resp):
    assert resp.status_code == 200, resp.data[:500]
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.data.startswith(BOM)
    return list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))


def exported(client, query="", **kw):
    """The customer names of a CSV export, in file order."""
    rows = csv_rows(fetch(client, f"/customers/export?format=csv{query}", **kw))
    assert rows[0] == ZH_HEADERS
    return [r[0] for r in rows[1:]]


def listed(client, query=""):
    resp = client.get(f"/customers?limit=200{query}")
    assert resp.status_code == 200, resp.json
    return [c["customer_name"] for c in resp.json["items"]]


def owners_of(names):
    return {n.split("客户")[0] for n in names}


def test_each_user_exports_exactly_their_data_scope(company):
    assert owners_of(exported(company.api("s1"))) == {"s1"}
    assert len(exported(company.api("s1"))) == 3
    assert owners_of(exported(company.api("s2"))) == {"s2"}
    assert owners_of(exported(company.api("mgr"))) == {"s1", "s2", "mgr"}  # 销售部 and below
    everything = exported(company.api("admin"))
    assert sorted(everything) == sorted(company.ids)


def test_the_export_is_the_lists_rows_in_the_lists_order(company, monkeypatch):
    """Read in keyset chunks (two rows at a time here), through the scope's per-department branches for
    the manager: same rows, same order as the list, none twice."""
    monkeypatch.setattr(export_module, "CHUNK_SIZE", 2)
    for who in ("mgr", "admin", "s1"):
        client = company.api(who)
        for query in ("", "&sort=name", "&sort=-name", "&sort=last_follow_up"):
            assert exported(client, query) == listed(client, query), (who, query)


def test_the_export_applies_the_lists_filters_search_and_view(company):
    admin = company.api("admin")
    important = company.ids["s2客户1号有限公司"]
    assert admin.patch(f"/customers/{important}", json={"level": "important"}).status_code == 200
    assert exported(admin, "&level=important") == ["s2客户1号有限公司"]
    assert set(exported(admin, f"&owner_id={company.users['s1']}")) == {f"s1客户{k}号有限公司" for k in range(3)}
    assert exported(admin, "&q=" + "mgr客户") == ["mgr客户0号有限公司"]
    assert exported(admin, "&view=mine") == listed(admin, "&view=mine")
    assert owners_of(exported(admin, "&view=mine")) == {"admin"}
    assert exported(admin, f"&level=normal&owner_id={company.users['s2']}") == ["s2客户0号有限公司"]
    # paging parameters of the list page are not filters: the export reads every page
    assert len(exported(admin, "&limit=1&cursor=garbage")) == len(company.ids)


def test_a_role_without_customer_export_gets_403(company, app):
    plain = company.api("plain")
    assert plain.get("/customers?limit=5").status_code == 200  # may see the list, not export it
    resp = fetch(plain, "/customers/export?format=csv")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"
    assert fetch(plain, "/customers/export?format=xlsx").status_code == 403
    page = page_client(app, company.tenant, "plain")
    assert fetch(page, f"/t/{company.tenant.code}/customers/export?format=csv").status_code == 403


def test_deleted_customers_are_never_exported(company):
    admin = company.api("admin")
    gone = company.ids["s1客户0号有限公司"]
    assert admin.delete(f"/customers/{gone}").status_code == 204
    assert "s1客户0号有限公司" not in exported(admin)
    assert "s1客户0号有限公司" not in exported(company.api("mgr"))
    assert len(exported(admin)) == len(company.ids) - 1


def test_values_are_labels_local_times_and_display_phones(company):
    admin = company.api("admin")
    resp = admin.post("/customers", json=customer_body(
        customer_name="标签测试有限公司", level="important", phone="13800138000", industry="it", scale="lt50",
        province_code="31", city_code="3100", source="referral", tags="重点, 老客户", remark="按时付款",
        next_follow_up_at="2026-12-01T09:30:00+08:00", owner_id=str(company.users["s2"])))
    assert resp.status_code == 201, resp.json
    body = resp.json
    rows = csv_rows(fetch(admin, "/customers/export?format=csv&q=标签测试"))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    local_created = datetime.fromisoformat(body["created_at"]).strftime("%Y-%m-%d %H:%M")  # +08:00 already
    assert row == {
        "客户名称": "标签测试有限公司", "客户类型": "企业", "手机号": "13800138000", "统一社会信用代码": "",
        "所属行业": "信息技术", "企业规模": "50 人以下", "所属省份": "上海市", "所属城市": "上海市", "地址": "",
        "客户分级": "重要", "状态": "活跃", "成交状态": "未成交", "客户来源": "转介绍", "负责人": "李二",
        "部门": "销售二组", "标签": "老客户、重点", "最近跟进": "", "下次跟进时间": "2026-12-01 09:30",
        "创建人": creator_name(company.tenant, int(body["created_by"])), "创建时间": local_created, "备注": "按时付款"}


def creator_name(tenant, user_id):
    engine = tenant.engine()
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT full_name FROM sys_user WHERE id = :u"), {"u": user_id}).scalar()
    engine.dispose()
    assert name
    return name


def test_spreadsheet_formulas_are_neutralised(company):
    admin = company.api("admin")
    cases = {"=HYPERLINK(\"http://x\")有限公司": "+86 1 呼叫", "@SUM(A1)有限公司": "-1 负数", "+1+2有限公司": "=1+2"}
    for name, remark in cases.items():
        resp = admin.post("/customers", json=customer_body(customer_name=name, remark=remark))
        assert resp.status_code == 201, resp.json
    rows = csv_rows(fetch(admin, "/customers/export?format=csv"))
    by_name = {r[0]: r[-1] for r in rows[1:]}
    for name, remark in cases.items():
        assert by_name["'" + name] == "'" + remark
    book = load_workbook(io.BytesIO(fetch(admin, "/customers/export?format=xlsx").data))
    cells = {r[0]: r[-1] for r in book.active.iter_rows(min_row=2, values_only=True)}
    for name, remark in cases.items():
        assert cells["'" + name] == "'" + remark
    for sheet_row in book.active.iter_rows(min_row=2):
        assert all(c.data_type != "f" for c in sheet_row)  # not one formula in the file


def test_xlsx_is_readable_with_the_header_and_the_rows(company):
    admin = company.api("admin")
    admin.patch(f"/customers/{company.ids['s1客户1号有限公司']}", json={"level": "important"})
    resp = fetch(admin, "/customers/export?format=xlsx&sort=name")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert int(resp.headers["Content-Length"]) == len(resp.data)
    book = load_workbook(io.BytesIO(resp.data))
    sheet = book.active
    assert sheet.title == "客户"
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == ZH_HEADERS
    assert [r[0] for r in rows[1:]] == listed(admin, "&sort=name")
    row = dict(zip(rows[0], next(r for r in rows if r[0] == "s1客户1号有限公司"), strict=True))
    assert row["客户分级"] == "重要" and row["负责人"] == "张一" and row["部门"] == "销售一组"
    assert isinstance(row["创建时间"], datetime)  # a real date-time cell, in local time
    body = admin.get(f"/customers/{company.ids['s1客户1号有限公司']}").json
    local = datetime.fromisoformat(body["created_at"])  # ISO with the local offset
    assert row["创建时间"] == local.replace(tzinfo=None, microsecond=0)


def test_file_names_are_the_resource_and_local_time_with_an_ascii_fallback(company):
    for fmt in ("csv", "xlsx"):
        disposition = fetch(company.api("admin"), f"/customers/export?format={fmt}").headers["Content-Disposition"]
        assert re.search(rf'filename="customers_\d{{8}}_\d{{4}}\.{fmt}"', disposition), disposition
        encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
        assert re.fullmatch(rf"客户_\d{{8}}_\d{{4}}\.{fmt}", unquote(encoded)), disposition


def test_english_headers_and_labels_under_an_english_locale(company, app):
    admin = company.api("admin")
    admin.patch(f"/customers/{company.ids['mgr客户0号有限公司']}", json={"level": "important", "province_code": "44",
                                                                      "city_code": "4403"})
    rows = csv_rows(fetch(admin, "/customers/export?format=csv&level=important",
                           headers={"Accept-Language": "en"}))
    assert rows[0][:3] == ["Customer name", "Customer type", "Phone"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Level"] == "Important" and row["Customer type"] == "Enterprise" and row["Owner"] == "王经理"
    assert (row["Province"], row["City"]) == ("Guangdong", "Shenzhen")  # as the English pages name them
    assert "filename*=UTF-8''Customers_" in fetch(admin, "/customers/export", headers={"Accept-Language": "en"}) \
        .headers["Content-Disposition"]
    page = page_client(app, company.tenant)
    page.get(f"/t/{company.tenant.code}/customers/?lang=en")
    book = load_workbook(io.BytesIO(fetch(page, f"/t/{company.tenant.code}/customers/export?format=xlsx").data))
    assert next(book.active.iter_rows(max_row=1, values_only=True))[:2] == ("Customer name", "Customer type")


def test_more_rows_than_the_cap_is_422_and_nothing_is_streamed(company, app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_EXPORT_MAX_ROWS", 3)
    admin, mgr = company.api("admin"), company.api("mgr")
    for client, query in ((admin, ""), (admin, "&format=xlsx"), (mgr, "")):  # mgr: counted branch by branch
        resp = fetch(client, f"/customers/export?format=csv{query}")
        assert resp.status_code == 422, resp.status_code
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.json["error"]["code"] == "export_too_large"
        assert "3" in resp.json["error"]["message"]
        assert "Content-Disposition" not in resp.headers
    # at the cap exactly: exported
    assert len(exported(company.api("s1"))) == 3
    assert len(exported(admin, f"&owner_id={company.users['s1']}")) == 3


def test_the_page_refuses_too_many_rows_back_on_the_list_with_its_filters(company, app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_EXPORT_MAX_ROWS", 3)
    page = page_client(app, company.tenant)
    code = company.tenant.code
    resp = fetch(page, f"/t/{code}/customers/export?format=xlsx&level=normal")
    assert resp.status_code == 302
    target = urlsplit(resp.headers["Location"])
    assert target.path == f"/t/{code}/customers/" and parse_qs(target.query) == {"level": ["normal"]}
    assert "缩小筛选范围" in page.get(resp.headers["Location"]).text


@pytest.mark.parametrize("query,fields", [
    ("format=pdf", {"format"}),
    ("format=CSV", {"format"}),
    ("format=xls&level=vip", {"format", "level"}),
    ("format=csv&owner_id=abc", {"owner_id"}),
    ("format=csv&created_from=yesterday", {"created_from"}),
    ("format=csv&sort=phone", {"sort"}),
])
def test_bad_parameters_are_422_naming_them(company, query, fields):
    resp = fetch(company.api("admin"), f"/customers/export?{query}")
    assert resp.status_code == 422, resp.status_code
    assert set(resp.json["error"]["fields"]) == fields


def test_a_tenant_exports_only_its_own_rows(app, company, tenants):
    other = tenant_api(app, tenants[1])
    assert other.post("/customers", json=customer_body(customer_name="别家客户有限公司")).status_code == 201
    assert exported(other) == ["别家客户有限公司"]
    assert "别家客户有限公司" not in exported(company.api("admin"))
    # a token of one company is nobody at another
    stranger = company.api("admin").client.get(f"/t/{tenants[1].code}/api/v1/customers/export",
                                                headers={"Authorization": f"Bearer {company.api('admin').token}"})
    assert stranger.status_code == 401


def test_the_list_page_links_to_the_export_only_with_the_permission_keeping_its_filters(company, app):
    code = company.tenant.code
    admin = page_client(app, company.tenant)
    html = admin.get(f"/t/{code}/customers/?level=normal&q=s1客户&sort=name&cursor=abc&limit=5").text
    links = re.findall(r'href="([^"]*/customers/export\?[^"]*)"', html)
    assert len(links) == 2, links
    for link in links:
        query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
        assert query.pop("format")[0] in ("csv", "xlsx")
        assert query == {"level": ["normal"], "q": ["s1客户"], "sort": ["name"]}
    assert ">导出<" in html
    # following the link downloads what the list shows
    csv_link = next(link for link in links if "format=csv" in link).replace("&amp;", "&")
    rows = csv_rows(fetch(admin, csv_link))
    assert [r[0] for r in rows[1:]] == ["s1客户0号有限公司", "s1客户1号有限公司", "s1客户2号有限公司"]
    sales = page_client(app, company.tenant, "plain")
    html = sales.get(f"/t/{code}/customers/").text
    assert "/customers/export" not in html and ">导出<" not in html


def test_each_export_is_logged_without_personal_data(company, caplog):
    admin = company.api("admin")
    with caplog.at_level(logging.INFO):
        exported(admin, f"&q=s1客户&owner_id={company.users['s1']}")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("export:")]
    assert len(lines) == 1
    line = lines[0]
    admin_id = admin.get("/me").json["id"]
    assert f"user {admin_id} exported 3 customers as csv" in line
    assert f'"owner_id": ["{company.users["s1"]}"]' in line
    assert "s1客户" not in line  # the search text is not logged


def test_the_export_is_in_the_api_document_as_a_file(company):
    doc = company.api("admin").get("/openapi.json").json
    op = doc["paths"]["/customers/export"]["get"]
    assert set(op["responses"]["200"]["content"]) == {
        "text/csv; charset=utf-8", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    params = {p["name"]: p for p in op["parameters"]}
    assert params["format"]["schema"]["enum"] == ["csv", "xlsx"]
    assert {"q", "level", "owner_id", "view", "sort"} <= params.keys()
    assert "limit" not in params and "cursor" not in params
    assert "422" in op["responses"]


def test_customer_rows_read_from_the_database_match_the_export_count(company):
    """The file holds every visible live row: checked against the table itself."""
    engine = company.tenant.engine()
    with engine.connect() as conn:
        live = conn.execute(sa.text("SELECT COUNT(*) FROM crm_customer WHERE deleted_at IS NULL")).scalar()
    engine.dispose()
    assert len(exported(company.api("admin"))) == live


def test_a_csv_streams_chunk_by_chunk_holding_its_tenant_only_while_it_streams(company, app, monkeypatch):
    """One piece for the header, then one per chunk read; the request's tenant slot (the bulkhead) and
    session are released before the body streams, the stream takes one of its own and gives it back."""
    monkeypatch.setattr(export_module, "CHUNK_SIZE", 3)
    bulkhead, tenant_id = app.extensions["tenant_bulkhead"], company.tenant.id
    resp = company.api("admin").get("/customers/export?format=csv")  # the test client reads the first piece
    assert resp.status_code == 200 and resp.is_streamed
    assert bulkhead.in_use(tenant_id) == 1  # the stream's own: the request's was given back before it
    pieces = list(resp.response)
    assert app.extensions["export_bulkhead"].in_use(tenant_id) == 0  # read to its end: the export slot is back
    first, rest = pieces[0], pieces[1:]
    assert first.startswith(BOM) and first.decode("utf-8-sig").splitlines() == [",".join(ZH_HEADERS)]
    resp.close()
    assert [len(p.decode().splitlines()) for p in rest] == [3, 3, 2]  # 8 customers, 3 at a time
    assert bulkhead.in_use(tenant_id) == 0


def test_control_characters_do_not_break_the_excel_file(company):
    """A remark with characters an xlsx cannot hold (written by an older import, say) loses just those."""
    engine = company.tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE crm_customer SET remark = :r WHERE id = :i"),
                     {"r": "付款\x01正常\x0b", "i": company.ids["mgr客户0号有限公司"]})
    engine.dispose()
    resp = fetch(company.api("admin"), "/customers/export?format=xlsx")
    assert resp.status_code == 200
    cells = {r[0]: r[-1] for r in load_workbook(io.BytesIO(resp.data)).active.iter_rows(min_row=2, values_only=True)}
    assert cells["mgr客户0号有限公司"] == "付款正常"


def test_one_export_at_a_time_per_company_so_its_other_users_keep_working(company, app, tenants, monkeypatch):
    """An export holds a request thread for as long as it reads: while one of the company's exports streams,
    another is refused at once with 429 ``export_busy`` (the page says so on the list), its other requests are
    served, another company's export is not held up, and once the first answer is closed the next one runs."""
    monkeypatch.setattr(export_module, "CHUNK_SIZE", 2)
    slots, tenant_id = app.extensions["export_bulkhead"], company.tenant.id
    first = company.api("admin").get("/customers/export?format=csv")  # streaming: only its first piece is read
    assert first.status_code == 200 and first.is_streamed
    busy = company.api("mgr").get("/customers/export?format=xlsx")
    assert busy.status_code == 429 and busy.json["error"]["code"] == "export_busy"
    assert company.api("mgr").get("/customers").status_code == 200  # the list still answers
    page = page_client(app, company.tenant, "mgr").get(f"/t/{company.tenant.code}/customers/export?format=csv",
                                                         follow_redirects=True)
    assert page.status_code == 200 and "另一个导出" in page.text
    assert fetch(tenant_api(app, tenants[1]), "/customers/export?format=csv").status_code == 200  # its own slot
    first.close()
    assert slots.in_use(tenant_id) == 0
    assert fetch(company.api("mgr"), "/customers/export?format=xlsx").status_code == 200
    assert slots.in_use(tenant_id) == 0  # an Excel file holds none once it is written
