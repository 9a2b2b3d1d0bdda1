"""What an outside review of the tenant API sent that it did not answer well: dates at the ends of the calendar,
bodies nested a thousand deep, values of the wrong JSON type, control characters, a range's second end, the
signed-in user's roles, and ``limit``/``cursor`` on every list (histories included). Each answer is the
contract's: a 200, or a 400/422 naming the field, and nothing stored."""

import re

import pytest

from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    PASSWORD,
    add_dept,
    add_user,
    customer_body,
    page_client,
    tenant_api,
)

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


def test_a_malformed_body_is_400_also_where_no_body_is_read_and_nothing_happens(admin, app, tenants):
    """Disabling a user reads no body; one sent as JSON that does not parse was ignored and the user disabled:
    a 400, as on every other endpoint, and the user stays enabled. An empty body still does it."""
    uid = add_user(tenants[0], "malformed_target")
    resp = admin.post(f"/users/{uid}/disable", data="{bad json", content_type="application/json", json=None)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "malformed_body", resp.json
    assert admin.get(f"/users/{uid}").json["status"] == "enabled"
    anonymous = app.test_client().post(f"/t/{tenants[0].code}/api/v1/users/{uid}/disable", data="{bad json",
                                       content_type="application/json")
    assert anonymous.status_code == 401  # a stranger is told to sign in, not how the body was read
    assert admin.post(f"/users/{uid}/disable").json["status"] == "disabled"


@pytest.mark.parametrize("query, named", [
    ("/leads?intent_level=high", ["intent_level"]),  # the field's name; the filter is ?intent=
    ("/customers?levle=important&ownr_id=1", ["levle", "ownr_id"]),
    ("/contacts?customer=1", ["customer"]),
])
def test_a_parameter_a_list_does_not_read_is_a_422_not_the_whole_list(admin, query, named):
    """A misspelt filter answered every row as if unfiltered, and a client took that for the filtered list."""
    resp = admin.get(query)
    assert resp.status_code == 422 and sorted(resp.json["error"]["fields"]) == named, resp.json
    path = query.split("?")[0]
    documented = {"limit": "1", "cursor": "", "q": "x", "sort": "-created"} if path != "/contacts" else {"limit": "1"}
    documented["lang"] = "en"  # read by every answer, a list's too
    assert admin.get(path, query_string=documented).status_code == 200


def test_a_parameter_is_refused_where_the_endpoint_reads_none(admin):
    """A detail or an action that reads no query string ignored one: ``?fields=name`` answered every field, and a
    client took that for what it asked."""
    made = admin.post("/customers", json=customer_body()).json
    detail = admin.get(f"/customers/{made['id']}?fields=customer_name")
    assert detail.status_code == 422 and list(detail.json["error"]["fields"]) == ["fields"], detail.json
    edit = admin.patch(f"/customers/{made['id']}?dry_run=1", json={"level": "important"})
    assert edit.status_code == 422 and list(edit.json["error"]["fields"]) == ["dry_run"], edit.json
    assert admin.get(f"/customers/{made['id']}").json["level"] == "normal"  # the refused edit changed nothing
    assert admin.get(f"/customers/{made['id']}?lang=en").status_code == 200
    assert admin.get(f"/customers/{made['id']}/history?limit=1").status_code == 200  # a page's own parameters


def test_a_204_names_no_type(admin):
    """A delete's 204 said Content-Type: text/html, of a body it does not have."""
    made = admin.post("/customers", json=customer_body()).json
    gone = admin.delete(f"/customers/{made['id']}")
    assert gone.status_code == 204 and gone.data == b"" and "Content-Type" not in gone.headers, gone.headers
    assert gone.headers["Cache-Control"] == "no-store"


def test_a_user_s_status_is_one_word_wherever_it_is_read_or_filtered(app, tenants):
    """GET /users said "enabled", /me and the token's user 1, and ?status=enabled was a 422: what a client
    reads back it can filter by (the 1 and 0 the filter took before still work)."""
    add_user(tenants[0], "status_word", roles=("sales",))
    token = app.test_client().post(f"/t/{tenants[0].code}/api/v1/auth/token",
                                   json={"username": "status_word", "password": PASSWORD})
    assert token.json["user"]["status"] == "enabled"
    me = tenant_api(app, tenants[0], "status_word").get("/me")
    assert me.json["status"] == "enabled"
    admin = tenant_api(app, tenants[0])
    enabled = {u["username"] for u in admin.get("/users?status=enabled&limit=200").json["items"]}
    assert "status_word" in enabled and enabled == {u["username"] for u in
                                                     admin.get("/users?status=1&limit=200").json["items"]}
    assert "status_word" not in {u["username"] for u in admin.get("/users?status=disabled").json["items"]}
    assert admin.get("/users?status=maybe").status_code == 422
    page = page_client(app, tenants[0]).get(f"/t/{tenants[0].code}/users/?status=1").text  # an old bookmark
    assert re.search(r'<option value="enabled"\s+selected', page), "the filter in use is shown chosen"


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
    for name in ("控制\u0000字符", "控制\u001b字符", "控制\u0085字符", "物业\u202e司公限有", "物业\u2067隔离\u2069"):
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


