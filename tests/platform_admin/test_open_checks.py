"""Opening an enterprise runs every check other packages register (the datasource gate slots in here)."""

from common.errors import Conflict
from tests.factories import EnterpriseFactory


def test_a_registered_open_check_can_refuse_opening(app, api_as, make_ready):
    def datasource_ready(enterprise):
        raise Conflict("datasource_not_ready", "no provisioned datasource")

    ops = api_as("ops")
    with app.app_context():
        ent_id = EnterpriseFactory().id
    make_ready(ent_id)
    app.extensions["open_checks"].append(datasource_ready)
    try:
        resp = ops.post(f"/api/v1/enterprises/{ent_id}/open")
    finally:
        app.extensions["open_checks"].remove(datasource_ready)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "datasource_not_ready"
    assert ops.get(f"/api/v1/enterprises/{ent_id}").json["status"] == 0
    assert ops.post(f"/api/v1/enterprises/{ent_id}/open").status_code == 200


def test_the_completeness_gate_answers_before_other_checks(app, api_as):
    calls = []
    ops = api_as("ops")
    with app.app_context():
        ent_id = EnterpriseFactory(address=None).id
    app.extensions["open_checks"].append(calls.append)
    try:
        resp = ops.post(f"/api/v1/enterprises/{ent_id}/open")
    finally:
        app.extensions["open_checks"].remove(calls.append)
    assert resp.json["error"]["code"] == "incomplete_profile" and calls == []
