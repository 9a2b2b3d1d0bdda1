"""Batch actions (批量操作) in a real headless Chromium: a sales manager ticks every customer of the page with the
header's box, sets their level in two steps, then ticks two and adds a tag; a phone's list has no boxes.
Screenshots: test-artifacts/screenshots/<backend>/batch-*."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import crm_sign_in
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    PASSWORD,
    add_dept,
    add_user,
    customer_body,
    db_row,
    tenant_api,
)

pytestmark = [pytest.mark.browser, CONTROL_ON_MARIADB]


def test_a_manager_ticks_customers_and_changes_them_together(app, browser_page, live_server, tenants, screenshots):
    page, tenant = browser_page, tenants[0]
    crm = f"{live_server}/t/{tenant.code}"
    shot = screenshots("batch")
    dept = add_dept(tenant, "批量销售部")
    add_user(tenant, "plmgr", ("sales_manager",), dept=dept, full_name="批量经理")
    add_user(tenant, "plsales", ("sales",), dept=dept, full_name="批量销售")
    sales = tenant_api(app, tenant, "plsales")
    names = ["东岳物业有限公司", "西岭物业有限公司", "南山物业有限公司"]
    ids = {}
    for name in names:
        resp = sales.post("/customers", json=customer_body(customer_name=name, level="potential"))
        assert resp.status_code == 201, resp.json
        ids[name] = resp.json["id"]

    crm_sign_in(page, crm, "plmgr", PASSWORD)
    page.goto(f"{crm}/customers/?view=all&owner_id={db_row(tenant, 'SELECT id FROM sys_user WHERE username = :u', u='plsales')[0]}")
    expect(page.locator("table")).to_contain_text("南山物业有限公司")
    page.locator("input.batch-all").check()  # shown by the script: every box of the page
    assert page.locator("input.batch-pick:checked").count() == 3
    header = "e => [e.checked, e.indeterminate]"
    page.locator("tr", has_text="东岳物业有限公司").locator("input.batch-pick").uncheck()
    assert page.eval_on_selector("input.batch-all", header) == [False, True]  # half-ticked: some rows are
    page.locator("tr", has_text="东岳物业有限公司").locator("input.batch-pick").check()
    assert page.eval_on_selector("input.batch-all", header) == [True, False]
    page.select_option("#batch-action", "set_level")
    shot("00-ticked")
    page.click("#batch-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("批量操作：设置客户分级")
    expect(page.locator(".batch-records li")).to_have_count(3)
    page.select_option("select[name=level]", "important")
    shot("01-confirm")
    page.click("form.form button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("已为 3 个客户设置分级")
    for name in names:
        assert db_row(tenant, "SELECT level FROM crm_customer WHERE id = :i", i=int(ids[name]))[0] == "important"

    page.locator("tr", has_text="东岳物业有限公司").locator("input.batch-pick").check()
    page.locator("tr", has_text="西岭物业有限公司").locator("input.batch-pick").check()
    page.select_option("#batch-action", "add_tags")
    page.click("#batch-form button[type=submit]")
    page.fill("input[name=tags]", "年度合同，重点")
    page.click("form.form button[type=submit]")
    expect(page.locator(".alert-success")).to_contain_text("已为 2 个客户添加标签")
    expect(page.locator("tr", has_text="东岳物业有限公司")).to_contain_text("年度合同")
    expect(page.locator("tr", has_text="南山物业有限公司")).not_to_contain_text("年度合同")
    shot("02-tagged")

    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    expect(page.locator("table")).to_contain_text("南山物业有限公司")
    assert not page.locator("#batch-form").is_visible() and not page.locator("input.batch-pick").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off a phone's screen
    assert page.js_errors == [] and page.server_errors == []
