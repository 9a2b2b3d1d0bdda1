"""A customer handover in a real headless Chromium, start to confirmation, each person on their own pages:
the manager starts it from the 交接 menu, the original owner finds it on the workspace and confirms the
checklist, the manager approves, the receiver confirms and owns the customers. Screenshots:
test-artifacts/screenshots/<backend>/handover-*."""

import pytest
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


def test_a_handover_from_start_to_confirmation(app, browser_page, live_server, tenants, screenshots):
    page, base = browser_page, live_server
    tenant = tenants[0]
    crm = f"{base}/t/{tenant.code}"
    shot = screenshots("handover")
    dept = add_dept(tenant, "华东销售部")
    add_user(tenant, "mgr", ("sales_manager",), dept=dept, full_name="王经理")
    add_user(tenant, "owner", ("sales",), dept=dept, full_name="李销售")
    add_user(tenant, "recv", ("sales",), dept=dept, full_name="赵接手")
    owner_api = tenant_api(app, tenant, "owner")
    names = ["上海华庭物业有限公司", "锦绣家园物业有限公司"]
    for name in names:
        customer = owner_api.post("/customers", json=customer_body(customer_name=name)).json
        owner_api.post("/contacts", json={"customer_id": customer["id"], "contact_name": "陈采购",
                                          "phone": "13911110001", "email": "chen@example.com"})

    def sign_in(username):
        page.context.clear_cookies()
        crm_sign_in(page, crm, username, PASSWORD)

    def open_task():
        task = page.locator("#handover-tasks a").first
        expect(task).to_be_visible()
        task.click()
        expect(page.locator("h1")).to_contain_text("交接")

    # the manager starts it: owner, their customers, the receiver
    sign_in("mgr")
    page.click("nav >> text=交接")
    page.click("text=发起交接")
    page.select_option("select[name=from_owner_id]", label="李销售")  # the page's script lists their customers
    count = page.locator("[data-pick-count]")
    expect(count).to_contain_text("未勾选：将交接全部")  # none ticked hands over all, and the page says so
    page.fill("input[data-filter-list]", names[0])  # the filter box narrows the list to that name
    expect(page.get_by_label(names[-1])).to_be_hidden()
    page.fill("input[data-filter-list]", "")
    for name in names:  # listed, none ticked; the manager picks them
        expect(page.get_by_label(name)).not_to_be_checked()
        page.get_by_label(name).check()
    expect(count).to_have_text(f"已勾选：将交接 {len(names)} 个客户")
    page.select_option("select[name=to_owner_id]", label="赵接手")
    page.fill("textarea[name=reason_note]", "客户重新分配")
    shot("1-start")
    page.click("form.form button.btn-primary")
    expect(page.locator(".alert-success")).to_contain_text("交接已发起")
    expect(page.locator(".record-head")).to_contain_text("准备")
    expect(page.locator("#checklist")).to_contain_text("联系人 陈采购")

    # the original owner finds it on the workspace and confirms every item
    sign_in("owner")
    open_task()
    page.check("#confirm-all")  # one box for every item; the page's script ticks them all
    checks = page.locator("#checklist-form input[name^=done-]")
    for k in range(checks.count()):
        expect(checks.nth(k)).to_be_checked()
    page.locator("#checklist-form input[type=text]").first.fill("老客户，月底续约")
    shot("2-checklist")
    page.click("#checklist-form button[name=submit]")
    expect(page.locator(".alert-success")).to_contain_text("已提交审核")
    expect(page.locator(".record-head")).to_contain_text("审核")

    # the manager approves
    sign_in("mgr")
    open_task()
    page.click("#approve-form button")
    expect(page.locator(".alert-success")).to_contain_text("审核通过")

    # the receiver confirms and owns the customers
    sign_in("recv")
    open_task()
    shot("3-confirm")
    page.click("#confirm-form button")
    expect(page.locator(".alert-success")).to_contain_text("已确认接收")
    expect(page.locator(".record-head")).to_contain_text("已完成")
    expect(page.locator("#events")).to_contain_text("接手人已确认")
    shot("4-done")
    page.goto(f"{crm}/customers/?view=mine")
    for name in names:
        expect(page.locator("table")).to_contain_text(name)
    assert page.js_errors == [] and page.server_errors == []


def test_an_owner_chosen_before_the_script_ran_still_lists_their_customers(app, browser_page, live_server, tenants):
    """A quick hand (or the browser restoring the form) can pick the owner before the deferred script has
    run; the script then lists that owner's customers itself instead of waiting for a change that passed."""
    page, base = browser_page, live_server
    tenant = tenants[0]
    crm = f"{base}/t/{tenant.code}"
    dept = add_dept(tenant, "华南销售部")
    add_user(tenant, "mgr2", ("sales_manager",), dept=dept, full_name="周经理")
    add_user(tenant, "owner2", ("sales",), dept=dept, full_name="吴销售")
    tenant_api(app, tenant, "owner2").post("/customers", json=customer_body(customer_name="海棠湾物业有限公司"))
    crm_sign_in(page, crm, "mgr2", PASSWORD)
    page.route("**/static/admin.js", lambda route: route.abort())  # the page first, without its script
    page.goto(f"{crm}/handovers/new")
    page.select_option("select[name=from_owner_id]", label="吴销售")
    expect(page.locator(".pick-list")).to_have_count(0)  # nothing listed yet: no script, no button pressed
    page.unroute("**/static/admin.js")
    page.add_script_tag(url=f"{base}/static/admin.js")  # now the script runs, after the choice
    expect(page.locator("[data-pick-count]")).to_contain_text("未勾选：将交接全部")
    expect(page.get_by_label("海棠湾物业有限公司")).to_be_visible()
    expect(page.locator("select[name=from_owner_id] option:checked")).to_have_text("吴销售")
