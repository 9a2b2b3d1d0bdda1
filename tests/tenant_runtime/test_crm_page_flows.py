"""Page flows that must not strand the user: a delete the CRM refuses goes back to the page it was asked from
(the list or the record's page, never another site) with the reason, and deletes nothing; the API keeps its 409."""


from tests.conftest import csrf_from
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    add_dept,
    add_user,
    db_row,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB


def count(tenant, sql, **params):
    return db_row(tenant, sql, **params)[0]


def flashed_danger(resp):
    assert 'class="alert alert-danger"' in resp.text, resp.text[:2000]
    return resp.text.split('class="alert alert-danger"')[1].split("</div>")[0]


def test_a_refused_department_delete_goes_back_to_the_list_with_the_reason(app, tenants):
    t = tenants[0]
    service = add_dept(t, "客服部")
    add_user(t, "kefu", ("sales",), service)
    pages = page_client(app, t)
    listing = pages.get(f"/t/{t.code}/departments/")
    token = csrf_from(listing.text)
    resp = pages.post(f"/t/{t.code}/departments/{service}/delete", data={"csrf_token": token},
                      headers={"Referer": f"http://localhost/t/{t.code}/departments/"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/t/{t.code}/departments/")
    shown = pages.get(resp.headers["Location"])
    assert shown.status_code == 200 and "其下仍有1 名人员，请先移到别处。" in flashed_danger(shown)  # says what it holds
    assert count(t, "SELECT COUNT(*) FROM sys_dept WHERE id = :d", d=service) == 1
    api = tenant_api(app, t).delete(f"/departments/{service}")
    assert api.status_code == 409 and api.json["error"]["code"] == "dept_in_use"
    assert api.json["error"]["found"] == {"users": 1}
    add_dept(t, "客服一组", service)
    both = tenant_api(app, t).delete(f"/departments/{service}", headers={"Accept-Language": "en"})
    assert both.json["error"]["message"] == "It still holds 1 department, 1 person: move them elsewhere first."
    # a delete that goes through is as before
    empty = add_dept(t, "空部门")
    done = pages.post(f"/t/{t.code}/departments/{empty}/delete", data={"csrf_token": token},
                      headers={"Referer": f"http://localhost/t/{t.code}/departments/"}, follow_redirects=True)
    assert done.status_code == 200 and "已删除。" in done.text
    assert count(t, "SELECT COUNT(*) FROM sys_dept WHERE id = :d", d=empty) == 0


def test_a_refused_lead_pool_delete_goes_back_where_it_was_asked_from(app, tenants):
    t = tenants[0]
    admin = tenant_api(app, t)
    pool = admin.post("/lead-pools", json={"pool_name": "展会线索池", "is_public": True}).json["id"]
    for k in range(2):
        made = admin.post("/leads", json={"lead_name": f"线索{k}", "company": "上海明德物业有限公司",
                                          "source": "exhibition", "intent_level": "high", "pool_id": pool})
        assert made.status_code == 201, made.json
    pages = page_client(app, t)
    base = f"/t/{t.code}"
    token = csrf_from(pages.get(f"{base}/lead-pools/{pool}").text)

    def delete(referer=None):
        headers = {"Referer": referer} if referer else {}
        return pages.post(f"{base}/lead-pools/{pool}/delete", data={"csrf_token": token}, headers=headers)

    for referer, back in [(f"http://localhost{base}/lead-pools/", f"{base}/lead-pools/"),
                          (f"http://localhost{base}/lead-pools/?q=展会", f"{base}/lead-pools/?q="),
                          (f"http://localhost{base}/lead-pools/{pool}", f"{base}/lead-pools/{pool}"),
                          (None, f"{base}/lead-pools/{pool}"),  # no Referer sent: the record's page
                          (f"https://evil.example{base}/lead-pools/", f"{base}/lead-pools/{pool}"),
                          ("http://localhost/t/other/lead-pools/", f"{base}/lead-pools/{pool}")]:
        resp = delete(referer)
        assert resp.status_code == 302, (referer, resp.status_code)
        location = resp.headers["Location"]
        assert location.startswith((back, f"http://localhost{back}")), (referer, location)
        shown = pages.get(location)
        assert shown.status_code == 200 and "有 2 条线索属于这个线索池" in flashed_danger(shown), referer
    assert count(t, "SELECT COUNT(*) FROM crm_lead_pool WHERE id = :p", p=int(pool)) == 1
    api = admin.delete(f"/lead-pools/{pool}")
    assert api.status_code == 409 and api.json["error"]["code"] == "pool_not_empty"
