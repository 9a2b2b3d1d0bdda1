"""Nothing of one tenant is visible in another: two session tenants on real MariaDB, the first full of
customers, contacts, follow-ups with a file, saved views and follow-ups due; the second sees none of it
in lists, details by id, the 360 view, history, the duplicate check, saved views, attachments or the home
page, and a path naming one tenant on the other's host, token or session is refused."""

import io
import re

import pytest

from common.timeutil import local_today
from tests.conftest import csrf_from
from tests.tenant_runtime.crm import customer_body, page_client, tenant_api

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def world(app, tenants):
    """Tenant A with three customers (the last with a contact, two follow-ups, one due today, and a file) and
    a saved view; tenant B with its own administrator and nothing else."""
    a, b = tenants[0], tenants[1]
    api_a = tenant_api(app, a)
    with app.app_context():
        later_today = local_today().isoformat() + "T23:59"  # due today: on the home page's list
    ids = [api_a.post("/customers", json=customer_body(customer_name=f"甲方租户客户{i}有限公司",
                                                       phone=f"1381234567{i}")).json["id"] for i in range(3)]
    cid = ids[-1]
    contact = api_a.post("/contacts", json={"customer_id": cid, "contact_name": "甲方联系人",
                                            "phone": "13700137000"}).json
    follow = api_a.post("/follow-ups", json={"customer_id": cid, "follow_type": "visit", "content": "甲方的跟进记录",
                                             "next_follow_time": later_today}).json
    client = page_client(app, a)
    page = client.get(f"/t/{a.code}/customers/{cid}")
    assert client.post(f"/t/{a.code}/follow-ups/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page.text), "customer_id": cid, "follow_type": "phone", "content": "甲方带附件的跟进",
        "next_follow_time": later_today, "attachment": (io.BytesIO(PDF), "甲方报价单.pdf")}).status_code == 302
    [attachment] = [x for f in api_a.get(f"/customers/{cid}/360").json["follow_ups"] for x in f["attachments"]]
    view = api_a.post("/saved-views", json={"resource": "customers", "view_name": "甲方的视图",
                                            "query": "level=normal"}).json

    class World:
        pass

    w = World()
    w.a, w.b, w.api_a, w.api_b = a, b, api_a, tenant_api(app, b)
    w.customers, w.customer, w.contact, w.follow_up = ids, cid, contact["id"], follow["id"]
    w.attachment, w.view = attachment["id"], view["id"]
    return w


def test_lists_of_the_other_tenant_are_empty(world):
    b = world.api_b
    for path in ("/customers?view=all", "/contacts", "/follow-ups?view=all", "/customers/deleted", "/saved-views"):
        resp = b.get(path)
        assert resp.status_code == 200, (path, resp.json)
        assert resp.json["items"] == [], path
    # and tenant A still sees its own
    assert len(world.api_a.get("/customers?view=all").json["items"]) == 3


def test_records_of_the_other_tenant_by_id_are_404(world):
    b, cid = world.api_b, world.customer
    for path in (f"/customers/{cid}", f"/customers/{cid}/360", f"/customers/{cid}/history",
                 f"/contacts/{world.contact}", f"/contacts/{world.contact}/history", f"/follow-ups/{world.follow_up}"):
        resp = b.get(path)
        assert resp.status_code == 404, path
        assert "甲方" not in resp.text
    assert b.patch(f"/customers/{cid}", json={"level": "important"}).status_code == 404
    assert b.delete(f"/customers/{cid}").status_code == 404
    assert b.delete(f"/contacts/{world.contact}").status_code == 404
    assert b.delete(f"/saved-views/{world.view}").status_code == 404
    refused = b.post("/contacts", json={"customer_id": cid, "contact_name": "乙", "phone": "13700137001"})
    assert refused.status_code == 422 and "customer_id" in refused.json["error"]["fields"]
    refused = b.post("/follow-ups", json={"customer_id": cid, "follow_type": "phone", "content": "乙"})
    assert refused.status_code == 422 and "customer_id" in refused.json["error"]["fields"]
    a = world.api_a
    assert a.get(f"/customers/{cid}").json["level"] == "normal"
    assert a.get(f"/contacts/{world.contact}").status_code == 200
    assert [v["id"] for v in a.get("/saved-views").json["items"]] == [world.view]


