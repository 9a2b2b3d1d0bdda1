"""Contacts on real MariaDB tenants: several per customer and exactly one primary (also when users change
it at the same moment), phones normalised and unique per customer, do-not-contact with who and when,
the customer's data scope, and 422s that name the field and save nothing."""

import pytest
import sqlalchemy as sa

from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    add_dept,
    add_user,
    at_once,
    customer_body,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


@pytest.fixture
def customer(admin):
    resp = admin.post("/customers", json=customer_body())
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def contact_body(customer, **overrides):
    body = {"customer_id": customer, "contact_name": "李娜", "phone": "13700137000"}
    body.update(overrides)
    return body


def primaries(tenant, customer_id):
    """Ids of the customer's primary contacts, as the database holds them."""
    engine = tenant.engine()
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id FROM crm_contact WHERE customer_id = :c AND primary_marker = 1 "
                                    "AND deleted_at IS NULL"), {"c": customer_id}).scalars().all()
    engine.dispose()
    return [str(r) for r in rows]


def count_contacts(tenant):
    engine = tenant.engine()
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT COUNT(*) FROM crm_contact")).scalar()
    engine.dispose()
    return n


def test_a_customer_has_several_contacts_and_the_first_is_primary(admin, customer):
    first = admin.post("/contacts", json=contact_body(customer, contact_name="王总", phone="13700137001"))
    second = admin.post("/contacts", json=contact_body(customer, contact_name="李秘书", phone="13700137002",
                                                       position="秘书"))
    assert first.status_code == second.status_code == 201, (first.json, second.json)
    assert first.json["is_primary"] is True and second.json["is_primary"] is False
    listed = admin.get(f"/contacts?customer_id={customer}").json["items"]
    assert sorted(c["contact_name"] for c in listed) == ["李秘书", "王总"]
    assert primaries(admin.tenant, customer) == [first.json["id"]]
    # the 360 view lists them, the primary first
    view = admin.get(f"/customers/{customer}/360").json
    assert [c["contact_name"] for c in view["contacts"]] == ["王总", "李秘书"]


def test_a_new_primary_unsets_the_old_one(admin, customer):
    first = admin.post("/contacts", json=contact_body(customer, phone="13700137001")).json
    second = admin.post("/contacts", json=contact_body(customer, phone="13700137002", is_primary=True)).json
    assert second["is_primary"] is True
    assert admin.get(f"/contacts/{first['id']}").json["is_primary"] is False
    assert primaries(admin.tenant, customer) == [second["id"]]
    # and by an edit
    moved = admin.patch(f"/contacts/{first['id']}", json={"is_primary": True})
    assert moved.status_code == 200 and moved.json["is_primary"] is True
    assert admin.get(f"/contacts/{second['id']}").json["is_primary"] is False
    assert primaries(admin.tenant, customer) == [first["id"]]
    # an edit of something else keeps the flag where it is
    assert admin.patch(f"/contacts/{first['id']}", json={"position": "总经理"}).json["is_primary"] is True
    assert admin.patch(f"/contacts/{second['id']}", json={"position": "财务"}).json["is_primary"] is False
    assert primaries(admin.tenant, customer) == [first["id"]]


def test_unticking_the_primary_contact_says_how_to_change_it_instead_of_saving_nothing(app, admin, customer):
    """编辑联系人 with 主联系人 unticked said 已保存。 and the contact stayed primary (a customer keeps one): the edit is
    refused at that box, saying to make another contact primary, with what was typed kept; nothing is saved."""
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    first = admin.post("/contacts", json=contact_body(customer, phone="13700137001")).json
    admin.post("/contacts", json=contact_body(customer, phone="13700137002"))
    refused = admin.patch(f"/contacts/{first['id']}", json={"is_primary": False, "position": "总经理"})
    assert refused.status_code == 422 and "is_primary" in refused.json["error"]["fields"], refused.json
    assert admin.get(f"/contacts/{first['id']}").json["position"] != "总经理"
    pages = page_client(app, admin.tenant)
    url = f"/t/{admin.tenant.code}/contacts/{first['id']}/edit"
    form = pages.get(url)
    page = pages.post(url, data={"csrf_token": csrf_from(form.text), "customer_id": customer,
                                 "contact_name": first["contact_name"],
                                 "phone": "13700137001", "position": "财务总监"})
    assert page.status_code == 422
    field = page.text.split('id="field-is_primary"')[1].split('<div class="field')[0]
    assert "请把另一位联系人设为主联系人" in field and 'value="财务总监"' in page.text
    assert primaries(admin.tenant, customer) == [first["id"]]
    # the way that works: another contact made primary
    assert admin.patch(f"/contacts/{first['id']}", json={"position": "总经理"}).status_code == 200


