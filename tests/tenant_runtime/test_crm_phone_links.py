"""On a phone, the record's page is where a salesperson calls from: every number on a detail page is a tel:
link, as in the lists."""

from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, customer_body, page_client, tenant_api

pytestmark = CONTROL_ON_MARIADB


def test_numbers_on_detail_pages_are_one_tap_to_call(app, tenants):
    tenant = tenants[0]
    admin = tenant_api(app, tenant)
    customer = admin.post("/customers", json=customer_body(phone="0755-86001234")).json
    contact = admin.post("/contacts", json={"customer_id": customer["id"], "contact_name": "王华",
                                            "phone": "13911503392"}).json
    lead = admin.post("/leads", json={"lead_name": "周先生", "phone": "13911503393"}).json
    pages = page_client(app, tenant)
    base = f"/t/{tenant.code}"
    customer_page = pages.get(f"{base}/customers/{customer['id']}").text
    assert '<a class="nowrap" href="tel:+8675586001234">0755-86001234</a>' in customer_page
    assert '<a class="nowrap" href="tel:+8613911503392">13911503392</a>' in customer_page  # its contacts
    assert 'href="tel:+8613911503392"' in pages.get(f"{base}/contacts/{contact['id']}").text
    assert 'href="tel:+8613911503393"' in pages.get(f"{base}/leads/{lead['id']}").text


def test_my_account_shows_my_mobile_as_people_write_it(app, tenants):
    """我的账号 showed the user's own mobile as stored, +8613942880483, where every other page writes 13942880483."""
    import sqlalchemy as sa

    from tests.tenant_runtime.crm import PASSWORD, add_user

    tenant = tenants[0]
    user_id = add_user(tenant, "haoming", ("sales",))
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE sys_user SET phone = '+8613942880483' WHERE id = :u"), {"u": user_id})
    engine.dispose()
    page = page_client(app, tenant, "haoming", PASSWORD).get(f"/t/{tenant.code}/account").text
    assert "<dd>13942880483</dd>" in page and "+8613942880483" not in page
