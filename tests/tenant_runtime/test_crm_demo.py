"""``flask crm demo`` (what ./scripts/start.sh runs): a newcomer's company that looks lived in, in every module
the CRM has, and signs in with the login it prints."""

import pytest
import sqlalchemy as sa

from tests.tenant_runtime.crm import every_item, tenant_api

DEMO_PASSWORD = "Demo-Crm-2026x"


def _forget_admin_password(tenant):
    """The admin as provisioning leaves it: no password until the first login's link is used."""
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_user SET password_hash = '!' WHERE username = 'admin'"))
    engine.dispose()


@pytest.fixture
def demo(app, tenants):
    tenant = tenants[0]
    _forget_admin_password(tenant)
    result = app.test_cli_runner().invoke(args=["crm", "demo", tenant.code, "--password", DEMO_PASSWORD,
                                                "--customers", "120"])
    assert result.exit_code == 0, result.output
    assert f"Sign in as any of admin, manager, sales1, sales2, service / {DEMO_PASSWORD}" in result.output
    return tenant


def test_every_demo_user_signs_in_with_the_printed_password_and_sees_customers(app, demo):
    for username in ("admin", "manager", "sales1", "sales2", "service"):
        api = tenant_api(app, demo, username, DEMO_PASSWORD)
        assert api.get("/me").json["username"] == username
    manager = tenant_api(app, demo, "manager", DEMO_PASSWORD)
    assert len(every_item(manager, "/customers?limit=100")) > 60


def test_the_public_pool_holds_what_the_demo_rule_recycled_with_the_rule_and_the_days(app, demo):
    admin = tenant_api(app, demo, "admin", DEMO_PASSWORD)
    rules = admin.get("/pool/rules").json["items"]
    assert [r["rule_name"] for r in rules] == ["超期未跟进"]
    in_pool = every_item(admin, "/pool?limit=100")
    assert in_pool, "the demo's recycling took nobody"
    for item in in_pool:
        assert item["recycle_reason"] == "inactive_days:超期未跟进" and item["inactive_days"] >= 60, item
        assert item["original_owner"] and item["pool_status"] == "available"
    # the run is done: the dry run finds nothing left to take today
    assert admin.get("/pool/preview").json["total"] == 0
    # and a sales user can claim one of them
    sales = tenant_api(app, demo, "sales1", DEMO_PASSWORD)
    assert sales.post(f"/pool/{in_pool[0]['id']}/claim").status_code == 200
    # each sales user is warned of a couple of customers the rule takes in a day or two
    soon = sales.get("/pool/soon").json["items"]
    assert soon and all(1 <= item["days_left"] <= 3 for item in soon), soon


def test_leads_are_owned_followed_up_and_waiting_in_pools(app, demo):
    sales = tenant_api(app, demo, "sales1", DEMO_PASSWORD)
    mine = every_item(sales, "/leads?view=mine&limit=100")
    assert mine and all(lead["owner"]["name"] == "李晓东" for lead in mine)
    assert any(lead["status"] == "following" and lead["last_follow_up_at"] for lead in mine)
    pools = {p["pool_name"]: p for p in sales.get("/lead-pools").json["items"]}
    assert {"公共线索池", "销售一组线索池"} <= set(pools)
    waiting = every_item(sales, "/leads?view=pool&limit=100")
    assert {lead["pool"]["name"] for lead in waiting} == {"公共线索池", "销售一组线索池"}
    assert sales.post(f"/leads/{waiting[0]['id']}/claim").status_code == 200


def test_running_it_again_changes_nothing(app, demo):
    manager = tenant_api(app, demo, "manager", DEMO_PASSWORD)
    before = (len(every_item(manager, "/customers?limit=100")), len(every_item(manager, "/leads?limit=100")))
    again = app.test_cli_runner().invoke(args=["crm", "demo", demo.code])
    assert again.exit_code == 0, again.output
    assert (len(every_item(manager, "/customers?limit=100")), len(every_item(manager, "/leads?limit=100"))) == before


