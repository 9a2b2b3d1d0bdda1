"""Data scope on real rows in several departments: every list, detail, count and the 360 view show a user
exactly the customers their roles allow (all / custom departments / own department / own department and
below / only own; several roles: the widest)."""

import pytest

from tenant_runtime.people.models import SCOPE_CUSTOM, SCOPE_DEPT, SCOPE_DEPT_TREE
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    add_dept,
    add_role,
    add_user,
    customer_body,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB

VIEW = ["customer.view", "contact.view", "followup.view"]


@pytest.fixture
def company(app, tenants):
    """总部 > 销售部 > (一组, 二组); 总部 > 客服部. A sales user in each group, a manager of 销售部, a
    customer owned by each of them; ``world.api(name)`` signs one in."""
    t = tenants[0]
    sales = add_dept(t, "销售部")
    group1, group2 = add_dept(t, "销售一组", sales), add_dept(t, "销售二组", sales)
    service = add_dept(t, "客服部")
    users = {
        "s1": add_user(t, "s1", ("sales",), group1),
        "s1b": add_user(t, "s1b", ("sales",), group1),
        "s2": add_user(t, "s2", ("sales",), group2),
        "mgr": add_user(t, "mgr", ("sales_manager",), sales),
        "svc": add_user(t, "svc", ("service",), service),
    }
    clients = {name: tenant_api(app, t, name) for name in users}
    clients["admin"] = tenant_api(app, t)
    owned = {}
    for name in ("s1", "s1b", "s2", "mgr"):
        resp = clients[name].post("/customers", json=customer_body(customer_name=f"{name}的客户有限公司"))
        assert resp.status_code == 201, resp.json
        owned[name] = resp.json["id"]

    class World:
        tenant, depts = t, {"sales": sales, "group1": group1, "group2": group2, "service": service}

        def api(self, name):
            return clients[name]

    world = World()
    world.users, world.owned = users, owned
    return world


def visible(client, view="all"):
    resp = client.get(f"/customers?view={view}&limit=200")
    assert resp.status_code == 200, resp.json
    return {c["customer_name"].removesuffix("的客户有限公司") for c in resp.json["items"]}


def test_only_own_sees_only_own(company):
    assert visible(company.api("s1")) == {"s1"}
    assert visible(company.api("s2")) == {"s2"}


def test_own_department_and_below_sees_the_subtree(company):
    assert visible(company.api("mgr")) == {"s1", "s1b", "s2", "mgr"}


def test_all_sees_everything(company):
    assert visible(company.api("admin")) == {"s1", "s1b", "s2", "mgr"}
    assert visible(company.api("svc")) == {"s1", "s1b", "s2", "mgr"}


def test_own_department_excludes_sibling_and_parent_departments(app, company):
    t = company.tenant
    role = add_role(t, "一组组长", SCOPE_DEPT, VIEW)
    add_user(t, "lead1", (role,), company.depts["group1"])
    assert visible(tenant_api(app, t, "lead1")) == {"s1", "s1b"}


def test_custom_departments_see_just_those(app, company):
    t = company.tenant
    role = add_role(t, "二组与销售部", SCOPE_CUSTOM, VIEW, depts=[company.depts["group2"], company.depts["sales"]])
    add_user(t, "auditor", (role,), company.depts["service"])
    assert visible(tenant_api(app, t, "auditor")) == {"s2", "mgr"}


def test_several_roles_give_the_widest(app, company):
    t = company.tenant
    narrow = add_role(t, "只看二组", SCOPE_CUSTOM, VIEW, depts=[company.depts["group2"]])
    add_user(t, "both", ("sales", narrow), company.depts["group1"])
    both = tenant_api(app, t, "both")
    assert both.post("/customers", json=customer_body(customer_name="both的客户有限公司")).status_code == 201
    assert visible(both) == {"both", "s2"}
    tree = add_role(t, "一组树", SCOPE_DEPT_TREE, VIEW)
    add_user(t, "wide", (narrow, tree), company.depts["group1"])
    assert visible(tenant_api(app, t, "wide")) == {"s1", "s1b", "s2", "both"}


