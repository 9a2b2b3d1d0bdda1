"""Import (导入) of customers, contacts and leads from Excel and CSV on real MariaDB tenants: columns found by their headers
in either language, choices by label, every row validated and created as the create form does, nothing written
when a row is invalid, duplicates skipped (or refused) and reported, a dry run, the limits, the template, the
page without JavaScript and the permission."""

import csv
import io
from datetime import datetime

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

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

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def make_company(app, tenants):
    """销售部 > 一组 (sales user s1 张一), 二组 (s2 李二); 王经理 manages 销售部 and may import (the built-in sales
    manager role); s1 has the built-in sales role alone (no import)."""
    t = tenants[0]
    sales = add_dept(t, "销售部")
    group1, group2 = add_dept(t, "销售一组", sales), add_dept(t, "销售二组", sales)
    users = {"s1": add_user(t, "s1", ("sales",), group1, full_name="张一"),
             "s2": add_user(t, "s2", ("sales",), group2, full_name="李二"),
             "mgr": add_user(t, "mgr", ("sales_manager",), sales, full_name="王经理")}
    other = add_dept(t, "客服部")
    users["outsider"] = add_user(t, "outsider", ("sales",), other, full_name="周外")

    class World:
        tenant, ids = t, users

        def api(self, name="admin"):
            return tenant_api(app, t, name) if name != "admin" else tenant_api(app, t)

    return World()


@pytest.fixture
def company(app, tenants):
    return make_company(app, tenants)


def xlsx(rows):
    """An .xlsx whose first sheet holds ``rows`` (the first is the header)."""
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows, encoding="utf-8-sig"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)


def send(api, data, name="customers.xlsx", resource="customers", **fields):
    return api.post(f"/{resource}/import", json=None, data={"file": (io.BytesIO(data), name), **fields},
                    content_type="multipart/form-data")


def count(tenant, table, where="1=1"):
    engine = tenant.engine()
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {where}")).scalar()
    finally:
        engine.dispose()


def by_name(api, name):
    items = api.get(f"/customers?q={name}&limit=50").json["items"]
    found = [c for c in items if c["customer_name"] == name]
    assert len(found) == 1, items
    return api.get(f"/customers/{found[0]['id']}").json


# ---------------------------------------------------------------------- what a row becomes


def test_an_excel_file_imports_each_row_as_the_create_form_would(company):
    mgr = company.api("mgr")
    data = xlsx([
        ["客户名称*", "客户类型", "手机号", "统一社会信用代码", "客户分级", "所属省份", "所属城市", "负责人", "标签",
         "下次跟进时间", "备注"],
        ["深圳华庭物业有限公司", "企业", 13800138000, "91350100M000100Y43", "重要", "广东", "深圳", "张一",
         "重点, 老客户", datetime(2026, 12, 24, 15, 30), "展会认识"],
        [None, None, None, None, None, None, None, None, None, None, None],  # a blank row: skipped, rows keep numbers
        ["王小明", "个人", "139 0013 9001", None, "潜在", None, None, None, None, "2026/12/25", None],
    ])
    resp = send(mgr, data)
    assert resp.status_code == 200, resp.json
    assert resp.json["created"] == 2 and resp.json["skipped"] == 0 and resp.json["rows"] == 2
    assert resp.json["dry_run"] is False and len(resp.json["ids"]) == 2

    firm = by_name(mgr, "深圳华庭物业有限公司")
    assert firm["customer_type"] == "enterprise" and firm["level"] == "important"
    assert firm["phone"] == "+8613800138000" and firm["tax_id"] == "91350100M000100Y43"
    assert firm["province_code"] == "44" and firm["city_code"] == "4403"
    assert firm["owner"]["name"] == "张一"  # an owner the manager manages, by name
    assert sorted(firm["tags"]) == ["老客户", "重点"] and firm["remark"] == "展会认识"
    assert firm["next_follow_up_at"].startswith("2026-12-24T15:30:00+08:00")
    person = by_name(mgr, "王小明")
    assert person["customer_type"] == "individual" and person["level"] == "potential"
    assert person["phone"] == "+8613900139001"
    assert person["owner"]["name"] == "王经理"  # no owner given: the person importing
    assert person["next_follow_up_at"].startswith("2026-12-25T09:00:00")  # a date alone: 09:00 that day
    # created as the create endpoint creates: history, and found by the list's search (the word index)
    history = mgr.get(f"/customers/{firm['id']}/history").json["items"]
    assert [e["action"] for e in history] == ["create"]
    assert [c["customer_name"] for c in mgr.get("/customers?q=华庭物业").json["items"]] == ["深圳华庭物业有限公司"]
    assert [c["customer_name"] for c in mgr.get("/customers?q=0013").json["items"]]  # the phone's digits too