def test_a_change_of_primary_contact_is_in_both_contacts_histories(app, admin, customer):
    """Making 石秀英 the primary contact left no trace in her 变更记录 nor in that of the contact who lost the flag
    (an internal 1/NULL marker, skipped): both now read 主联系人: 否 → 是 / 是 → 否, and so does a delete that hands
    the flag on."""
    from tests.tenant_runtime.crm import page_client

    first = admin.post("/contacts", json=contact_body(customer, phone="13700137001")).json
    second = admin.post("/contacts", json=contact_body(customer, phone="13700137002")).json
    assert admin.patch(f"/contacts/{second['id']}", json={"is_primary": True}).status_code == 200

    def changes(contact_id):
        return [c for h in admin.get(f"/contacts/{contact_id}/history").json["items"] for c in h["changes"]
                if c["field"] == "is_primary"]

    assert changes(second["id"]) == [{"field": "is_primary", "old": False, "new": True}]
    assert changes(first["id"]) == [{"field": "is_primary", "old": True, "new": False}]
    assert all(c["field"] != "primary_marker" for h in admin.get(f"/contacts/{second['id']}/history").json["items"]
               for c in h["changes"])
    pages = page_client(app, admin.tenant)
    for contact_id, shown in ((second["id"], "否</span> → 是"), (first["id"], "是</span> → 否")):
        history = pages.get(f"/t/{admin.tenant.code}/contacts/{contact_id}").text.split('class="timeline history"')[1]
        assert f'<b>主联系人</b>: <span class="muted">{shown}' in history, history[:1500]
    # deleting the primary hands the flag to the oldest remaining, which says so
    assert admin.delete(f"/contacts/{second['id']}").status_code == 204
    assert changes(first["id"])[0] == {"field": "is_primary", "old": False, "new": True}


def test_deleting_the_primary_hands_the_flag_to_the_oldest_remaining(admin, customer):
    first = admin.post("/contacts", json=contact_body(customer, phone="13700137001")).json
    second = admin.post("/contacts", json=contact_body(customer, phone="13700137002")).json
    third = admin.post("/contacts", json=contact_body(customer, phone="13700137003")).json
    assert admin.delete(f"/contacts/{first['id']}").status_code == 204
    assert admin.get(f"/contacts/{first['id']}").status_code == 404
    assert primaries(admin.tenant, customer) == [second["id"]]
    assert admin.get(f"/contacts/{third['id']}").json["is_primary"] is False


def test_concurrent_primary_changes_leave_exactly_one(app, admin, customer, monkeypatch):
    """Eight users each make a different contact the primary at the same moment: every request succeeds
    (none is a 409 or a 500 for a rule the server keeps itself) and one primary remains."""
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    ids = [admin.post("/contacts", json=contact_body(customer, contact_name=f"联系人{i}", phone=f"1370013710{i}"))
           .json["id"] for i in range(8)]
    clients = [tenant_api(app, admin.tenant) for _ in range(4)]

    def promote(i):
        resp = clients[i % 4].patch(f"/contacts/{ids[i]}", json={"is_primary": True})
        return resp.status_code

    results = at_once(8, promote)
    assert sorted(results) == [200] * 8, results
    assert len(primaries(admin.tenant, customer)) == 1


@pytest.mark.parametrize("as_primary", [False, True])
def test_concurrent_new_contacts_leave_exactly_one_primary(app, admin, customer, monkeypatch, as_primary):
    """Several contacts added at once to a customer that had none (each the first, or each asking to be the
    primary): every one is saved, exactly one is the primary."""
    monkeypatch.setattr(app.extensions["pool_registry"], "wait_timeout", 60.0)
    monkeypatch.setitem(app.config, "TENANT_REQUEST_LIMIT", 50)
    clients = [tenant_api(app, admin.tenant) for _ in range(4)]

    def add(i):
        resp = clients[i % 4].post("/contacts", json=contact_body(customer, contact_name=f"新人{i}",
                                                                  phone=f"1370013720{i}", is_primary=as_primary))
        return (resp.status_code, resp.json)

    results = at_once(8, add)
    assert sorted(code for code, _ in results) == [201] * 8, results
    assert len(primaries(admin.tenant, customer)) == 1
    assert len(admin.get(f"/contacts?customer_id={customer}").json["items"]) == 8


