"""The whole onboarding flow in a real headless Chromium, with screenshots kept as artifacts.

register (SMS code from the outbox) -> QR page -> staff sign-in -> return visit -> convert ->
completeness gate on "open" -> complete the profile (region pickers, licence scan) -> contract
(inline date error, then saved) -> open the enterprise -> switch the UI to English.

Runs on both backends; screenshots go to test-artifacts/screenshots/<backend>/.
Screenshots land in ``test-artifacts/screenshots/NN-step.png`` (kept after the run, even on failure).
"""

import re
import struct
import zlib
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.e2e.conftest import SCREENSHOTS
from tests.factories import credit_code, mobile

pytestmark = pytest.mark.browser


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_png():
    """A valid 1x1 RGB PNG, built by hand."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x1f\x6f\xd0")  # filter byte + one blue-ish pixel
    return PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def latest_sms_code(app, phone):
    """The 6 digits of the newest outbox SMS to ``phone``."""
    from extensions import db
    from platform_admin.messaging.models import OutboxMessage

    with app.app_context():
        message = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to == phone).order_by(OutboxMessage.id.desc()).limit(1)
        ).first()
        assert message is not None, f"no SMS recorded in the outbox for {phone}"
        assert message.channel == "sms" and message.purpose == "register_code"
        match = re.search(r"(?<!\d)(\d{6})(?!\d)", message.body)
        assert match, f"no 6-digit code in {message.body!r}"
        return match.group(1)


def test_onboarding_flow_in_browser(app, make_staff, browser_page, live_server, tmp_path, tenant_account):
    page, base = browser_page, live_server
    step = iter(range(1, 100))

    def shot(name):
        folder = SCREENSHOTS / app.config["DB_BACKEND"]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{next(step):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    @contextmanager
    def failure_screenshot():
        try:
            yield
        except BaseException:
            page.screenshot(path=str(SCREENSHOTS / "99-failure.png"), full_page=True)
            raise

    with failure_screenshot():
        # 1. Public registration with an SMS code read from the outbox.
        phone, applicant, company = mobile(), "王强", "幸福里物业服务有限公司"
        page.goto(f"{base}/register?channel=web")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")  # Chinese is the default locale
        page.fill("input[name=name]", applicant)
        page.fill("input[name=phone]", phone)
        page.click("button[name=action][value=send_code]")
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator("input[name=phone]")).to_have_value(phone)  # kept across the round trip
        expect(page.locator("input[name=name]")).to_have_value(applicant)
        code = latest_sms_code(app, phone)
        page.fill("input[name=sms_code]", code)
        page.fill("input[name=company_name]", company)
        shot("register-filled")
        page.click("button[name=action][value=register]")
        expect(page).to_have_url(re.compile(r"/register/done(\?.*)?$"))
        shot("register-done")

        page.goto(f"{base}/register/qr")
        qr = page.locator("img.qr")
        expect(qr).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
        assert qr.evaluate("img => img.naturalWidth") > 50
        png = page.request.get(f"{base}/register/qr.png")
        assert png.ok
        assert png.headers["content-type"] == "image/png"
        assert png.body().startswith(PNG_MAGIC)
        expect(page.locator(".public-card a[href*='channel=qrcode']").first).to_be_visible()
        shot("register-qr")

        # 2. Staff sign-in.
        make_staff("opsadmin", roles=("admin", "ops"), full_name="刘运营")
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "opsadmin")
        page.fill("input[name=password]", PASSWORD)
        page.click("form:has(input[name=password]) button[type=submit]")
        expect(page).to_have_url(f"{base}/")
        expect(page.locator(".topbar .user")).to_contain_text("管理员、运营")
        expect(page.locator("#panel-new")).to_contain_text(applicant)  # the fresh registration is on the dashboard
        expect(page.locator("main h1")).not_to_have_text("Dashboard")  # the Chinese catalog is in use
        shot("dashboard")

        # 3. Find the application and record a return visit that confirms the intent.
        page.goto(f"{base}/applications/")
        row = page.locator("table tbody tr", has_text=phone)
        expect(row).to_have_count(1)
        row.locator("a[href^='/applications/']").first.click()
        expect(page).to_have_url(re.compile(r"/applications/(\d+)$"))
        app_id = int(re.search(r"/applications/(\d+)$", page.url).group(1))
        expect(page.locator("h1 .badge")).to_have_class(re.compile(r"badge-info"))  # new
        visit = page.locator("#visit-form")
        visit.locator("textarea[name=content]").fill("电话回访：客户确认有意向，希望下周开通。")
        visit.locator("select[name=intent_level]").select_option("high")
        visit.locator("select[name=outcome]").select_option("intent_confirmed")
        expect(visit.locator("input[name=next_follow_up_at]")).to_have_attribute("type", "datetime-local")
        visit.locator("button[type=submit]").click()
        expect(page).to_have_url(f"{base}/applications/{app_id}")
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator(".timeline li")).to_have_count(1)
        expect(page.locator(".timeline")).to_contain_text("客户确认有意向")
        expect(page.locator("h1 .badge")).to_have_class(re.compile(r"badge-primary"))  # intent confirmed
        shot("application-visit")

        # 4. Convert: lands on the enterprise completion form.
        page.locator(".page-head .actions form[action$='/convert'] button").click()
        expect(page).to_have_url(re.compile(r"/enterprises/(\d+)/edit$"))
        ent_id = int(re.search(r"/enterprises/(\d+)/edit$", page.url).group(1))
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator("input[name=name]")).to_have_value(company)
        shot("converted-edit-form")

        # 5. The completeness gate: opening an incomplete profile sends us to the form with what is missing.
        page.goto(f"{base}/enterprises/{ent_id}")
        expect(page.locator("#incomplete-notice")).to_be_visible()
        page.locator(".page-head .actions form[action$='/open'] button").click()
        expect(page).to_have_url(f"{base}/enterprises/{ent_id}/edit?for=open")
        missing = page.locator("#missing-fields")
        expect(missing).to_be_visible()
        expect(missing.locator("a[href='#field-license_no']")).to_have_count(1)
        expect(missing.locator("a[href='#field-address']")).to_have_count(1)
        for carried in ("name", "contact_name", "contact_phone"):  # carried over from the application
            expect(missing.locator(f"a[href='#field-{carried}']")).to_have_count(0)
        expect(page.locator(".alert-warning").first).to_be_visible()
        shot("open-gate-missing-fields")

        # 6. Complete the profile, with region pickers and a licence scan.
        expect(page.locator("input[name=contact_name]")).to_have_value(applicant)
        expect(page.locator("input[name=contact_phone]")).to_have_value(phone)
        license_no = credit_code()
        page.fill("input[name=license_no]", license_no)
        page.select_option("#province_code", "44")
        city = page.locator("#city_code")
        expect(city.locator("option[value='4403']")).to_have_count(1)
        expect(city.locator("option[value='1100']")).to_have_count(0)  # narrowed to Guangdong by the script
        city.select_option("4403")
        page.fill("input[name=address]", "南山区科技园科苑路15号")
        page.fill("input[name=email]", "ops@xingfuli.example.com")
        scan = tmp_path / "licence.png"
        scan.write_bytes(tiny_png())
        page.set_input_files("input[name=license_scan]", str(scan))
        shot("profile-filled")
        page.locator("form.form button[type=submit]").click()
        expect(page).to_have_url(f"{base}/enterprises/{ent_id}")
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator("#incomplete-notice")).to_have_count(0)
        profile = page.locator("dl.kv")
        expect(profile).to_contain_text(license_no)
        expect(profile).to_contain_text("广东省")
        expect(profile).to_contain_text("深圳市")
        expect(profile.locator("a[href^='/files/']")).to_have_text("licence.png")
        expect(page.locator("h1 .badge")).to_have_class(re.compile(r"badge-info"))  # not opened yet
        expect(page.locator("h1 .badge")).to_have_text("未开通")
        shot("profile-complete")

        # 7. A contract: first with the end before the start (inline error), then valid.
        page.locator("#contracts a[href$='/contracts/new']").click()
        expect(page).to_have_url(f"{base}/enterprises/{ent_id}/contracts/new")
        expect(page.locator("input[name=party_a_contact]")).to_have_value(applicant)
        expect(page.locator("input[name=party_a_phone]")).to_have_value(phone)
        page.fill("input[name=bank_name]", "招商银行深圳分行")
        page.fill("input[name=account_no]", "6225880123456789")
        page.fill("input[name=legal_representative]", "陈大文")
        page.fill("input[name=start_date]", "2026-01-01")
        page.fill("input[name=end_date]", "2025-12-31")
        page.fill("input[name=community_count]", "5")
        page.fill("input[name=amount]", "12800.00")
        page.fill("input[name=party_b_contact]", "刘运营")
        page.fill("input[name=party_b_phone]", "13900139000")
        page.locator("form.form button[type=submit]").click()
        end_error = page.locator("#field-end_date .error")
        expect(end_error).to_be_visible()
        expect(page.locator("#field-end_date")).to_have_class(re.compile(r"has-error"))
        expect(page.locator(".field.has-error")).to_have_count(1)  # only the date is wrong
        expect(page.locator("input[name=bank_name]")).to_have_value("招商银行深圳分行")  # input kept
        shot("contract-date-error")
        page.fill("input[name=end_date]", "2026-12-31")
        page.locator("form.form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/contracts/(\d+)$"))
        expect(page.locator(".alert-success")).to_be_visible()
        expect(page.locator("dl.kv")).to_contain_text("¥12,800.00")
        expect(page.locator("dl.kv")).to_contain_text("2026-01-01 ~ 2026-12-31")
        shot("contract-detail")

        # 8. The datasource: opening without one is refused; devops configure it once and provision it.
        page.goto(f"{base}/enterprises/{ent_id}")
        expect(page.locator("#no-datasource")).to_have_text("暂未配置数据源")
        page.locator(".page-head .actions form[action$='/open'] button").click()
        expect(page.locator(".alert-danger")).to_be_visible()
        page.locator("#datasource a[href$='/datasource/new']").click()
        on_mysql = app.config["DB_BACKEND"] == "mysql"
        page.select_option("select[name=type]", "mysql" if on_mysql else "sqlite")
        if on_mysql:
            page.fill("input[name=host]", tenant_account["host"])
            page.fill("input[name=port]", str(tenant_account["port"]))
        page.fill("input[name=username]", "root")
        page.fill("input[name=password]", "weak")
        page.fill("input[name=max_connections]", "5")
        page.fill("input[name=min_connections]", "6")
        page.locator("#save-datasource").click()
        for name in ("username", "password", "min_connections"):  # every rule named inline
            expect(page.locator(f"#field-{name} .error")).to_be_visible()
        shot("datasource-form-errors")
        page.fill("input[name=username]", tenant_account["username"] if on_mysql else "tenant_admin")
        page.fill("input[name=password]", tenant_account["password"])
        page.fill("input[name=min_connections]", "1")
        page.locator("input[name=min_connections]").press("Enter")  # Enter tests the values; it never saves
        expect(page.locator("#connection-test")).to_have_attribute("data-ok", "true")
        expect(page.locator("input[name=password]")).to_have_value("")  # never sent back to the page
        shot("datasource-connection-test")
        page.fill("input[name=password]", tenant_account["password"])
        page.locator("#save-datasource").click()
        expect(page).to_have_url(re.compile(rf"/enterprises/{ent_id}(#datasource)?$"))
        expect(page.locator("#datasource .badge")).to_be_visible()
        assert tenant_account["password"] not in page.content()  # never rendered
        page.locator("#datasource form[action$='/provision'] button").click()
        expect(page.locator("#provision-job")).to_have_attribute("data-status", "finished")
        expect(page.locator("#provision-job")).to_contain_text("数据库已初始化")
        expect(page.locator("#first-login")).to_contain_text(phone[:3] + "****" + phone[-4:])  # where it went, masked
        # the notice is in view below the sticky bar, though the page scrolled down to the datasource
        notice = page.locator(".flashes .alert-success")
        expect(notice).to_have_text("数据库已初始化完成。")
        expect(notice).to_be_in_viewport()
        assert notice.bounding_box()["y"] >= page.locator(".topbar").bounding_box()["height"]
        expect(page.locator("#datasource .actions .btn-primary")).to_have_text("开通")  # the next step
        shot("datasource-provisioned")

        # 9. Open the enterprise.
        page.goto(f"{base}/enterprises/{ent_id}")
        badge = page.locator("h1 .badge")
        closed_label = badge.inner_text()
        expect(badge).to_have_class(re.compile(r"badge-info"))
        page.locator(".page-head .actions form[action$='/open'] button").click()
        expect(page).to_have_url(f"{base}/enterprises/{ent_id}")
        expect(page.locator(".alert-success")).to_be_visible()
        expect(badge).to_have_class(re.compile(r"badge-success"))
        expect(badge).not_to_have_text(closed_label)
        expect(page.locator(".page-head .actions form[action$='/close']")).to_have_count(1)
        expect(page.locator("#contracts tbody tr")).to_have_count(1)
        shot("enterprise-opened")

        # 10. Switch the language to English from the top bar.
        switch = page.locator(".topbar form.lang-switch")
        expect(switch).to_have_attribute("action", "/language/en")
        switch.locator("button").click()
        expect(page).to_have_url(f"{base}/enterprises/{ent_id}")  # back where we were
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.locator(".topbar a.brand").click()
        expect(page).to_have_url(f"{base}/")
        expect(page.locator("main h1")).to_have_text("Dashboard")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator(".topbar form.lang-switch")).to_have_attribute("action", "/language/zh_CN")
        shot("dashboard-english")

        assert page.js_errors == [], page.js_errors
        assert page.server_errors == [], page.server_errors