def test_pages_of_the_other_tenant_by_id_are_404(app, world):
    b, code = page_client(app, world.b), world.b.code
    for path in (f"/customers/{world.customer}", f"/customers/{world.customer}/edit", f"/contacts/{world.contact}",
                 f"/follow-ups/{world.follow_up}", f"/attachments/{world.attachment}"):
        resp = b.get(f"/t/{code}{path}")
        assert resp.status_code == 404, path
        assert "甲方" not in resp.text and resp.data != PDF
        resp.close()
    listing = b.get(f"/t/{code}/customers/?view=all").text
    assert "甲方租户客户" not in listing


def test_the_duplicate_check_looks_only_inside_the_tenant(world):
    b = world.api_b
    for query in ("phone=13812345672", "name=甲方租户客户2", "name=甲方租户客户2有限公司"):
        resp = b.get(f"/customers/duplicates?{query}")
        assert resp.status_code == 200 and resp.json["items"] == [], query
    # the same phone and name are free in the other company's archive
    made = b.post("/customers", json=customer_body(customer_name="甲方租户客户2有限公司", phone="13812345672"))
    assert made.status_code == 201, made.json
    assert [m["visible"] for m in world.api_a.get("/customers/duplicates?phone=13812345672").json["items"]] == [True]


def test_the_home_page_counts_only_the_tenants_own(app, world):
    home_b = page_client(app, world.b).get(f"/t/{world.b.code}/").text
    assert "甲方" not in home_b
    stats = dict((label, int(n)) for n, label in re.findall(r"<b>(\d+)</b><span>([^<]+)</span>", home_b))
    assert stats and set(stats.values()) == {0}, stats
    home_a = page_client(app, world.a).get(f"/t/{world.a.code}/").text
    assert "甲方租户客户2有限公司" in home_a and "甲方带附件的跟进" in home_a


def test_another_tenants_token_or_session_reaches_nothing(app, world):
    a_token = world.api_a.token
    resp = app.test_client().get(f"/t/{world.b.code}/api/v1/customers/{world.customer}",
                                 headers={"Authorization": f"Bearer {a_token}"})
    assert resp.status_code == 401
    a_pages = page_client(app, world.a)
    page = a_pages.get(f"/t/{world.b.code}/customers/{world.customer}")
    assert page.status_code in (302, 401) and "甲方" not in page.text
    download = a_pages.get(f"/t/{world.b.code}/attachments/{world.attachment}")
    assert download.status_code in (302, 401) and download.data != PDF


@pytest.fixture
def subdomains(app):
    app.config.update(TENANT_ROUTING=("path", "subdomain"), TENANT_BASE_DOMAIN="crm.example.cn")
    yield "crm.example.cn"
    app.config.update(TENANT_ROUTING=("path", "header"), TENANT_BASE_DOMAIN="")


def test_a_path_naming_a_tenant_on_the_other_tenants_host_is_refused(app, world, subdomains):
    client = app.test_client()
    host_b = f"http://{world.b.code}.{subdomains}"
    resp = client.get(f"/t/{world.a.code}/api/v1/customers/{world.customer}",
                      headers={"Authorization": f"Bearer {world.api_a.token}"}, base_url=host_b)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "tenant_mismatch"
    assert "甲方" not in resp.text
    download = client.get(f"/t/{world.a.code}/attachments/{world.attachment}", base_url=host_b)
    assert download.status_code == 400 and download.data != PDF
    # the host alone names tenant B: A's token is nobody there, B's sees B's (empty) archive
    own = client.get("/api/v1/customers?view=all", headers={"Authorization": f"Bearer {world.api_b.token}"},
                     base_url=host_b)
    assert own.status_code == 200 and own.json["items"] == []
    foreign = client.get("/api/v1/customers?view=all", headers={"Authorization": f"Bearer {world.api_a.token}"},
                         base_url=host_b)
    assert foreign.status_code == 401
