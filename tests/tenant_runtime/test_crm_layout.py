"""The CRM's pages as a phone and an English reader see them, from the HTML the server writes (the browser's view
of the same, at 390 px, is tests/e2e/test_phone_layout_browser.py): a list marks the columns a phone leaves out
and keeps its name and key value, no filter panel opens to nothing, form titles name the thing (新建线索, New
lead) and the edit page's breadcrumbs the record, and the import help wraps and says how to write a city and a
contact."""

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from flask import g

from tenant_runtime.core.columns import Cells, Column
from tenant_runtime.customers.resource import customers
from tests.tenant_runtime.crm import CONTROL_ON_MARIADB, add_user, customer_body, page_client, tenant_api

pytestmark = CONTROL_ON_MARIADB


class _Table(HTMLParser):
    """The first ``<table>`` of a page: its header cells' texts and its rows, each cell as (class, text)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.heads, self.rows, self._cell, self._depth, self._done = [], [], None, 0, False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if self._done:
            return
        if tag == "table":
            self._depth += 1
        elif self._depth and tag == "tr":
            self.rows.append([])
        elif self._depth and tag in ("td", "th"):
            self._cell = [tag, dict(attrs).get("class") or "", ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[2] += data

    def handle_endtag(self, tag):
        if self._done or not self._depth:
            return
        if tag in ("td", "th") and self._cell is not None:
            kind, cls, text = self._cell
            if kind == "th":
                self.heads.append(text.strip())
            else:
                self.rows[-1].append((cls, text.strip()))
            self._cell = None
        elif tag == "table":
            self._depth -= 1
            self._done = True


def _title(html):
    return re.search(r"<title>(.*?) · ", html).group(1)


def _crumbs(html):
    return re.search(r'<nav class="crumbs".*?</nav>', html, re.DOTALL).group(0)


@pytest.fixture
def crm(app, tenants):
    t = tenants[0]
    admin = tenant_api(app, t)
    add_user(t, "xiaoli", ("sales",), full_name="李晓丽")
    customer = admin.post("/customers", json=customer_body(customer_name="深圳市万科物业服务有限公司",
                                                           phone="13800138000", tags=["老客户"]))
    assert customer.status_code == 201, customer.json
    follow_up = admin.post("/follow-ups", json={"customer_id": customer.json["id"], "follow_type": "phone",
                                                "content": "电话沟通了续签事宜，客户希望价格保持不变。" * 3})
    assert follow_up.status_code == 201, follow_up.json
    lead = admin.post("/leads", json={"lead_name": "林静", "company": "南山物业", "phone": "13900139000",
                                      "source": "exhibition"})
    assert lead.status_code == 201, lead.json
    pool = admin.post("/lead-pools", json={"pool_name": "展会线索池", "is_public": True})
    assert pool.status_code == 201, pool.json
    return SimpleNamespace(tenant=t, base=f"/t/{t.code}", page=page_client(app, t), customer=customer.json,
                           lead=lead.json, pool=pool.json)


def test_a_cell_is_classed_by_its_column_s_place(app):
    columns = (Column("customer_name", "名称", "link"), Column("owner.full_name", "负责人", secondary=True),
               Column("remark", "备注", clip=True), Column("tags", "标签", "tags", secondary=True, clip=True))
    row = SimpleNamespace(id=42, customer_name="甲公司", owner=SimpleNamespace(full_name="张三"), remark="长", tags=[])
    with app.test_request_context("/t/demo/customers/"):
        g.tenant = SimpleNamespace(code="demo", close=lambda: None)
        body = str(Cells(customers).body(columns, [row]))
    assert body == ('<tr><td><a href="/t/demo/customers/42">甲公司</a></td><td class="secondary">张三</td>'
                    '<td class="clip">长</td><td class="secondary clip"></td></tr>')


def test_a_phone_keeps_a_list_s_name_and_key_value_and_leaves_out_its_secondary_columns(crm):
    table = _Table(crm.page.get(f"{crm.base}/customers/?view=all").text)
    row = dict(zip(table.heads, table.rows[1], strict=True))  # rows[0] is the header's
    kept = {head for head, (cls, _text) in row.items() if "secondary" not in cls.split()}
    assert kept == {"客户名称", "手机号", "下次跟进时间"}, row
    assert row["客户名称"][1] == "深圳市万科物业服务有限公司" and row["标签"] == ("secondary", "老客户")


@pytest.mark.parametrize(("path", "kept"), [
    ("/leads/?view=all", {"线索名称", "手机号", "状态", "负责人"}),  # whose lead it is, not when: a phone's 4 columns
    ("/contacts/", {"姓名", "客户", "手机号", "勿扰"}),
    ("/follow-ups/?view=all", {"日期", "客户", "跟进内容"}),
    ("/users/", {"姓名 ↑", "部门", "角色", "状态"}),
    ("/lead-pools/", {"线索池名称", "类型", "池中线索"}),
])
def test_every_list_keeps_its_name_on_a_phone(crm, app, path, kept):
    if path == "/contacts/":
        admin = tenant_api(app, crm.tenant)
        made = admin.post("/contacts", json={"customer_id": crm.customer["id"], "contact_name": "陈财务",
                                             "phone": "13911110000", "position": "财务总监"})
        assert made.status_code == 201, made.json
    table = _Table(crm.page.get(crm.base + path).text)
    row = dict(zip(table.heads, table.rows[1], strict=True))
    assert {head for head, (cls, _text) in row.items() if "secondary" not in cls.split()} == kept, row


def test_a_follow_up_s_content_is_cut_to_the_table_s_width(crm):
    table = _Table(crm.page.get(f"{crm.base}/follow-ups/?view=all").text)
    row = dict(zip(table.heads, table.rows[1], strict=True))
    assert row["跟进内容"][0] == "clip" and row["跟进内容"][1].startswith("电话沟通了续签事宜")


def test_the_pool_keeps_its_claim_button_on_a_phone(crm, app):
    admin = tenant_api(app, crm.tenant)
    assert admin.post(f"/customers/{crm.customer['id']}/return-to-pool", json={"reason": "未联系上"}).status_code == 200
    table = _Table(crm.page.get(f"{crm.base}/pool/").text)
    heads_and_cells = list(zip(table.heads, table.rows[1], strict=True))
    kept = [head for head, (cls, _text) in heads_and_cells if "secondary" not in cls.split()]
    assert kept == ["客户名称", "客户分级", "未跟进天数", ""], heads_and_cells  # the last: 领取 and 分配
    assert "领取" in heads_and_cells[-1][1][1]


@pytest.mark.parametrize("path", ["/follow-ups/", "/follow-ups/?view=all", "/customers/", "/leads/"])
def test_no_filter_panel_opens_to_nothing(crm, path):
    html = crm.page.get(crm.base + path).text
    panel = re.search(r'<details class="more-filters".*?</details>', html, re.DOTALL)
    if path.startswith("/follow-ups/"):
        assert panel is None and "更多筛选" not in html  # its one advanced filter (lead_id) has no input
    else:
        assert panel is not None and re.search(r"<(select|input)\b", panel.group(0)), path


def test_follow_ups_of_a_lead_still_filter_without_a_panel(crm, app):
    admin = tenant_api(app, crm.tenant)
    on_lead = admin.post("/follow-ups", json={"lead_id": crm.lead["id"], "follow_type": "wechat", "content": "加了微信"})
    assert on_lead.status_code == 201, on_lead.json
    html = crm.page.get(f"{crm.base}/follow-ups/?lead_id={crm.lead['id']}").text
    assert "加了微信" in html and "电话沟通了续签事宜" not in html and "more-filters" not in html


def test_form_titles_name_the_thing_and_an_edit_s_breadcrumbs_the_record(crm):
    page, base = crm.page, crm.base
    for path, title in (("/leads/new", "新建线索"), ("/lead-pools/new", "新建线索池"), ("/departments/new", "新建部门")):
        html = page.get(base + path).text
        assert _title(html) == title and f"<h1>{title}</h1>" in html and " · " not in _crumbs(html), path
    html = page.get(f"{base}/leads/{crm.lead['id']}/edit").text
    assert _title(html) == "编辑线索" and "<h1>编辑线索</h1>" in html
    crumbs = _crumbs(html)
    assert f'<a href="{base}/leads/{crm.lead["id"]}">林静</a>' in crumbs and crumbs.index("林静") < crumbs.index("编辑线索")
    pool_crumbs = _crumbs(page.get(f"{base}/lead-pools/{crm.pool['id']}/edit").text)
    assert "展会线索池" in pool_crumbs and "编辑线索池" in pool_crumbs
    assert _title(page.get(f"{base}/customers/import").text) == "导入客户"


def test_english_titles_are_in_sentence_case(crm):
    page, base = crm.page, crm.base
    assert _title(page.get(f"{base}/leads/new?lang=en").text) == "New lead"
    assert _title(page.get(f"{base}/leads/{crm.lead['id']}/edit").text) == "Edit lead"
    assert _title(page.get(f"{base}/lead-pools/new").text) == "New lead pool"
    assert _title(page.get(f"{base}/departments/new").text) == "New department"
    assert _title(page.get(f"{base}/customers/import").text) == "Import customers"
    assert _title(page.get(f"{base}/customers/new").text) == "New customer"  # as the customer's own form says


def test_the_import_help_wraps_and_says_how_to_write_a_city_and_a_contact(crm):
    html = crm.page.get(f"{crm.base}/customers/import").text
    help_table = re.search(r'<table class="table column-help">.*?</table>', html, re.DOTALL).group(0)
    rows = {cells[0][1]: cells for cells in _Table(help_table).rows[1:]}
    assert all(cells[2][0] == "wrap" for cells in rows.values())  # 所属省份's 34 names wrap in their cell
    assert rows["所属省份"][2][1].count("、") == 33
    city = rows["所属城市"][2][1]
    assert "深圳 或 深圳市" in city and "省份" in city
    for column in ("联系人", "联系人手机", "联系人职务", "联系人邮箱", "联系人微信号"):
        assert rows[column][2][1], column  # each says what it takes
    assert "13800138000" in rows["联系人手机"][2][1]