def test_phone_is_normalised_and_unique_per_customer(admin, customer):
    made = admin.post("/contacts", json=contact_body(customer, phone="137-0013-7000"))
    assert made.status_code == 201 and made.json["phone"] == "+8613700137000"
    again = admin.post("/contacts", json=contact_body(customer, contact_name="另一人", phone="+86 137 0013 7000"))
    assert again.status_code == 409
    assert again.json["error"]["code"] == "duplicate" and set(again.json["error"]["fields"]) == {"phone"}
    other = admin.post("/customers", json=customer_body()).json["id"]
    elsewhere = admin.post("/contacts", json=contact_body(other, phone="13700137000"))
    assert elsewhere.status_code == 201  # the same person may be a contact of two companies
    second = admin.post("/contacts", json=contact_body(customer, phone="13700137009")).json
    clash = admin.patch(f"/contacts/{second['id']}", json={"phone": "13700137000"})
    assert clash.status_code == 409 and set(clash.json["error"]["fields"]) == {"phone"}
    assert admin.get(f"/contacts/{second['id']}").json["phone"] == "+8613700137009"


def test_do_not_contact_records_who_and_when(app, admin, customer):
    tenant = admin.tenant
    uid = add_user(tenant, "dnc_svc", ("sales_manager",))
    made = admin.post("/contacts", json=contact_body(customer)).json
    assert made["do_not_contact"] is False and made["dnc_set_by"] is None and made["dnc_set_at"] is None
    manager = tenant_api(app, tenant, "dnc_svc")
    flagged = manager.patch(f"/contacts/{made['id']}", json={"do_not_contact": True})
    assert flagged.status_code == 200, flagged.json
    assert flagged.json["do_not_contact"] is True and flagged.json["dnc_set_by"] == str(uid)
    assert flagged.json["dnc_set_at"].endswith("+08:00")
    # an unrelated edit by someone else does not move who and when
    kept = admin.patch(f"/contacts/{made['id']}", json={"position": "采购"}).json
    assert (kept["dnc_set_by"], kept["dnc_set_at"]) == (str(uid), flagged.json["dnc_set_at"])
    cleared = admin.patch(f"/contacts/{made['id']}", json={"do_not_contact": False}).json
    assert cleared["do_not_contact"] is False and cleared["dnc_set_by"] == admin_id(admin)
    history = admin.get(f"/contacts/{made['id']}/history").json["items"]
    flags = [c for h in history for c in h["changes"] if c["field"] == "do_not_contact"]
    assert [(c["old"], c["new"]) for c in flags] == [(True, False), (False, True)]
    # set at creation: recorded as the creator
    born = admin.post("/contacts", json=contact_body(customer, phone="13700137005", do_not_contact=True)).json
    assert born["do_not_contact"] is True and born["dnc_set_by"] == admin_id(admin) and born["dnc_set_at"]


def test_the_contact_page_names_who_set_do_not_contact(app, admin, customer):
    """A 勿扰 contact's page said "由 — 于 2026-12-04 02:04 设置": the page was never given who set it. It names them."""
    tenant = admin.tenant
    add_user(tenant, "dnc_mgr", ("sales_manager",), full_name="钱经理")
    made = admin.post("/contacts", json=contact_body(customer)).json
    assert tenant_api(app, tenant, "dnc_mgr").patch(f"/contacts/{made['id']}",
                                                    json={"do_not_contact": True}).status_code == 200
    from tests.tenant_runtime.crm import page_client

    page = page_client(app, tenant).get(f"/t/{tenant.code}/contacts/{made['id']}")
    assert page.status_code == 200 and "由 钱经理 于 " in page.text and "由 — 于" not in page.text


def test_the_contact_page_shows_the_preferred_channel(app, admin, customer):
    """沟通偏好 (微信, 电话...) was asked on the contact's form and kept, but shown nowhere on its page, only in the
    change history: the page lists it among the contact's details, in the reader's language."""
    from tests.tenant_runtime.crm import page_client

    made = admin.post("/contacts", json=contact_body(customer, communication_preference="wechat")).json
    plain = admin.post("/contacts", json=contact_body(customer, phone="13700137008")).json
    pages = page_client(app, admin.tenant)
    base = f"/t/{admin.tenant.code}/contacts"

    def details(contact_id, lang):
        page = pages.get(f"{base}/{contact_id}?lang={lang}").text
        return page.split('<dl class="kv">')[1].split("</dl>")[0]

    assert "<dt>沟通偏好</dt><dd>微信</dd>" in details(made["id"], "zh_CN")
    assert "<dt>Prefers</dt><dd>WeChat</dd>" in details(made["id"], "en")
    assert "<dt>沟通偏好</dt><dd>—</dd>" in details(plain["id"], "zh_CN")


