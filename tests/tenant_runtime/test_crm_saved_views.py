"""A user's own saved views of a list: checked like the list when saved, applied within the user's scope,
private to the user."""

from tests.conftest import csrf_from
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    PASSWORD,
    add_user,
    customer_body,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB


def test_a_saved_view_is_the_lists_filters_under_a_name(app, tenants):
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    admin.post("/customers", json=customer_body(customer_name="重要甲", level="important"))
    admin.post("/customers", json=customer_body(customer_name="普通乙", level="normal"))
    made = admin.post("/saved-views", json={"resource": "customers", "view_name": "重要客户",
                                            "query": "level=important&cursor=abc&sort=-created"})
    assert made.status_code == 201, made.json
    assert made.json["query"] == "level=important&sort=-created"  # a page position is not part of a view
    listed = admin.get(f"/customers?{made.json['query']}").json["items"]
    assert [c["customer_name"] for c in listed] == ["重要甲"]
    assert [v["view_name"] for v in admin.get("/saved-views?resource=customers").json["items"]] == ["重要客户"]
    assert admin.get("/saved-views?resource=leads").json["items"] == []
    misspelt = admin.get("/saved-views?resource=customer")  # not every view as if unfiltered
    assert misspelt.status_code == 422 and set(misspelt.json["error"]["fields"]) == {"resource"}, misspelt.json


def test_a_view_the_list_would_refuse_is_refused(app, tenants):
    admin = tenant_api(app, tenants[0])
    bad = admin.post("/saved-views", json={"resource": "customers", "view_name": "坏", "query": "level=vip"})
    assert bad.status_code == 422 and "level" in bad.json["error"]["fields"]
    nameless = admin.post("/saved-views", json={"resource": "customers", "view_name": " ", "query": ""})
    assert nameless.status_code == 422 and "view_name" in nameless.json["error"]["fields"]
    unknown = admin.post("/saved-views", json={"resource": "passwords", "view_name": "x", "query": ""})
    assert unknown.status_code == 422


def test_a_second_view_of_one_name_is_refused_and_changes_nothing(app, tenants):
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    first = admin.post("/saved-views", json={"resource": "customers", "view_name": "重点客户", "query": "level=important"})
    assert first.status_code == 201
    again = admin.post("/saved-views", json={"resource": "customers", "view_name": " 重点客户 ",
                                             "query": "level=potential"})
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate", again.json
    assert set(again.json["error"]["fields"]) == {"view_name"} and "重点客户" in again.json["error"]["message"]
    views = admin.get("/saved-views?resource=customers").json["items"]
    assert [(v["view_name"], v["query"]) for v in views] == [("重点客户", "level=important")]
    other_list = admin.post("/saved-views", json={"resource": "leads", "view_name": "重点客户", "query": ""})
    assert other_list.status_code == 201  # a name is one per list
    add_user(tenant, "namesake", ("sales",))
    theirs = tenant_api(app, tenant, "namesake", PASSWORD).post(
        "/saved-views", json={"resource": "customers", "view_name": "重点客户", "query": ""})
    assert theirs.status_code == 201  # and one per person
    page = page_client(app, tenant)
    listing = page.get(f"/t/{tenant.code}/customers/")
    refused = page.post(f"/t/{tenant.code}/saved-views", data={
        "csrf_token": csrf_from(listing.text), "resource": "customers", "view_name": "重点客户",
        "query": "level=normal"}, follow_redirects=True)
    assert refused.status_code == 200 and "已有名为" in refused.text


def test_a_view_name_already_taken_goes_back_to_the_list_with_its_filters(app, tenants):
    """保存为视图 under a name the user already has said so, but went back to the bare list: the filters the user
    meant to save were gone and had to be chosen again. The list comes back filtered as it was."""
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    assert admin.post("/saved-views", json={"resource": "customers", "view_name": "重点客户",
                                            "query": "level=important"}).status_code == 201
    page = page_client(app, tenant)
    listing = page.get(f"/t/{tenant.code}/customers/?level=potential&sort=name")
    refused = page.post(f"/t/{tenant.code}/saved-views", data={
        "csrf_token": csrf_from(listing.text), "resource": "customers", "view_name": "重点客户",
        "query": "level=potential&sort=name"})
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith(f"/t/{tenant.code}/customers/?level=potential&sort=name")
    shown = page.get(refused.headers["Location"])
    assert "已有名为" in shown.text and 'class="alert alert-danger"' in shown.text
    # its save form is open again with the refused name in it, to change and save, not to type again
    assert '<details class="save-view" open>' in shown.text
    assert 'name="view_name"' in shown.text and 'value="重点客户" aria-invalid="true"' in shown.text
    again = page.get(refused.headers["Location"])  # once: the next visit starts with an empty, closed form
    assert '<details class="save-view">' in again.text and 'value="重点客户"' not in again.text


