"""Pages and answers beyond the lists read what they show in a fixed number of statements: more people or
departments named on them do not mean more round trips (the workspace's support-access log, the lead
pools, the handovers and the workspace's handover tasks read their related rows once for all of them)."""

from datetime import UTC, datetime

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

PEOPLE = 6


def execute(tenant, sql, **params):
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    engine.dispose()


@pytest.fixture
def people(app, tenants):
    """Six sales people, each in a department of their own, the administrator's API and browser."""
    t = tenants[0]
    depts = [add_dept(t, f"销售{k}部") for k in range(PEOPLE)]
    ids = [add_user(t, f"rep{k}", ("sales",), depts[k], full_name=f"销售代表{k}") for k in range(PEOPLE)]
    admin = tenant_api(app, t)
    admin.get("/me")  # the token's first use writes its last use: not the page's doing
    return t, depts, ids, admin, page_client(app, t)


def test_the_workspace_reads_the_users_support_staff_acted_as_at_once(people):
    """工作台's "support access" log names the user acted as on each line: one read for all of them."""
    t, _depts, ids, _admin, browser = people
    statements = Statements(t)

    def acted_as(user_id):
        execute(t, "INSERT INTO sys_impersonation (staff_id, staff_username, user_id, reason, created_at) "
                   "VALUES (1, 'support', :u, '排查问题', :t)", u=user_id, t=datetime.now(UTC).replace(tzinfo=None))

    for _ in range(3):
        acted_as(ids[0])
    browser.get(f"/t/{t.code}/")  # the pool's settings are written on first use: not the page's doing
    one_user, page = statements.count(lambda: browser.get(f"/t/{t.code}/"))
    assert page.text.count("rep0") == 3
    for user_id in ids[1:]:
        acted_as(user_id)
    many_users, page = statements.count(lambda: browser.get(f"/t/{t.code}/"))
    assert all(f"<td>rep{k}</td>" in page.text for k in range(PEOPLE))
    assert many_users == one_user, statements.texts()


def test_the_lead_pools_read_their_departments_at_once(people):
    """The lead pools' API names each pool's department, the page shows it: one read for all of them."""
    t, depts, _ids, admin, browser = people
    statements = Statements(t)

    def pool(k, dept):
        resp = admin.post("/lead-pools", json={"pool_name": f"线索池{k}", "is_public": False, "dept_id": str(dept)})
        assert resp.status_code == 201, resp.json

    pool(0, depts[0])
    pool(1, depts[0])
    one_dept, answer = statements.count(lambda: admin.get("/lead-pools"))
    assert {p["dept"]["name"] for p in answer.json["items"] if p["dept"]} == {"销售0部"}
    one_dept_page, _page = statements.count(lambda: browser.get(f"/t/{t.code}/lead-pools/"))
    for k, dept in enumerate(depts[1:], start=2):
        pool(k, dept)
    many_depts, answer = statements.count(lambda: admin.get("/lead-pools"))
    assert {p["dept"]["name"] for p in answer.json["items"] if p["dept"]} == {f"销售{k}部" for k in range(PEOPLE)}
    assert many_depts == one_dept, statements.texts()
    many_depts_page, page = statements.count(lambda: browser.get(f"/t/{t.code}/lead-pools/"))
    assert all(f"销售{k}部" in page.text for k in range(PEOPLE))
    assert many_depts_page == one_dept_page, statements.texts()


def _customer_of(admin, owner):
    resp = admin.post("/customers", json=customer_body(owner_id=str(owner)))
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def test_the_handovers_list_reads_their_owners_at_once(people):
    """Each handover's next step depends on whether its owner is still enabled (a departed owner's handover is
    prepared by the reviewer): asked for the whole page at once, in the API and on the page alike."""
    t, depts, ids, admin, browser = people
    statements = Statements(t)
    receivers = [add_user(t, f"recv{k}", ("sales",), depts[k], full_name=f"接手人{k}") for k in range(PEOPLE)]

    def hand_over(k):
        resp = admin.post("/handovers", json={"from_owner_id": str(ids[k]), "to_owner_id": str(receivers[k]),
                                              "customer_ids": [_customer_of(admin, ids[k])]})
        assert resp.status_code == 201, resp.json

    hand_over(0)
    hand_over(0)
    one_owner, answer = statements.count(lambda: admin.get("/handovers?view=all"))
    assert [h["from_owner"]["name"] for h in answer.json["items"]] == ["销售代表0"] * 2
    one_owner_page, _page = statements.count(lambda: browser.get(f"/t/{t.code}/handovers/?view=all"))
    for k in range(1, PEOPLE):
        hand_over(k)
    many_owners, answer = statements.count(lambda: admin.get("/handovers?view=all"))
    assert {h["from_owner"]["name"] for h in answer.json["items"]} == {f"销售代表{k}" for k in range(PEOPLE)}
    assert many_owners == one_owner, statements.texts()
    many_owners_page, page = statements.count(lambda: browser.get(f"/t/{t.code}/handovers/?view=all"))
    assert all(f"销售代表{k}" in page.text and f"接手人{k}" in page.text for k in range(PEOPLE))
    assert many_owners_page == one_owner_page, statements.texts()


def test_the_workspace_reads_the_handover_tasks_at_once(people):
    """A departed user's customers are handed over with the administrator to prepare them: the workspace lists
    one task per departed user, with its customers, events and owner read once for all of them."""
    t, _depts, ids, admin, browser = people
    statements = Statements(t)

    def leaves(k):
        for _ in range(2):
            _customer_of(admin, ids[k])
        assert admin.post(f"/users/{ids[k]}/disable").status_code == 200

    leaves(0)
    browser.get(f"/t/{t.code}/")  # the pool's settings are written on first use: not the page's doing
    one_task, page = statements.count(lambda: browser.get(f"/t/{t.code}/"))
    assert "销售代表0" in page.text
    for k in range(1, PEOPLE):
        leaves(k)
    many_tasks, page = statements.count(lambda: browser.get(f"/t/{t.code}/"))
    tasks = page.text.split('id="handover-tasks"')[1].split("</section>")[0]
    assert all(f'<td class="short hide-narrow">销售代表{k}</td>' in tasks for k in range(PEOPLE)) and tasks.count("<td>2</td>") == PEOPLE
    assert many_tasks == one_task, statements.texts()


def test_a_handover_page_of_many_customers_costs_the_statements_of_one(people):
    """The handover's page names its customers, their checklists and the people of its events: read for the
    whole handover at once, however many customers it carries."""
    t, _depts, ids, admin, browser = people
    statements = Statements(t)

    def handover_of(customers):
        carried = [_customer_of(admin, ids[0]) for _ in range(customers)]
        resp = admin.post("/handovers", json={"from_owner_id": str(ids[0]), "to_owner_id": str(ids[1]),
                                              "customer_ids": carried})
        assert resp.status_code == 201, resp.json
        return resp.json["id"], carried

    (small, _one), (large, carried) = handover_of(1), handover_of(5)
    browser.get(f"/t/{t.code}/handovers/{small}")  # first use of the page: not its steady cost
    one, page = statements.count(lambda: browser.get(f"/t/{t.code}/handovers/{small}"))
    many, page = statements.count(lambda: browser.get(f"/t/{t.code}/handovers/{large}"))
    assert "销售代表0" in page.text
    assert all(f'href="/t/{t.code}/customers/{c}"' in page.text for c in carried)  # each customer's checklist
    assert many == one, statements.texts()
