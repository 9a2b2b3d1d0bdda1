"""The recycle bin (回收站) and the restore action come from a resource's declaration alone
(``soft_delete`` and ``restore_permission``, tenant_runtime/core/resource.py): every such resource
exposes the same routes behind the same permission, in the API document too, and behaves the same."""

import html
import re
import secrets

import pytest

from tenant_runtime.core.resource import REGISTERED
from tenant_runtime.people.permissions import ENDPOINTS
from tests.conftest import csrf_from
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    customer_body,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB

BIN_ROUTES = (("deleted", "/{name}/deleted", "GET"), ("restore", "/{name}/<int:record_id>/restore", "POST"))


def _routes(app):
    return {r.endpoint: (r.rule, r.methods - {"HEAD", "OPTIONS"}) for r in app.url_map.iter_rules()}


def test_every_resource_with_a_restore_permission_has_a_recycle_bin_and_no_other_does(app):
    routes = _routes(app)
    with_bin = {name for name, r in REGISTERED.items() if r.soft_delete and r.restore_permission}
    assert with_bin >= {"customers", "leads"}
    for name, resource in REGISTERED.items():
        for action, path, method in BIN_ROUTES:
            for api in (False, True):
                endpoint = resource.endpoint(action, api=api)
                if name not in with_bin:
                    assert endpoint not in routes, endpoint
                    continue
                prefix = "/t/<tenant_code>/api/v1" if api else "/t/<tenant_code>"
                assert routes[endpoint] == (prefix + path.format(name=name), {method}), endpoint
                assert ENDPOINTS[endpoint] == resource.restore_permission, endpoint


def test_every_recycle_bin_is_in_the_api_document(app, tenants):
    admin = tenant_api(app, tenants[0])
    paths = admin.get("/openapi.json").json["paths"]
    for name, resource in REGISTERED.items():
        if not (resource.soft_delete and resource.restore_permission):
            continue
        listed, restore = paths[f"/{name}/deleted"]["get"], paths[f"/{name}/{{record_id}}/restore"]["post"]
        for operation in (listed, restore):
            assert resource.restore_permission in operation["description"]
            assert {"403", "404"} <= operation["responses"].keys()
        assert {p["name"] for p in listed["parameters"]} >= {"q", "sort", "limit", "cursor"}


def _add(admin, name, label):
    body = customer_body(customer_name=f"{label}{secrets.token_hex(3)}有限公司") if name == "customers" \
        else {"lead_name": f"{label}{secrets.token_hex(3)}"}
    resp = admin.post(f"/{name}", json=body)
    assert resp.status_code == 201, resp.json
    return resp.json["id"], body.get("customer_name") or body["lead_name"]


@pytest.mark.parametrize("name", ["customers", "leads"])
def test_the_recycle_bin_lists_newest_first_in_keyset_pages_searches_and_restores(app, tenants, name):
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    added = [_add(admin, name, label) for label in ("回收甲", "回收乙", "别处丙")]
    live_id, _live = _add(admin, name, "留着的")
    for record_id, _label in added:
        assert admin.delete(f"/{name}/{record_id}").status_code == 204
    newest_first = [record_id for record_id, _label in reversed(added)]

    first = admin.get(f"/{name}/deleted?limit=2").json
    assert [i["id"] for i in first["items"]] == newest_first[:2] and first["next_cursor"]
    rest = admin.get(f"/{name}/deleted?limit=2&cursor={first['next_cursor']}").json
    assert [i["id"] for i in rest["items"]] == newest_first[2:] and rest["next_cursor"] is None
    assert [i["id"] for i in admin.get(f"/{name}/deleted?q=回收").json["items"]] == newest_first[1:]
    assert admin.get(f"/{name}/deleted?sort=name").status_code == 422

    assert admin.post(f"/{name}/{live_id}/restore").status_code == 404  # not in the bin
    assert admin.post(f"/{name}/{2**62}/restore").status_code == 404

    pages = page_client(app, tenant)
    base = f"/t/{tenant.code}"
    binned = pages.get(f"{base}/{name}/deleted")
    assert binned.status_code == 200
    for record_id, label in added:
        assert label in binned.text and f'{base}/{name}/{record_id}/restore"' in binned.text
    # the page's own next-page link (page 2 of a list is where a template error would show)
    paged = pages.get(f"{base}/{name}/deleted?limit=2")
    next_link = re.search(r'rel="next" href="([^"]+)"', paged.text)
    assert paged.status_code == 200 and next_link, paged.text[-2000:]
    second = pages.get(html.unescape(next_link.group(1)))
    assert second.status_code == 200 and added[0][1] in second.text and added[2][1] not in second.text
    restored_id = added[0][0]
    done = pages.post(f"{base}/{name}/{restored_id}/restore", data={"csrf_token": csrf_from(binned.text)})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/{name}/{restored_id}")
    assert restored_id not in {i["id"] for i in admin.get(f"/{name}/deleted").json["items"]}
    assert admin.get(f"/{name}/{restored_id}").status_code == 200
    history = admin.get(f"/{name}/{restored_id}/history").json["items"]
    assert [h["action"] for h in history[:2]] == ["restore", "delete"]
