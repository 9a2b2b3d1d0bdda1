"""Set-password links (issue 7, item 12): provisioning gives the first administrator no password but a
single-use, expiring link, sent as an absolute URL; the page (and its API twin) sets the password, burns
the link and signs the user in. The same service serves resets."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from extensions import db
from tests.conftest import csrf_from
from tests.tenant_runtime.test_routing import bearer

NEW_PASSWORD = "Chosen-Passw0rd-1"


def issue_link(app, tenant, username="admin", ttl=timedelta(hours=1)):
    """A reset link for ``username``, issued by the reusable service (as the CRM's reset will)."""
    from tenant_runtime import password_links

    engine = tenant.engine()
    with app.app_context(), engine.begin() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM sys_user WHERE username = :u"), {"u": username}).scalar()
        raw = password_links.issue(conn, user_id, "reset", ttl)
    engine.dispose()
    return raw


def link_path(tenant, raw):
    return f"/t/{tenant.code}/set-password?token={raw}"


def choose(client, path, password=NEW_PASSWORD, confirm=None):
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(path, data={"csrf_token": csrf_from(page.text), "token": path.split("token=")[1],
                                   "new_password": password, "new_password_confirm": confirm or password})


def sign_in(client, tenant, password):
    return client.post(f"/t/{tenant.code}/api/v1/auth/token", json={"username": "admin", "password": password})


def test_provisioning_sends_an_absolute_single_use_link_and_no_password(app, api_as, tenant_factory):
    from platform_admin.enterprises.models import Enterprise
    from platform_admin.messaging.models import OutboxMessage
    from tenant_runtime.auth import NO_PASSWORD, hash_token

    ent_id = tenant_factory()
    assert api_as("ops").post(f"/api/v1/enterprises/{ent_id}/open").status_code == 200
    with app.app_context():
        enterprise = db.session.get(Enterprise, ent_id)
        code, database = enterprise.tenant_code, enterprise.datasource.database
        messages = db.session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "tenant_first_login")).all()
    assert sorted(m.channel for m in messages) == ["email", "sms"]
    base = app.config["PUBLIC_BASE_URL"]
    urls = {re.search(r"https?://[^\s()（）]+", m.body).group(0) for m in messages}
    assert len(urls) == 1
    url = urls.pop()
    assert url.startswith(f"{base}/t/{code}/set-password?token=")  # absolute: a phone can open it
    assert all("admin" in m.body for m in messages)

    from tests.conftest import tenant_engine

    engine = tenant_engine(database)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM sys_password_token")).scalars().all()
        admin_hash = conn.execute(sa.text("SELECT password_hash FROM sys_user WHERE username = 'admin'")).scalar()
    engine.dispose()
    token = url.split("token=")[1]
    assert stored == [hash_token(token)]  # only the hash is kept
    assert admin_hash == NO_PASSWORD  # there is no password to leak, in the outbox or anywhere

    client = app.test_client()
    path = urlsplit(url).path + "?" + urlsplit(url).query
    page = client.get(path)
    assert page.status_code == 200 and "admin" in page.text
    weak = choose(client, path, "abcdefghijkl")
    assert weak.status_code == 422 and 'class="field has-error" id="field-new_password"' in weak.text
    done = choose(client, path)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/t/{code}/")
    assert client.get(f"/t/{code}/").status_code == 200  # signed in
    assert app.test_client().get(path).status_code == 404  # used up
    tenant_api = app.test_client().post(f"/t/{code}/api/v1/auth/token",
                                        json={"username": "admin", "password": NEW_PASSWORD})
    assert tenant_api.status_code == 200


def test_a_link_works_once(app, client, tenants):
    a = tenants[0]
    path = link_path(a, issue_link(app, a))
    assert choose(client, path).status_code == 302
    again = app.test_client().get(path)
    assert again.status_code == 404 and "该链接无效" in again.text


def test_setting_the_password_signs_out_every_other_session_and_token(app, client, tenants):
    from tests.tenant_runtime.test_routing import token_for

    a = tenants[0]
    token = token_for(client, a)
    assert choose(app.test_client(), link_path(a, issue_link(app, a))).status_code == 302
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(token)).status_code == 401
    assert sign_in(client, a, a.admin_password).status_code == 401
    assert sign_in(client, a, NEW_PASSWORD).status_code == 200


