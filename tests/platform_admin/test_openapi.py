"""The OpenAPI documents say what the API really takes and answers (shared/API.md; issue 7 item 18).

tests/test_api_contract.py calls every operation with generated input against both documents; these
tests pin the cases the issue named and the document's coverage, on both backends."""

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

TENANT_ACCOUNT_BODY = {"type": "sqlite", "username": "tenant", "password": "Tenant#Pw1x", "max_connections": 3,
                       "min_connections": 1}


def rule_path(rule, prefix=""):
    return rule.rule[len(prefix):].replace("<int:", "<").replace("<", "{").replace(">", "}")


def operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def success_statuses(spec, method, path):
    return {int(status) for status in spec["paths"][path][method.lower()]["responses"] if status.startswith("2")}


def assert_matches_documented_schema(spec, method, path, resp):
    """The answer's status is the documented success status and its body matches the documented schema."""
    assert success_statuses(spec, method, path) == {resp.status_code}, (method, path, resp.status_code)
    if resp.status_code == 204:
        return
    schema = spec["paths"][path][method.lower()]["responses"][str(resp.status_code)]["content"]["application/json"]
    OAS30Validator({**schema["schema"], "components": spec["components"]}).validate(resp.json)


@pytest.fixture
def spec(anon):
    resp = anon.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    return resp.json


@pytest.fixture
def tenant_spec(client, tenants):
    resp = client.get(f"/t/{tenants[0].code}/api/v1/openapi.json")
    assert resp.status_code == 200
    return resp.json


def test_openapi_document_is_valid_and_covers_every_api_route(app, spec):
    validate(spec)
    documented = {(method, path) for method, path, _op in operations(spec)}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, rule_path(rule)) in documented, f"declare {rule.endpoint} with @endpoint"


def test_tenant_document_is_valid_and_covers_every_tenant_api_route(app, tenant_spec, tenants):
    validate(tenant_spec)
    assert tenant_spec["servers"][0]["variables"]["tenant_code"]["default"] == tenants[0].code
    documented = {(method, path) for method, path, _op in operations(tenant_spec)}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("tenant_api."):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, rule_path(rule, "/t/<tenant_code>/api/v1")) in documented, rule.endpoint


def test_every_success_answer_has_a_schema(spec, tenant_spec):
    for document in (spec, tenant_spec):
        for method, path, op in operations(document):
            successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
            # one success answer; an import also answers 202 when a job takes the file (io/import_jobs.py)
            assert len(successes) == 1 or set(successes) == {"200", "202"}, (method, path)
            for status, response in successes.items():
                if status == "204":
                    continue
                if "application/json" not in response["content"]:  # a download: a file of the listed types
                    assert all(c["schema"] == {"type": "string", "format": "binary"}
                               for c in response["content"].values()), (method, path)
                    continue
                assert response["content"]["application/json"]["schema"], (method, path)
            assert "default" not in op["responses"], (method, path)  # each error status is listed


