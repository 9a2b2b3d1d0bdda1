"""Support staff acting as a tenant user: single use, short-lived, one tenant only, audited in the control
plane and shown to the tenant's administrators."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import csrf_from


def path_of(url):
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def grant(api, tenant, username="admin", reason="客户反馈无法导出报表"):
    resp = api.post(f"/api/v1/enterprises/{tenant.id}/impersonations", json={"username": username, "reason": reason})
    assert resp.status_code == 201, resp.json
    return resp.json


def test_support_enters_as_the_user_and_the_tenant_sees_it(app, client, tenants, api_as):
    a = tenants[0]
    ops = api_as("ops", username="support-li")
    body = grant(ops, a)
    assert f"/t/{a.code}/impersonate?token=" in body["url"] and body["expires_at"]

    resp = client.get(path_of(body["url"]))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/t/{a.code}/")
    home = client.get(f"/t/{a.code}/")
    assert home.status_code == 200
    assert "support-li" in home.text and "客户反馈无法导出报表" in home.text  # banner and the admin's own list

    # recorded in the tenant's own database ...
    engine = a.engine()
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT staff_username, reason FROM sys_impersonation")).all()
    engine.dispose()
    assert rows == [("support-li", "客户反馈无法导出报表")]
    # ... and in the control plane's audit log
    from platform_admin.audit.models import AuditEvent

    with app.app_context():
        used = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "impersonation_used")).all()
        assert len(used) == 1 and used[0].record_type == "impersonation_grant"
        assert used[0].after["used_at"] and "token_hash" not in (used[0].after or {})


def test_a_support_link_works_once(client, tenants, api_as, app):
    a = tenants[0]
    url = path_of(grant(api_as("ops"), a)["url"])
    assert app.test_client().get(url).status_code == 302
    again = client.get(url)
    assert again.status_code == 403 and "该支持链接无效、已使用或已过期" in again.text


def test_a_support_link_expires(app, client, tenants, api_as):
    from common.timeutil import utcnow
    from datasource_registry.models import ImpersonationGrant

    url = path_of(grant(api_as("ops"), tenants[0])["url"])
    with app.app_context(), db.engine.begin() as conn:  # two minutes and a second later
        conn.execute(sa.update(ImpersonationGrant.__table__).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get(url).status_code == 403
    assert client.get(f"/t/{tenants[0].code}/").status_code == 302  # not signed in


def test_a_support_link_is_for_one_tenant_only(client, tenants, api_as):
    a, b = tenants[0], tenants[1]
    url = path_of(grant(api_as("ops"), a)["url"])
    stolen = url.replace(f"/t/{a.code}/", f"/t/{b.code}/")
    assert client.get(stolen).status_code == 403
    assert client.get(f"/t/{b.code}/").status_code == 302
    # and the refused attempt did not burn the pass for the tenant it was made for
    assert client.get(url).status_code == 302


@pytest.mark.parametrize("token", ["", "nonsense", "a" * 43])
def test_a_made_up_support_token_is_refused(client, tenants, token):
    resp = client.get(f"/t/{tenants[0].code}/impersonate?token={token}")
    assert resp.status_code == 403


def set_admin_status(tenant, status):
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_user SET status = :s WHERE username = 'admin'"), {"s": status})
    engine.dispose()


@pytest.mark.parametrize("username, disabled", [("nobody", False), ("admin", True)])
def test_no_pass_for_a_user_the_tenant_does_not_have_or_has_disabled(app, tenants, api_as, username, disabled):
    from datasource_registry.models import ImpersonationGrant

    if disabled:
        set_admin_status(tenants[0], 0)
    resp = api_as("ops").post(f"/api/v1/enterprises/{tenants[0].id}/impersonations",
                              json={"username": username, "reason": "r"})
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == {"username"}
    with app.app_context():
        assert db.session.scalars(sa.select(ImpersonationGrant)).first() is None


def test_a_user_disabled_after_the_grant_is_refused_at_the_door(client, tenants, api_as):
    url = path_of(grant(api_as("ops"), tenants[0])["url"])
    set_admin_status(tenants[0], 0)
    assert client.get(url).status_code == 403


def test_the_pass_names_the_user_as_the_tenant_spells_it(app, tenants, api_as):
    from datasource_registry.models import ImpersonationGrant

    grant(api_as("ops"), tenants[0], username=" admin")
    with app.app_context():
        assert db.session.scalars(sa.select(ImpersonationGrant.username)).one() == "admin"


def test_no_pass_during_maintenance(app, tenants, api_as):
    ops = api_as("ops")
    assert ops.post(f"/api/v1/enterprises/{tenants[0].id}/suspend", json={"message": "升级中"}).status_code == 200
    resp = ops.post(f"/api/v1/enterprises/{tenants[0].id}/impersonations", json={"username": "admin", "reason": "r"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "tenant_suspended"
    assert ops.post(f"/api/v1/enterprises/{tenants[0].id}/resume").status_code == 200
    assert grant(ops, tenants[0])["url"]


def test_the_banner_names_the_staff_member_and_the_user(app, client, tenants, api_as):
    from platform_admin.auth.models import StaffUser

    a = tenants[0]
    ops = api_as("ops", username="support-li")
    with app.app_context():
        db.session.scalars(sa.select(StaffUser).where(StaffUser.username == "support-li")).one().full_name = "李娜"
        db.session.commit()
    client.get(path_of(grant(ops, a)["url"]))
    home = client.get(f"/t/{a.code}/").text
    banner = re.search(r'<div class="alert alert-warning banner">(.*?)</div>', home).group(1)
    assert "李娜 (support-li)" in banner and "陈经理 (admin)" in banner


def test_an_unreachable_tenant_database_gives_no_pass_and_no_500(app, tenants, api_as):
    from datasource_registry.models import Datasource

    with app.app_context(), db.engine.begin() as conn:  # below the ORM's immutability guard
        conn.execute(sa.update(Datasource.__table__).where(Datasource.id == tenants[0].datasource_id)
                     .values(port=1))  # nothing listens there
    resp = api_as("ops").post(f"/api/v1/enterprises/{tenants[0].id}/impersonations",
                              json={"username": "admin", "reason": "r"})
    assert resp.status_code == 503 and resp.json["error"]["code"] == "tenant_unavailable"


def test_a_closed_tenant_cannot_be_entered(tenants, api_as):
    ops = api_as("ops")
    ops.post(f"/api/v1/enterprises/{tenants[0].id}/close")
    resp = ops.post(f"/api/v1/enterprises/{tenants[0].id}/impersonations", json={"username": "admin", "reason": "x"})
    assert resp.status_code == 409 and resp.json["error"]["code"] == "tenant_not_open"


@pytest.mark.parametrize("body, fields", [({}, {"username", "reason"}), ({"username": "admin"}, {"reason"}),
                                          ({"username": " ", "reason": "r"}, {"username"}),
                                          ({"username": "admin", "reason": "r" * 256}, {"reason"})])
def test_a_support_pass_needs_a_user_and_a_reason(tenants, api_as, body, fields):
    resp = api_as("ops").post(f"/api/v1/enterprises/{tenants[0].id}/impersonations", json=body)
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == fields


def test_only_ops_and_admin_hand_out_support_passes(tenants, api_as, anon):
    body = {"username": "admin", "reason": "r"}
    assert api_as("devops").post(f"/api/v1/enterprises/{tenants[0].id}/impersonations", json=body).status_code == 403
    assert anon.post(f"/api/v1/enterprises/{tenants[0].id}/impersonations", json=body).status_code == 401
    assert api_as("admin").post(f"/api/v1/enterprises/{tenants[0].id}/impersonations", json=body).status_code == 201


def test_the_pass_is_stored_only_as_a_hash(app, tenants, api_as):
    from datasource_registry.models import ImpersonationGrant

    raw = grant(api_as("ops"), tenants[0])["url"].split("token=")[1]
    with app.app_context():
        row = db.session.scalars(sa.select(ImpersonationGrant)).one()
        assert raw not in (row.token_hash or "") and len(row.token_hash) == 64
        assert row.expires_at - row.created_at <= timedelta(minutes=2, seconds=5)


def test_support_sign_in_from_the_enterprise_page(app, tenants, login_page):
    a = tenants[0]
    browser = login_page("ops")
    detail = browser.get(f"/enterprises/{a.id}")
    assert 'id="impersonate-form"' in detail.text
    missing = browser.post(f"/enterprises/{a.id}/impersonate", data={"csrf_token": csrf_from(detail.text),
                                                                     "username": "admin", "reason": ""})
    assert missing.status_code == 422 and "has-error" in missing.text
    resp = browser.post(f"/enterprises/{a.id}/impersonate", data={"csrf_token": csrf_from(detail.text),
                                                                  "username": "admin", "reason": "电话支持"})
    assert resp.status_code == 302 and f"/t/{a.code}/impersonate?token=" in resp.headers["Location"]
    entered = browser.get(path_of(resp.headers["Location"]), follow_redirects=True)
    assert entered.status_code == 200 and "电话支持" in entered.text


def test_devops_do_not_see_the_support_form(tenants, login_page):
    page = login_page("devops").get(f"/enterprises/{tenants[0].id}")
    assert page.status_code == 200 and 'id="impersonate-form"' not in page.text and 'id="suspend-form"' in page.text


def test_the_support_link_ignores_the_host_header(app, tenants, api_as):
    resp = api_as("ops").post(f"/api/v1/enterprises/{tenants[0].id}/impersonations",
                              json={"username": "admin", "reason": "r"}, headers={"Host": "attacker.example"})
    assert resp.status_code == 201
    assert resp.json["url"].startswith(f"{app.config['PUBLIC_BASE_URL']}/t/{tenants[0].code}/impersonate?token=")
    assert "attacker.example" not in resp.json["url"]


def test_the_support_form_names_an_unknown_user(tenants, login_page):
    browser = login_page("ops")
    detail = browser.get(f"/enterprises/{tenants[0].id}")
    resp = browser.post(f"/enterprises/{tenants[0].id}/impersonate", data={"csrf_token": csrf_from(detail.text),
                                                                           "username": "nobody", "reason": "电话支持"})
    assert resp.status_code == 422 and 'class="field has-error" id="field-username"' in resp.text
