"""The public registration page (web, WeChat, QR code) works as a plain HTML form, without JavaScript."""

import re

import png
import pytest
import qrcode

from platform_admin.onboarding.models import Application, SmsCode
from tests.conftest import csrf_from
from tests.factories import mobile

from .onboarding_helpers import applications, code_in, count, other_code, outbox_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def browser(app):
    return app.test_client()


def open_page(browser, channel="wechat"):
    page = browser.get(f"/register?channel={channel}")
    assert page.status_code == 200
    return page


def post(browser, page, channel="wechat", **fields):
    data = {"csrf_token": csrf_from(page.text), "channel": channel, "name": "", "phone": "", "sms_code": "",
            "company_name": ""}
    data.update(fields)
    return browser.post(f"/register?channel={channel}", data=data)


def input_tag(html, name):
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no input {name!r} on the page"
    return match.group(0)


def value_of(html, name):
    match = re.search(r'\bvalue="([^"]*)"', input_tag(html, name))
    return match.group(1) if match else ""


def field_has_error(html, name):
    match = re.search(rf'<div class="field([^"]*)" id="field-{name}">(.*?)</div>\s*(?=<div class="field|<button|</form)',
                      html, re.DOTALL)
    assert match, f"no field {name!r} on the page"
    return "has-error" in match.group(1) and 'class="error"' in match.group(2)


def sms_code_sent_to(app, phone):
    messages = outbox_rows(app, phone)
    assert len(messages) == 1, messages
    return code_in(messages[0].body)


def send_code_from_page(browser, app, phone, channel="wechat"):
    page = open_page(browser, channel)
    resp = post(browser, page, channel, action="send_code", name="李娜", phone=phone)
    assert resp.status_code == 200, resp.text[:500]
    return resp, sms_code_sent_to(app, phone)


def test_registration_page_is_a_plain_form(browser):
    html = open_page(browser, "wechat").text
    form = re.search(r'<form method="post"[^>]*id="register-form"[^>]*>(.*?)</form>', html, re.DOTALL)
    assert form, "no POST form"
    body = form.group(1)
    assert 'name="csrf_token"' in body
    assert value_of(body, "channel") == "wechat"
    for name in ("name", "phone", "sms_code", "company_name"):
        input_tag(body, name)
    assert re.search(r'<button type="submit" name="action" value="send_code"', body)
    assert re.search(r'<button type="submit" name="action" value="register"', body)


@pytest.mark.parametrize("channel", ["web", "wechat", "qrcode"])
def test_registration_page_renders_for_each_public_channel(browser, channel):
    assert value_of(open_page(browser, channel).text, "channel") == channel


def test_send_code_button_sends_an_sms_and_keeps_the_phone(browser, app):
    phone = mobile()
    resp, code = send_code_from_page(browser, app, phone)
    assert re.fullmatch(r"\d{6}", code)
    assert value_of(resp.text, "phone") == phone
    assert value_of(resp.text, "name") == "李娜"
    assert value_of(resp.text, "sms_code") == ""
    assert value_of(resp.text, "channel") == "wechat"
    assert phone in resp.text  # the confirmation names the number
    assert count(app, SmsCode, SmsCode.phone == phone) == 1
    assert count(app, Application) == 0


def test_register_with_right_code_redirects_to_done_and_creates_a_wechat_application(browser, app):
    phone = mobile()
    page, code = send_code_from_page(browser, app, phone)
    resp = post(browser, page, action="register", name="李娜", phone=phone, sms_code=code, company_name="锦绣物业")
    assert resp.status_code == 302, resp.text[:500]
    assert resp.headers["Location"].split("?")[0].endswith("/register/done")
    created = applications(app)
    assert len(created) == 1
    assert created[0] | {"id": None} == {"id": None, "phone": phone, "name": "李娜", "company_name": "锦绣物业",
                                          "channel": "wechat", "status": "new", "phone_verified": True,
                                          "owner_id": None}
    done = browser.get(resp.headers["Location"])
    assert done.status_code == 200


def test_register_with_wrong_code_shows_an_inline_error_and_creates_nothing(browser, app):
    phone = mobile()
    page, code = send_code_from_page(browser, app, phone)
    resp = post(browser, page, action="register", name="李娜", phone=phone, sms_code=other_code(code))
    assert resp.status_code in (200, 422)
    assert field_has_error(resp.text, "sms_code")
    assert value_of(resp.text, "phone") == phone
    assert count(app, Application) == 0