def admin_id(api):
    return api.get("/me").json["id"]


def test_a_contact_of_a_customer_outside_the_scope_is_404(app, tenants):
    tenant = tenants[0]
    east, west = add_dept(tenant, "华东"), add_dept(tenant, "华西")
    add_user(tenant, "c_east", ("sales",), east)
    add_user(tenant, "c_west", ("sales",), west)
    owner, stranger = tenant_api(app, tenant, "c_east"), tenant_api(app, tenant, "c_west")
    cid = owner.post("/customers", json=customer_body()).json["id"]
    contact = owner.post("/contacts", json=contact_body(cid)).json
    before = count_contacts(tenant)
    assert stranger.get(f"/contacts/{contact['id']}").status_code == 404
    assert stranger.get(f"/contacts/{contact['id']}/history").status_code == 404
    assert stranger.patch(f"/contacts/{contact['id']}", json={"contact_name": "改名"}).status_code == 404
    assert stranger.delete(f"/contacts/{contact['id']}").status_code == 404
    assert stranger.get(f"/contacts?customer_id={cid}").json["items"] == []
    refused = stranger.post("/contacts", json=contact_body(cid, phone="13700137001"))
    assert refused.status_code == 422 and "customer_id" in refused.json["error"]["fields"]
    assert count_contacts(tenant) == before
    assert owner.get(f"/contacts/{contact['id']}").json["contact_name"] == "李娜"
    # the page is a 404 too
    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import PASSWORD

    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    client.post(f"/t/{tenant.code}/login", data={"username": "c_west", "password": PASSWORD,
                                                  "csrf_token": csrf_from(page.text)})
    assert client.get(f"/t/{tenant.code}/contacts/{contact['id']}").status_code == 404
    assert client.get(f"/t/{tenant.code}/contacts/{contact['id']}/edit").status_code == 404


def test_contacts_of_a_deleted_customer_are_gone_with_it(admin, customer):
    contact = admin.post("/contacts", json=contact_body(customer)).json
    assert admin.delete(f"/customers/{customer}").status_code == 204
    assert admin.get(f"/contacts/{contact['id']}").status_code == 404
    assert contact["id"] not in [c["id"] for c in admin.get("/contacts").json["items"]]
    refused = admin.post("/contacts", json=contact_body(customer, phone="13700137001"))
    assert refused.status_code == 422 and "customer_id" in refused.json["error"]["fields"]


@pytest.mark.parametrize("fields,bad", [
    ({"contact_name": "   "}, "contact_name"),
    ({"contact_name": "名" * 101}, "contact_name"),
    ({"phone": "12345"}, "phone"),
    ({"phone": None}, "phone"),
    ({"email": "not-an-email"}, "email"),
    ({"birthday": "1990-02-30"}, "birthday"),
    ({"communication_preference": "fax"}, "communication_preference"),
    ({"customer_id": "abc"}, "customer_id"),
    ({"customer_id": None}, "customer_id"),
    ({"customer_id": "999999999"}, "customer_id"),
    ({"customer_id": str(2**63)}, "customer_id"),
    ({"wechat": "w" * 65}, "wechat"),
    ({"email": "li.na@example.com", "birthday": "1990-02-28", "communication_preference": "wechat"}, None),
])
def test_bad_input_is_422_naming_the_field_and_saves_nothing(admin, customer, fields, bad):
    before = count_contacts(admin.tenant)
    body = {k: v for k, v in {**contact_body(customer), **fields}.items() if v is not None}
    resp = admin.post("/contacts", json=body)
    if bad is None:
        assert resp.status_code == 201, resp.json
        assert resp.json["birthday"] == "1990-02-28" and resp.json["email"] == "li.na@example.com"
        return
    assert resp.status_code == 422, resp.json
    assert bad in resp.json["error"]["fields"], resp.json
    assert count_contacts(admin.tenant) == before


def test_a_bad_edit_is_422_and_changes_nothing(admin, customer):
    contact = admin.post("/contacts", json=contact_body(customer, email="a@example.com")).json
    resp = admin.patch(f"/contacts/{contact['id']}", json={"email": "nope", "contact_name": "新名字"})
    assert resp.status_code == 422 and set(resp.json["error"]["fields"]) == {"email"}
    assert admin.get(f"/contacts/{contact['id']}").json == contact