def test_detail_360_history_and_edits_of_an_invisible_customer_are_404(company):
    other = company.owned["s2"]
    s1 = company.api("s1")
    for path in (f"/customers/{other}", f"/customers/{other}/360", f"/customers/{other}/history"):
        assert s1.get(path).status_code == 404, path
    assert s1.patch(f"/customers/{other}", json={"level": "important"}).status_code == 404
    assert company.api("s2").get(f"/customers/{other}").json["level"] == "normal"


def test_contacts_and_follow_ups_follow_the_customer_scope(company):
    s2 = company.api("s2")
    mine = company.owned["s2"]
    contact = s2.post("/contacts", json={"customer_id": mine, "contact_name": "王五", "phone": "13700137000"})
    assert contact.status_code == 201, contact.json
    follow = s2.post("/follow-ups", json={"customer_id": mine, "follow_type": "visit", "content": "拜访"})
    assert follow.status_code == 201, follow.json
    s1 = company.api("s1")
    assert s1.get(f"/contacts/{contact.json['id']}").status_code == 404
    assert s1.get(f"/follow-ups/{follow.json['id']}").status_code == 404
    assert s1.get("/contacts?limit=200").json["items"] == []
    assert s1.get("/follow-ups?view=all").json["items"] == []
    # adding to someone else's customer is refused as if it did not exist
    refused = s1.post("/contacts", json={"customer_id": mine, "contact_name": "赵六", "phone": "13700137001"})
    assert refused.status_code == 422 and "customer_id" in refused.json["error"]["fields"]
    assert company.api("mgr").get(f"/contacts/{contact.json['id']}").status_code == 200


def test_views_mine_team_and_all(company):
    mgr = company.api("mgr")
    assert visible(mgr, "mine") == {"mgr"}
    assert visible(mgr, "subordinates") == {"s1", "s1b", "s2"}
    # a sales user has no team view: an unknown view falls back to their own
    assert visible(company.api("s1"), "subordinates") == {"s1"}