def test_views_are_private_and_within_scope(app, tenants):
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    admin.post("/customers", json=customer_body(customer_name="管理员的客户", level="important"))
    add_user(tenant, "viewer", ("sales",))
    viewer = tenant_api(app, tenant, "viewer", PASSWORD)
    mine = viewer.post("/saved-views", json={"resource": "customers", "view_name": "重要", "query": "level=important"})
    assert mine.status_code == 201
    assert viewer.get(f"/customers?{mine.json['query']}").json["items"] == []  # still only their own customers
    assert admin.get("/saved-views").json["items"] == []
    assert admin.delete(f"/saved-views/{mine.json['id']}").status_code == 404
    assert viewer.delete(f"/saved-views/{mine.json['id']}").status_code == 204


def test_saving_a_view_from_the_list_page(app, tenants):
    tenant = tenants[0]
    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    client.post(f"/t/{tenant.code}/login", data={"username": "admin", "password": tenant.admin_password,
                                                  "csrf_token": csrf_from(page.text)})
    listing = client.get(f"/t/{tenant.code}/customers/?view=all&level=important&no_follow_days=30")
    assert "保存为视图" in listing.text or "Save" in listing.text
    resp = client.post(f"/t/{tenant.code}/saved-views", data={
        "csrf_token": csrf_from(listing.text), "resource": "customers", "view_name": "一个月没跟进",
        "query": "view=all&level=important&no_follow_days=30"}, follow_redirects=True)
    assert resp.status_code == 200 and "一个月没跟进" in resp.text


def test_a_saved_view_opens_as_its_tab_and_deleting_one_keeps_the_list_s_filters(app, tenants):
    """After 保存为视图 the page is the view, its ☆ tab highlighted; deleting a view (another one) leaves the list
    with the filters it had."""
    tenant = tenants[0]
    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    client.post(f"/t/{tenant.code}/login", data={"username": "admin", "password": tenant.admin_password,
                                                  "csrf_token": csrf_from(page.text)})
    base = f"/t/{tenant.code}/customers/"
    listing = client.get(f"{base}?view=all&level=important")
    saved = client.post(f"/t/{tenant.code}/saved-views", data={
        "csrf_token": csrf_from(listing.text), "resource": "customers", "view_name": "重要的",
        "query": "view=all&level=important"})
    assert saved.status_code == 302 and "saved=" in saved.headers["Location"]
    shown = client.get(saved.headers["Location"]).text
    assert 'class="active">☆ 重要的' in shown
    assert 'data-confirm="删除保存的视图“重要的”？其中的记录不受影响。"' in shown  # × asks first (with JavaScript)
    view_id = saved.headers["Location"].rsplit("saved=", 1)[1]
    filtered = client.get(f"{base}?view=all&status=active")
    gone = client.post(f"/t/{tenant.code}/saved-views/{view_id}/delete", data={
        "csrf_token": csrf_from(filtered.text), "back": "view=all&status=active"})
    assert gone.status_code == 302 and gone.headers["Location"].endswith(f"{base}?view=all&status=active")


def test_the_filter_form_s_empty_fields_leave_the_address(app, tenants):
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    client = page_client(app, tenant)
    resp = client.get(f"/t/{tenant.code}/customers/?q=&owner_id=&level=important&status=&view=all")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/t/{tenant.code}/customers/?level=important&view=all")
    assert client.get(f"/t/{tenant.code}/customers/?level=important&view=all").status_code == 200


def test_a_list_page_offers_20_50_or_100_per_page_keeping_its_filters(app, tenants):
    from tests.tenant_runtime.crm import customer_body, page_client, tenant_api

    tenant = tenants[0]
    api = tenant_api(app, tenant)
    for _ in range(25):
        assert api.post("/customers", json=customer_body(level="important")).status_code == 201
    client = page_client(app, tenant)
    page = client.get(f"/t/{tenant.code}/customers/?view=all&level=important").get_data(as_text=True)
    assert '<b aria-current="true">20</b>' in page and 'rel="next"' in page  # 25 rows: a second page of 20
    assert f'href="/t/{tenant.code}/customers/?view=all&amp;level=important&amp;limit=50"' in page
    fifty = client.get(f"/t/{tenant.code}/customers/?view=all&level=important&limit=50").get_data(as_text=True)
    assert '<b aria-current="true">50</b>' in fifty and 'rel="next"' not in fifty  # all 25 on one page
