"""Volume data and the customer list at scale, at a small scale: ``flask crm fill`` writes rows the app
itself would have written (data scope columns, departments, owners, tags, follow-up bookkeeping), a list
read branch by branch over the data scope returns exactly what the plain query returns, page after page
and in every sort, and on MariaDB the list statements read through the list indexes (EXPLAIN: an index
key, no filesort over the table). Behaviour, not timing: bench/bench_crm.py measures the time."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenant_runtime.core import listing
from tenant_runtime.demo import TAGS, VOLUME_GROUPS, VOLUME_REGIONS, VOLUME_SALES
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    Statements,
    every_item,
    tenant_api,
)
from tests.tenant_runtime.crm import page_client as admin_pages

pytestmark = CONTROL_ON_MARIADB

FILL_PASSWORD = "Volume-Pass-42"


def fill(app, tenant, customers, follow_ups, contacts=None, chunk=100):
    args = ["crm", "fill", tenant.code, "--customers", str(customers), "--follow-ups", str(follow_ups),
            "--chunk", str(chunk), "--password", FILL_PASSWORD]
    if contacts is not None:
        args += ["--contacts", str(contacts)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert f"added {customers} customers and {follow_ups} follow-ups" in result.output


_SNAPSHOTS = set()  # the snapshot databases this test process has written


def filled_once(tenant, name, fill_it):
    """``fill_it()`` the first time in this test process; later, its rows are copied back from a snapshot
    database the first fill left (server-side ``INSERT ... SELECT``: about a second instead of ten). The
    rows the test's reset wrote (root department, administrator, built-in roles: the same ids) stay as
    they are; the fill's are added. The snapshot carries the run's prefix, so the run's cleanup drops it."""
    from tenant_runtime.models import TenantBase

    shadow = f"{tenant.database}_{name}"
    tables = [t.name for t in TenantBase.metadata.sorted_tables if t.name != "tenant_identity"]
    first = shadow not in _SNAPSHOTS
    if first:
        fill_it()
    engine = tenant.engine()
    with engine.begin() as conn:
        if first:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{shadow}`")
            conn.exec_driver_sql(f"CREATE DATABASE `{shadow}`")
            for table in tables:
                conn.exec_driver_sql(f"CREATE TABLE `{shadow}`.`{table}` LIKE `{table}`")
                conn.exec_driver_sql(f"INSERT INTO `{shadow}`.`{table}` SELECT * FROM `{table}`")
            _SNAPSHOTS.add(shadow)
        else:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
            for table in tables:
                conn.exec_driver_sql(f"INSERT IGNORE INTO `{table}` SELECT * FROM `{shadow}`.`{table}`")
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    engine.dispose()


def rows(tenant, sql, **params):
    engine = tenant.engine()
    with engine.connect() as conn:
        out = conn.execute(sa.text(sql), params).all()
    engine.dispose()
    return out


def one(tenant, sql, **params):
    return rows(tenant, sql, **params)[0][0]


def user_id(tenant, username):
    return one(tenant, "SELECT id FROM sys_user WHERE username = :u", u=username)


def subtree(tenant, root):
    children = {}
    for dept_id, parent in rows(tenant, "SELECT id, parent_id FROM sys_dept"):
        children.setdefault(parent, []).append(dept_id)
    out, stack = set(), [root]
    while stack:
        node = stack.pop()
        out.add(node)
        stack.extend(children.get(node, ()))
    return out


def walk(client, query, limit):
    """Every customer of a list, following its cursors."""
    return every_item(client, f"/customers?{query}&limit={limit}")


# --- the fill --------------------------------------------------------------------------------------------


def test_fill_writes_what_the_app_would_have_written(app, tenants):
    t = tenants[0]
    fill(app, t, 300, 900, contacts=120)

    # the synthetic sales organisation: 销售中心 > three regions > three groups each, one user per seat
    centre = one(t, "SELECT id FROM sys_dept WHERE dept_name = '销售中心'")
    assert len(subtree(t, centre)) == 1 + len(VOLUME_REGIONS) * (1 + VOLUME_GROUPS)
    people = rows(t, "SELECT u.username, r.code FROM sys_user u JOIN sys_user_role ur ON ur.user_id = u.id "
                     "JOIN sys_role r ON r.id = ur.role_id WHERE u.username LIKE 'vol%'")
    roles = [code for _name, code in people]
    assert roles.count("sales") == len(VOLUME_REGIONS) * VOLUME_GROUPS * VOLUME_SALES  # one per seat
    assert roles.count("sales_manager") == 1 + len(VOLUME_REGIONS)

    assert one(t, "SELECT COUNT(*) FROM crm_customer") == 300
    assert one(t, "SELECT COUNT(*) FROM crm_follow_up WHERE relation_type = 'customer'") == 900
    assert one(t, "SELECT COUNT(*) FROM crm_contact") == 120
    assert one(t, "SELECT COUNT(DISTINCT customer_id) FROM crm_contact") == 120
    # the data scope's two columns: every customer is owned by an enabled user and sits in that user's department
    assert one(t, "SELECT COUNT(*) FROM crm_customer c JOIN sys_user u ON u.id = c.owner_id "
                  "WHERE u.dept_id = c.dept_id AND u.status = 1 AND c.deleted_at IS NULL "
                  "AND c.status = 'active' AND c.created_by = c.owner_id") == 300
    # spread over the whole organisation, every sales user owning some
    sales_users = len(VOLUME_REGIONS) * VOLUME_GROUPS * VOLUME_SALES
    assert one(t, "SELECT COUNT(DISTINCT owner_id) FROM crm_customer") >= sales_users
    # follow-up bookkeeping: written by the owner, after the creation, and the newest is the customer's last one
    assert one(t, "SELECT COUNT(*) FROM crm_follow_up f JOIN crm_customer c ON c.id = f.relation_id "
                  "WHERE f.created_by <> c.owner_id OR f.created_at < c.created_at OR f.created_at > :now",
               now=datetime.now(UTC).replace(tzinfo=None)) == 0
    mismatched = rows(t, "SELECT c.id FROM crm_customer c LEFT JOIN (SELECT relation_id, MAX(created_at) AS newest "
                         "FROM crm_follow_up GROUP BY relation_id) f ON f.relation_id = c.id "
                         "WHERE NOT (c.last_follow_up_at <=> f.newest)")
    assert mismatched == []
    assert one(t, "SELECT COUNT(*) FROM crm_customer WHERE last_follow_up_at IS NULL") > 0  # some never followed up
    # "newest first" is id order: creation times grow with the id, spread over years
    created = [r[0] for r in rows(t, "SELECT created_at FROM crm_customer ORDER BY id")]
    assert created == sorted(created) and (created[-1] - created[0]).days > 365
    tags = rows(t, "SELECT tag, COUNT(*) FROM crm_customer_tag GROUP BY tag")
    assert tags and {tag for tag, _n in tags} <= set(TAGS)
    assert {r[0] for r in rows(t, "SELECT level FROM crm_customer")} == {"important", "normal", "potential"}

    # a second fill adds to the same organisation, and its follow-ups belong to its own customers
    fill(app, t, 100, 50, contacts=0)
    assert one(t, "SELECT COUNT(*) FROM sys_user WHERE username LIKE 'vol%'") == len(people)
    assert one(t, "SELECT COUNT(*) FROM crm_customer") == 400
    assert one(t, "SELECT COUNT(*) FROM crm_follow_up") == 950
    assert one(t, "SELECT COUNT(*) FROM crm_follow_up f JOIN crm_customer c ON c.id = f.relation_id "
                  "WHERE c.id > (SELECT MAX(id) - 100 FROM crm_customer)") == 50

    # the app agrees: a sales user signs in with the fill's password and sees exactly their own customers,
    # a region manager their region's, and a filled customer's 360 view opens
    sales = tenant_api(app, t, "vol_s000", FILL_PASSWORD)
    own = {int(c["id"]) for c in walk(sales, "level=important&level=normal&level=potential", 200)}
    assert own == {r[0] for r in rows(t, "SELECT id FROM crm_customer WHERE owner_id = :u", u=user_id(t, "vol_s000"))}
    region = one(t, "SELECT dept_id FROM sys_user WHERE username = 'vol_m0'")
    manager = tenant_api(app, t, "vol_m0", FILL_PASSWORD)
    seen = {int(c["id"]) for c in walk(manager, "view=all", 200)}
    assert seen == {r[0] for r in rows(t, "SELECT id FROM crm_customer WHERE dept_id IN :d",
                                       d=tuple(subtree(t, region)))}
    with_contact = one(t, "SELECT MIN(customer_id) FROM crm_contact WHERE owner_id = :u", u=user_id(t, "vol_s000"))
    view = sales.get(f"/customers/{with_contact}/360")
    assert view.status_code == 200, view.json
    assert len(view.json["contacts"]) == 1
    assert len(view.json["follow_ups"]) == one(t, "SELECT COUNT(*) FROM crm_follow_up WHERE relation_id = :c",
                                               c=with_contact)


# --- lists read branch by branch -------------------------------------------------------------------------


@pytest.fixture
def filled(app, tenants):
    t = tenants[0]
    filled_once(t, "filled", lambda: fill(app, t, 600, 600, chunk=200))
    return t


@pytest.mark.parametrize("sort, order", [
    ("-created", "c.id DESC"),
    ("created", "c.id ASC"),
    ("-last_follow_up", "c.last_follow_up_at IS NULL, c.last_follow_up_at DESC, c.id DESC"),
    ("next_follow_up", "c.next_follow_up_at IS NULL, c.next_follow_up_at ASC, c.id ASC"),
    ("name", "c.name_pinyin IS NULL, c.name_pinyin ASC, c.id ASC"),
    ("level", "c.level ASC, c.id ASC"),
    ("-level", "c.level DESC, c.id DESC"),
])
def test_a_scope_read_branch_by_branch_pages_like_the_plain_query(app, filled, sort, order):
    """The director sees the whole centre (his own customers and thirteen departments): walking his list in
    small pages, in every sort, filtered or not, gives the rows the plain query gives, in its order, once."""
    t = filled
    director = tenant_api(app, t, "vol_director", FILL_PASSWORD)
    depts = tuple(subtree(t, one(t, "SELECT dept_id FROM sys_user WHERE username = 'vol_director'")))
    me = user_id(t, "vol_director")
    # a deleted customer in the scope stays out of every branch
    deleted = one(t, "SELECT MAX(id) FROM crm_customer")
    engine = t.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE crm_customer SET deleted_at = NOW() WHERE id = :c"), {"c": deleted})
    engine.dispose()
    for level in (None, "important"):
        where = "c.deleted_at IS NULL AND (c.owner_id = :me OR c.dept_id IN :d)"
        where += " AND c.level = :lv" if level else ""
        expected = [r[0] for r in rows(t, f"SELECT c.id FROM crm_customer c WHERE {where} ORDER BY {order}",
                                       me=me, d=depts, lv=level)]
        got = [int(c["id"]) for c in walk(director, f"sort={sort}" + (f"&level={level}" if level else ""), 17)]
        assert got == expected
        assert deleted not in got


def test_the_subordinates_view_reads_branch_by_branch_too(app, filled):
    t = filled
    manager = tenant_api(app, t, "vol_m1", FILL_PASSWORD)
    me, region = user_id(t, "vol_m1"), one(t, "SELECT dept_id FROM sys_user WHERE username = 'vol_m1'")
    expected = [r[0] for r in rows(t, "SELECT id FROM crm_customer WHERE dept_id IN :d AND owner_id <> :me "
                                      "ORDER BY id DESC", d=tuple(subtree(t, region)), me=me)]
    assert [int(c["id"]) for c in walk(manager, "view=subordinates", 23)] == expected
    mine = [int(c["id"]) for c in walk(manager, "view=mine", 23)]
    assert mine == [r[0] for r in rows(t, "SELECT id FROM crm_customer WHERE owner_id = :me ORDER BY id DESC", me=me)]


def page_client(app, tenant, username):
    from tests.conftest import csrf_from

    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    resp = client.post(f"/t/{tenant.code}/login", data={"username": username, "password": FILL_PASSWORD,
                                                        "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302, resp.text
    return client


def test_the_list_page_counts_the_scope_branch_by_branch(app, filled, monkeypatch):
    """The page's total adds up the branches' capped counts: the manager's own customers are counted once
    (they are also in his department), and the count stops past the cap."""
    from tenant_runtime.core import listing

    t = filled
    me, region = user_id(t, "vol_m1"), one(t, "SELECT dept_id FROM sys_user WHERE username = 'vol_m1'")
    depts = tuple(subtree(t, region))
    client = page_client(app, t, "vol_m1")
    for level in (None, "important"):
        expected = one(t, "SELECT COUNT(*) FROM crm_customer WHERE (owner_id = :me OR dept_id IN :d)"
                          + (" AND level = :lv" if level else ""), me=me, d=depts, lv=level)
        assert expected > 0 and one(t, "SELECT COUNT(*) FROM crm_customer WHERE owner_id = :me", me=me) > 0
        page = client.get(f"/t/{t.code}/customers/?view=all" + (f"&level={level}" if level else ""))
        assert page.status_code == 200
        assert f"共 {expected} 条记录" in page.text
    # past the cap the count stops at cap + 1, and the page says "more than" the cap
    monkeypatch.setattr(listing, "COUNT_CAP", 30)
    assert "超过 30 条记录" in client.get(f"/t/{t.code}/customers/?view=all").text


# --- EXPLAIN ---------------------------------------------------------------------------------------------


def explain(tenant, statement, parameters):
    """EXPLAIN's rows; where MariaDB adds a rowid filter from a second index (type ``ref|filter``, key
    ``a|b``, rows ``9 (0%)``), the access itself: the first of each. ``rows`` as an int."""
    engine = tenant.engine()
    with engine.connect() as conn:
        plan = [dict(r) for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters).mappings()]
    engine.dispose()
    for p in plan:
        for column in ("type", "key"):
            if p[column]:
                p[column] = p[column].split("|")[0]
        p["rows"] = int(str(p["rows"]).split()[0]) if p["rows"] is not None else 0
    return plan


@pytest.fixture
def volume(app, tenants):
    """Enough customers that the optimizer's choice is the one it makes at a million (statistics fresh)."""
    t = tenants[0]
    if t.engine().dialect.name != "mysql":
        pytest.skip("EXPLAIN is MariaDB's")
    filled_once(t, "volume", lambda: fill(app, t, 6000, 6000, contacts=600, chunk=2000))
    engine = t.engine()
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE TABLE crm_customer, crm_follow_up, crm_contact, crm_customer_tag").all()
    engine.dispose()
    return t


LIST_KEYS = {"ix_crm_customer_owner_list", "ix_crm_customer_dept_list", "ix_crm_customer_owner_recent",
             "ix_crm_customer_dept_recent", "PRIMARY"}


def assert_indexed(plan, keys, limit, branches):
    """Every read of crm_customer goes through an index (eq_ref/ref/range, never a scan of the table); one
    that reads more than a page of rows uses one of ``keys`` in their order (no filesort, no temporary
    table). A branch of a page or two (a manager's own few customers) may sort what it read; what else is
    sorted is the merged page (derived tables of at most ``limit + 1`` rows per branch)."""
    reads = [p for p in plan if p["table"] == "crm_customer"]
    assert reads, plan
    for p in reads:
        assert p["key"] and p["type"] in ("eq_ref", "ref", "range", "const"), plan
        if int(p["rows"] or 0) > limit + 1:
            assert p["key"] in keys, plan
            assert "filesort" not in (p["Extra"] or ""), plan
            assert "temporary" not in (p["Extra"] or ""), plan
    for p in plan:
        if str(p["table"]).startswith("<derived"):
            assert int(p["rows"] or 0) <= (limit + 1) * branches, plan


def branch_count(tenant, who):
    """How many branches the user's list reads: their own customers, and each department of theirs below."""
    if who == "vol_s000":
        return 1
    return 1 + len(subtree(tenant, one(tenant, "SELECT dept_id FROM sys_user WHERE username = :u", u=who)))


def list_statement(statements):
    """The list's statement: not a search's first try in id order (``ROWS EXAMINED``, see ``ListSpec.page``), nor
    the word index's capped counts (which read crm_customer_word), nor a search's read of the matching contacts of
    the list's customers (``listing.Linked``)."""
    return next((s, p) for s, p in statements.seen if s.startswith("SELECT crm_customer.")
                and re.search(r"FROM crm_customer\b(?!_)", s) and "LIMIT" in s and "ROWS EXAMINED" not in s)


def contact_list_statement(statements):
    """The contact list's statement (not the word index's capped counts, which read crm_contact_word)."""
    return next((s, p) for s, p in statements.seen if re.search(r"FROM crm_contact\b(?!_)", s) and "LIMIT" in s)


def probe_statement(statements):
    return next(((s, p) for s, p in statements.seen if "ROWS EXAMINED" in s), None)


@pytest.mark.parametrize("who, query, keys", [
    ("vol_s000", "level=important", {"ix_crm_customer_owner_list"}),
    ("vol_s000", "", {"ix_crm_customer_owner_recent"}),
    ("vol_m0", "level=important", {"ix_crm_customer_owner_list", "ix_crm_customer_dept_list", "PRIMARY"}),
    ("vol_m0", "", {"ix_crm_customer_owner_recent", "ix_crm_customer_dept_recent", "PRIMARY"}),
    ("vol_director", "level=normal", {"ix_crm_customer_owner_list", "ix_crm_customer_dept_list", "PRIMARY"}),
    ("vol_m0", "view=subordinates&level=potential", {"ix_crm_customer_owner_list", "ix_crm_customer_dept_list",
                                                     "PRIMARY"}),
])
def test_list_statements_read_through_the_list_indexes(app, volume, who, query, keys):
    t = volume
    client = tenant_api(app, t, who, FILL_PASSWORD)
    statements = Statements(t)
    branches = branch_count(t, who)
    first = statements.during(lambda: client.get(f"/customers?{query}&limit=20"))
    assert_indexed(explain(t, *list_statement(statements)), keys, 20, branches)
    assert first.json["next_cursor"]
    # a deep page: a cursor a few pages down the list
    cursor = first.json["next_cursor"]
    assert cursor
    for _ in range(5):
        resp = client.get(f"/customers?{query}&limit=20&cursor={cursor}")
        assert resp.status_code == 200, resp.json
        if resp.json["next_cursor"] is None:
            break
        cursor = resp.json["next_cursor"]
    deep = statements.during(lambda: client.get(f"/customers?{query}&limit=20&cursor={cursor}"))
    assert int(deep.json["items"][0]["id"]) < int(first.json["items"][-1]["id"])
    assert_indexed(explain(t, *list_statement(statements)), keys, 20, branches)


@pytest.mark.parametrize("who, query, keys", [
    ("vol_s000", "q=1", {"ix_crm_customer_owner_recent"}),
    ("vol_m0", "q=1", {"ix_crm_customer_owner_recent", "ix_crm_customer_dept_recent"}),
    ("vol_director", "view=mine&q=1", {"ix_crm_customer_owner_recent"}),
])
def test_a_search_within_a_scope_reads_the_scopes_rows_not_the_table(app, volume, who, query, keys, monkeypatch):
    """A search (LIKE, which no index serves) of a limited list reads the scope's rows through its index in id
    order; MariaDB on its own read the whole table backwards by primary key (170 ms for a sales user at 100k).
    (When its first try in id order, examining a few rows, did not fill the page: here it examines 10.)"""
    monkeypatch.setattr(listing, "PROBE_ROWS", 10)
    t = volume
    client = tenant_api(app, t, who, FILL_PASSWORD)
    statements = Statements(t)
    branches = branch_count(t, who)
    found = statements.during(lambda: client.get(f"/customers?{query}&limit=20"))
    assert found.status_code == 200 and found.json["items"]
    statement, params = list_statement(statements)
    assert "IGNORE INDEX FOR ORDER BY (PRIMARY)" in statement
    plan = explain(t, statement, params)
    reads = [p for p in plan if p["table"] == "crm_customer"]
    for p in reads:  # never the whole table or a whole index; what reads many rows reads the scope's index
        assert p["type"] not in ("ALL", "index"), plan
        if p["rows"] > 21:
            assert set(str(p["key"]).split(",")) <= keys, plan
    assert any(set(str(p["key"]).split(",")) & keys for p in reads), plan
    for p in plan:
        if str(p["table"]).startswith("<derived"):
            assert p["rows"] <= 21 * branches, plan


def test_a_search_in_a_wide_scope_takes_the_page_read_in_id_order(app, volume, monkeypatch):
    """A director's search for something most names hold: the first try reads by primary key, examining at most
    PROBE_ROWS rows, and fills the page, so the scope's department-by-department read (13 of them at a million
    customers: 55 ms against 1 ms) is not needed. The same pages, page after page, as without the first try;
    a sales user's few customers do not fill a page within the rows examined, and the scope's read answers."""
    t = volume
    director = tenant_api(app, t, "vol_director", FILL_PASSWORD)
    statements = Statements(t)
    first = statements.during(lambda: director.get("/customers?q=1&limit=20"))
    statement, params = probe_statement(statements)
    assert "FORCE INDEX (PRIMARY)" in statement and len(first.json["items"]) == 20
    assert all("ROWS EXAMINED" in s for s, _p in statements.seen
               if s.startswith("SELECT crm_customer.") and "LIMIT" in s), \
        statements.texts()  # the page came from the first try alone
    plan = [p for p in explain(t, statement, params) if p["table"] == "crm_customer"]
    assert plan[0]["key"] == "PRIMARY" and "filesort" not in (plan[0]["Extra"] or ""), plan
    # page after page of a word about a tenth of the rows hold (q=1 is in nearly every phone: 300 pages)
    with_probe = walk(director, "q=11", 20)
    monkeypatch.setattr(listing, "PROBE_ROWS", 0)
    assert walk(director, "q=11", 20) == with_probe and len(with_probe) > 40
    monkeypatch.setattr(listing, "PROBE_ROWS", 50)  # a sales user's own are about one row in 40
    sales = tenant_api(app, t, "vol_s000", FILL_PASSWORD)
    statements.during(lambda: sales.get("/customers?q=1&limit=20"))
    assert probe_statement(statements) and "IGNORE INDEX FOR ORDER BY (PRIMARY)" in list_statement(statements)[0]


def test_a_search_is_counted_in_id_order_when_its_scope_is_wide(app, volume, monkeypatch):
    """The page's "共 N 条" for a search: an administrator's (every customer) and a region manager's whose page
    came from the first try in id order are counted in primary-key order, examining at most COUNT_PROBE_ROWS
    rows, with the same totals as the scope's own count; past that budget MariaDB answers no row and the count
    falls back to it. A sales user's search, whose page did not come from the first try, is not tried."""
    t = volume
    monkeypatch.setattr(listing, "SEARCH_COUNT_CAP", 10000)  # every total below exact
    statements = Statements(t)
    m1, region = user_id(t, "vol_m1"), one(t, "SELECT dept_id FROM sys_user WHERE username = 'vol_m1'")
    like = "(customer_name LIKE '%%2%%' OR phone LIKE '%%2%%') AND deleted_at IS NULL"
    cases = [("admin", "", one(t, f"SELECT COUNT(*) FROM crm_customer WHERE {like}")),
             ("vol_m1", "view=all&", one(t, f"SELECT COUNT(*) FROM crm_customer WHERE {like} AND "
                                          "(owner_id = :me OR dept_id IN :d)", me=m1, d=tuple(subtree(t, region))))]
    for who, view, expected in cases:
        client = admin_pages(app, t) if who == "admin" else page_client(app, t, who)
        page = statements.during(lambda: client.get(f"/t/{t.code}/customers/?{view}q=2"))
        assert f"共 {expected} 条记录" in page.text, who
        counts = [st for st, _p in statements.seen if "count(*)" in st.lower()]
        assert len(counts) == 1 and "LIMIT ROWS EXAMINED" in counts[0] and "FORCE INDEX (PRIMARY)" in counts[0], \
            statements.texts()
        # the page's next link (its cursor, its trail) keeps the search and answers with the same count
        following = re.search(r'<a class="btn btn-sm" rel="next" href="([^"]+)"', page.text).group(1)
        second = client.get(following.replace("&amp;", "&"))
        assert second.status_code == 200 and "q=2" in following and f"共 {expected} 条记录" in second.text, who
        monkeypatch.setattr(listing, "COUNT_PROBE_ROWS", 10)  # stopped: the scope's own count answers
        page = statements.during(lambda: client.get(f"/t/{t.code}/customers/?{view}q=2"))
        assert f"共 {expected} 条记录" in page.text, who
        monkeypatch.setattr(listing, "COUNT_PROBE_ROWS", 200_000)
    # a search's count stops sooner than a list's: "超过 1,000 条记录" (here at 5)
    monkeypatch.setattr(listing, "SEARCH_COUNT_CAP", 5)
    assert "超过 5 条记录" in admin_pages(app, t).get(f"/t/{t.code}/customers/?q=2").text
    assert "超过 5 条记录" not in admin_pages(app, t).get(f"/t/{t.code}/customers/").text
    monkeypatch.setattr(listing, "PROBE_ROWS", 10)  # the sales user's page does not come from the first try
    statements.during(lambda: page_client(app, t, "vol_s000").get(f"/t/{t.code}/customers/?q=2"))
    assert not any("ROWS EXAMINED" in st and "count(*)" in st.lower() for st, _p in statements.seen)


@pytest.mark.parametrize("who", ["admin", "vol_s000", "vol_director"])
def test_a_whole_phone_number_is_looked_up_by_its_index(app, volume, who):
    """A caller's number pasted as people write it (+86 166-0000-xxxx) is the stored E.164: one row through the
    phone's unique index, whoever searches (a LIKE of its digits read every row), and no first try in id order."""
    t = volume
    owner = user_id(t, "vol_s000")
    cid, phone = rows(t, "SELECT id, phone FROM crm_customer WHERE owner_id = :u ORDER BY id LIMIT 1", u=owner)[0]
    typed = f"+86 {phone[3:6]}-{phone[6:10]}-{phone[10:]}"
    client = tenant_api(app, t) if who == "admin" else tenant_api(app, t, who, FILL_PASSWORD)
    statements = Statements(t)
    found = statements.during(lambda: client.get("/customers", query_string={"q": typed, "limit": 20}))
    assert [item["id"] for item in found.json["items"]] == [str(cid)]
    assert not any("ROWS EXAMINED" in s for s, _p in statements.seen), statements.texts()
    plan = [p for p in explain(t, *list_statement(statements)) if p["table"] == "crm_customer"]
    assert any(p["type"] == "const" and "phone" in str(p["key"]) for p in plan), plan
    assert all(p["rows"] <= 1 for p in plan), plan


@pytest.mark.parametrize("who", ["admin", "vol_s000"])
def test_a_contact_s_whole_phone_number_is_looked_up_by_its_index(app, volume, who):
    """The same for contacts: their phone was indexed only after the customer (unique per customer), so a pasted
    number read every contact (revision 0010 gave it an index of its own)."""
    t = volume
    owner = user_id(t, "vol_s000")
    cid, phone = rows(t, "SELECT id, phone FROM crm_contact WHERE owner_id = :u ORDER BY id LIMIT 1", u=owner)[0]
    typed = f"{phone[3:6]} {phone[6:10]} {phone[10:]}"
    client = tenant_api(app, t) if who == "admin" else tenant_api(app, t, who, FILL_PASSWORD)
    statements = Statements(t)
    found = statements.during(lambda: client.get("/contacts", query_string={"q": typed, "limit": 20}))
    assert [item["id"] for item in found.json["items"]] == [str(cid)]
    statement = contact_list_statement(statements)
    plan = [p for p in explain(t, *statement) if p["table"] == "crm_contact"]
    # a number may be two customers' contacts' (one person, two companies): a few rows, never the table
    assert plan and all(p["key"] == "ix_crm_contact_phone" and p["rows"] <= 5 for p in plan), str(plan)


def test_a_contact_s_name_is_searched_through_the_word_index(app, volume):
    """An administrator's search of every contact for a name reads the name's few contacts through
    crm_contact_word (the volume fill writes it), not every contact, with the answer a LIKE of every name gives."""
    t = volume
    name = one(t, "SELECT contact_name FROM crm_contact WHERE CHAR_LENGTH(contact_name) >= 2 ORDER BY id LIMIT 1")
    expected = sorted(str(cid) for (cid,) in rows(
        t, "SELECT c.id FROM crm_contact c JOIN crm_customer u ON u.id = c.customer_id WHERE c.deleted_at IS NULL "
        "AND u.deleted_at IS NULL AND c.contact_name LIKE :p", p=f"%{name}%"))
    statements = Statements(t)
    found = statements.during(lambda: tenant_api(app, t).get("/contacts", query_string={"q": name, "limit": 100}))
    assert sorted(item["id"] for item in found.json["items"]) == expected and expected
    statement = contact_list_statement(statements)
    assert "crm_contact_word" in statement[0]
    plan = [p for p in explain(t, *statement) if p["table"] == "crm_contact"]
    assert plan and all(p["type"] in ("eq_ref", "ref", "const", "range") for p in plan), str(plan)


def test_a_phone_s_last_digits_are_searched_through_the_word_index(app, volume):
    """尾号: an administrator's search of every customer for a phone's last six digits reads the few customers
    holding its rarest run of four digits through crm_customer_word (the volume fill writes them), not every row,
    with the answer a LIKE of every name and phone gives."""
    t = volume
    # the fill's phones are +86166 and the id in 8 digits: four last digits without a 0 are few phones' digits
    phone = one(t, "SELECT phone FROM crm_customer WHERE deleted_at IS NULL AND phone REGEXP '[1-9]{4}$' "
                   "ORDER BY id DESC LIMIT 1")
    tail = phone[-4:]
    expected = sorted(str(cid) for (cid,) in rows(
        t, "SELECT id FROM crm_customer WHERE deleted_at IS NULL AND (phone LIKE :p OR customer_name LIKE :p)",
        p=f"%{tail}%"))
    statements = Statements(t)
    found = statements.during(lambda: tenant_api(app, t).get("/customers", query_string={"q": tail, "limit": 100}))
    assert sorted(item["id"] for item in found.json["items"]) == expected and 0 < len(expected) < 100
    statement = list_statement(statements)
    assert "crm_customer_word" in statement[0], statements.texts()
    plan = [p for p in explain(t, *statement) if p["table"] == "crm_customer"]
    assert plan and all(p["type"] in ("eq_ref", "ref", "const", "range") for p in plan), str(plan)


def test_a_search_of_every_customer_keeps_reading_by_id(app, volume):
    """Unlimited (the administrator's 全部客户), reading by id and stopping at a page of matches is the best plan:
    no hint."""
    client = tenant_api(app, volume)
    statements = Statements(volume)
    assert statements.during(lambda: client.get("/customers?q=1&limit=20")).json["items"]
    assert "IGNORE INDEX" not in list_statement(statements)[0]


def test_the_360_view_reads_by_key(app, volume):
    t = volume
    client = tenant_api(app, t, "vol_s000", FILL_PASSWORD)
    customer = one(t, "SELECT MAX(customer_id) FROM crm_contact WHERE owner_id = :u", u=user_id(t, "vol_s000"))
    statements = Statements(t)
    statements.during(lambda: client.get(f"/customers/{customer}/360"))
    crm = [(s, p) for s, p in statements.seen if "crm_" in s]
    assert crm
    for statement, parameters in crm:
        for p in explain(t, statement, parameters):
            assert p["type"] in ("const", "eq_ref", "ref", "range", "system", None), (statement, p)
            assert "filesort" not in (p["Extra"] or "") or int(p["rows"] or 0) < 100, (statement, p)


@pytest.mark.parametrize("who, query", [("vol_s000", "view=mine"), ("vol_m0", "view=all"),
                                        ("vol_m0", "view=all&level=important"), ("vol_director", "view=all")])
def test_the_page_count_reads_the_list_indexes_alone(app, volume, who, query):
    """The list page's capped count ("10000+") reads index entries, not rows: each count statement goes
    through a list index that covers it (a branch of a page's worth of rows may check them)."""
    t = volume
    client = page_client(app, t, who)
    statements = Statements(t)
    statements.during(lambda: client.get(f"/t/{t.code}/customers/?{query}"))
    counts = [(s, p) for s, p in statements.seen if s.lstrip().upper().startswith("SELECT COUNT(")
              and "crm_customer" in s]
    assert counts
    for statement, parameters in counts:
        for p in explain(t, statement, parameters):
            if p["table"] != "crm_customer":
                continue
            assert p["key"] and p["type"] in ("ref", "range"), (statement, p)
            if int(p["rows"] or 0) > 21:
                # "Using index" itself (covering), not "Using index condition" (which reads every row)
                extra = [part.strip() for part in (p["Extra"] or "").split(";")]
                assert p["key"] in LIST_KEYS and "Using index" in extra, (statement, p)


def test_the_public_pool_list_reads_its_index_in_order(app, volume):
    """The pool (公海) of a large tenant: each page, the first and a deep one, reads
    ix_crm_customer_pool_list in order (no sort of the whole pool), the page's count reads the index alone,
    and the pages together are the pool in order, newest arrival first, each customer once."""
    t = volume
    engine = t.engine()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE crm_customer SET owner_id = NULL, status = 'in_pool', "
                             "sea_time = created_at + INTERVAL MOD(id, 37) DAY WHERE MOD(id, 3) > 0")
        conn.exec_driver_sql("ANALYZE TABLE crm_customer").all()
        expected = [str(r[0]) for r in conn.exec_driver_sql(
            "SELECT id FROM crm_customer WHERE status = 'in_pool' AND owner_id IS NULL AND deleted_at IS NULL "
            "ORDER BY sea_time DESC, id DESC")]
    engine.dispose()
    client = tenant_api(app, t, "vol_s000", FILL_PASSWORD)
    statements = Statements(t)
    first = statements.during(lambda: client.get("/pool?limit=20"))
    pages = [first.json]
    page_plan = explain(t, *list_statement(statements))
    assert_indexed(page_plan, {"ix_crm_customer_pool_list"}, 20, 1)
    assert [p["key"] for p in page_plan if p["table"] == "crm_customer"] == ["ix_crm_customer_pool_list"]
    while pages[-1]["next_cursor"]:
        resp = statements.during(lambda: client.get(f"/pool?limit=200&cursor={pages[-1]['next_cursor']}"))
        pages.append(resp.json)
    deep_plan = explain(t, *list_statement(statements))
    assert [p["key"] for p in deep_plan if p["table"] == "crm_customer"] == ["ix_crm_customer_pool_list"], deep_plan
    assert all("filesort" not in (p["Extra"] or "") for p in deep_plan), deep_plan
    assert [item["id"] for page in pages for item in page["items"]] == expected
    # the page's count ("共 N 条记录"): index entries only
    pages_client = page_client(app, t, "vol_s000")
    statements.during(lambda: pages_client.get(f"/t/{t.code}/pool/"))
    count = next((s, p) for s, p in statements.seen if "count(" in s.lower() and "crm_customer" in s)
    count_plan = [p for p in explain(t, *count) if p["table"] == "crm_customer"]
    assert count_plan and all(p["key"] == "ix_crm_customer_pool_list" and "Using index" in (p["Extra"] or "")
                              and "Using index condition" not in (p["Extra"] or "") for p in count_plan), count_plan


def test_the_level_order_reads_an_index_in_that_order(app, volume):
    """客户分级 as a sort (重要 first): each branch, or the whole company, through an index already in level
    order, never a filesort of every customer (tenant revision 0015 for the whole company). One volume for the
    three users: filling it is most of such a test's time."""
    t = volume
    for who, keys in (("admin", {"ix_crm_customer_level_sort"}),  # sees every customer: one statement
                      ("vol_s000", {"ix_crm_customer_owner_list"}),
                      ("vol_m0", {"ix_crm_customer_owner_list", "ix_crm_customer_dept_list", "PRIMARY"})):
        client = tenant_api(app, t) if who == "admin" else tenant_api(app, t, who, FILL_PASSWORD)
        statements = Statements(t)
        first = statements.during(lambda client=client: client.get("/customers?view=all&sort=level&limit=20"))
        assert first.status_code == 200, first.json
        levels = [c["level"] for c in first.json["items"]]
        assert levels and levels == sorted(levels) and levels[0] == "important", who
        branches = 1 if who == "admin" else branch_count(t, who)
        assert_indexed(explain(t, *list_statement(statements)), keys, 20, branches)
