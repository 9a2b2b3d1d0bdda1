"""The permission matrix, cell by cell: every endpoint x every role, over real HTTP requests.

The expected table is written out here from shared/API.md, independently of
``platform_admin.permissions.MATRIX``, so a wrong entry there fails a cell here.
"""

import pytest

from platform_admin.permissions import MATRIX, is_platform_endpoint

A, O, D = "admin", "ops", "devops"
ANY = {A, O, D}
OPS = {A, O}

# (method, path, roles allowed); "public" means anyone, signed in or not.
API_CELLS = [
    ("POST", "/api/v1/auth/token", "public"),
    ("GET", "/api/v1/openapi.json", "public"),
    ("POST", "/api/v1/public/sms-codes", "public"),
    ("POST", "/api/v1/public/applications", "public"),
    ("GET", "/api/v1/me", ANY),
    ("DELETE", "/api/v1/auth/token", ANY),
    ("GET", "/api/v1/regions", ANY),
    ("GET", "/api/v1/staff", {A}),
    ("POST", "/api/v1/staff", {A}),
    ("PATCH", "/api/v1/staff/999999", {A}),
    ("GET", "/api/v1/applications", OPS),
    ("POST", "/api/v1/applications", OPS),
    ("GET", "/api/v1/applications/999999", OPS),
    ("PATCH", "/api/v1/applications/999999", OPS),
    ("GET", "/api/v1/applications/999999/follow-ups", OPS),
    ("POST", "/api/v1/applications/999999/follow-ups", OPS),
    ("POST", "/api/v1/applications/999999/convert", OPS),
    ("GET", "/api/v1/follow-ups/due", OPS),
    ("GET", "/api/v1/enterprises", OPS),
    ("POST", "/api/v1/enterprises", OPS),
    ("GET", "/api/v1/enterprises/999999", OPS),
    ("PATCH", "/api/v1/enterprises/999999", OPS),
    ("PUT", "/api/v1/enterprises/999999/license-scan", OPS),
    ("GET", "/api/v1/enterprises/999999/completeness", ANY),
    ("POST", "/api/v1/enterprises/999999/open", OPS),
    ("POST", "/api/v1/enterprises/999999/close", OPS),
    ("POST", "/api/v1/enterprises/999999/suspend", ANY),
    ("POST", "/api/v1/enterprises/999999/resume", ANY),
    ("GET", "/api/v1/enterprises/999999/contracts", OPS),
    ("POST", "/api/v1/enterprises/999999/contracts", OPS),
    ("GET", "/api/v1/contracts/999999", OPS),
    ("PATCH", "/api/v1/contracts/999999", OPS),
    ("PUT", "/api/v1/contracts/999999/scan", OPS),
    ("PUT", "/api/v1/enterprises/999999/datasource", {A, D}),
    ("GET", "/api/v1/enterprises/999999/datasource", {A, D}),
    ("DELETE", "/api/v1/enterprises/999999/datasource", {A, D}),
    ("POST", "/api/v1/enterprises/999999/datasource/implementation-status", {A, D}),
    ("POST", "/api/v1/enterprises/999999/datasource/provision", {A, D}),
    ("POST", "/api/v1/enterprises/999999/datasource/check", {A, D}),
    ("POST", "/api/v1/enterprises/999999/datasource/test", {A, D}),
    ("POST", "/api/v1/enterprises/999999/impersonations", OPS),
    ("GET", "/api/v1/jobs/999999", ANY),
    ("GET", "/api/v1/registry", {A, D}),
    ("GET", "/api/v1/fleet-runs", {A, D}),
    ("POST", "/api/v1/fleet-runs", {A, D}),
    ("GET", "/api/v1/fleet-runs/999999", {A, D}),
    ("POST", "/api/v1/fleet-runs/999999/resume", {A, D}),
    ("GET", "/api/v1/scheduled-runs", {A, D}),
    ("GET", "/api/v1/scheduled-runs/999999", {A, D}),
    ("GET", "/api/v1/audit-events", {A}),
    ("GET", "/api/v1/outbox", {A}),
]

