"""Tenant access in a real headless Chromium: support sign-in from the enterprise page into the tenant's
CRM (banner, record the tenant's administrator sees), the tenant's own sign-in, maintenance mode with
the staff's message, and the devops pool page. Screenshots go to test-artifacts/screenshots/<backend>/tenant-*."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_tenant_access_in_browser(app, make_staff, browser_page, live_server, tenants, screenshots):
    page, base = browser_page, live_server
    a, b = tenants[0], tenants[1]
    shot = screenshots("tenant")

    make_staff("support", roles=("ops", "devops"))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "support")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    expect(page).to_have_url(f"{base}/")

    # support sign-in from the enterprise page, straight into the tenant's CRM
    page.goto(f"{base}/enterprises/{a.id}")
    card = page.locator("#tenant-access")
    expect(card).to_contain_text(f"/t/{a.code}/")
    card.locator("summary", has_text="以用户身份登录").click()
    page.fill("#impersonate-form input[name=username]", "admin")
    page.fill("#impersonate-form input[name=reason]", "协助配置部门")
    shot("01-support-form")
    page.click("#impersonate-form button[type=submit]")
    expect(page).to_have_url(f"{base}/t/{a.code}/")
    expect(page.locator(".banner")).to_contain_text("support")
    expect(page.locator("#impersonations")).to_contain_text("协助配置部门")
    shot("02-support-inside-tenant")

    # the tenant's own administrator signs in and sees who came in
    page.click("text=退出登录")
    expect(page).to_have_url(f"{base}/t/{a.code}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong-password")
    page.press("input[name=password]", "Enter")
    expect(page.locator("#field-password .error")).to_contain_text("用户名或密码错误")
    page.fill("input[name=password]", a.admin_password)
    page.press("input[name=password]", "Enter")
    expect(page).to_have_url(f"{base}/t/{a.code}/")
    expect(page.locator("#impersonations")).to_contain_text("support")
    expect(page.locator(".banner")).to_have_count(0)
    shot("03-tenant-home")

    # maintenance mode on the other tenant, with the staff's message
    page.goto(f"{base}/enterprises/{b.id}")
    page.locator("#tenant-access summary", has_text="维护模式").click()
    page.fill("#suspend-form textarea[name=message]", "系统升级中，预计 30 分钟后恢复")
    page.click("#suspend-form button[type=submit]")
    expect(page.locator("#suspend-message")).to_have_text("系统升级中，预计 30 分钟后恢复")
    shot("04-suspended-enterprise")
    page.goto(f"{base}/t/{b.code}/login")
    expect(page.locator("h1")).to_have_text("系统维护中")
    expect(page.locator(".error-page")).to_contain_text("系统升级中，预计 30 分钟后恢复")
    shot("05-tenant-maintenance-page")

    # the pool page shows the tenant that was used
    page.goto(f"{base}/registry/")
    expect(page.locator("#registry-engines")).to_contain_text(a.code)
    shot("06-pool-registry")

    # a fleet upgrade from the devops page: every tenant is already at head, so each job is a quick no-op
    page.goto(f"{base}/fleet/")
    page.fill("#start-run input[name=canary]", "1")
    page.fill("#start-run input[name=parallelism]", "2")
    page.click("#start-run button[type=submit]")
    expect(page.locator("#run")).to_have_attribute("data-status", "finished", timeout=30_000)  # meta refresh
    expect(page.locator("#succeeded")).to_have_text(str(len(tenants)))
    shot("07-fleet-upgrade")

    assert not page.js_errors, page.js_errors
    assert page.server_errors == [f"503 {base}/t/{b.code}/login"], page.server_errors  # the maintenance page only
