"""Words on the CRM's pages that share an English original with another part of the product must still read
right in Chinese: a contact is 联系人 (the back office's contracts say 对接人), the handovers still going are
进行中 (an enterprise is 开通), a rule's summary joins its conditions with 且/或, and 沟通偏好 offers ways to
reach someone (电话, 邮件), not the names of fields."""

import pytest

from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    customer_body,
    page_client,
    tenant_api,
)

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


@pytest.mark.parametrize("match, word", [("all", "且"), ("any", "或")])
def test_a_rule_s_conditions_are_joined_by_a_chinese_word(app, tenants, match, word):
    tenant = tenants[0]
    made = tenant_api(app, tenant).post("/pool/rules", json={"rule_name": "三十天未跟进的重要客户", "conditions": {
        "match": match, "items": [{"field": "inactive_days", "op": "gte", "value": 30},
                                  {"field": "level", "op": "in", "value": ["important"]}]}})
    assert made.status_code == 201, made.json
    page = page_client(app, tenant).get(f"/t/{tenant.code}/pool/rules").text
    row = page.split("三十天未跟进的重要客户", 1)[1].split("</tr>", 1)[0]
    assert f" {word} " in row and " and " not in row and " or " not in row, row


def test_how_a_contact_likes_to_be_reached_reads_as_a_way_not_a_field(app, tenants):
    """沟通偏好 offers 电话 and 邮件 (a call, a message), not 手机号 and 邮箱, the names of fields."""
    tenant = tenants[0]
    form = page_client(app, tenant).get(f"/t/{tenant.code}/contacts/new").text
    select = form.split('name="communication_preference"', 1)[1].split("</select>", 1)[0]
    assert '"phone">电话<' in select and '"email">邮件<' in select and "手机号" not in select, select
