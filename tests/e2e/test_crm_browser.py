"""The CRM in a real headless Chromium, as its people use it: a tenant administrator creates a department
and users; a sales user chooses a password through the link, creates a customer (the duplicate check
firing on a second try), adds a contact and a follow-up and finds it due on the workspace, then records
another from the follow-ups list, choosing the customer by its name; their manager
sees the customer, a sales user of another department does not until its owner returns it to the public
pool, where that user looks at it and claims it. Screenshots: test-artifacts/screenshots/
<backend>/crm-*."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import crm_sign_in
from tests.tenant_runtime.crm import CONTROL_ON_MARIADB

pytestmark = [pytest.mark.browser, CONTROL_ON_MARIADB]

CHOSEN = "Sales-Pass-2026"


def test_a_sales_team_works_in_the_crm(app, browser_page, live_server, tenants, screenshots):
    page, base = browser_page, live_server
    tenant = tenants[0]
    crm = f"{base}/t/{tenant.code}"
    shot = screenshots("crm")

    def sign_in(username, password):
        crm_sign_in(page, crm, username, password)

    def sign_out():
        page.click("text=退出登录")
        expect(page).to_have_url(f"{crm}/login")

    def add_department(name):
        page.goto(f"{crm}/departments/new")
        page.fill("input[name=dept_name]", name)
        page.click("form.form button[type=submit]")
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator("table.tree")).to_contain_text(name)

    def add_user(username, full_name, dept, role):
        """Through the page; with no mobile or e-mail the administrator is shown the set-password link."""
        page.goto(f"{crm}/users/new")
        page.fill("input[name=username]", username)
        page.fill("input[name=full_name]", full_name)
        value = page.locator("select[name=dept_id] option", has_text=dept).get_attribute("value")
        page.select_option("select[name=dept_id]", value)
        page.get_by_role("checkbox", name=role, exact=True).check()
        page.click("form.form button[type=submit]")
        notice = page.locator(".alert-warning").first
        expect(notice).to_contain_text("set-password?token=")
        return re.search(r"(http\S+set-password\?token=[\w-]+)", notice.inner_text()).group(1)

    def choose_password(link):
        page.goto(link)
        page.fill("input[name=new_password]", CHOSEN)
        page.fill("input[name=new_password_confirm]", CHOSEN)
        page.click("form button[type=submit] >> nth=-1")
        expect(page).to_have_url(f"{crm}/")
        sign_out()

    # the administrator builds the team
    sign_in("admin", tenant.admin_password)
    shot("01-admin-workspace")
    add_department("华南销售部")
    add_department("华北销售部")
    shot("02-departments")
    links = {
        "xiaoli": add_user("xiaoli", "李晓丽", "华南销售部", "销售"),
        "wangjl": add_user("wangjl", "王经理", "华南销售部", "销售经理"),
        "xiaozhao": add_user("xiaozhao", "赵小北", "华北销售部", "销售"),
    }
    page.goto(f"{crm}/users/")
    expect(page.locator("table")).to_contain_text("李晓丽")
    shot("03-users")
    sign_out()
    for link in links.values():
        choose_password(link)

    # a sales user creates a customer; the same company again is caught by the duplicate check
    sign_in("xiaoli", CHOSEN)
    page.click("nav.sidebar >> text=客户")
    page.click("text=+ 新建")
    page.fill("input[name=customer_name]", "深圳星河物业服务有限公司")
    page.fill("input[name=phone]", "13800138000")
    page.select_option("select[name=level]", "important")
    page.click("form.form button[type=submit]")
    expect(page.locator("h1")).to_have_text("深圳星河物业服务有限公司")
    customer_url = page.url
    shot("04-customer-created")
    page.goto(f"{crm}/customers/new")
    page.fill("input[name=customer_name]", "深圳 星河物业服务 有限责任公司")
    page.click("form.form button[type=submit]")
    duplicates = page.locator("#duplicates")
    expect(duplicates).to_contain_text("深圳星河物业服务有限公司")
    expect(duplicates).to_contain_text("李晓丽")
    shot("05-duplicate-check")

    # a contact and a follow-up due today
    page.goto(customer_url)
    page.click("text=+ 联系人")
    page.fill("input[name=contact_name]", "陈总")
    page.fill("input[name=phone]", "13900139000")
    page.fill("input[name=position]", "总经理")
    page.click("form.form button[type=submit]")
    expect(page.locator("h1")).to_have_text("陈总")
    page.goto(customer_url)
    expect(page.locator("#contacts")).to_contain_text("陈总")
    form = page.locator("#add-follow-up")
    form.locator("select[name=follow_type]").select_option("visit")
    form.locator("textarea[name=content]").fill("上门拜访，客户关注保洁和安保的响应时间。")
    with app.app_context():
        from datetime import datetime, timedelta

        from common.timeutil import local_zone

        soon = datetime.now(local_zone()) + timedelta(minutes=30)
        if soon.date() != datetime.now(local_zone()).date():  # just before midnight: keep it today
            soon = datetime.now(local_zone()).replace(hour=23, minute=59)
    form.locator("input[name=next_follow_time]").fill(soon.strftime("%Y-%m-%dT%H:%M"))
    form.locator("button[type=submit]").click()
    expect(page.locator("#follow_ups .timeline")).to_contain_text("上门拜访")
    shot("06-customer-360")
    page.click("nav.sidebar >> text=工作台")
    expect(page.locator("#due")).to_contain_text("深圳星河物业服务有限公司")
    shot("07-due-today-on-the-workspace")
    # a follow-up from the follow-ups list: the customer found by name and chosen, no number to know
    page.click("nav.sidebar >> text=跟进记录")
    page.click("text=+ 新建")
    page.fill("#pick-customer input[name=q]", "星河")
    page.click("#pick-customer button[type=submit]")
    page.get_by_role("link", name="选择 深圳星河物业服务有限公司").click()
    expect(page.locator("#field-customer_id")).to_contain_text("深圳星河物业服务有限公司")
    page.fill("textarea[name=content]", "电话确认了拜访安排。")
    page.click("form.form button[type=submit]")
    expect(page.locator("#follow_ups .timeline")).to_contain_text("电话确认了拜访安排")
    sign_out()

    # the manager sees it; a sales user of another department does not
    sign_in("wangjl", CHOSEN)
    page.goto(f"{crm}/customers/?view=all")
    expect(page.locator("table")).to_contain_text("深圳星河物业服务有限公司")
    shot("08-manager-sees-the-team")
    # the top bar's search finds a number as it is read out (its digits) and a word of the name
    for typed in ("138-0013-8000", "138 0013", "星河物业"):
        page.fill("form.global-search input[name=q]", typed)
        page.press("form.global-search input[name=q]", "Enter")
        expect(page.locator("table")).to_contain_text("深圳星河物业服务有限公司")
        expect(page.locator("nav.pager")).to_contain_text("共 1 条记录")
    sign_out()
    sign_in("xiaozhao", CHOSEN)
    page.goto(f"{crm}/customers/?view=all")
    expect(page.locator("main")).not_to_contain_text("深圳星河物业服务有限公司")
    response = page.goto(customer_url)
    assert response.status == 404
    shot("09-other-department-sees-nothing")
    page.goto(f"{crm}/")
    sign_out()

    # its owner returns it to the public pool; the other department's sales user looks at it there (what was
    # done with it, not how to reach it) and claims it
    sign_in("xiaoli", CHOSEN)
    page.goto(f"{customer_url}/return-to-pool")
    page.fill("[name=reason]", "客户改由华北团队跟进")
    page.click("form.form button[type=submit]")
    expect(page.locator(".alert-success")).to_be_visible()
    sign_out()
    sign_in("xiaozhao", CHOSEN)
    page.click("nav.sidebar >> text=公海")
    page.click("#pool-table >> text=深圳星河物业服务有限公司")
    expect(page.locator("h1")).to_have_text("深圳星河物业服务有限公司")
    expect(page.locator("#follow_ups")).to_contain_text("上门拜访")
    expect(page.locator("main")).to_contain_text("客户改由华北团队跟进")
    expect(page.locator("main")).not_to_contain_text("13800138000")
    expect(page.locator("main")).not_to_contain_text("陈总")
    shot("10-pool-customer-before-claiming")
    page.click("main >> button:has-text('领取')")
    expect(page).to_have_url(customer_url)
    expect(page.locator("#contacts")).to_contain_text("陈总")
    shot("11-claimed")

    # the same pages in English
    page.goto(f"{crm}/")
    page.click(".lang-switch button")
    expect(page.locator("nav.sidebar")).to_contain_text("Customers")
    shot("12-english")
    assert page.js_errors == [] and page.server_errors == []
