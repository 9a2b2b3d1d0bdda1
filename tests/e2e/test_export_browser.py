"""Export and the recycle bin in a real headless Chromium: the administrator filters the customer list, opens
its 导出 menu and downloads the Excel file, which holds exactly the filtered rows; a sales user without the
export permission sees no 导出 menu; a deleted customer is restored from the recycle bin (回收站).
Screenshots: test-artifacts/screenshots/<backend>/export-*."""

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.e2e.conftest import crm_sign_in
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    PASSWORD,
    add_dept,
    add_user,
    customer_body,
    tenant_api,
)

pytestmark = [pytest.mark.browser, CONTROL_ON_MARIADB]


def test_an_administrator_exports_the_filtered_list_and_restores_from_the_recycle_bin(app, browser_page,
                                                                                    live_server, tenants,
                                                                                    screenshots):
    page, tenant = browser_page, tenants[0]
    crm = f"{live_server}/t/{tenant.code}"
    page.on("dialog", lambda dialog: dialog.accept())  # the delete confirmation
    shot = screenshots("export")

    def sign_in(username, password):
        crm_sign_in(page, crm, username, password)

    admin = tenant_api(app, tenant)
    ids = {}
    for name, level in (("金桥物业有限公司", "important"), ("银湖物业有限公司", "important"),
                        ("铜锣湾物业有限公司", "normal")):
        resp = admin.post("/customers", json=customer_body(customer_name=name, level=level))
        assert resp.status_code == 201, resp.json
        ids[name] = resp.json["id"]
    add_user(tenant, "xiaowang", ("sales",), add_dept(tenant, "销售部"), full_name="王小")

    sign_in("admin", tenant.admin_password)
    page.goto(f"{crm}/customers/?level=important")
    expect(page.locator("table")).to_contain_text("金桥物业有限公司")
    expect(page.locator("table")).not_to_contain_text("铜锣湾物业有限公司")
    page.click("details.export-menu summary")
    shot("00-menu")
    with page.expect_download() as download:
        page.click("a.export-link:has-text('Excel')")
    path = download.value.path()
    assert download.value.suggested_filename.startswith("客户_") and download.value.suggested_filename.endswith(".xlsx")
    with open(path, "rb") as fh:
        rows = list(load_workbook(io.BytesIO(fh.read())).active.iter_rows(values_only=True))
    assert rows[0][0] == "客户名称"
    assert sorted(r[0] for r in rows[1:]) == ["金桥物业有限公司", "银湖物业有限公司"]  # the filter kept
    assert {r[list(rows[0]).index("客户分级")] for r in rows[1:]} == {"重要"}

    # delete one, then bring it back from the recycle bin
    page.goto(f"{crm}/customers/{ids['银湖物业有限公司']}")
    page.click("form[action$='/delete'] button")
    expect(page.locator(".alert-success")).to_be_visible()
    page.goto(f"{crm}/customers/")
    expect(page.locator("table")).not_to_contain_text("银湖物业有限公司")
    page.click("text=回收站")
    row = page.locator("tr", has_text="银湖物业有限公司")
    expect(row).to_be_visible()
    shot("01-recycle-bin")
    row.locator("button", has_text="恢复").click()
    expect(page).to_have_url(f"{crm}/customers/{ids['银湖物业有限公司']}")
    expect(page.locator(".alert-success")).to_be_visible()
    page.click("text=退出登录")

    sign_in("xiaowang", PASSWORD)
    page.goto(f"{crm}/customers/")
    expect(page.locator("h1, .page-title").first).to_be_visible()
    assert page.locator("details.export-menu").count() == 0  # no 导出 without the permission
    shot("02-sales-no-export")
    assert page.js_errors == [] and page.server_errors == []
