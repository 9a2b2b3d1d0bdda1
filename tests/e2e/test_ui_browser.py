"""The console's lists, audit log and tenant pages in a real headless Chromium, at 1280 px and 390 px, in
Chinese and English: page 2 of a list, the audit log's details on demand, the tenant's own error page, a
top bar that stays one line on a phone, labels next to their checkboxes, names that do not break per
character, and the registration form when codes are throttled.

Screenshots go to test-artifacts/screenshots/<backend>/ui-*.png."""

import pytest
from playwright.sync_api import expect

from common.timeutil import utcnow
from extensions import db
from tests.conftest import PASSWORD
from tests.factories import ApplicationFactory, EnterpriseFactory, mobile

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def shot(screenshots):
    return screenshots("ui")


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    expect(page).to_have_url(f"{base}/")


def english(page, base):
    page.goto(f"{base}/?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def single_line(locator):
    """Every element's text sits on one line (its text boxes share one line; a cell's own height says
    nothing, as the tallest cell of a row sets it)."""
    return locator.evaluate_all("""els => els.every(el => {
        const range = document.createRange();
        range.selectNodeContents(el);
        const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
        const bottoms = rects.map(r => r.bottom), tops = rects.map(r => r.top);
        return !rects.length || Math.max(...tops) < Math.min(...bottoms); })""")


def test_lists_page_two_and_layout_in_both_languages(app, make_staff, browser_page, live_server, shot):
    page, base = browser_page, live_server
    with app.app_context():
        for i in range(25):
            EnterpriseFactory(name=f"分页物业{i:02d}")
        for name in ("欧阳娜娜", "司马相如"):
            ApplicationFactory(name=name, company_name="深圳市万科物业服务有限公司南山分公司", status="new")
    make_staff("lister", roles=("admin", "ops"), full_name="刘运营")
    sign_in(page, base, "lister")

    # the dashboard's new applications: names, channels and times on one line, at 1280 px and at 390 px
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(f"{base}/")
        cells = page.locator("#panel-new tbody td.nowrap")
        expect(cells.first).to_be_visible()
        assert single_line(cells), "a name, channel or time wraps"
    shot("dashboard-phone")
    page.set_viewport_size(DESKTOP)

    # page 2 of the enterprise list, forward in Chinese and back in English
    page.goto(f"{base}/enterprises/")
    pager = page.locator("nav.pager")
    expect(pager).to_contain_text("第 1/2 页")
    pager.locator("a[rel=next]").click()
    expect(page).to_have_url(f"{base}/enterprises/?page=2")
    expect(pager).to_contain_text("第 2/2 页")
    expect(page.locator("table tbody tr", has_text="分页物业00")).to_have_count(1)
    shot("enterprises-page-2")
    english(page, base)
    page.goto(f"{base}/enterprises/?page=2")
    expect(page.locator("nav.pager")).to_contain_text("page 2 of 2")
    page.locator("nav.pager a[rel=prev]").click()
    expect(page).to_have_url(f"{base}/enterprises/?page=1")
    expect(page.locator("table tbody tr", has_text="分页物业24")).to_have_count(1)

    # the "incomplete only" checkbox sits next to its words
    gap = page.locator("label.check:has(input[name=complete])").evaluate("""label => {
        const box = label.querySelector('input').getBoundingClientRect();
        const range = document.createRange();
        range.selectNodeContents(label);
        range.setStartAfter(label.querySelector('input'));
        return range.getBoundingClientRect().left - box.right; }""")
    assert 0 <= gap <= 12, gap
    shot("enterprises-filters-english")

    assert page.js_errors == [] and page.server_errors == [], (page.js_errors, page.server_errors)


def test_audit_log_details_on_demand(app, make_staff, api_as, browser_page, live_server, shot):
    page, base = browser_page, live_server
    ops = api_as("ops", username="opal")
    app_id = ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000", "company_name": "甲物业",
                                                    "remarks": "客户希望下周安排上门演示" * 8}).json["id"]
    ops.patch(f"/api/v1/applications/{app_id}", json={"company_name": "乙物业", "status": "contacted"})
    make_staff("auditor", roles=("admin",))
    sign_in(page, base, "auditor")

    for lang, created, field in (("zh", "创建", "公司名称"), ("en", "Created", "Company name")):
        if lang == "en":
            english(page, base)
        page.goto(f"{base}/audit/?record_type=application")
        rows = page.locator("#audit-events > tbody > tr")
        expect(rows).to_have_count(2)
        assert single_line(rows.locator("> td:not(.changes), > td.changes summary")), "an event takes more than a line"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= DESKTOP["width"]  # no sideways scroll
        create = rows.filter(has_text=created)
        expect(create.locator("td").nth(2)).to_have_text(created)
        details = create.locator("details")
        expect(details.locator("table.diff")).not_to_be_visible()  # closed until asked for
        details.locator("summary").click()
        expect(details.locator("table.diff")).to_be_visible()
        expect(details.locator("table.diff")).to_contain_text(field)
        expect(details.locator("table.diff")).to_contain_text("客户希望下周安排上门演示")
        shot(f"audit-details-{lang}")

    # the action select offers words, and filters
    page.select_option("select[name=action]", label="Status changed")
    page.locator("#audit-filters button[type=submit]").click()
    expect(page.locator("#audit-events > tbody > tr")).to_have_count(1)
    expect(page.locator("#audit-events summary")).to_have_text("Company name, Status")
    assert page.js_errors == [] and page.server_errors == [], (page.js_errors, page.server_errors)