def test_the_contact_form_page_shows_errors_and_saves_nothing(app, admin, customer):
    from tests.conftest import csrf_from

    tenant = admin.tenant
    client = app.test_client()
    page = client.get(f"/t/{tenant.code}/login")
    client.post(f"/t/{tenant.code}/login", data={"username": "admin", "password": tenant.admin_password,
                                                  "csrf_token": csrf_from(page.text)})
    form = client.get(f"/t/{tenant.code}/contacts/new?customer_id={customer}")
    assert form.status_code == 200
    before = count_contacts(tenant)
    resp = client.post(f"/t/{tenant.code}/contacts/new", data={
        "csrf_token": csrf_from(form.text), "customer_id": customer, "contact_name": "张三", "phone": "123"})
    assert resp.status_code == 422 and 'class="field has-error" id="field-phone"' in resp.text
    assert count_contacts(tenant) == before
    ok = client.post(f"/t/{tenant.code}/contacts/new", data={
        "csrf_token": csrf_from(form.text), "customer_id": customer, "contact_name": "张三", "phone": "13700137000"})
    assert ok.status_code == 302
    assert count_contacts(tenant) == before + 1


def test_the_contact_form_picks_its_customer_and_reports_every_error_at_once(app, admin, customer):
    """/contacts/new without a customer shows the search among the user's customers, and the customer field
    marked required; a post with a bad e-mail and no customer names both on one answer, keeping what was typed
    (the mobile as typed); a customer chosen is named and carried, on the form and after an error."""
    import re

    from tests.conftest import csrf_from
    from tests.tenant_runtime.crm import page_client

    tenant = admin.tenant
    name = admin.get(f"/customers/{customer}").json["customer_name"]
    client = page_client(app, tenant)
    base = f"/t/{tenant.code}/contacts/new"
    form = client.get(base)
    assert form.status_code == 200 and 'id="pick-customer"' in form.text
    assert f'href="{base}?customer_id={customer}"' in form.text
    assert re.search(r'<label>客户<span class="req">\*</span></label>', form.text)
    before = count_contacts(tenant)
    both = client.post(base, data={"csrf_token": csrf_from(form.text), "contact_name": "张三",
                                   "phone": "13759684922", "email": "not-an-email"})
    assert both.status_code == 422
    assert 'class="field has-error" id="field-customer_id"' in both.text and "请选择客户。" in both.text
    assert 'class="field has-error" id="field-email"' in both.text
    assert re.search(r'<input[^>]*name="phone"[^>]*value="13759684922"', both.text)
    chosen = client.get(f"{base}?customer_id={customer}")
    assert f'<a href="/t/{tenant.code}/customers/{customer}">{name}</a>' in chosen.text
    assert f'<input type="hidden" name="customer_id" value="{customer}">' in chosen.text
    assert 'id="pick-customer"' not in chosen.text
    bad = client.post(base, data={"csrf_token": csrf_from(form.text), "customer_id": customer,
                                  "contact_name": "张三", "phone": "13759684922", "email": "not-an-email"})
    assert bad.status_code == 422 and f'<input type="hidden" name="customer_id" value="{customer}">' in bad.text
    assert 'id="pick-customer"' not in bad.text and count_contacts(tenant) == before


def test_the_contact_picker_does_not_offer_another_departments_customer(app, tenants):
    from tests.tenant_runtime.crm import page_client

    tenant = tenants[0]
    east, west = add_dept(tenant, "东区"), add_dept(tenant, "西区")
    add_user(tenant, "ct_east", ("sales",), east)
    add_user(tenant, "ct_west", ("sales",), west)
    tenant_api(app, tenant, "ct_east").post("/customers", json=customer_body(customer_name="东区联系人客户有限公司"))
    theirs = tenant_api(app, tenant, "ct_west").post("/customers", json=customer_body(
        customer_name="西区联系人客户有限公司")).json["id"]
    client = page_client(app, tenant, "ct_east")
    found = client.get(f"/t/{tenant.code}/contacts/new?q=联系人客户").text
    assert "东区联系人客户有限公司" in found and "西区联系人客户有限公司" not in found
    refused = client.get(f"/t/{tenant.code}/contacts/new?customer_id={theirs}").text
    assert "西区联系人客户有限公司" not in refused and 'name="customer_id"' not in refused