def test_wrong_codes_on_the_page_count_towards_killing_the_code(browser, app):
    phone = mobile()
    page, code = send_code_from_page(browser, app, phone)
    for _ in range(5):
        page = post(browser, page, action="register", name="李娜", phone=phone, sms_code=other_code(code))
        assert field_has_error(page.text, "sms_code")
    resp = post(browser, page, action="register", name="李娜", phone=phone, sms_code=code)
    assert field_has_error(resp.text, "sms_code")
    assert count(app, Application) == 0


@pytest.mark.parametrize(("field", "value"), [("name", ""), ("phone", "12345"), ("sms_code", "12ab")])
def test_an_invalid_form_shows_inline_errors_and_keeps_the_code_usable(browser, app, field, value):
    phone = mobile()
    page, code = send_code_from_page(browser, app, phone)
    fields = {"name": "李娜", "phone": phone, "sms_code": code, field: value}
    resp = post(browser, page, action="register", **fields)
    assert resp.status_code in (200, 422)
    assert field_has_error(resp.text, field)
    assert count(app, Application) == 0
    retry = post(browser, resp, action="register", name="李娜", phone=phone, sms_code=code)
    assert retry.status_code == 302, retry.text[:500]


@pytest.mark.parametrize("phone", ["", "12345", "01062345678"])
def test_send_code_with_invalid_phone_shows_an_inline_error(browser, app, phone):
    resp = post(browser, open_page(browser), action="send_code", name="李娜", phone=phone)
    assert resp.status_code in (200, 422)
    assert field_has_error(resp.text, "phone")
    assert count(app, SmsCode) == 0


@pytest.mark.parametrize("action", ["send_code", "register"])
def test_post_without_csrf_token_is_refused(browser, app, action):
    phone = mobile()
    open_page(browser)
    resp = browser.post("/register?channel=wechat", data={"action": action, "channel": "wechat", "name": "李娜",
                                                          "phone": phone, "sms_code": "123456"})
    assert resp.status_code == 400
    assert count(app, SmsCode) == 0 and count(app, Application) == 0
    assert outbox_rows(app, phone) == []


def test_post_with_a_forged_csrf_token_is_refused(browser, app):
    open_page(browser)
    resp = browser.post("/register?channel=wechat", data={"csrf_token": "forged", "action": "send_code",
                                                          "phone": mobile()})
    assert resp.status_code == 400
    assert count(app, SmsCode) == 0


def throttle_notice(html):
    match = re.search(r'<div class="alert alert-warning" role="alert" id="throttle-notice"[^>]*>(.*?)</div>', html, re.S)
    assert match, "no throttle notice on the page"
    seconds = int(re.search(r'data-countdown="(\d+)">(\d+)<', match.group(1)).group(1))
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()), seconds


def test_second_code_from_the_page_within_a_minute_is_throttled_inline(browser, app):
    phone = mobile()
    page, _code = send_code_from_page(browser, app, phone)
    again = post(browser, page, action="send_code", name="李娜", phone=phone, company_name="幸福里物业")
    assert again.status_code == 429
    assert "text/html" in again.headers["Content-Type"]
    assert len(outbox_rows(app, phone)) == 1
    # the form, still filled in, says how long to wait (the limit is one code a minute)
    assert 'id="register-form"' in again.text
    assert (value_of(again.text, "name"), value_of(again.text, "phone")) == ("李娜", phone)
    assert value_of(again.text, "company_name") == "幸福里物业"
    text, seconds = throttle_notice(again.text)
    assert 1 <= seconds <= 60 and again.headers["Retry-After"] == str(seconds)
    assert text == f"该手机号获取验证码过于频繁。 请 {seconds} 秒后再试。"
    assert "data-wait" in input_or_button(again.text, "send-code")  # a script may hold the button till then


def input_or_button(html, element_id):
    return re.search(rf'<(?:input|button)[^>]*id="{element_id}"[^>]*>', html).group(0)


