"""Import in a real headless Chromium: the administrator opens 导入 from the customer list, downloads the Excel
template, fills it, sends it with a bad row and sees that row named with nothing imported, corrects it, checks
the file (dry run), imports the checked file with one click (no second upload) and finds the customers on the
list; a sales user without the permission sees
no 导入 button. Screenshots: test-artifacts/screenshots/<backend>/import-*."""

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.e2e.conftest import crm_sign_in
from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, PASSWORD, add_dept, add_user
from tests.tenant_runtime.test_crm_import import count

pytestmark = [pytest.mark.browser, CONTROL_ON_MARIADB]


def filled(template_path, rows):
    """The downloaded template with ``rows`` ({header: value}) written under its header."""
    book = load_workbook(template_path)
    sheet = book.worksheets[0]
    headers = [c.value.rstrip("*") for c in sheet[1]]
    for row in rows:
        sheet.append([row.get(h) for h in headers])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_administrator_imports_customers_from_the_template(app, browser_page, live_server, tenants, screenshots,
                                                              tmp_path):
    page, tenant = browser_page, tenants[0]
    crm = f"{live_server}/t/{tenant.code}"
    shot = screenshots("import")
    add_user(tenant, "xiaoli", ("sales",), add_dept(tenant, "销售二部"), full_name="李小")

    crm_sign_in(page, crm, "admin", tenant.admin_password)
    page.goto(f"{crm}/customers/")
    page.click("a.btn:has-text('导入')")
    expect(page.locator("h1")).to_have_text("导入客户")
    with page.expect_download() as download:
        page.click("a:has-text('下载模板') >> nth=0")
    assert download.value.suggested_filename.endswith(".xlsx")
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)

    rows = [{"客户名称": "浦江物业有限公司", "客户分级": "重要", "手机号": "13911390001"},
            {"客户名称": "滨江物业有限公司", "客户分级": "普通", "手机号": "12345"}]  # a phone no one has
    bad = tmp_path / "customers.xlsx"
    bad.write_bytes(filled(template, rows))
    page.set_input_files("input[type=file]", str(bad))
    page.click("button:has-text('导入')")
    expect(page.locator(".alert-danger")).to_contain_text("未导入任何记录")
    expect(page.locator("table.import-rows")).to_contain_text("第 3 行")
    shot("00-invalid-row")
    page.goto(f"{crm}/customers/")
    expect(page.locator("body")).not_to_contain_text("浦江物业有限公司")  # nothing was written

    rows[1]["手机号"] = "13911390002"
    good = Path(tmp_path / "customers-fixed.xlsx")
    good.write_bytes(filled(template, rows))
    page.goto(f"{crm}/customers/import")
    page.set_input_files("input[type=file]", str(good))
    page.check("input[name=dry_run]")
    page.click("button:has-text('导入')")
    expect(page.locator(".alert-success")).to_contain_text("2")
    shot("01-checked")
    assert count(tenant, "crm_customer", "customer_name = '浦江物业有限公司'") == 0  # a dry run writes nothing

    page.click("#import-checked button:has-text('导入这 2 条记录')")  # the checked file, not sent again
    expect(page.locator("#import-status")).to_have_text("已完成")
    expect(page.locator(".alert-success")).to_contain_text("已导入 2 条")
    shot("02-imported")
    page.click(".alert-success a")
    expect(page.locator("table")).to_contain_text("浦江物业有限公司")
    expect(page.locator("table")).to_contain_text("滨江物业有限公司")
    page.click("text=退出登录")

    crm_sign_in(page, crm, "xiaoli", PASSWORD)
    page.goto(f"{crm}/customers/")
    expect(page.locator("h1, .page-title").first).to_be_visible()
    assert page.locator("a.btn:has-text('导入')").count() == 0  # no 导入 without the permission
    assert page.js_errors == [] and page.server_errors == []
