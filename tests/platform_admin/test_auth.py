"""Staff sign-in: tokens (hashed, expiring, revocable), sessions, throttling, CSRF, the CLI."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from extensions import db
from platform_admin.audit.models import AuditEvent
from platform_admin.auth.models import ApiToken, StaffUser, hash_token
from tests.conftest import PASSWORD, csrf_from


def test_token_login_returns_user_and_roles(app, anon, make_staff):
    make_staff("alice", roles=("ops", "devops"))
    resp = anon.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD})
    assert resp.status_code == 200
    assert resp.json["user"]["username"] == "alice"
    assert resp.json["user"]["roles"] == ["devops", "ops"]
    assert isinstance(resp.json["user"]["id"], str)


def test_token_is_stored_only_as_a_hash(app, anon, make_staff):
    make_staff("alice")
    raw = anon.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}).json["token"]
    with app.app_context():
        stored = db.session.scalars(select(ApiToken)).one()
        assert stored.token_hash == hash_token(raw)
        assert raw not in stored.token_hash


@pytest.mark.parametrize("body", [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": PASSWORD}])
def test_wrong_credentials_give_401(app, anon, make_staff, body):
    make_staff("alice")
    resp = anon.post("/api/v1/auth/token", json=body)
    assert resp.status_code == 401
    assert resp.json["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize("body", [{}, {"username": "alice"}, {"username": 5, "password": []}])
def test_missing_credentials_give_422_naming_fields(anon, body):
    resp = anon.post("/api/v1/auth/token", json=body)
    assert resp.status_code == 422
    assert "password" in resp.json["error"]["fields"]


def test_non_json_body_gives_400(anon):
    resp = anon.client.post("/api/v1/auth/token", data="username=x", content_type="text/plain")
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "malformed_body"


def test_expired_token_is_refused(app, api_as):
    client = api_as("admin")
    assert client.get("/api/v1/me").status_code == 200
    with app.app_context():
        token = db.session.scalars(select(ApiToken)).one()
        token.expires_at = token.created_at - timedelta(seconds=1)
        db.session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_revoked_token_is_refused(api_as):
    client = api_as("ops")
    assert client.delete("/api/v1/auth/token").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_deactivating_staff_revokes_tokens_and_blocks_login(app, api_as, anon):
    admin = api_as("admin")
    ops = api_as("ops", username="bob")
    staff_id = ops.get("/api/v1/me").json["id"]
    resp = admin.patch(f"/api/v1/staff/{staff_id}", json={"is_active": False})
    assert resp.status_code == 200 and resp.json["is_active"] is False
    assert ops.get("/api/v1/me").status_code == 401
    assert anon.post("/api/v1/auth/token", json={"username": "bob", "password": PASSWORD}).status_code == 401


def test_admin_cannot_remove_own_admin_role(api_as):
    admin = api_as("admin")
    me = admin.get("/api/v1/me").json
    resp = admin.patch(f"/api/v1/staff/{me['id']}", json={"roles": ["ops"]})
    assert resp.status_code == 409


def test_staff_create_validates_and_rejects_duplicates(api_as):
    admin = api_as("admin")
    body = {"username": "carol", "password": "Long-enough-pw-1", "roles": ["ops", "devops"], "full_name": "Carol"}
    resp = admin.post("/api/v1/staff", json=body)
    assert resp.status_code == 201 and resp.json["roles"] == ["devops", "ops"]
    assert admin.post("/api/v1/staff", json=body).status_code == 409
    bad = admin.post("/api/v1/staff", json={"username": "bad name!", "password": "short", "roles": ["root"]})
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) >= {"username", "password", "roles"}


def test_repeated_failed_logins_are_throttled_and_audited(app, anon, make_staff):
    make_staff("alice")
    statuses = [anon.post("/api/v1/auth/token", json={"username": "alice", "password": "nope"}).status_code
                for _ in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    assert anon.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}).status_code == 429
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("login_failed") == 5
    assert "login_throttled" in actions


def test_successful_logins_do_not_count_towards_the_throttle(anon, make_staff):
    make_staff("alice")
    for _ in range(8):
        assert anon.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD}).status_code == 200


def test_page_login_throttled_after_failures(app, make_staff):
    make_staff("alice")
    client = app.test_client()
    token = csrf_from(client.get("/login").text)
    answers = [client.post("/login", data={"username": "alice", "password": "bad", "csrf_token": token})
               for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    # the page says how long to wait (5 failures per 15 minutes: at most 15), as its Retry-After does
    minutes = -(-int(answers[-1].headers["Retry-After"]) // 60)  # the header is counted a moment after the page
    assert 1 <= minutes <= 15 and any(f"请在 {m} 分钟后再试" in answers[-1].text for m in (minutes, minutes + 1))
    english = client.post("/login?lang=en", data={"username": "alice", "password": "bad", "csrf_token": token})
    assert english.status_code == 429 and "Please try again in" in english.text


def test_page_login_and_logout(app, make_staff):
    make_staff("alice", roles=("ops",))
    client = app.test_client()
    assert client.get("/").status_code == 302
    token = csrf_from(client.get("/login").text)
    resp = client.post("/login?next=/applications/", data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/applications/")
    assert client.get("/").status_code == 200
    token = csrf_from(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_login_refuses_open_redirects(app, make_staff):
    make_staff("alice")
    client = app.test_client()
    token = csrf_from(client.get("/login").text)
    for target in ("//evil.example/x", "/\\evil.example/x", "https://evil.example/x", "/\r\nSet-Cookie:x"):
        resp = client.post("/login", query_string={"next": target},
                           data={"username": "alice", "password": PASSWORD, "csrf_token": token})
        assert resp.headers["Location"] == "/", target  # a browser reads /\ as //: another site
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/").text)})
        token = csrf_from(client.get("/login").text)


def test_forms_without_csrf_token_are_refused(app, login_page):
    client = login_page("ops")
    resp = client.post("/applications/new", data={"name": "张三", "phone": "13800138000"})
    assert resp.status_code == 400
    with app.app_context():
        from platform_admin.onboarding.models import Application

        assert db.session.scalars(select(Application)).first() is None


def test_login_form_without_csrf_token_is_refused(app, make_staff):
    make_staff("alice")
    resp = app.test_client().post("/login", data={"username": "alice", "password": PASSWORD})
    assert resp.status_code == 400


def test_production_config_has_secure_cookies(monkeypatch):
    from config import ProductionConfig

    assert ProductionConfig.SESSION_COOKIE_SECURE and ProductionConfig.REMEMBER_COOKIE_SECURE
    assert ProductionConfig.SESSION_COOKIE_HTTPONLY and ProductionConfig.SESSION_COOKIE_SAMESITE == "Lax"
    for key in ("SECRET_KEY", "DATABASE_URL", "SECRET_MASTER_KEYS"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig.check()


def test_cli_creates_and_deactivates_staff(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "create", "dave", "--role", "ops", "--role", "devops", "--password", "Long-enough-pw-1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == "dave")).one()
        assert user.roles == ["devops", "ops"] and user.is_active
    result = runner.invoke(args=["staff", "deactivate", "dave"])
    assert result.exit_code == 0
    with app.app_context():
        assert not db.session.scalars(select(StaffUser).where(StaffUser.username == "dave")).one().is_active
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.record_type == "staff_user")).all()
        assert {e.actor for e in events} == {"cli"}
    assert runner.invoke(args=["staff", "create", "dave", "--role", "ops", "--password", "Long-enough-pw-1"]).exit_code != 0


def test_demo_seed_prints_a_working_login(app, anon):
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0
    line = next(l for l in result.output.splitlines() if "admin /" in l)
    password = line.split("admin /", 1)[1].strip()
    assert anon.post("/api/v1/auth/token", json={"username": "admin", "password": password}).status_code == 200
    with app.app_context():  # the demo company, open and serving its CRM, is marked live as devops would
        from datasource_registry.models import Datasource

        [ds] = db.session.scalars(select(Datasource)).all()
        assert ds.implementation_status == "live" and ds.live_at is not None
    again = app.test_cli_runner().invoke(args=["demo", "seed"])  # a second start changes nothing
    assert again.exit_code == 0, again.output
    assert f"admin / {password}" in again.output


def test_demo_seed_prints_no_stale_password_and_refuses_production(app, anon, monkeypatch):
    """The instance folder outlives a control database: after the admin's password changed (or the file came from
    another database) a start printed a password that failed, each try counting toward the sign-in throttle. And
    run with the production settings it made a staff account with every role and a SQLite company there."""
    first = app.test_cli_runner().invoke(args=["demo", "seed"])
    password = next(l for l in first.output.splitlines() if "admin /" in l).split("admin /", 1)[1].strip()
    with app.app_context():
        from platform_admin.auth.services import find_staff

        find_staff("admin").set_password("Changed-Since-2026")
        db.session.commit()
    again = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert again.exit_code == 0 and password not in again.output and "password set earlier" in again.output
    monkeypatch.setitem(app.config, "ALLOW_SQLITE_DATASOURCES", False)
    with app.app_context():
        staff_before = db.session.scalar(select(func.count(StaffUser.id)))
    refused = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert refused.exit_code != 0 and "Nothing was created" in refused.output
    with app.app_context():
        assert db.session.scalar(select(func.count(StaffUser.id))) == staff_before


# --- the throttle counts the account, whatever the spelling (issue 7, item 6) ---------------------

SPELLINGS = [" admin", "ádmin", "ａｄｍｉｎ", "admin\t", "ADMIN"]


def _fail(anon, username, times=1):
    return [anon.post("/api/v1/auth/token", json={"username": username, "password": "nope"}).status_code
            for _ in range(times)]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_locked_account_stays_locked_under_every_spelling(anon, make_staff, spelling):
    make_staff("admin")
    assert _fail(anon, "admin", 5) == [401] * 5
    assert _fail(anon, spelling) == [429]
    right = anon.post("/api/v1/auth/token", json={"username": spelling, "password": PASSWORD})
    assert right.status_code == 429


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_failures_under_other_spellings_count_against_the_account(anon, make_staff, spelling):
    make_staff("admin")
    assert _fail(anon, spelling, 5) == [401] * 5
    assert anon.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).status_code == 429


@pytest.mark.parametrize("spelling", [" ghost", "ｇｈｏｓｔ", "GHÖST", "gh ost"])
def test_a_name_no_account_has_is_throttled_alike(anon, spelling):
    """So the throttle does not tell which names exist."""
    assert _fail(anon, "ghost", 5) == [401] * 5
    assert _fail(anon, spelling) == [429]


def test_the_sign_in_page_and_the_api_share_one_count(app, anon, make_staff):
    make_staff("admin")
    client = app.test_client()
    token = csrf_from(client.get("/login").text)
    pages = [client.post("/login", data={"username": "ádmin", "password": "bad", "csrf_token": token}).status_code
             for _ in range(3)]
    assert pages == [401] * 3 and _fail(anon, "admin", 2) == [401] * 2
    resp = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 429


# --- sessions end for good (issue 7, item 7) --------------------------------------------------------

def _page_login(app, username, password=PASSWORD):
    client = app.test_client()
    token = csrf_from(client.get("/login").text)
    resp = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert resp.status_code == 302
    return client


def _signed_in(client):
    return client.get("/").status_code == 200


def test_a_cookie_copied_before_logout_is_dead_after_it(app, make_staff):
    make_staff("alice")
    browser = _page_login(app, "alice")
    copied = browser.get_cookie("session").value
    browser.post("/logout", data={"csrf_token": csrf_from(browser.get("/").text)})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/").status_code == 302 and not _signed_in(browser)


def test_the_session_is_stored_only_as_a_hash(app, make_staff):
    from platform_admin.auth.models import StaffSession

    make_staff("alice")
    browser = _page_login(app, "alice")
    with browser.session_transaction() as sess:
        key = sess["staff_session"]
    with app.app_context():
        row = db.session.scalars(select(StaffSession)).one()
        assert row.key_hash == hash_token(key) and key not in row.key_hash
        assert row.expires_at - row.created_at == app.config["PERMANENT_SESSION_LIFETIME"]


def test_an_expired_session_signs_nobody_in(app, make_staff):
    from platform_admin.auth.models import StaffSession

    make_staff("alice")
    browser = _page_login(app, "alice")
    with app.app_context():
        row = db.session.scalars(select(StaffSession)).one()
        row.expires_at = row.created_at - timedelta(seconds=1)
        db.session.commit()
    assert not _signed_in(browser)


def _token(anon, username, password=PASSWORD):
    resp = anon.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 200, resp.json
    return resp.json["token"]


def test_resetting_a_password_signs_the_account_out_everywhere(app, api_as, anon, make_staff):
    from tests.conftest import Api

    bob_id = make_staff("bob")
    browser, token = _page_login(app, "bob"), _token(anon, "bob")
    assert _signed_in(browser)
    resp = api_as("admin").patch(f"/api/v1/staff/{bob_id}", json={"password": "Brand-new-pw-7"})
    assert resp.status_code == 200
    assert not _signed_in(browser)
    assert Api(app.test_client(), token).get("/api/v1/me").status_code == 401
    assert _signed_in(_page_login(app, "bob", "Brand-new-pw-7"))


def test_changing_ones_own_password_keeps_only_this_sign_in(app, anon, make_staff):
    from tests.conftest import Api

    me = make_staff("root", roles=("admin",))
    here, elsewhere = Api(app.test_client(), _token(anon, "root")), Api(app.test_client(), _token(anon, "root"))
    other_browser = _page_login(app, "root")
    assert here.patch(f"/api/v1/staff/{me}", json={"password": "Brand-new-pw-7"}).status_code == 200
    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    assert not _signed_in(other_browser)


def test_changing_ones_own_password_on_the_page_keeps_that_browser(app, make_staff):
    me = make_staff("root", roles=("admin",))
    browser, other_browser = _page_login(app, "root"), _page_login(app, "root")
    form = browser.get(f"/staff/{me}/edit").text
    resp = browser.post(f"/staff/{me}/edit", data={"csrf_token": csrf_from(form), "roles": ["admin"], "is_active": "y",
                                                   "password": "Brand-new-pw-7"})
    assert resp.status_code == 302
    assert _signed_in(browser) and not _signed_in(other_browser)


def test_deactivating_staff_ends_their_sessions(app, api_as, make_staff):
    bob_id = make_staff("bob")
    browser = _page_login(app, "bob")
    assert api_as("admin").patch(f"/api/v1/staff/{bob_id}", json={"is_active": False}).status_code == 200
    with app.app_context():
        from platform_admin.auth.models import StaffSession

        assert db.session.scalars(select(StaffSession.revoked_at)).one() is not None
    assert not _signed_in(browser)


def test_a_throttled_page_whose_store_fails_at_that_moment_still_answers_429(app, make_staff, monkeypatch):
    """The wait is read from the limiter's store; if that read fails, the page says "a while" instead of failing."""
    from flask_limiter._extension import RequestLimit

    make_staff("alice")
    client = app.test_client()
    token = csrf_from(client.get("/login").text)
    for _ in range(5):
        client.post("/login", data={"username": "alice", "password": "bad", "csrf_token": token})

    def store_down(self):
        raise ConnectionError("store down")

    from extensions import limiter

    # the limiter's own header hook reads it too, and then marks its store dead: this test's only, restored after
    monkeypatch.setattr(limiter, "_storage_dead", limiter._storage_dead)
    monkeypatch.setattr(RequestLimit, "reset_at", property(store_down))
    throttled = client.post("/login", data={"username": "alice", "password": "bad", "csrf_token": token})
    assert throttled.status_code == 429 and "尝试次数过多" in throttled.text and "分钟后再试" not in throttled.text