def test_home_page_counts_only_own_customers(app, company):
    client = app.test_client()
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    code = company.tenant.code
    page = client.get(f"/t/{code}/login")
    client.post(f"/t/{code}/login", data={"username": "mgr", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    home = client.get(f"/t/{code}/")
    assert home.status_code == 200
    listing = client.get(f"/t/{code}/customers/?view=all")
    for name in ("s1", "s1b", "s2", "mgr"):
        assert f"{name}的客户有限公司" in listing.text
    own = client.get(f"/t/{code}/customers/?view=mine")
    assert "mgr的客户有限公司" in own.text and "s1的客户有限公司" not in own.text
    # the "new in the last 7 days" card links to exactly the customers it counts (an older one is left out)
    import html
    import re

    from tests.tenant_runtime.test_crm_pool import execute

    execute(company.tenant, "INSERT INTO crm_customer (customer_name, name_key, customer_type, level, status, "
                            "deal_status, owner_id, dept_id, created_by, created_at, updated_at) SELECT "
                            "'mgr的老客户', 'mgr的老客户', 'enterprise', 'normal', 'active', 'potential', id, dept_id, id, "
                            "UTC_TIMESTAMP() - INTERVAL 30 DAY, UTC_TIMESTAMP() FROM sys_user WHERE username = 'mgr'")
    card = re.search(r'<a class="stat" href="([^"]+)"><b>(\d+)</b><span>近 7 天新增</span>', client.get(f"/t/{code}/").text)
    listed = client.get(html.unescape(card.group(1))).text
    assert "created_from=" in card.group(1) and "mgr的老客户" not in listed and "mgr的客户有限公司" in listed
    assert f"共 {card.group(2)} 条记录" in listed
    assert "mgr的老客户" in client.get(f"/t/{code}/customers/?view=mine").text


def test_contacts_follow_ups_and_page_counts_follow_each_scope(app, company):
    """For every kind of scope (own, own department, department and below, custom departments, all, and two
    roles together), the contact list, the follow-up list and the list page's count hold exactly the
    records of the customers that user sees."""
    import re

    from tests.tenant_runtime.crm import page_client

    t = company.tenant
    admin = company.api("admin")
    for name, cid in company.owned.items():
        assert admin.post("/contacts", json={"customer_id": cid, "contact_name": f"{name}联系人",
                                             "phone": "13700137000"}).status_code == 201
        assert admin.post("/follow-ups", json={"customer_id": cid, "follow_type": "phone",
                                               "content": f"{name}跟进"}).status_code == 201
    add_user(t, "g1lead", (add_role(t, "一组组长", SCOPE_DEPT, VIEW),), company.depts["group1"])
    add_user(t, "auditor", (add_role(t, "审计", SCOPE_CUSTOM, VIEW, depts=[company.depts["group2"]]),),
             company.depts["service"])
    add_user(t, "twohats", ("sales", add_role(t, "二组", SCOPE_CUSTOM, VIEW, depts=[company.depts["group2"]])),
             company.depts["group1"])
    expected = {"s1": {"s1"}, "s2": {"s2"}, "mgr": {"s1", "s1b", "s2", "mgr"}, "svc": {"s1", "s1b", "s2", "mgr"},
                "admin": {"s1", "s1b", "s2", "mgr"}, "g1lead": {"s1", "s1b"}, "auditor": {"s2"},
                "twohats": {"s2"}}
    for username, names in expected.items():
        client = company.api(username) if username in ("s1", "s2", "mgr", "svc", "admin") else tenant_api(app, t, username)
        contacts = client.get("/contacts?limit=200").json["items"]
        assert {c["contact_name"].removesuffix("联系人") for c in contacts} == names, username
        follow_ups = client.get("/follow-ups?view=all&limit=200").json["items"]
        assert {f["content"].removesuffix("跟进") for f in follow_ups} == names, username
        assert visible(client) == names, username
        page = page_client(app, t, username).get(f"/t/{t.code}/customers/?view=all").text
        assert re.search(r"共 (\d+) 条记录", page).group(1) == str(len(names)), username


def test_role_department_and_user_edits_apply_to_the_next_request(app, company):
    """The scope is read with the token on every request (tenant_runtime/auth.py): an administrator's edit of a
    role, the department tree or a user changes what the same signed-in client sees on its very next call,
    with no sign-in again and nothing kept from the previous request."""
    t, admin, depts = company.tenant, company.api("admin"), company.depts
    role = add_role(t, "审计", SCOPE_CUSTOM, VIEW, depts=[depts["group1"]])
    add_user(t, "auditor", (role,), depts["service"])
    auditor, mgr = tenant_api(app, t, "auditor"), company.api("mgr")
    assert visible(auditor) == {"s1", "s1b"}
    assert visible(mgr) == {"s1", "s1b", "s2", "mgr"}

    # a role's departments
    resp = admin.patch(f"/roles/{role}", json={"dept_ids": [str(depts["group2"])]})
    assert resp.status_code == 200, resp.json
    assert visible(auditor) == {"s2"}
    # a role's data scope
    assert admin.patch(f"/roles/{role}", json={"data_scope": "all"}).status_code == 200
    assert visible(auditor) == {"s1", "s1b", "s2", "mgr"}
    # a role's permissions
    assert admin.patch(f"/roles/{role}", json={"permissions": ["contact.view"]}).status_code == 200
    assert auditor.get("/customers").status_code == 403

    # the department tree: 二组 moved from 销售部 to 客服部 leaves the manager's subtree
    resp = admin.patch(f"/departments/{depts['group2']}", json={"parent_id": str(depts["service"])})
    assert resp.status_code == 200, resp.json
    assert visible(mgr) == {"s1", "s1b", "mgr"}

    # a user's roles: the manager becomes a plain sales user
    sales_role = next(r["id"] for r in admin.get("/roles").json["items"] if r["code"] == "sales")
    resp = admin.patch(f"/users/{company.users['mgr']}", json={"role_ids": [sales_role]})
    assert resp.status_code == 200, resp.json
    assert visible(mgr) == {"mgr"}
    # a user's department, with an own-department scope
    own_dept = add_role(t, "本部门", SCOPE_DEPT, VIEW)
    uid = add_user(t, "deptview", (own_dept,), depts["group1"])
    deptview = tenant_api(app, t, "deptview")
    assert visible(deptview) == {"s1", "s1b"}
    resp = admin.patch(f"/users/{uid}", json={"dept_id": str(depts["group2"])})
    assert resp.status_code == 200, resp.json
    assert visible(deptview) == {"s2"}