def test_a_throttled_submission_keeps_the_form_and_says_how_long_to_wait(browser, app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_LIMIT_PER_IP", "1 per hour")
    page = open_page(browser)
    first = post(browser, page, action="register", name="李娜", phone=mobile(), sms_code="000000")
    assert first.status_code == 200  # a wrong code: the form with its error, and the one try used up
    phone = mobile()
    again = post(browser, page, action="register", name="王强", phone=phone, sms_code="123456", company_name="甲物业")
    assert again.status_code == 429
    assert (value_of(again.text, "name"), value_of(again.text, "phone"), value_of(again.text, "sms_code")) == \
        ("王强", phone, "123456")
    text, seconds = throttle_notice(again.text)
    assert text.startswith("当前网络提交申请过于频繁。") and 60 < seconds <= 3600
    assert count(app, Application) == 0


def test_the_api_still_answers_a_throttled_code_request_with_json(app, anon):
    phone = mobile()
    assert anon.post("/api/v1/public/sms-codes", json={"phone": phone}).status_code == 202
    resp = anon.post("/api/v1/public/sms-codes", json={"phone": phone})
    assert resp.status_code == 429 and resp.json["error"]["code"] == "throttled" and resp.headers["Retry-After"]


@pytest.mark.parametrize("path", ["/register?channel=web", "/register/qr", "/register/done"])
def test_public_pages_are_the_products_not_the_back_offices(browser, path):
    zh = browser.get(path).text
    assert re.search(r"<title>[^<]* · 绘管家</title>", zh) and "运营后台" not in zh
    en = browser.get(path + ("&" if "?" in path else "?") + "lang=en").text
    assert re.search(r"<title>[^<]* · HuiGuanjia</title>", en) and "Admin" not in en


def test_the_staff_sign_in_is_still_the_back_offices(browser):
    assert re.search(r"<title>[^<]* · 绘管家运营后台</title>", browser.get("/login").text)


@pytest.mark.parametrize("channel", ["offline", "bogus"])
def test_unknown_channel_on_the_page_registers_as_web(browser, app, channel):
    phone = mobile()
    page, code = send_code_from_page(browser, app, phone, channel=channel)
    assert value_of(page.text, "channel") == "web"
    resp = browser.post(f"/register?channel={channel}", data={
        "csrf_token": csrf_from(page.text), "channel": value_of(page.text, "channel"), "action": "register",
        "name": "李娜", "phone": phone, "sms_code": code})
    assert resp.status_code == 302, resp.text[:500]
    assert [a["channel"] for a in applications(app)] == ["web"]


def test_qr_png_is_a_real_png(browser):
    resp = browser.get("/register/qr.png")
    assert resp.status_code == 200
    assert resp.mimetype == "image/png"
    assert resp.data.startswith(PNG_MAGIC)
    width, height, _rows, _info = png.Reader(bytes=resp.data).read()
    assert width == height and width >= 210  # 21 modules at least, 10 px each


def png_modules(data, box_size=10):
    """The dark/light module matrix of a PNG QR code, sampled at the centre of each module."""
    reader = png.Reader(bytes=data)
    width, _height, rows, info = reader.asDirect()
    planes, middle = info["planes"], (2 ** info["bitdepth"] - 1) / 2
    rows = [list(r) for r in rows]
    size = width // box_size
    return [[rows[y * box_size + box_size // 2][(x * box_size + box_size // 2) * planes] < middle
             for x in range(size)] for y in range(size)]


@pytest.mark.parametrize(("base", "expected"), [
    (None, "http://127.0.0.1:5000/register?channel=qrcode"),  # the development default, start.sh's address
    ("https://reg.example.com/", "https://reg.example.com/register?channel=qrcode"),
])
def test_qr_png_encodes_the_qrcode_registration_url(app, browser, monkeypatch, base, expected):
    if base is not None:
        monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", base)
    attacker = {"Host": "attacker.example"}  # the request's host is never where the code points
    resp = browser.get("/register/qr.png", headers=attacker)
    qr = qrcode.QRCode(box_size=10, border=2)
    qr.add_data(expected)
    qr.make(fit=True)
    assert png_modules(resp.data) == [list(row) for row in qr.get_matrix()]
    page = browser.get("/register/qr", headers=attacker)
    assert page.status_code == 200 and expected in page.text


def test_registration_pages_need_no_login(browser):
    for path in ("/register", "/register?channel=qrcode", "/register/done", "/register/qr", "/register/qr.png"):
        assert browser.get(path).status_code == 200, path


@pytest.mark.parametrize("data", [
    {"action": "send_code", "phone": "１３８００１３８０００"},
    {"action": "send_code", "phone": "x" * 10_000},
    {"action": "register", "name": "x" * 10_000, "phone": "13800138000", "sms_code": "9" * 5000},
    {"action": "register", "name": "\x00", "phone": "\x00", "sms_code": "\x00"},
    {"action": "bogus", "phone": "13800138000"},
    {"action": "register", "channel": "offline", "name": "李娜", "phone": "13800138000", "sms_code": "123456"},
    {},
])
def test_nothing_posted_to_the_page_causes_a_500(browser, data):
    page = open_page(browser)
    resp = browser.post("/register?channel=wechat", data={"csrf_token": csrf_from(page.text), **data})
    assert resp.status_code < 500, resp.text[:500]
