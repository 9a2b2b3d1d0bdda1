"""A list's cells are written in Python (tenant_runtime.core.columns.Cells): each kind of column as the list
has always shown it, every value escaped, a badge's label translated into the page's language."""

from datetime import date, datetime
from types import SimpleNamespace

from flask import g
from flask_babel import lazy_gettext as _l

from tenant_runtime.core.columns import Cells, Column
from tenant_runtime.customers.resource import customers

EVIL = '<script>alert("x")</script>'
LEVELS = {"important": _l("Important"), "normal": _l("Normal")}


def _row(**values):
    return SimpleNamespace(id=42, owner=SimpleNamespace(full_name=EVIL), **values)


def _cells(app, lang, rows_and_columns):
    with app.test_request_context(f"/t/demo/customers/?lang={lang}"):
        g.tenant = SimpleNamespace(code="demo", close=lambda: None)  # links name it (routing.push_tenant_code)
        cells = Cells(customers)
        return [str(cells(col, row)) for col, row in rows_and_columns]


def test_every_kind_of_cell_is_written_and_escaped(app):
    written = _cells(app, "zh", [
        (Column("customer_name", "名称", "link"), _row(customer_name=EVIL + "x" * 80)),
        (Column("customer_name", "名称", "link"), _row(customer_name=None)),
        (Column("level", "级别", "badge", labels=LEVELS, badge_kinds={"important": "danger"}), _row(level="important")),
        (Column("level", "级别", "badge", labels=LEVELS), _row(level="odd<b>")),
        (Column("level", "级别", "badge", labels=LEVELS), _row(level=None)),
        (Column("at", "时间", "time"), _row(at=datetime(2026, 1, 2, 3, 4))),
        (Column("at", "时间", "time"), _row(at=None)),
        (Column("day", "日期", "date"), _row(day=date(2026, 1, 2))),
        (Column("phone", "电话", "phone"), _row(phone="+861085888888")),
        (Column("tags", "标签", "tags"), _row(tags=["甲", EVIL])),
        (Column("flag", "标记", "bool"), _row(flag=True)),
        (Column("flag", "标记", "bool"), _row(flag=False)),
        (Column("owner.full_name", "负责人"), _row()),
        (Column("remark", "备注"), _row(remark=None)),
        (Column("count", "数量"), _row(count=0)),
    ])
    link = written[0]
    assert link.startswith('<a href="/t/demo/customers/42">&lt;script&gt;') and "<script>" not in link
    assert link.count("x") == 60 - len('<script>alert("x")</script>') + 1  # the name cut at 60 characters
    assert written[1] == '<a href="/t/demo/customers/42">—</a>'
    assert written[2] == '<span class="badge badge-danger">重要</span>'
    assert written[3] == '<span class="badge badge-default">odd&lt;b&gt;</span>' and written[4] == ""
    assert written[5] == '<span class="nowrap">2026-01-02 11:04</span>'  # UTC stored, Shanghai shown
    assert written[6] == '<span class="nowrap">—</span>'
    assert written[7] == '<span class="nowrap">2026-01-02</span>'
    assert written[8] == '<a class="nowrap" href="tel:+861085888888">010-85888888</a>'  # a tap calls it
    assert written[9] == '<span class="tag">甲</span><span class="tag">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>'
    assert written[10:12] == ["✓", ""]
    assert written[12] == "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    assert written[13:] == ["—", "0"]


def test_a_badge_is_in_the_pages_language(app):
    column = Column("level", "级别", "badge", labels=LEVELS)
    assert _cells(app, "en", [(column, _row(level="important")), (column, _row(level="normal"))]) == [
        '<span class="badge badge-default">Important</span>', '<span class="badge badge-default">Normal</span>']


def test_a_reference_links_the_record_it_names(app):
    column = Column("customer_name", "客户", "ref", target=lambda row: ("tenant.customers_detail", row.customer_id))
    none = Column("customer_name", "客户", "ref", target=lambda row: None)
    assert _cells(app, "zh", [(column, _row(customer_name=EVIL, customer_id=7)), (column, _row(customer_name=None)),
                              (none, _row(customer_name="无链接"))]) == [
        '<a href="/t/demo/customers/7">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</a>', "—", "无链接"]