def test_request_bodies_come_from_the_validating_forms(spec):
    contract = spec["paths"]["/api/v1/enterprises/{ent_id}/contracts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"bank_name", "amount", "start_date", "end_date", "community_count"} <= set(contract["required"])
    assert contract["properties"]["community_count"]["type"] == "integer"
    assert contract["properties"]["community_count"]["minimum"] == 1  # the form's NumberRange
    assert contract["properties"]["start_date"]["format"] == "date"
    patch = spec["paths"]["/api/v1/contracts/{contract_id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in patch  # laid over the current values
    assert spec["paths"]["/api/v1/staff"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/api/v1/auth/token"]["post"]


def test_datasource_and_implementation_status_bodies_are_documented(spec):
    body = spec["paths"]["/api/v1/enterprises/{ent_id}/datasource"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"username", "password", "max_connections", "min_connections"} <= set(body["required"])
    assert body["properties"]["type"]["enum"] == ["mysql", "sqlite"]
    assert body["properties"]["max_connections"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 10}
    port = body["properties"]["port"]  # what the server refuses, the document says
    assert (port["minimum"], port["maximum"]) == (1, 65535), port
    status = spec["paths"]["/api/v1/enterprises/{ent_id}/datasource/implementation-status"]["post"]["requestBody"]
    assert status["content"]["application/json"]["schema"]["required"] == ["status"]
    assert status["content"]["application/json"]["schema"]["properties"]["status"]["enum"] == ["implementing", "live"]
    answer = spec["components"]["schemas"]["Datasource"]["properties"]
    assert "password" not in answer and "password_encrypted" not in answer


def test_tenant_login_body_is_documented(tenant_spec):
    login = tenant_spec["paths"]["/auth/token"]["post"]
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["username", "password"]
    assert set(login["responses"]) >= {"200", "401", "422", "429"}
    assert tenant_spec["paths"]["/me"]["get"]["security"] == [{"bearer": []}]


def test_only_reads_take_a_page_position(spec, tenant_spec):
    """PUT /pool/rules answers the list but takes no limit or cursor, and its empty list is allowed (it
    deletes every rule) rather than documented as minItems 1."""
    for document in (spec, tenant_spec):
        for method, path, op in operations(document):
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
            assert method == "GET" or not names & {"limit", "cursor"}, (method, path)
    put = tenant_spec["paths"]["/pool/rules"]["put"]
    rules = put["requestBody"]["content"]["application/json"]["schema"]["properties"]["rules"]
    assert rules["minItems"] == 0 and "required" not in rules["items"]


def test_record_ids_in_bodies_are_strings_and_required_where_the_form_requires_them(tenant_spec):
    def body(method, path):
        return tenant_spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]

    contact = body("post", "/contacts")
    assert "customer_id" in contact["required"] and contact["properties"]["customer_id"]["type"] == "string"
    follow_up = body("post", "/follow-ups")
    assert "customer_id" not in follow_up.get("required", [])
    assert "Required unless lead_id is given." in follow_up["properties"]["customer_id"]["description"]
    assert follow_up["properties"]["lead_id"]["type"] == "string"
    saved = tenant_spec["paths"]["/saved-views"]["get"]["parameters"]
    assert {"name": "resource", "in": "query"}.items() <= next(p for p in saved if p["name"] == "resource").items()
    lists = body("post", "/saved-views")["properties"]["resource"]["enum"]  # what a 422 would otherwise reveal
    assert {"customers", "leads", "follow-ups"} <= set(lists), lists


def test_documented_statuses_are_the_answered_ones(app, spec, anon, api_as, make_staff):
    make_staff("alice", roles=("admin",))
    login = anon.post("/api/v1/auth/token", json={"username": "alice", "password": "Correct-Horse-42"})
    assert_matches_documented_schema(spec, "POST", "/api/v1/auth/token", login)

    devops = api_as("devops")
    from tests.factories import EnterpriseFactory

    with app.app_context():
        ent_id = EnterpriseFactory().id
    configured = devops.put(f"/api/v1/enterprises/{ent_id}/datasource", json=TENANT_ACCOUNT_BODY)
    assert_matches_documented_schema(spec, "PUT", "/api/v1/enterprises/{ent_id}/datasource", configured)
    provision = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/provision")
    assert_matches_documented_schema(spec, "POST", "/api/v1/enterprises/{ent_id}/datasource/provision", provision)
    job = devops.get(f"/api/v1/jobs/{provision.json['job_id']}")
    assert_matches_documented_schema(spec, "GET", "/api/v1/jobs/{job_id}", job)
    moved = devops.post(f"/api/v1/enterprises/{ent_id}/datasource/implementation-status", json={"status": "implementing"})
    assert_matches_documented_schema(spec, "POST", "/api/v1/enterprises/{ent_id}/datasource/implementation-status",
                                     moved)
    assert "password" not in configured.json and "password" not in moved.json


def test_tenant_documented_statuses_are_the_answered_ones(client, tenant_spec, tenants):
    tenant = tenants[0]
    login = client.post(f"/t/{tenant.code}/api/v1/auth/token", json={"username": "admin", "password": tenant.admin_password})
    assert_matches_documented_schema(tenant_spec, "POST", "/auth/token", login)
    me = client.get(f"/t/{tenant.code}/api/v1/me", headers={"Authorization": f"Bearer {login.json['token']}"})
    assert_matches_documented_schema(tenant_spec, "GET", "/me", me)
    assert me.json["tenant"]["code"] == tenant.code and me.json["id"] == login.json["user"]["id"]


def test_an_undeclared_api_view_is_left_out_of_the_document_and_named_by_the_coverage_test(app):
    """A route added without ``@endpoint`` is not guessed at: it is missing, which the coverage test names."""
    from common.apidoc import DocumentSource, build_document
    from platform_admin.common.openapi import access

    with app.test_request_context():
        app.view_functions["api.me"].apidoc, saved = None, app.view_functions["api.me"].apidoc
        try:
            document = build_document(DocumentSource(blueprint="api", title="t", description="d", access=access))
        finally:
            app.view_functions["api.me"].apidoc = saved
    assert "/api/v1/me" not in document["paths"] and "/api/v1/staff" in document["paths"]