PAGE_CELLS = [
    ("GET", "/", ANY),
    ("GET", "/applications/", OPS),
    ("GET", "/applications/new", OPS),
    ("GET", "/applications/follow-ups", OPS),
    ("GET", "/applications/999999", OPS),
    ("GET", "/applications/999999/edit", OPS),
    ("POST", "/applications/999999/follow-ups", OPS),
    ("POST", "/applications/999999/convert", OPS),
    ("GET", "/enterprises/", ANY),
    ("GET", "/enterprises/new", OPS),
    ("GET", "/enterprises/999999", ANY),
    ("GET", "/enterprises/999999/edit", OPS),
    ("POST", "/enterprises/999999/open", OPS),
    ("POST", "/enterprises/999999/close", OPS),
    ("POST", "/enterprises/999999/suspend", ANY),
    ("POST", "/enterprises/999999/resume", ANY),
    ("POST", "/enterprises/999999/impersonate", OPS),
    ("GET", "/contracts/", OPS),
    ("GET", "/enterprises/999999/contracts/new", OPS),
    ("GET", "/contracts/999999", OPS),
    ("GET", "/contracts/999999/edit", OPS),
    ("GET", "/enterprises/999999/datasource/new", {A, D}),
    ("POST", "/enterprises/999999/datasource/provision", {A, D}),
    ("POST", "/enterprises/999999/datasource/check", {A, D}),
    ("POST", "/enterprises/999999/datasource/status/implementing", {A, D}),
    ("POST", "/enterprises/999999/datasource/delete", {A, D}),
    ("GET", "/enterprises/999999/datasource/force-delete", {A}),
    ("POST", "/enterprises/999999/datasource/force-delete", {A}),
    ("GET", "/fleet/", {A, D}),
    ("POST", "/fleet/", {A, D}),
    ("GET", "/fleet/999999", {A, D}),
    ("POST", "/fleet/999999/resume", {A, D}),
    ("GET", "/schedule/", {A, D}),
    ("GET", "/schedule/tenants/999999", {A, D}),
    ("GET", "/staff/", {A}),
    ("GET", "/staff/new", {A}),
    ("GET", "/staff/999999/edit", {A}),
    ("GET", "/audit/", {A}),
    ("GET", "/outbox/", {A}),
    ("GET", "/registry/", {A, D}),
    ("GET", "/files/doesnotexist", ANY),
]

ROLES = [A, O, D, None]


def _cells(table):
    for method, path, allowed in table:
        for role in ROLES:
            yield pytest.param(method, path, allowed, role, id=f"{method} {path} as {role or 'anonymous'}")


@pytest.mark.parametrize(("method", "path", "allowed", "role"), list(_cells(API_CELLS)))
def test_api_permission_cell(api_as, anon, method, path, allowed, role):
    client = api_as(role) if role else anon
    body = {} if method in ("POST", "PATCH", "PUT") else None
    resp = client.open(method, path, json=body)
    assert resp.status_code != 500
    if allowed == "public" or (role and role in allowed):
        assert resp.status_code not in (401, 403), resp.json
    elif role is None:
        assert resp.status_code == 401
        assert resp.json["error"]["code"] == "not_authenticated"
    else:
        assert resp.status_code == 403
        assert resp.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "allowed", "role"), list(_cells(PAGE_CELLS)))
def test_page_permission_cell(app, login_page, method, path, allowed, role):
    client = login_page(role) if role else app.test_client()
    app.config["WTF_CSRF_ENABLED"] = False  # this test is about roles; CSRF has its own tests
    try:
        resp = client.open(path, method=method)
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert resp.status_code != 500
    if role is None:
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    elif role in allowed:
        assert resp.status_code not in (401, 403)
        assert "/login" not in resp.headers.get("Location", "")
    else:
        assert resp.status_code == 403


def test_every_platform_endpoint_is_in_the_matrix(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if is_platform_endpoint(r.endpoint)}
    assert endpoints <= set(MATRIX), f"endpoints with no permission rule: {sorted(endpoints - set(MATRIX))}"


def test_every_api_route_has_a_cell_here(app):
    """A new API route must be added to the expected table above, so its permissions get tested."""
    tested = {(m, p.replace("999999", "ID")) for m, p, _ in API_CELLS}
    import re

    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<[^>]+>", "ID", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in tested, f"untested API route {method} {path}"


def test_a_session_cookie_does_not_authorise_the_api(login_page):
    client = login_page("admin")
    assert client.get("/").status_code == 200
    resp = client.get("/api/v1/staff")
    assert resp.status_code == 401


@pytest.mark.parametrize("role", [A, O, D])
def test_the_dashboard_links_only_to_pages_the_role_may_open(app, login_page, role):
    """Devops saw ops' new applications, follow-ups and expiring contracts on the dashboard, each a link that
    answered 403: a figure or panel is shown only to those who may open what it links to."""
    import re

    from tests.factories import ApplicationFactory, ContractFactory

    with app.app_context():
        ApplicationFactory(name="司马相如", status="new")
        ContractFactory()
    page = login_page(role)
    home = page.get("/")
    assert home.status_code == 200
    main = home.text.split("<main", 1)[1]
    links = set(re.findall(r'href="(/[^"]*)"', main))
    assert links, "the dashboard links somewhere"
    for href in links:
        assert page.get(href).status_code == 200, (role, href)
    assert ("司马相如" in main) == (role != D)
