"""What an outside review of the tenant API sent that it did not answer well: dates at the ends of the calendar,
bodies nested a thousand deep, values of the wrong JSON type, control characters, a range's second end, the
signed-in user's roles, and ``limit``/``cursor`` on every list (histories included). Each answer is the
contract's: a 200, or a 400/422 naming the field, and nothing stored."""

import pytest

from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, PASSWORD, add_dept, add_user, customer_body, tenant_api

pytestmark = CONTROL_ON_MARIADB


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


@pytest.mark.parametrize("query", [
    "/customers?created_from=0001-01-01", "/customers?created_to=9999-12-31",
    "/customers?last_follow_up_from=0001-01-01&last_follow_up_to=9999-12-31", "/pool?recycled_from=0001-01-01",
    "/pool?recycled_to=9999-12-31", "/leads?created_from=0001-01-01", "/follow-ups?created_to=9999-12-31",
])
def test_a_date_at_an_end_of_the_calendar_is_no_bound(admin, query):
    """0001-01-01 and 9999-12-31, what clients send for "no bound": the list as without it, not a 500."""
    made = admin.post("/customers", json=customer_body())
    assert made.status_code == 201
    resp = admin.get(query)
    assert resp.status_code == 200, resp.json
    path = query.split("?")[0]
    assert resp.json["items"] == admin.get(path).json["items"]


@pytest.mark.parametrize("param", ["created_to", "last_follow_up_to"])
def test_a_bad_end_of_a_range_is_named_itself(admin, param):
    resp = admin.get(f"/customers?{param.replace('_to', '_from')}=2026-01-01&{param}=zzz")
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == {param}, resp.json


@pytest.mark.parametrize("path", ["/customers", "/customers/export", "/leads", "/follow-ups", "/handovers"])
def test_a_misspelt_view_is_a_422_naming_view_not_another_view_s_rows(admin, path):
    resp = admin.get(f"{path}?view=everything")
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == {"view"}, resp.json


def test_a_view_the_user_does_not_have_shows_their_default(app, tenants):
    """A manager's link to 全部客户 opened by a sales user: their own customers, all they may see."""
    add_user(tenants[0], "view_sales", roles=("sales",), dept=add_dept(tenants[0], "视图销售部"))
    sales = tenant_api(app, tenants[0], "view_sales", PASSWORD)
    made = sales.post("/customers", json=customer_body())
    assert made.status_code == 201, made.json
    assert [c["id"] for c in sales.get("/customers?view=all").json["items"]] == [made.json["id"]]
    assert sales.get("/customers?view=all").json == sales.get("/customers?view=mine").json


@pytest.mark.parametrize("path", ["/customers", "/auth/token"])
def test_a_body_nested_a_thousand_deep_is_400(admin, app, path):
    deep = "[" * 1000 + "]" * 1000
    resp = admin.post(path, data=deep, content_type="application/json", json=None)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "malformed_body", resp.json
    nested = '{"customer_name": ' + "[" * 200 + "]" * 200 + "}"  # parses, but deeper than any body here
    assert admin.post("/customers", data=nested, content_type="application/json", json=None).status_code == 400
    control = app.test_client().post("/api/v1/auth/token", data=deep, content_type="application/json")
    assert control.status_code == 400 and control.json["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("value, says", [
    ([None], "not a list"), (["甲公司", "乙公司"], "not a list"), (True, "not true or false"),
    ({"a": 1}, "not an object"),
])
def test_a_value_of_the_wrong_type_is_a_422_naming_its_field(admin, tenants, value, says):
    from tests.tenant_runtime.test_crm_import import count

    before = count(tenants[0], "crm_customer")
    resp = admin.post("/customers", json=customer_body(customer_name=value), headers={"Accept-Language": "en"})
    assert resp.status_code == 422 and list(resp.json["error"]["fields"]) == ["customer_name"], resp.json
    assert says in resp.json["error"]["fields"]["customer_name"][0]
    assert count(tenants[0], "crm_customer") == before
    made = admin.post("/customers", json=customer_body()).json
    changed = admin.patch(f"/customers/{made['id']}", json={"customer_name": value})
    assert changed.status_code == 422 and admin.get(f"/customers/{made['id']}").json["customer_name"] == \
        made["customer_name"]
    # a list where a list is taken (tags), numbers where text is (a phone typed as a number)
    tagged = admin.post("/customers", json=customer_body(tags=["重点", "老客户"], phone=13800138311))
    assert tagged.status_code == 201 and sorted(tagged.json["tags"]) == ["老客户", "重点"]
    assert admin.post("/customers", json=customer_body(tags=["重点", None])).status_code == 422


def test_control_characters_are_refused_and_line_breaks_in_a_name_are_a_space(admin):
    for name in ("控制\u0000字符", "控制\u001b字符", "控制\u0085字符"):
        resp = admin.post("/customers", json=customer_body(customer_name=name))
        assert resp.status_code == 422 and "customer_name" in resp.json["error"]["fields"], (name, resp.json)
    assert admin.post("/customers", json=customer_body(tags=["重\u0007点"])).status_code == 422
    pasted = admin.post("/customers", json=customer_body(customer_name="换行\n物业\t有限公司", remark="第一行\n第二行"))
    assert pasted.status_code == 201, pasted.json
    assert pasted.json["customer_name"] == "换行 物业 有限公司" and pasted.json["remark"] == "第一行\n第二行"
    assert admin.post("/customers", json=customer_body(remark="响铃\u0007")).status_code == 422


def test_the_signed_in_user_s_roles_are_named(app, tenants):
    t = tenants[0]
    add_user(t, "rolesales", ("sales",), add_dept(t, "角色部"))
    signed_in = app.test_client().post(f"/t/{t.code}/api/v1/auth/token",
                                       json={"username": "rolesales", "password": PASSWORD})
    assert signed_in.status_code == 200 and signed_in.json["user"]["roles"] == ["sales"]
    admin = app.test_client().post(f"/t/{t.code}/api/v1/auth/token",
                                   json={"username": "admin", "password": t.admin_password})
    assert "admin" in admin.json["user"]["roles"]


def test_a_history_pages_by_limit_and_cursor(admin):
    made = admin.post("/customers", json=customer_body()).json
    for level in ("important", "potential", "normal", "important"):
        assert admin.patch(f"/customers/{made['id']}", json={"level": level}).status_code == 200
    whole = admin.get(f"/customers/{made['id']}/history").json
    assert len(whole["items"]) == 5 and whole["next_cursor"] is None
    pages, cursor = [], None
    while True:
        resp = admin.get(f"/customers/{made['id']}/history?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert resp.status_code == 200 and len(resp.json["items"]) <= 2
        pages += resp.json["items"]
        cursor = resp.json["next_cursor"]
        if cursor is None:
            break
    assert pages == whole["items"]
    for bad in ("abc", "-5", "0", "201"):
        resp = admin.get(f"/customers/{made['id']}/history?limit={bad}")
        assert resp.status_code == 422 and "limit" in resp.json["error"]["fields"]
    assert admin.get(f"/customers/{made['id']}/history?cursor=zzz").status_code == 422


@pytest.mark.parametrize("path", ["/pool/rules", "/saved-views", "/pool/soon", "/customers/duplicates?phone=13800138000"])
def test_short_lists_check_their_limit_too(admin, path):
    sep = "&" if "?" in path else "?"
    assert admin.get(f"{path}{sep}limit=201").status_code == 422
    assert admin.get(f"{path}{sep}limit=abc").status_code == 422
    assert admin.get(f"{path}{sep}limit=5").status_code == 200