def test_a_gbk_csv_with_english_headers_codes_and_aliases(company):
    """What Excel on Chinese Windows saves (GB18030), headers in English or as people name them, choices by code."""
    admin = company.api()
    english = csv_bytes([["Customer name", "Phone", "Level", "Customer type"],
                         ["杭州西湖商贸有限公司", "0571-85888888", "important", "enterprise"]], encoding="gb18030")
    resp = send(admin, english, name="客户.csv")
    assert resp.status_code == 200, resp.json
    firm = by_name(admin, "杭州西湖商贸有限公司")
    assert firm["phone"] == "+8657185888888" and firm["level"] == "important"

    aliases = csv_bytes([["公司名称", "手机", "级别", "来源", "部门"],
                         ["南京紫金山物业", "13700137000", "普通", "转介绍", "销售部"]])
    resp = send(admin, aliases, name="list.csv")
    assert resp.status_code == 200, resp.json
    assert resp.json["ignored_columns"] == ["部门"]
    assert resp.json["columns"] == {"customer_name": "公司名称", "phone": "手机", "level": "级别", "source": "来源"}
    firm = by_name(admin, "南京紫金山物业")
    assert firm["source"] == "referral" and firm["phone"] == "+8613700137000"


def test_a_sheet_in_either_language_imports_whatever_the_importers_language(company):
    """A sheet filled in Chinese (企业, 重要, as the Chinese template and a Chinese reader's export have it) sent by
    an administrator reading English was refused row by row ("“重要” is not one of: Important, Normal,
    Potential"), though the headers were read in either language; and an English sheet sent in Chinese the same.
    Choices are read by their label in either language."""
    admin = company.api()
    chinese = xlsx([["客户名称*", "客户类型", "手机号", "客户分级", "客户来源"],
                    ["青岛海景物业有限公司", "企业", "13700137001", "重要", "展会"]])
    resp = admin.post("/customers/import", json=None, data={"file": (io.BytesIO(chinese), "客户.xlsx")},
                      content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.json
    english = xlsx([["Customer name", "Customer type", "Phone", "Level"],
                    ["Qingdao Harbour Estates", "Individual", "13700137002", "Potential"]])
    assert send(admin, english, name="customers.xlsx").status_code == 200
    firm, person = by_name(admin, "青岛海景物业有限公司"), by_name(admin, "Qingdao Harbour Estates")
    assert (firm["customer_type"], firm["level"], firm["source"]) == ("enterprise", "important", "exhibition")
    assert (person["customer_type"], person["level"]) == ("individual", "potential")


def test_an_export_of_the_list_imports_again(company, tenants, app):
    """The export's headers and values (labels, phones as written, local times) are what the import reads: a list
    exported from one company imports into another whose users have the same names. Two tags, joined with 、 in a
    Chinese export, come back as two (they came back as one tag, 老客户、转介绍)."""
    admin = company.api()
    body = customer_body(customer_name="成都锦江物业有限公司", phone="13600136000", level="important",
                         province_code="51", city_code="5101", tags=["老客户", "转介绍"], source="exhibition",
                         next_follow_up_at="2026-12-28T10:00:00+08:00")
    assert admin.post("/customers", json=body).status_code == 201
    exported = admin.get("/customers/export?format=xlsx&q=锦江物业")
    assert exported.status_code == 200
    exported.data  # noqa: B018 - read the file, then close the answer (which gives the export slot back)
    exported.close()
    other = tenant_api(app, tenants[1])
    resp = send(other, exported.data, name="export.xlsx")
    assert resp.status_code == 200, resp.json
    assert {"部门", "创建人", "创建时间", "最近跟进", "状态"} <= set(resp.json["ignored_columns"])
    copy = by_name(other, "成都锦江物业有限公司")
    for key in ("phone", "level", "province_code", "city_code", "tags", "source", "next_follow_up_at"):
        assert copy[key] == by_name(admin, "成都锦江物业有限公司")[key], key


# ---------------------------------------------------------------------- invalid rows, duplicates, dry run


def test_an_invalid_row_imports_nothing_and_every_bad_row_is_named(company):
    mgr = company.api("mgr")
    before = count(company.tenant, "crm_customer")
    data = xlsx([
        ["客户名称", "手机号", "统一社会信用代码", "客户分级", "负责人", "客户类型"],
        ["好的一行有限公司", "13500135000", None, "重要", None, "企业"],
        ["坏手机有限公司", "12345", None, None, None, None],
        [None, None, None, "重要", None, None],  # no name
        ["坏代码有限公司", None, "91350100M000100Y44", "超级", None, None],
        ["别人的客户有限公司", None, None, None, "周外", None],  # an owner outside the manager's departments
        ["个人带代码", None, "91350100M000100Y43", None, None, "个人"],
    ])
    resp = send(mgr, data)
    assert resp.status_code == 422, resp.json
    error = resp.json["error"]
    assert error["code"] == "import_invalid" and "5" in error["message"]
    rows = {r["row"]: r["fields"] for r in error["rows"]}
    assert set(rows) == {3, 4, 5, 6, 7}  # the spreadsheet's row numbers: the header is row 1
    assert set(rows[3]) == {"phone"} and set(rows[4]) == {"customer_name"}
    assert set(rows[5]) == {"tax_id", "level"} and "重要" in rows[5]["level"][0]  # the options are named
    assert set(rows[6]) == {"owner_id"} and set(rows[7]) == {"tax_id"}
    assert error["columns"]["phone"] == "手机号"
    assert count(company.tenant, "crm_customer") == before  # not even the good row


def test_one_invalid_row_is_counted_in_the_singular(company):
    """An English reader whose file had one bad row read "1 rows of the file are invalid"."""
    admin = company.api()
    data = xlsx([["Customer name", "Level"], ["", "Important"], ["厦门鹭岛物业有限公司", "Important"]])
    resp = admin.post("/customers/import", json=None, data={"file": (io.BytesIO(data), "one.xlsx")},
                      content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert resp.status_code == 422
    assert resp.json["error"]["message"].startswith("1 row of the file is invalid, so nothing was imported. Correct it")
    data = xlsx([["Customer name", "Level"], ["", "Important"], ["", "Normal"]])
    assert send(admin, data).json["error"]["message"].startswith("文件中有 2 行有误")


def test_duplicates_are_skipped_and_reported_or_refused_on_request(company):
    admin, s1 = company.api(), company.api("s1")
    taken = s1.post("/customers", json=customer_body(customer_name="上海华庭物业有限公司", phone="13800138001"))
    assert taken.status_code == 201
    data = xlsx([
        ["客户名称", "手机号"],
        ["上海华庭物业", None],  # the same company name without its legal form
        ["另一家物业有限公司", "138-0013-8001"],  # the phone, written otherwise
        ["第三家物业有限公司", "13800138002"],
        ["第四家物业有限公司", "+86 138 0013 8002"],  # the same phone as the row above
    ])
    mgr = company.api("mgr")
    refused = send(mgr, data, on_duplicate="error")
    assert refused.status_code == 422
    assert {r["row"] for r in refused.json["error"]["rows"]} == {2, 3, 5}
    assert count(company.tenant, "crm_customer", "customer_name LIKE '第三家%'") == 0

    for unclear in ("maybe", "t", "2"):  # read as "no", they imported the file the client meant to check
        refused = send(mgr, data, dry_run=unclear)
        assert refused.status_code == 422 and list(refused.json["error"]["fields"]) == ["dry_run"], unclear
    assert count(company.tenant, "crm_customer", "customer_name LIKE '第三家%'") == 0

    dry = send(mgr, data, dry_run="true")
    assert dry.status_code == 200 and dry.json["dry_run"] is True
    assert dry.json["created"] == 1 and dry.json["skipped"] == 3 and dry.json["ids"] == []
    assert count(company.tenant, "crm_customer", "customer_name LIKE '第三家%'") == 0

    resp = send(mgr, data)
    assert resp.status_code == 200, resp.json
    assert resp.json["created"] == 1 and resp.json["skipped"] == 3
    skipped = {r["row"]: r for r in resp.json["skipped_rows"]}
    assert set(skipped[2]["fields"]) == {"customer_name"} and set(skipped[3]["fields"]) == {"phone"}
    assert skipped[3]["matches"][0]["owner_name"] == "张一"  # 一组 is under the manager's 销售部: shown
    assert skipped[5]["duplicate_of_row"] == 4
    assert by_name(admin, "第三家物业有限公司")["phone"] == "+8613800138002"
    # sending the same file again creates nothing more: everything it holds is already there
    again = send(mgr, data)
    assert again.status_code == 200 and again.json["created"] == 0 and again.json["skipped"] == 4


def test_a_duplicate_the_importer_may_not_see_shows_only_a_masked_owner(company, app):
    s2 = company.api("s2")
    taken = s2.post("/customers", json=customer_body(customer_name="李家物业有限公司", phone="13800138009"))
    assert taken.status_code == 201
    role = add_role(company.tenant, "自己导入", SCOPE_SELF, ["customer.view", "customer.create", "customer.import"])
    add_user(company.tenant, "own_importer", (role,), None, full_name="只看自己")
    importer = tenant_api(app, company.tenant, "own_importer")
    resp = send(importer, xlsx([["客户名称", "手机号"], ["新名字有限公司", "13800138009"]]))
    assert resp.status_code == 200 and resp.json["skipped"] == 1
    match = resp.json["skipped_rows"][0]["matches"][0]
    assert match["owner_name"] == "李*" and match["id"] is None and match["visible"] is False


# ---------------------------------------------------------------------- the file itself


@pytest.mark.parametrize(("data", "name", "says"), [
    (b"", "empty.csv", "空"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", ".xls"),
    (b"PK\x03\x04not really a zip", "broken.xlsx", "Excel"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "photo.png", "CSV"),
    ("手机号,备注\n13800138000,无名\n".encode(), "noname.csv", "客户名称"),
    ("客户名称,手机号\n".encode(), "header-only.csv", "没有"),
    ("客户名称,公司名称\n甲,乙\n".encode(), "twice.csv", "公司名称"),
])
def test_a_file_that_cannot_be_imported_is_a_422_naming_the_file(company, data, name, says):
    resp = send(company.api(), data, name=name)
    assert resp.status_code == 422, resp.json
    assert set(resp.json["error"]["fields"]) == {"file"}
    assert says in " ".join(resp.json["error"]["fields"]["file"]), resp.json


def test_too_many_rows_or_bytes_are_refused(company, app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_IMPORT_MAX_ROWS", 3)
    rows = [["客户名称"]] + [[f"公司{k}"] for k in range(4)]
    resp = send(company.api(), xlsx(rows))
    assert resp.status_code == 422 and "3" in resp.json["error"]["fields"]["file"][0]
    assert send(company.api(), xlsx(rows[:4])).status_code == 200
    monkeypatch.setitem(app.config, "CRM_IMPORT_MAX_BYTES", 100)
    resp = send(company.api(), csv_bytes([["客户名称"]] + [[f"很长的公司名称{k}"] for k in range(20)]), name="a.csv")
    assert resp.status_code == 422 and "file" in resp.json["error"]["fields"]


def test_another_import_of_the_company_in_progress_is_429(company, app):
    slots, tenant_id = app.extensions["import_bulkhead"], company.tenant.id
    assert slots.try_enter(tenant_id, 1)
    try:
        resp = send(company.api(), xlsx([["客户名称"], ["忙碌公司"]]))
        assert resp.status_code == 429 and resp.json["error"]["code"] == "import_busy"
    finally:
        slots.leave(tenant_id)
    assert send(company.api(), xlsx([["客户名称"], ["忙碌公司"]])).status_code == 200


def test_a_bad_option_is_a_422_naming_it(company):
    resp = send(company.api(), xlsx([["客户名称"], ["某公司"]]), on_duplicate="merge")
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == {"on_duplicate"}


# ---------------------------------------------------------------------- template, page, permission, document


def test_the_template_names_each_column_and_what_it_takes_and_imports_back(company):
    admin = company.api()
    resp = admin.get("/customers/import/template?format=xlsx")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == XLSX
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(resp.data))
    sheet, notes = book.worksheets
    headers = [c.value for c in sheet[1]]
    assert headers[0] == "客户名称*" and "手机号" in headers and "负责人" in headers
    described = {row[0]: row[2] for row in notes.iter_rows(min_row=2, values_only=True)}
    assert "重要、普通和潜在" in described["客户分级"] or "重要、普通、潜在" in described["客户分级"]
    assert "09:00" in described["下次跟进时间"]
    sheet.append(["模板填写有限公司"] + [None] * (len(headers) - 1))
    out = io.BytesIO()
    book.save(out)
    done = send(admin, out.getvalue())
    assert done.status_code == 200 and done.json["created"] == 1, done.json
    csv_template = admin.get("/customers/import/template?format=csv")
    assert csv_template.status_code == 200 and csv_template.data.startswith(b"\xef\xbb\xbf")
    assert admin.get("/customers/import/template?format=pdf").status_code == 422


def test_only_a_role_with_the_import_permission_may_import(company, app):
    s1 = company.api("s1")
    assert send(s1, xlsx([["客户名称"], ["无权公司"]])).status_code == 403
    assert s1.get("/customers/import/template").status_code == 403
    assert count(company.tenant, "crm_customer", "customer_name = '无权公司'") == 0
    role = add_role(company.tenant, "导入员", SCOPE_SELF, ["customer.view", "customer.create", "customer.import"])
    add_user(company.tenant, "importer", (role,), None, full_name="导入员甲")
    importer = tenant_api(app, company.tenant, "importer")
    assert send(importer, xlsx([["客户名称"], ["有权公司"]])).status_code == 200


def test_the_page_imports_without_javascript(company, app):
    from tests.conftest import csrf_from

    browser = page_client(app, company.tenant, "mgr")
    listing = browser.get(f"/t/{company.tenant.code}/customers/")
    assert f"/t/{company.tenant.code}/customers/import" in listing.text  # the list's 导入 button
    page = browser.get(f"/t/{company.tenant.code}/customers/import")
    assert page.status_code == 200 and "下载模板" in page.text and 'type="file"' in page.text
    bad = browser.post(f"/t/{company.tenant.code}/customers/import", data={
        "csrf_token": csrf_from(page.text), "on_duplicate": "skip",
        "file": (io.BytesIO(xlsx([["客户名称", "手机号"], ["页面公司", "123"]])), "a.xlsx")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "第 2 行" in bad.text and "手机号" in bad.text
    good = browser.post(f"/t/{company.tenant.code}/customers/import", data={
        "csrf_token": csrf_from(page.text), "on_duplicate": "skip",
        "file": (io.BytesIO(xlsx([["客户名称", "手机号", "部门", "备用"], ["页面公司", "13800138077", "销售部", "x"]])),
                 "a.xlsx")}, content_type="multipart/form-data")
    assert good.status_code == 200 and "已导入 1 条" in good.text
    assert "未导入的列：部门、备用" in good.text  # named as Chinese lists names
    assert count(company.tenant, "crm_customer", "customer_name = '页面公司'") == 1
    s1 = page_client(app, company.tenant, "s1")
    assert f"/t/{company.tenant.code}/customers/import" not in s1.get(f"/t/{company.tenant.code}/customers/").text
    assert s1.get(f"/t/{company.tenant.code}/customers/import").status_code == 403


def test_the_page_says_what_is_wrong_with_the_file_itself(company, app, monkeypatch):
    """A file refused as a whole (too large, no rows) is named by what is wrong with it, not by the generic
    部分字段填写有误 of a form."""
    from tests.conftest import csrf_from

    monkeypatch.setitem(app.config, "CRM_IMPORT_MAX_BYTES", 20 * 1024)  # (past 500 KB the test client leaks a file)
    browser = page_client(app, company.tenant, "mgr")
    url = f"/t/{company.tenant.code}/customers/import"
    page = browser.get(url)
    big = browser.post(url, data={"csrf_token": csrf_from(page.text), "on_duplicate": "skip",
                                  "file": (io.BytesIO(b"x" * (20 * 1024 + 1)), "big.csv")},
                       content_type="multipart/form-data")
    alert = big.text.split('class="alert alert-danger" role="alert">', 1)[1].split("</div>", 1)[0]
    assert big.status_code == 422 and "文件大小不能超过 20 KB" in alert and "部分字段填写有误" not in alert, alert
    empty = browser.post(url, data={"csrf_token": csrf_from(page.text), "on_duplicate": "skip",
                                    "file": (io.BytesIO(xlsx([["客户名称"]])), "empty.xlsx")},
                         content_type="multipart/form-data")
    alert = empty.text.split('class="alert alert-danger" role="alert">', 1)[1].split("</div>", 1)[0]
    assert empty.status_code == 422 and "文件在列名行之下没有数据" in alert and "部分字段" not in alert, alert


def test_a_row_skipped_for_several_reasons_is_listed_once_with_its_match_once(company, app):
    """A row whose phone and name are both taken: its row number once, a line for each column, and the customer it
    matches (with its owner) once, not once per column."""
    import re

    from tests.conftest import csrf_from

    admin = company.api()
    assert admin.post("/customers", json=customer_body(customer_name="重复两处物业有限公司",
                                                       phone="13800138555")).status_code == 201
    browser = page_client(app, company.tenant, "mgr")
    url = f"/t/{company.tenant.code}/customers/import"
    page = browser.get(url)
    checked = browser.post(url, data={
        "csrf_token": csrf_from(page.text), "on_duplicate": "skip", "dry_run": "y",
        "file": (io.BytesIO(xlsx([["客户名称", "手机号"], ["重复两处物业有限公司", "13800138555"],
                                  ["另一家物业有限公司", "13800138556"]])), "a.xlsx")},
        content_type="multipart/form-data")
    assert checked.status_code == 200, checked.text
    skipped = checked.text.split('<table class="table import-rows">', 1)[1].split("</table>", 1)[0]
    assert skipped.count("第 2 行") == 1 and 'rowspan="2"' in skipped
    assert "手机号" in skipped and "客户名称" in skipped  # a line for each column
    assert len(re.findall(r"重复两处物业有限公司 · 负责人", skipped)) == 1, skipped


# ---------------------------------------------------------------------- a customer's first contact


def contacts_of(api, customer_id):
    return api.get(f"/contacts?customer_id={customer_id}&limit=50").json["items"]


def test_a_customer_row_s_contact_columns_make_its_first_and_primary_contact(company):
    """WukongCRM's customer sheet carries a 联系人 and a 联系人手机: each row with them gets its customer and
    that customer's first contact; a row without them, the customer alone."""
    mgr = company.api("mgr")
    data = xlsx([
        ["客户名称", "手机号", "联系人", "联系人手机", "职务", "邮箱", "微信"],
        ["佛山禅城物业有限公司", "13800138100", "陈总", 13900139100, "总经理", "chen@example.cn", "chen_fs"],
        ["佛山南海商贸有限公司", "13800138101", None, None, None, None, None],
    ])
    dry = send(mgr, data, dry_run="true")
    assert dry.status_code == 200, dry.json
    assert dry.json["created"] == 2 and dry.json["also_created"] == {"contacts": 1}
    assert count(company.tenant, "crm_contact") == 0 and count(company.tenant, "crm_customer") == 0

    resp = send(mgr, data)
    assert resp.status_code == 200, resp.json
    assert resp.json["created"] == 2 and resp.json["also_created"] == {"contacts": 1}
    assert resp.json["columns"]["contact_phone"] == "联系人手机" and resp.json["columns"]["contact_position"] == "职务"
    firm = by_name(mgr, "佛山禅城物业有限公司")
    [contact] = contacts_of(mgr, firm["id"])
    assert contact["contact_name"] == "陈总" and contact["phone"] == "+8613900139100"
    assert contact["position"] == "总经理" and contact["email"] == "chen@example.cn" and contact["wechat"] == "chen_fs"
    assert contact["is_primary"] is True  # the customer's first contact
    assert contacts_of(mgr, by_name(mgr, "佛山南海商贸有限公司")["id"]) == []

    again = send(mgr, data)  # both customers already there: skipped, and so are their contacts
    assert again.json["created"] == 0 and again.json["skipped"] == 2 and again.json["also_created"] == {"contacts": 0}
    assert count(company.tenant, "crm_contact") == 1


def test_a_bad_contact_cell_is_its_row_s_error_and_nothing_is_written(company):
    mgr = company.api("mgr")
    data = csv_bytes([["客户名称", "联系人", "联系人电话"],
                      ["东莞松山湖物业", "林工", "12345"],  # not a phone
                      ["东莞长安物业", None, "13900139101"],  # a phone without the contact's name
                      ["东莞虎门物业", "黄经理", "13900139102"]])
    resp = send(mgr, data, name="c.csv")
    assert resp.status_code == 422 and resp.json["error"]["code"] == "import_invalid", resp.json
    rows = {r["row"]: r["fields"] for r in resp.json["error"]["rows"]}
    assert set(rows) == {2, 3} and set(rows[2]) == {"contact_phone"} and set(rows[3]) == {"contact_name"}
    assert count(company.tenant, "crm_customer") == 0 and count(company.tenant, "crm_contact") == 0


def test_the_contact_columns_are_offered_only_to_who_may_create_contacts(company, app):
    admin = company.api()
    headers = [c.value for c in load_workbook(io.BytesIO(admin.get("/customers/import/template").data)).worksheets[0][1]]
    assert headers[-5:] == ["联系人", "联系人手机", "联系人职务", "联系人邮箱", "联系人微信号"]
    role = add_role(company.tenant, "只导客户", SCOPE_SELF, ["customer.view", "customer.create", "customer.import"])
    add_user(company.tenant, "custonly", (role,), None, full_name="只导客户甲")
    importer = tenant_api(app, company.tenant, "custonly")
    headers = [c.value for c in load_workbook(io.BytesIO(importer.get("/customers/import/template").data))
               .worksheets[0][1]]
    assert not any(h.startswith("联系人") for h in headers)
    resp = send(importer, xlsx([["客户名称", "联系人", "联系人手机"], ["中山物业有限公司", "吴总", "13900139103"]]))
    assert resp.status_code == 200 and resp.json["created"] == 1, resp.json
    assert resp.json["ignored_columns"] == ["联系人", "联系人手机"] and resp.json["also_created"] == {}
    assert count(company.tenant, "crm_contact") == 0


def test_leads_import_into_a_pool_with_intent_and_status_by_label(company):
    admin = company.api()
    pool = admin.post("/lead-pools", json={"pool_name": "展会线索池", "is_public": True})
    assert pool.status_code == 201
    data = xlsx([["线索名称", "公司", "手机", "意向", "线索池", "负责人", "状态"],
                 ["陈先生", "厦门海景物业", "13800138300", "高", "展会线索池", "张一", "跟进中"],
                 ["林女士", "厦门海景物业", "138 0013 8300", "低", None, None, None]])
    resp = send(admin, data, resource="leads")
    assert resp.status_code == 200, resp.json
    assert resp.json["created"] == 1 and resp.json["skipped_rows"][0]["duplicate_of_row"] == 2
    lead = admin.get(f"/leads/{resp.json['ids'][0]}").json
    assert lead["intent_level"] == "high" and lead["status"] == "following"
    assert lead["pool"]["name"] == "展会线索池" and lead["owner"]["name"] == "张一"
    assert lead["phone"] == "+8613800138300"


def test_the_leads_template_lists_pools_whose_names_a_sheet_cannot_hold(company):
    """A pool named with a control character (pasted from elsewhere) is listed without it, not a 500."""
    admin = company.api()
    assert admin.post("/lead-pools", json={"pool_name": "粘贴\x0b来的池", "is_public": True}).status_code == 201
    resp = admin.get("/leads/import/template?format=xlsx")
    assert resp.status_code == 200, resp.data[:300]
    notes = load_workbook(io.BytesIO(resp.data)).worksheets[1]
    described = {row[0]: row[2] for row in notes.iter_rows(min_row=2, values_only=True)}
    assert "粘贴 来的池" in described["线索池"]  # the vertical tab of a pasted name became a space


def test_contacts_import_under_the_customer_each_row_names(company):
    """A contact's 客户 column is a customer's name among those the importer can see; yes/no as 是/否, a
    birthday as a date; a phone may appear once per customer (in the file and in the CRM), on two customers
    it is two contacts; the first contact of a customer is its primary, as on the New form."""
    admin, mgr = company.api(), company.api("mgr")
    ours = admin.post("/customers", json=customer_body(customer_name="甲联系人物业有限公司",
                                                       owner_id=str(company.ids["s1"])))
    other = admin.post("/customers", json=customer_body(customer_name="乙联系人物业有限公司",
                                                        owner_id=str(company.ids["s2"])))
    hidden = admin.post("/customers", json=customer_body(customer_name="丙联系人物业有限公司",
                                                         owner_id=str(company.ids["outsider"])))
    assert {ours.status_code, other.status_code, hidden.status_code} == {201}
    header = ["客户名称", "姓名", "职务", "手机", "生日", "关键决策人", "勿扰", "沟通偏好"]
    bad = send(mgr, xlsx([header,
                          ["甲联系人物业有限公司", "赵经理", "总经理", "13700137001", "1980-05-06", "是", "否", "微信"],
                          ["丙联系人物业有限公司", "钱主任", None, "13700137002", None, None, None, None],
                          ["丁不存在物业有限公司", "孙会计", None, "13700137003", None, None, None, None],
                          ["甲联系人物业有限公司", "李出纳", None, "13700137004", None, "也许", None, None]]),
               resource="contacts")
    assert bad.status_code == 422, bad.json
    rows = {r["row"]: r["fields"] for r in bad.json["error"]["rows"]}
    assert set(rows) == {3, 4, 5}
    assert "丙联系人物业有限公司" in rows[3]["customer_id"][0]  # outside 王经理's departments: as if it did not exist
    assert set(rows[4]) == {"customer_id"} and set(rows[5]) == {"is_key"}
    assert count(company.tenant, "crm_contact", "phone LIKE '+86137001370%'") == 0

    done = send(mgr, xlsx([header,
                           ["甲联系人物业有限公司", "赵经理", "总经理", "13700137001", datetime(1980, 5, 6), "是", "否",
                            "微信"],
                           ["甲联系人物业有限公司", "周助理", None, "137 0013 7005", "1990/1/2", None, "是", None],
                           ["乙联系人物业有限公司", "赵经理", None, "13700137001", None, None, None, None],
                           ["甲联系人物业有限公司", "赵经理", None, "13700137001", None, None, None, None]]),
                resource="contacts")
    assert done.status_code == 200, done.json
    assert done.json["created"] == 3 and [r["duplicate_of_row"] for r in done.json["skipped_rows"]] == [2]
    contacts = {(c["customer_name"], c["contact_name"]): mgr.get(f"/contacts/{c['id']}").json
                for c in mgr.get("/contacts?limit=50").json["items"]}
    zhao = contacts[("甲联系人物业有限公司", "赵经理")]
    assert zhao["is_key"] is True and zhao["is_primary"] is True and zhao["do_not_contact"] is False
    assert zhao["birthday"] == "1980-05-06" and zhao["position"] == "总经理"
    assert zhao["communication_preference"] == "wechat"
    zhou = contacts[("甲联系人物业有限公司", "周助理")]
    assert zhou["is_primary"] is False and zhou["do_not_contact"] is True and zhou["birthday"] == "1990-01-02"
    assert contacts[("乙联系人物业有限公司", "赵经理")]["phone"] == "+8613700137001"
    again = send(mgr, xlsx([header, ["乙联系人物业有限公司", "赵经理", None, "13700137001", None, None, None, None]]),
                 resource="contacts")
    assert again.status_code == 200 and again.json["created"] == 0 and again.json["skipped"] == 1
    assert company.api("s1").post("/contacts/import", data={}, content_type="multipart/form-data").status_code == 403
    template = mgr.get("/contacts/import/template?format=xlsx")
    sheet, notes = load_workbook(io.BytesIO(template.data)).worksheets
    assert [c.value for c in sheet[1]][:3] == ["客户*", "姓名*", "职位"]
    described = {row[0]: row[2] for row in notes.iter_rows(min_row=2, values_only=True)}
    assert "客户名称" in described["客户"] and "是" in described["关键决策人"] and "1985-06-01" in described["生日"]


def test_a_customer_name_written_two_ways_is_looked_up_each_way(company):
    """A row naming the customer with a stray inner space (no such customer) does not decide what a later row
    naming it exactly means, nor the other way round."""
    admin = company.api()
    assert admin.post("/customers", json=customer_body(customer_name="戊联系人物业有限公司")).status_code == 201
    resp = send(admin, xlsx([["客户", "姓名", "手机"],
                             ["戊联系人 物业有限公司", "吴一", "13700137101"],
                             ["戊联系人物业有限公司", "吴二", "13700137102"],
                             ["戊联系人 物业有限公司", "吴三", "13700137103"]]), resource="contacts")
    assert resp.status_code == 422
    assert [r["row"] for r in resp.json["error"]["rows"]] == [2, 4]


def test_the_api_document_declares_the_import(company):
    doc = company.api().get("/openapi.json").json
    operation = doc["paths"]["/customers/import"]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"] and {"file", "on_duplicate", "dry_run"} <= set(body["properties"])
    assert {"413", "422", "429", "403"} <= set(operation["responses"])
    assert "/leads/import" in doc["paths"] and "get" in doc["paths"]["/customers/import/template"]


def test_two_people_of_one_name_are_told_apart_by_user_name(app, tenants):
    """Two 刘洋 in one company: every owner picker showed two identical 刘洋, and an import could give a customer
    to neither (“刘洋”对应多个选项, and nothing else was accepted). They read 刘洋（liu_a）and 刘洋（liu_b）now."""
    from tests.tenant_runtime.crm import add_user, page_client

    tenant = tenants[0]
    first = add_user(tenant, "liu_a", ("sales",), full_name="刘洋")
    add_user(tenant, "liu_b", ("sales",), full_name="刘洋")
    form = page_client(app, tenant).get(f"/t/{tenant.code}/customers/new").text
    assert "刘洋（liu_a）" in form and "刘洋（liu_b）" in form
    admin = tenant_api(app, tenant)
    data = csv_bytes([["客户名称", "负责人"], ["同名负责人测试有限公司", "刘洋（liu_a）"]])
    resp = send(admin, data, name="owners.csv")
    assert resp.status_code == 200, resp.json
    made = admin.get("/customers?q=同名负责人测试").json["items"]
    assert [c["owner"]["id"] for c in made] == [str(first)]
    vague = send(admin, csv_bytes([["客户名称", "负责人"], ["同名负责人二有限公司", "刘洋"]]), name="o.csv")
    assert vague.status_code == 422 and "刘洋" in str(vague.json["error"])


def test_a_chinese_sheets_regions_import_for_an_english_reader(app, tenants):
    """广东省 / 深圳市 were refused ("is not one of: Beijing, Tianjin…") when the person importing used the English
    pages: a Chinese company's sheet imports whatever the reader's language; English names read too."""
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    data = csv_bytes([["客户名称", "省份", "城市"], ["深圳英文导入有限公司", "广东省", "深圳市"],
                      ["杭州英文导入有限公司", "Zhejiang", "Hangzhou"]])
    resp = admin.post("/customers/import", json=None, data={"file": (io.BytesIO(data), "regions.csv")},
                      content_type="multipart/form-data", headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.json
    made = {c["customer_name"]: (c["province_code"], c["city_code"])
            for c in admin.get("/customers?q=英文导入").json["items"]}
    assert made == {"深圳英文导入有限公司": ("44", "4403"), "杭州英文导入有限公司": ("33", "3301")}
