"""Tenant users' sign-in hardening (issue 7): the throttle counts the account whatever the spelling and
per client IP across tenants; sessions end for good at sign-out and at password changes; users change
their own password (page and API)."""

import pytest
import sqlalchemy as sa

from tests.conftest import csrf_from
from tests.tenant_runtime.test_routing import bearer, tenant_login, token_for

SPELLINGS = [" admin", "ádmin", "ａｄｍｉｎ", "admin\t", "ADMIN"]
NEW_PASSWORD = "Fresh-Passw0rd-9"


def _token_attempt(client, tenant, username, password="nope"):
    return client.post(f"/t/{tenant.code}/api/v1/auth/token", json={"username": username, "password": password})


def _lock(client, tenant, username="admin"):
    assert [_token_attempt(client, tenant, username).status_code for _ in range(5)] == [401] * 5


# --- throttles (item 6) -------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_locked_account_stays_locked_under_every_spelling(client, tenants, spelling):
    a = tenants[0]
    _lock(client, a)
    assert _token_attempt(client, a, spelling).status_code == 429
    assert _token_attempt(client, a, spelling, a.admin_password).status_code == 429
    page = tenant_login(client, a, username=spelling)
    assert page.status_code == 429


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_failures_under_other_spellings_count_against_the_account(client, tenants, spelling):
    a = tenants[0]
    _lock(client, a, spelling)
    assert _token_attempt(client, a, "admin", a.admin_password).status_code == 429


def test_a_name_no_account_has_is_throttled_alike(client, tenants):
    a = tenants[0]
    _lock(client, a, "ghost")
    assert _token_attempt(client, a, "ＧＨＯＳＴ ").status_code == 429


