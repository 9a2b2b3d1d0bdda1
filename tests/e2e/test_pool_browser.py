"""The public pool in a real headless Chromium: the administrator writes a recycling rule in the rules
editor, previews the next recycling and runs it; a sales user then finds the customer in 公海 and claims
it. Screenshots: test-artifacts/screenshots/<backend>/pool-*."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import crm_sign_in
from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, PASSWORD, add_dept, add_user
from tests.tenant_runtime.test_crm_pool import add_customer

pytestmark = [pytest.mark.browser, CONTROL_ON_MARIADB]


def test_a_sales_user_claims_a_customer_from_the_pool(app, browser_page, live_server, tenants, screenshots):
    page, tenant = browser_page, tenants[0]
    crm = f"{live_server}/t/{tenant.code}"
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmation before recycling
    shot = screenshots("pool")

    def sign_in(username, password):
        crm_sign_in(page, crm, username, password)

    dept = add_dept(tenant, "华东销售部")
    former = add_user(tenant, "laozhang", ("sales",), dept, full_name="张老师")
    add_user(tenant, "xiaoli", ("sales",), dept, full_name="李晓丽")
    quiet = add_customer(tenant, former, quiet=45, customer_name="沉睡物业有限公司")
    add_customer(tenant, former, quiet=5, customer_name="活跃物业有限公司")

    sign_in("admin", tenant.admin_password)
    page.goto(f"{crm}/pool/rules/new")
    page.fill("input[name=rule_name]", "普通客户30天")
    page.fill("input[name=inactive_normal]", "30")
    shot("00-rule-editor")
    page.click("form.form button[type=submit]")
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("table")).to_contain_text("普通客户30天")
    shot("01-rules")

    page.click("text=预览下次回收")
    expect(page.locator("#preview-table")).to_contain_text("沉睡物业有限公司")
    expect(page.locator("#preview-table")).not_to_contain_text("活跃物业有限公司")
    expect(page.locator("#preview-table")).to_contain_text("45")
    shot("02-preview")
    page.click("text=立即回收这 1 个客户")
    expect(page.locator(".alert-success")).to_contain_text("1")
    page.click("text=退出登录")

    sign_in("xiaoli", PASSWORD)
    page.click("nav >> text=公海")
    row = page.locator(f"tr[data-customer='{quiet}']")
    expect(row).to_contain_text("沉睡物业有限公司")
    expect(row).to_contain_text("张老师")
    shot("03-pool")
    row.locator("button", has_text="领取").click()
    expect(page).to_have_url(f"{crm}/customers/{quiet}")
    expect(page.locator(".alert-success")).to_contain_text("现在由您负责")
    expect(page.locator("#pool_history")).to_contain_text("从公海领取")
    shot("04-claimed")
    page.goto(f"{crm}/pool/")
    expect(page.locator(".empty")).to_contain_text("公海暂无客户")
    page.goto(f"{crm}/")
    expect(page.locator("#recycle-soon")).to_contain_text("没有即将被回收的客户")
    assert page.js_errors == [] and page.server_errors == []
