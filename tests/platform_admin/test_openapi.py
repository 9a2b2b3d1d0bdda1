from openapi_spec_validator import validate


def test_openapi_document_is_valid_and_covers_every_api_route(app, anon):
    resp = anon.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.json
    validate(spec)
    api_rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    for rule in api_rules:
        path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented


def test_request_bodies_come_from_the_validating_forms(anon):
    spec = anon.get("/api/v1/openapi.json").json
    contract = spec["paths"]["/api/v1/enterprises/{ent_id}/contracts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"bank_name", "amount", "start_date", "end_date", "community_count"} <= set(contract["required"])
    assert contract["properties"]["community_count"]["type"] == "integer"
    assert contract["properties"]["start_date"]["format"] == "date"
    assert spec["paths"]["/api/v1/staff"]["get"]["security"] == [{"bearer": []}]
