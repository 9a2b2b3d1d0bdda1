"""Words on the CRM's pages that share an English original with another part of the product must still read
right in Chinese: a contact is 联系人 (the back office's contracts say 对接人), the handovers still going are
进行中 (an enterprise is 开通)."""

from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, customer_body, page_client, tenant_api

pytestmark = CONTROL_ON_MARIADB


def test_a_contacts_pages_call_it_a_contact(app, tenants):
    t = tenants[0]
    admin = tenant_api(app, t)
    customer = admin.post("/customers", json=customer_body()).json["id"]
    contact = admin.post("/contacts", json={"customer_id": customer, "contact_name": "李娜", "phone": "13700137000",
                                            "is_key": True})
    assert contact.status_code == 201, contact.json
    pages = page_client(app, t)
    for path in (f"/contacts/{contact.json['id']}", f"/contacts/{contact.json['id']}/edit"):
        html = pages.get(f"/t/{t.code}{path}").text
        crumbs = html.split('class="crumbs"')[1].split("</nav>")[0]
        assert "联系人" in crumbs and "对接人" not in html
    section = pages.get(f"/t/{t.code}/customers/{customer}").text.split('id="contacts"')[1][:2000]
    assert "关键决策人" in section  # as on the contact's own page


def test_the_handovers_still_going_are_in_progress(app, tenants):
    t = tenants[0]
    html = page_client(app, t).get(f"/t/{t.code}/handovers/").text
    assert "进行中" in html and ">开通<" not in html