def test_an_expired_link_is_refused(app, client, tenants):
    a = tenants[0]
    path = link_path(a, issue_link(app, a, ttl=timedelta(seconds=-1)))
    assert client.get(path).status_code == 404
    assert sign_in(client, a, a.admin_password).status_code == 200


def test_a_new_link_burns_the_earlier_ones(app, client, tenants):
    a = tenants[0]
    first = issue_link(app, a)
    second = issue_link(app, a)
    assert client.get(link_path(a, first)).status_code == 404
    assert client.get(link_path(a, second)).status_code == 200


def test_a_link_is_for_one_tenant_only(app, client, tenants):
    a, b = tenants[0], tenants[1]
    raw = issue_link(app, a)
    assert client.get(link_path(b, raw)).status_code == 404
    assert client.get(link_path(a, raw)).status_code == 200


def test_a_link_of_a_disabled_user_is_refused(app, client, tenants):
    a = tenants[0]
    raw = issue_link(app, a)
    engine = a.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_user SET status = 0 WHERE username = 'admin'"))
    engine.dispose()
    assert client.get(link_path(a, raw)).status_code == 404


def test_the_api_twin_sets_the_password_and_signs_in(app, client, tenants):
    a = tenants[0]
    raw = issue_link(app, a)
    resp = client.post(f"/t/{a.code}/api/v1/auth/set-password", json={"token": raw, "new_password": NEW_PASSWORD})
    assert resp.status_code == 200 and resp.json["user"]["username"] == "admin"
    assert client.get(f"/t/{a.code}/api/v1/me", headers=bearer(resp.json["token"])).status_code == 200
    again = client.post(f"/t/{a.code}/api/v1/auth/set-password", json={"token": raw, "new_password": NEW_PASSWORD})
    assert again.status_code == 422 and set(again.json["error"]["fields"]) == {"token"}


@pytest.mark.parametrize("body, fields", [
    ({}, {"token", "new_password"}),
    ({"token": "x"}, {"new_password"}),
    ({"token": None, "new_password": "short1"}, {"new_password"}),
    ({"token": "made-up", "new_password": NEW_PASSWORD}, {"token"}),
    ({"token": "", "new_password": ["x"]}, {"token", "new_password"}),
])
def test_the_api_twin_names_what_is_wrong_and_changes_nothing(app, client, tenants, body, fields):
    a = tenants[0]
    raw = issue_link(app, a)
    body = {k: (raw if v is None else v) for k, v in body.items()}
    resp = client.post(f"/t/{a.code}/api/v1/auth/set-password", json=body)
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == fields
    assert sign_in(client, a, a.admin_password).status_code == 200


def test_wrong_links_are_throttled_per_ip(app, client, tenants, monkeypatch):
    monkeypatch.setitem(app.config, "TENANT_LOGIN_LIMIT_PER_IP", "3 per 15 minutes")
    a = tenants[0]
    statuses = [client.post(f"/t/{a.code}/api/v1/auth/set-password",
                            json={"token": f"guess-{n}", "new_password": NEW_PASSWORD}).status_code for n in range(4)]
    assert statuses == [422] * 3 + [429]


def test_reprovisioning_resends_a_lapsed_link_and_nothing_else(app, api_as, tenant_factory):
    from platform_admin.enterprises.models import Enterprise
    from platform_admin.messaging.models import OutboxMessage
    from tests.conftest import tenant_engine

    ent_id, devops = tenant_factory(), api_as("devops")
    with app.app_context():
        database = db.session.get(Enterprise, ent_id).datasource.database

    def provision_and_count():
        assert devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision").status_code == 202
        with app.app_context():
            return len(db.session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "tenant_first_login",
                                                                      OutboxMessage.channel == "sms")).all())

    assert provision_and_count() == 1  # the link is still good: nothing new
    engine = tenant_engine(database)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_password_token SET expires_at = created_at"))
    assert provision_and_count() == 2  # lapsed unused: a fresh one
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_user SET password_hash = 'pbkdf2:sha256:1$x$y' WHERE username = 'admin'"))
        conn.execute(sa.text("UPDATE sys_password_token SET expires_at = created_at"))
    engine.dispose()
    assert provision_and_count() == 2  # a password is set: the administrator is left alone
