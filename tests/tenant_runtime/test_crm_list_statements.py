"""A list reads what it shows in a fixed number of statements: more owners on the page do not mean more
round trips (the related rows are read once for the whole page, not once per row)."""

import pytest
import sqlalchemy as sa

from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    Statements,
    add_dept,
    add_user,
    customer_body,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB


def owner_name(tenant, user_id):
    engine = tenant.engine()
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT full_name FROM sys_user WHERE id = :i"), {"i": user_id}).scalar()
    engine.dispose()
    return name


@pytest.fixture
def owners(app, tenants):
    t = tenants[0]
    dept = add_dept(t, "销售部")
    ids = [add_user(t, f"own{k}", ("sales",), dept) for k in range(6)]
    return t, ids, tenant_api(app, t)


def _customer(admin, k, owner):
    resp = admin.post("/customers", json=customer_body(owner_id=str(owner)))
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


MAKERS = {
    "/customers": lambda admin, k, owner: admin.post("/customers", json=customer_body(owner_id=str(owner))),
    "/leads": lambda admin, k, owner: admin.post("/leads", json={"lead_name": f"线索{k}", "source": "exhibition",
                                                                 "owner_id": str(owner)}),
    # one customer (of that owner) per item: the page names as many customers as owners
    "/contacts": lambda admin, k, owner: admin.post("/contacts", json={
        "customer_id": _customer(admin, k, owner), "contact_name": f"联系人{k}", "phone": f"1370013{k:04d}"}),
    "/follow-ups": lambda admin, k, owner: admin.post("/follow-ups", json={
        "customer_id": _customer(admin, k, owner), "follow_type": "phone", "content": f"第{k}次电话沟通"}),
}


@pytest.mark.parametrize("path", list(MAKERS))
def test_a_page_of_many_owners_costs_the_statements_of_a_page_of_one(app, owners, path):
    """The API's list and the HTML list page."""
    t, ids, admin = owners
    make, statements, browser = MAKERS[path], Statements(t), page_client(app, t)
    page_path = f"/t/{t.code}{path}/"
    for k in range(3):
        assert make(admin, k, ids[0]).status_code == 201
    one_owner, answer = statements.count(lambda: admin.get(path))
    assert len(answer.json["items"]) == 3
    one_owner_page, _page = statements.count(lambda: browser.get(page_path))
    for k, owner in enumerate(ids[1:], start=3):
        assert make(admin, k, owner).status_code == 201
    many_owners, answer = statements.count(lambda: admin.get(path))
    assert len(answer.json["items"]) == 3 + len(ids) - 1
    assert one_owner > 0 and many_owners == one_owner, statements.texts()
    many_owners_page, page = statements.count(lambda: browser.get(page_path))
    if path in ("/customers", "/leads"):  # the lists with an owner column
        assert all(owner_name(t, owner) in page.text for owner in ids)
    assert many_owners_page == one_owner_page, statements.texts()


def test_a_page_of_users_in_many_departments_costs_the_statements_of_one_department(app, tenants):
    t = tenants[0]
    admin, statements = tenant_api(app, t), Statements(t)
    admin.get("/me")  # the token's first use writes its last use: not the list's doing
    first = add_dept(t, "部门0")
    for k in range(3):
        add_user(t, f"dept0u{k}", ("sales",), first)
    one_dept, page = statements.count(lambda: admin.get("/users"))
    for k in range(1, 6):
        add_user(t, f"dept{k}u", ("sales",), add_dept(t, f"部门{k}"))
    many_depts, page = statements.count(lambda: admin.get("/users"))
    assert len({u["dept_id"] for u in page.json["items"]}) >= 6
    assert many_depts == one_dept, statements.texts()