def test_tenant_error_page_and_top_bar_on_a_phone(app, make_staff, make_ready, browser_page, live_server, shot):
    page, base = browser_page, live_server
    with app.app_context():
        enterprise = EnterpriseFactory(name="幸福里物业服务有限公司", status=1, opened_at=utcnow())
        ent_id, code = enterprise.id, enterprise.tenant_code
        db.session.commit()
    make_ready(ent_id)

    # a page that does not exist, in the tenant's own look, back to the tenant's own sign-in
    for lang, label in (("zh_CN", "前往登录"), ("en", "Go to sign-in")):
        page.goto(f"{base}/t/{code}/no-such-page?lang={lang}")
        expect(page.locator(".error-code")).to_have_text("404")
        expect(page.locator(".public-head .brand")).to_contain_text("幸福里物业服务有限公司")
        expect(page.locator("body")).not_to_contain_text("运营后台")
        expect(page.locator("body")).not_to_contain_text("HuiGuanjia Admin")
        shot(f"tenant-404-{lang}")
        page.locator("#error-back", has_text=label).click()
        expect(page).to_have_url(f"{base}/t/{code}/login")

    # support staff go in, and the tenant's top bar stays one line on a phone
    page.goto(f"{base}/?lang=zh_CN")
    make_staff("helper", roles=("ops",))
    sign_in(page, base, "helper")
    page.goto(f"{base}/enterprises/{ent_id}")
    page.locator("#tenant-access summary", has_text="以用户身份登录").click()
    page.fill("#impersonate-form input[name=username]", "admin")
    page.fill("#impersonate-form input[name=reason]", "检查手机显示")
    page.click("#impersonate-form button[type=submit]")
    expect(page).to_have_url(f"{base}/t/{code}/")
    page.set_viewport_size(PHONE)
    page.reload()
    bar = page.locator(".topbar")
    assert bar.bounding_box()["height"] <= 53, bar.bounding_box()
    assert single_line(page.locator(".topbar-right .btn, .topbar .brand-name"))
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    shot("tenant-home-phone")
    assert page.js_errors == [], page.js_errors


def test_a_throttled_code_request_keeps_the_form_and_counts_down(app, browser_page, live_server, shot):
    page, base = browser_page, live_server
    page.set_viewport_size(PHONE)
    phone = mobile()
    page.goto(f"{base}/register?channel=web")
    expect(page).to_have_title("注册 · 绘管家")
    page.fill("input[name=name]", "李娜")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=company_name]", "幸福里物业")
    page.click("#send-code")
    expect(page.locator(".alert-success")).to_be_visible()
    page.click("#send-code")  # a second code within the minute
    notice = page.locator("#throttle-notice")
    expect(notice).to_contain_text("该手机号获取验证码过于频繁")
    seconds = int(notice.locator("[data-countdown]").inner_text())
    assert 1 <= seconds <= 60
    expect(page.locator("#send-code")).to_be_disabled()  # until the countdown ends
    for name, value in (("name", "李娜"), ("phone", phone), ("company_name", "幸福里物业")):
        expect(page.locator(f"input[name={name}]")).to_have_value(value)
    shot("register-throttled-phone")
    assert page.js_errors == [], page.js_errors
    assert page.server_errors == [], page.server_errors
