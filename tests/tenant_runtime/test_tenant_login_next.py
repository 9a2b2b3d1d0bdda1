"""Signing in returns to the page that asked for it (a link from an SMS, a session that ran out), never to
another site or another company's pages."""

from urllib.parse import urlencode

import pytest

from tests.conftest import csrf_from
from tests.tenant_runtime.crm import CONTROL_ON_MARIADB

pytestmark = CONTROL_ON_MARIADB


def _sign_in(app, tenant, target):
    client = app.test_client()
    asked = client.get(target) if target.startswith(f"/t/{tenant.code}/") else None
    login = asked.headers["Location"] if asked is not None else f"/t/{tenant.code}/login?{urlencode({'next': target})}"
    form = client.get(login)
    return client.post(login, data={"username": "admin", "password": tenant.admin_password,
                                    "csrf_token": csrf_from(form.text)})


def test_signing_in_returns_to_the_page_that_asked(app, tenants):
    tenant = tenants[0]
    target = f"/t/{tenant.code}/customers/?level=important"
    resp = _sign_in(app, tenant, target)
    assert resp.status_code == 302 and resp.headers["Location"] == target


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/x",
                                    "/admin/", "/t/{other}/customers/"])
def test_signing_in_never_leaves_the_company(app, tenants, target):
    tenant, other = tenants[0], tenants[1]
    resp = _sign_in(app, tenant, target.format(other=other.code))
    assert resp.status_code == 302 and resp.headers["Location"] == f"/t/{tenant.code}/"
