"""A Chinese page reads as Chinese: what a rule's summary joins its conditions with is a word of the page's
language, not the English the code was written in."""

import pytest

from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, page_client, tenant_api

pytestmark = CONTROL_ON_MARIADB


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