def test_per_ip_limit_spans_names_and_tenants(app, client, tenants, monkeypatch):
    monkeypatch.setitem(app.config, "TENANT_LOGIN_LIMIT_PER_IP", "3 per 15 minutes")
    a, b = tenants[0], tenants[1]
    assert [_token_attempt(client, t, name).status_code
            for t, name in ((a, "zhao"), (a, "qian"), (b, "sun"))] == [401] * 3
    assert _token_attempt(client, b, "admin", b.admin_password).status_code == 429
    # another address still gets in
    other = client.application.test_client()
    resp = other.post(f"/t/{a.code}/api/v1/auth/token", json={"username": "admin", "password": a.admin_password},
                      environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert resp.status_code == 200


def test_successful_sign_ins_do_not_count(client, tenants):
    a = tenants[0]
    for _ in range(7):
        assert _token_attempt(client, a, "admin", a.admin_password).status_code == 200


# --- sessions (item 7) ----------------------------------------------------------------------------------


def _home(client, tenant):
    return client.get(f"/t/{tenant.code}/")


def _browser(app, tenant, password=None):
    browser = app.test_client()
    assert tenant_login(browser, tenant, password=password).status_code == 302
    return browser


def test_a_cookie_copied_before_logout_is_dead_after_it(app, tenants):
    a = tenants[0]
    browser = _browser(app, a)
    copied = browser.get_cookie("session").value
    browser.post(f"/t/{a.code}/logout", data={"csrf_token": csrf_from(_home(browser, a).text)})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    resp = _home(thief, a)
    assert resp.status_code == 302 and f"/t/{a.code}/login" in resp.headers["Location"]


def test_the_session_is_stored_only_as_a_hash(app, tenants):
    from tenant_runtime.auth import hash_token

    a = tenants[0]
    browser = _browser(app, a)
    with browser.session_transaction() as sess:
        key = sess["tenant_auth"]["key"]
    engine = a.engine()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT session_hash FROM sys_session")).scalars().all() == [hash_token(key)]
    engine.dispose()


def test_an_expired_session_signs_nobody_in(app, tenants):
    a = tenants[0]
    browser = _browser(app, a)
    engine = a.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_session SET expires_at = created_at"))
    engine.dispose()
    assert _home(browser, a).status_code == 302


# --- changing one's own password (item 8), revoking the rest (item 7) ----------------------------------


def _password_page(browser, tenant, **data):
    form = browser.get(f"/t/{tenant.code}/password")
    assert form.status_code == 200
    return browser.post(f"/t/{tenant.code}/password", data={"csrf_token": csrf_from(form.text), **data})


def test_change_password_on_the_page_signs_out_everything_else(app, client, tenants):
    a = tenants[0]
    browser, other_browser = _browser(app, a), _browser(app, a)
    token = token_for(client, a)
    resp = _password_page(browser, a, current_password=a.admin_password, new_password=NEW_PASSWORD,
                          new_password_confirm=NEW_PASSWORD)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/t/{a.code}/")
    assert _home(browser, a).status_code == 200  # this browser stays in
    assert _home(other_browser, a).status_code == 302
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 401
    assert _token_attempt(client, a, "admin", a.admin_password).status_code == 401
    assert _token_attempt(client, a, "admin", NEW_PASSWORD).status_code == 200


def test_the_home_page_links_to_the_password_page(app, tenants):
    a = tenants[0]
    assert f'href="/t/{a.code}/password"' in _home(_browser(app, a), a).text


@pytest.mark.parametrize("data, field", [
    ({"current_password": "wrong-one-1", "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD},
     "current_password"),
    ({"current_password": None, "new_password": "short1", "new_password_confirm": "short1"}, "new_password"),
    ({"current_password": None, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD + "x"},
     "new_password_confirm"),
])
def test_a_refused_change_on_the_page_names_the_field_and_changes_nothing(app, client, tenants, data, field):
    a = tenants[0]
    browser = _browser(app, a)
    data = {k: (a.admin_password if v is None else v) for k, v in data.items()}
    resp = _password_page(browser, a, **data)
    assert resp.status_code == 422 and f'id="field-{field}"' in resp.text
    assert 'class="field has-error" id="field-' + field in resp.text
    assert _token_attempt(client, a, "admin", a.admin_password).status_code == 200


def test_change_password_through_the_api_keeps_only_this_token(app, client, tenants):
    a = tenants[0]
    here, elsewhere, browser = token_for(client, a), token_for(client, a), _browser(app, a)
    resp = client.post(f"/t/{a.code}/api/v1/me/password", headers=bearer(here),
                       json={"current_password": a.admin_password, "new_password": NEW_PASSWORD})
    assert resp.status_code == 204
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(here)).status_code == 200
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(elsewhere)).status_code == 401
    assert _home(browser, a).status_code == 302
    assert _token_attempt(client, a, "admin", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("body, fields", [
    ({"current_password": "wrong-one-1", "new_password": NEW_PASSWORD}, {"current_password"}),
    ({"current_password": None, "new_password": "abcdefghijk"}, {"new_password"}),
    ({"new_password": NEW_PASSWORD}, {"current_password"}),
    ({}, {"current_password", "new_password"}),
])
def test_a_refused_change_through_the_api_is_422_naming_the_fields(client, tenants, body, fields):
    a = tenants[0]
    token = token_for(client, a)
    body = {k: (a.admin_password if v is None else v) for k, v in body.items()}
    resp = client.post(f"/t/{a.code}/api/v1/me/password", headers=bearer(token), json=body)
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == fields
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 200
    assert _token_attempt(client, a, "admin", a.admin_password).status_code == 200


def test_wrong_current_passwords_are_throttled_with_sign_in(client, tenants):
    """A stolen token cannot be used to guess the password: the change shares the account's count."""
    a = tenants[0]
    token = token_for(client, a)
    statuses = [client.post(f"/t/{a.code}/api/v1/me/password", headers=bearer(token),
                            json={"current_password": f"guess-{n}-x", "new_password": NEW_PASSWORD}).status_code
                for n in range(6)]
    assert statuses == [422] * 5 + [429]
    assert _token_attempt(client, a, "admin", a.admin_password).status_code == 429


def test_changing_a_password_needs_a_sign_in(client, tenants):
    a = tenants[0]
    resp = client.post(f"/t/{a.code}/api/v1/me/password", json={"current_password": "x", "new_password": "y"})
    assert resp.status_code == 401
    assert f"/t/{a.code}/login" in client.get(f"/t/{a.code}/password").headers["Location"]


def test_support_staff_cannot_change_the_users_password(client, tenants, api_as):
    from tests.tenant_runtime.test_impersonation import grant, path_of

    a = tenants[0]
    client.get(path_of(grant(api_as("ops"), a)["url"]))
    resp = _password_page(client, a, current_password=a.admin_password, new_password=NEW_PASSWORD,
                          new_password_confirm=NEW_PASSWORD)
    assert resp.status_code == 403 and "支持人员" in resp.text
    assert _token_attempt(client, a, "admin", a.admin_password).status_code == 200