@pytest.mark.parametrize("value", [0, 1, "0", "no", "off", "False", "true", 2, "maybe"])
def test_a_yes_or_no_takes_only_true_or_false(admin, tenants, value):
    """``"no"`` or ``0`` read as yes would mark a contact 勿扰 or a customer exempt from recycling by mistake."""
    customer = admin.post("/customers", json=customer_body()).json["id"]
    contact = {"customer_id": customer, "contact_name": "王经理", "phone": "13800138312"}
    resp = admin.post("/contacts", json={**contact, "do_not_contact": value})
    assert resp.status_code == 422 and list(resp.json["error"]["fields"]) == ["do_not_contact"], resp.json
    assert admin.get(f"/contacts?customer_id={customer}").json["items"] == []
    made = admin.post("/contacts", json={**contact, "is_key": True, "do_not_contact": False})
    assert made.status_code == 201 and (made.json["is_key"], made.json["do_not_contact"]) == (True, False)
    assert admin.patch(f"/contacts/{made.json['id']}", json={"is_key": value}).status_code == 422
    assert admin.get(f"/contacts/{made.json['id']}").json["is_key"] is True
    before = admin.get("/pool/settings").json
    assert admin.patch("/pool/settings", json={"exempt_signed_contracts": value}).status_code == 422
    assert admin.get("/pool/settings").json == before


@pytest.mark.parametrize("body", [
    '{"customer_name": "甲物业", "remark": NaN}', '{"customer_name": "甲物业", "remark": Infinity}',
    '{"customer_name": "甲物业", "remark": -Infinity}', '{"customer_name": "甲物业", "tags": [NaN]}',
])
def test_numbers_json_does_not_have_are_a_malformed_body(admin, app, body):
    """Python's parser takes NaN and Infinity, stored as "nan" and "inf"; JSON has no such number."""
    resp = admin.post("/customers", data=body, content_type="application/json", json=None)
    assert resp.status_code == 400 and resp.json["error"]["code"] == "malformed_body", resp.json
    assert admin.get("/customers").json["items"] == []
    too_large = admin.post("/customers", data='{"customer_name": "甲物业", "remark": 1e999}',
                           content_type="application/json", json=None)  # valid JSON, but no float holds it
    assert too_large.status_code == 422 and set(too_large.json["error"]["fields"]) == {"remark"}
    assert admin.get("/customers").json["items"] == []
    control = app.test_client().post("/api/v1/auth/token", data='{"username": "a", "password": NaN}',
                                     content_type="application/json")
    assert control.status_code == 400 and control.json["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("path, field", [("/follow-ups", "lead_id"), ("/follow-ups", "customer_id"),
                                         ("/departments", "sort"), ("/departments", "parent_id")])
def test_false_where_no_yes_or_no_belongs_is_a_422_like_true(admin, path, field):
    """``false`` was read as blank (no lead, order 0) while ``true`` was refused."""
    bodies = {"/follow-ups": {"customer_id": admin.post("/customers", json=customer_body()).json["id"]
                              if field != "customer_id" else None, "content": "电话沟通"},
              "/departments": {"dept_name": "假部门"}}
    for value in (False, True):
        resp = admin.post(path, json={**bodies[path], field: value})
        assert resp.status_code == 422 and field in resp.json["error"]["fields"], (value, resp.json)


def test_unknown_choices_are_named_in_plain_words(admin):
    resp = admin.post("/roles", json={"role_name": "坏角色", "data_scope": "self", "permissions": ["99999", "abc"]})
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["fields"]["permissions"] == ["不是有效的选项：99999、abc。"]


def test_json_sent_without_its_content_type_is_told_so(admin):
    """``curl -d '{...}'`` sends form-urlencoded: "the body must be a JSON object" did not say what was wrong."""
    resp = admin.post("/customers", data='{"customer_name": "甲物业"}', content_type="application/x-www-form-urlencoded",
                      json=None, headers={"Accept-Language": "en"})
    assert resp.status_code == 400 and "Content-Type: application/json" in resp.json["error"]["message"], resp.json
    assert admin.get("/customers").json["items"] == []
