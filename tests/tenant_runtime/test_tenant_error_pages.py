"""Every error a tenant's user can meet under /t/<code>/ is the tenant's own page: the company's name, a way
back to the company's sign-in, never the back office's branding or the staff sign-in."""

import re

import pytest

from extensions import db
from tests.factories import EnterpriseFactory

STAFF_BRANDING = ("运营后台", "HuiGuanjia Admin")


def title(html):
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def back_link(html):
    match = re.search(r'<a class="btn" id="error-back" href="([^"]+)">', html)
    return match and match.group(1)


def name_of(app, tenant):
    from platform_admin.enterprises.models import Enterprise

    with app.app_context():
        return db.session.get(Enterprise, tenant.id).name


def assert_tenant_page(resp, status, name, link):
    assert resp.status_code == status, resp.text[:500]
    html = resp.text
    assert name in html and name in title(html)
    assert not any(word in html for word in STAFF_BRANDING)
    assert 'href="/login' not in html and 'href="/"' not in html  # the staff sign-in and the back office
    assert back_link(html) == link


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_missing_page_under_a_tenant_is_the_tenants_404(app, tenants, lang):
    a = tenants[0]
    client = app.test_client()
    client.get(f"/t/{a.code}/login?lang={lang}")
    resp = client.get(f"/t/{a.code}/no-such-page")
    assert_tenant_page(resp, 404, name_of(app, a), f"/t/{a.code}/login")
    assert ("前往登录" if lang == "zh_CN" else "Go to sign-in") in resp.text


def test_a_signed_in_user_is_sent_back_to_the_tenants_home(app, tenants):
    a = tenants[0]
    client = app.test_client()
    page = client.get(f"/t/{a.code}/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    client.post(f"/t/{a.code}/login", data={"username": "admin", "password": a.admin_password, "csrf_token": token})
    resp = client.get(f"/t/{a.code}/no-such-page")
    assert_tenant_page(resp, 404, name_of(app, a), f"/t/{a.code}/")


def test_a_page_the_role_may_not_open_says_so_inside_the_crm(app, tenants):
    """A sales manager opening the user administration: 403 titled 无权访问 (not "service unavailable"), inside
    the CRM's shell with its menu and the company's initial, so the user can go on from there."""
    from tests.tenant_runtime.crm import add_user, page_client

    a = tenants[0]
    add_user(a, "mgr_403", ("sales_manager",))
    resp = page_client(app, a, "mgr_403").get(f"/t/{a.code}/users/")
    assert resp.status_code == 403
    html = resp.text
    assert "<h1>无权访问</h1>" in html and "服务暂不可用" not in html
    assert 'class="sidebar"' in html and f'<span class="logo">{name_of(app, a)[0]}</span>' in html
    assert title(html).startswith("无权访问")


def test_an_expired_sign_in_form_is_the_tenants_page(app, tenants):
    a = tenants[0]
    resp = app.test_client().post(f"/t/{a.code}/login", data={"username": "admin", "password": "x"})  # no CSRF token
    assert_tenant_page(resp, 400, name_of(app, a), f"/t/{a.code}/login")


def test_too_many_sign_in_attempts_is_the_tenants_page(app, tenants, monkeypatch):
    a = tenants[0]
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_USER", "2 per hour")
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(f"/t/{a.code}/login").text).group(1)
    statuses = [client.post(f"/t/{a.code}/login", data={"username": "admin", "password": "wrong", "csrf_token": token})
                for _ in range(3)]
    assert [r.status_code for r in statuses] == [401, 401, 429]
    assert_tenant_page(statuses[-1], 429, name_of(app, a), f"/t/{a.code}/login")
    # how long to wait, as its Retry-After says (it said only "please wait a while")
    wait = int(statuses[-1].headers["Retry-After"])
    assert 3500 < wait <= 3600 and "请在 60 分钟后再试" in statuses[-1].text


def test_a_suspended_tenant_offers_to_try_the_page_again(app, tenants):
    """Every page of a company under maintenance answers so: its sign-in page offered 前往登录, a link to itself;
    the page offers to try the page asked for again (重试), the company's own, never the staff's."""
    a = tenants[0]
    with app.app_context():
        from platform_admin.enterprises.models import Enterprise
        from tenant_runtime.resolver import invalidate

        enterprise = db.session.get(Enterprise, a.id)
        enterprise.suspended_at, enterprise.suspend_message = enterprise.opened_at, "今晚升级"
        db.session.commit()
        invalidate()
    client = app.test_client()
    resp = client.get(f"/t/{a.code}/login")
    assert_tenant_page(resp, 503, name_of(app, a), f"/t/{a.code}/login")
    assert "今晚升级" in resp.text and "重试" in resp.text and "前往登录" not in resp.text
    deeper = client.get(f"/t/{a.code}/customers/?level=important&lang=en")
    assert_tenant_page(deeper, 503, name_of(app, a), f"/t/{a.code}/customers/?level=important&amp;lang=en")
    assert "Try again" in deeper.text


def test_a_closed_tenant_or_an_unknown_code_offers_no_sign_in(app):
    with app.app_context():
        closed = EnterpriseFactory(name="已关闭物业", status=0).enterprise_no.lower()
    client = app.test_client()
    resp = client.get(f"/t/{closed}/login")
    assert_tenant_page(resp, 403, "已关闭物业", None)
    unknown = client.get("/t/nosuchcompany/anything")
    assert unknown.status_code == 404 and back_link(unknown.text) is None
    assert not any(word in unknown.text for word in STAFF_BRANDING) and 'href="/login' not in unknown.text


def test_the_back_office_keeps_its_own_error_page(app, login_page):
    resp = login_page("ops").get("/enterprises/999999")
    assert resp.status_code == 404 and "运营后台" in resp.text


def test_the_sign_in_and_set_password_pages_show_the_companys_initial(app, tenants):
    """The company's sign-in page (and the page a reset link opens) showed the vendor's 绘 beside the company's name,
    where its error pages and the CRM itself show the company's initial: they show the initial too."""
    from tests.tenant_runtime.test_password_links import issue_link, link_path

    a = tenants[0]
    initial = name_of(app, a)[0]
    assert initial != "绘"
    client = app.test_client()
    for path in (f"/t/{a.code}/login", link_path(a, issue_link(app, a))):
        page = client.get(path)
        assert page.status_code == 200, path
        assert f'<span class="logo">{initial}</span>' in page.text and '<span class="logo">绘</span>' not in page.text