def test_follow_ups_were_recorded_in_the_order_they_happened(app, demo):
    """The newest first (the home page's recent activity, the follow-up list) is also the latest in time."""
    manager = tenant_api(app, demo, "manager", DEMO_PASSWORD)
    items = manager.get("/follow-ups?limit=100").json["items"]
    assert len(items) == 100
    times = [item["created_at"] for item in items]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("path", ["/customers?view=all&sort=-created", "/leads?view=all&sort=-created",
                                  "/contacts?sort=-created"])
def test_sorted_by_creation_the_lists_show_their_creation_times_in_order(app, demo, path):
    """创建时间 sorts by id, as a CRM's records are made in id order; the demo's records were too."""
    manager = tenant_api(app, demo, "manager", DEMO_PASSWORD)
    times = [item["created_at"] for item in every_item(manager, f"{path}&limit=100")]
    assert len(times) > 30 and times == sorted(times, reverse=True)


def test_each_record_s_history_is_dated_as_the_demo_tells_it(app, demo):
    """A customer created months ago by its owner says so in its history (not "just now, by 系统"), its
    follow-up bookkeeping is dated at its last follow-up, by its owner; so are contacts and leads."""
    manager = tenant_api(app, demo, "manager", DEMO_PASSWORD)
    customers = every_item(manager, "/customers?view=all&limit=100")
    checked = 0
    for customer in customers[:40]:
        history = manager.get(f"/customers/{customer['id']}/history").json["items"]
        created = next(h for h in history if h["action"] == "create")
        assert created["created_at"] == customer["created_at"] and created["user_id"] == customer["created_by"]
        for entry in history:
            assert entry["user_name"], entry  # somebody did it: no entry of the seed's without an actor
            if entry["action"] == "update":
                assert entry["created_at"] == (customer["last_follow_up_at"] or customer["created_at"])
                checked += 1
    assert checked  # some customers had their follow-up times written after they were created
    contact = every_item(manager, "/contacts?limit=100")[0]
    [created] = manager.get(f"/contacts/{contact['id']}/history").json["items"]
    assert created["created_at"] == contact["created_at"]
    lead = every_item(manager, "/leads?view=all&limit=100")[0]
    entry = manager.get(f"/leads/{lead['id']}/history").json["items"][-1]
    assert entry["action"] == "create" and entry["created_at"] == lead["created_at"]


def test_the_demo_keeps_a_password_the_admin_chose_and_prints_only_what_works(app, tenants):
    """Run on a tenant whose administrator had set a password (the README's `flask crm demo <code>` on a real
    tenant), the demo replaced it with its own: the client's chosen password stopped working. And its login went
    into one file for every tenant, so start.sh then printed another tenant's password for the demo company."""
    tenant, other = tenants[0], tenants[1]
    result = app.test_cli_runner().invoke(args=["crm", "demo", tenant.code, "--password", DEMO_PASSWORD,
                                                "--customers", "20"])
    assert result.exit_code == 0, result.output
    assert f"Sign in as any of manager, sales1, sales2, service / {DEMO_PASSWORD}" in result.output
    assert "admin keeps the password chosen for it" in result.output
    assert tenant_api(app, tenant, "admin").get("/me").status_code == 200  # its own password still works
    assert tenant_api(app, tenant, "sales1", DEMO_PASSWORD).get("/me").status_code == 200
    _forget_admin_password(other)
    assert app.test_cli_runner().invoke(args=["crm", "demo", other.code, "--password", "Other-Crm-2026x",
                                              "--customers", "20"]).exit_code == 0
    again = app.test_cli_runner().invoke(args=["crm", "demo", tenant.code])  # already filled: prints its login
    assert again.exit_code == 0 and f"/ {DEMO_PASSWORD}" in again.output and "Other-Crm" not in again.output
