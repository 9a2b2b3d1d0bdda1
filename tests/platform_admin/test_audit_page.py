"""The audit page for ops: labels in the reader's language instead of codes, local times, one line per
event with its fields in a <details>, selects for action and record type, an end date that includes its
own day. The API keeps its raw codes."""

import re
from datetime import datetime

import pytest

from extensions import db
from platform_admin.audit.models import AuditEvent


def visible_text(html):
    """What a reader sees: the page without tags, attribute values or the filter form's options."""
    html = re.sub(r"<select.*?</select>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def event(app, **kw):
    with app.app_context():
        row = AuditEvent(**{"actor": "olivia", "action": "update", "record_type": "enterprise", "record_id": "7", **kw})
        db.session.add(row)
        db.session.commit()
        return row.id


def rows(html):
    body = re.search(r"<table class=\"table card audit\".*?<tbody>(.*)</tbody></table></div>\s*<nav", html, re.S).group(1)
    return re.findall(r'<tr id="event-(\d+)">(.*?)\n</tr>', body, re.S)


@pytest.fixture
def admin(login_page):
    return login_page("admin")


def test_events_read_in_chinese_with_form_labels_and_no_codes(app, api_as, admin):
    ops = api_as("ops", username="opal")
    app_id = ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000"}).json["id"]
    ops.patch(f"/api/v1/applications/{app_id}", json={"company_name": "乙物业", "status": "contacted"})
    page = admin.get("/audit/?actor=opal").text
    text = visible_text(page)
    assert "创建" in text and "客户申请" in text and "张三" in text
    assert "公司名称、状态" in text or "状态、公司名称" in text  # the update's one-line summary
    assert "已联系" in text and "新申请" in text  # status values, labelled
    for code in ("application", "company_name", "create", "state_change", "contacted", "None"):
        assert not re.search(rf"\b{code}\b", text), code


def test_events_read_in_english_for_english_readers(app, api_as, admin):
    ops = api_as("ops", username="opal")
    app_id = ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000"}).json["id"]
    ops.patch(f"/api/v1/applications/{app_id}", json={"company_name": "乙物业"})
    admin.get("/?lang=en")
    text = visible_text(admin.get("/audit/?actor=opal").text)
    assert "Created" in text and "Application" in text and "Company name: — → 乙物业" in text
    assert not re.search(r"\bcompany_name\b|\bapplication\b", text)


def test_each_event_is_one_line_with_its_fields_on_demand(app, api_as, admin):
    ops = api_as("ops", username="opal")
    ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000", "company_name": "甲物业",
                                           "remarks": "很长的备注" * 40})
    page = admin.get("/audit/?actor=opal&record_type=application").text
    ((_id, cells),) = rows(page)
    outside = re.sub(r"<details>.*?</details>", "", cells, flags=re.S)
    assert outside.count("<td") == 6  # time, actor, action, record, summary, IP
    details = re.search(r"<details><summary[^>]*>(.*?)</summary>(.*?)</details>", cells, re.S)
    assert details and details.group(1).strip() == "张三"  # the summary line names the record
    assert "很长的备注" in details.group(2) and "甲物业" in details.group(2)  # the rest only when opened
    assert "很长的备注" not in outside


def test_times_in_values_are_local(app, admin):
    event(app, action="open", before={"status": 0, "opened_at": None}, after={"status": 1, "opened_at": "2026-01-01T16:30:00"})
    text = visible_text(admin.get("/audit/").text)
    assert "2026-01-02 00:30:00" in text and "2026-01-01T16:30:00" not in text
    assert "开通" in text  # the action, and status 0 -> 1 read as words
    assert "关闭" in text


def test_secrets_and_staff_ids_read_as_words(app, admin, make_staff):
    creator = make_staff("carla")
    event(app, action="create", record_type="staff_user", record_id="9",
          after={"username": "eve", "password_hash": "[redacted]", "roles_csv": "devops,ops", "created_by_id": creator,
                 "is_active_flag": True})
    text = visible_text(admin.get("/audit/?record_type=staff_user&record_id=9").text)
    assert "（已隐藏）" in text and "运维、运营" in text and "carla" in text and "是" in text
    assert "[redacted]" not in text and "roles_csv" not in text


def test_action_and_record_type_are_chosen_from_selects(app, admin):
    event(app, action="open", after={"status": 1})
    event(app, action="update", record_type="contract", record_id="3", after={"bank_name": "招商银行"},
          before={"bank_name": "工商银行"})
    page = admin.get("/audit/").text
    actions = re.search(r'<select name="action".*?</select>', page, re.S).group(0)
    types = re.search(r'<select name="record_type".*?</select>', page, re.S).group(0)
    assert '<option value="open" >开通</option>' in actions and '<option value="update" >修改</option>' in actions
    assert '<option value="contract" >合同</option>' in types and '<option value="enterprise" >企业</option>' in types
    only_open = admin.get("/audit/?action=open").text
    assert [r for r, _c in rows(only_open)] and "开户行" not in visible_text(only_open)
    assert "开户行: 工商银行 → 招商银行" in visible_text(admin.get("/audit/?record_type=contract").text)


def _at_local(app, text):
    from common.timeutil import from_local

    with app.app_context():
        return from_local(datetime.fromisoformat(text))


def test_the_end_date_includes_its_whole_day(app, admin, api_as):
    late = event(app, actor="late", created_at=_at_local(app, "2026-03-10 23:30"))
    next_day = event(app, actor="next", created_at=_at_local(app, "2026-03-11 00:30"))
    page = admin.get("/audit/?since=2026-03-10&until=2026-03-10").text
    assert [int(i) for i, _c in rows(page)] == [late]
    page = admin.get("/audit/?since=2026-03-11&until=2026-03-11").text
    assert [int(i) for i, _c in rows(page)] == [next_day]
    api = api_as("admin")
    got = api.get("/api/v1/audit-events?until=2026-03-10&since=2026-03-10").json["items"]
    assert [int(i["id"]) for i in got] == [late]
    precise = api.get("/api/v1/audit-events?until=2026-03-10T23:30:00%2B08:00").json["items"]
    assert [int(i["id"]) for i in precise] == [late]  # a time is its own bound


@pytest.mark.parametrize("until", ["9999-12-31", "not-a-date", "2026-02-30"])
def test_an_impossible_date_is_named_not_a_500(app, admin, api_as, until):
    page = admin.get(f"/audit/?until={until}")
    assert page.status_code == 200 and 'name="until"' in page.text and 'aria-invalid="true"' in page.text
    resp = api_as("admin").get(f"/api/v1/audit-events?until={until}")
    assert resp.status_code == 422 and "until" in resp.json["error"]["fields"]


def test_the_actor_filter_finds_a_user_name_in_any_case(app, admin, api_as):
    api_as("ops", username="olivia").post("/api/v1/applications", json={"name": "张三", "phone": "13800138000"})
    for typed in ("olivia", "Olivia", "OLIVIA"):
        items = api_as("admin").get(f"/api/v1/audit-events?actor={typed}").json["items"]
        assert items and {e["actor"] for e in items} == {"olivia"}, typed


def test_a_range_that_ends_before_it_starts_says_so(app, admin, api_as):
    """It showed an empty log, as if nothing had happened in those days; then, with the error, the whole log."""
    event(app, actor="any")
    page = admin.get("/audit/?since=2026-03-11&until=2026-03-10")
    assert page.status_code == 200 and "开始日期晚于结束日期" in page.text
    assert 'id="event-' not in page.text  # the whole log beneath the error read as the range's
    assert 'aria-invalid="true"' in page.text.split('name="until"')[0].rsplit("<input", 1)[1] + page.text.split(
        'name="until"')[1].split(">")[0]
    resp = api_as("admin").get("/api/v1/audit-events?since=2026-03-11&until=2026-03-10")
    assert resp.status_code == 422 and list(resp.json["error"]["fields"]) == ["until"]
    assert api_as("admin").get("/api/v1/audit-events?since=2026-03-10&until=2026-03-10").status_code == 200


def test_the_api_keeps_its_raw_codes(app, api_as):
    ops = api_as("ops", username="opal")
    ops.post("/api/v1/applications", json={"name": "张三", "phone": "13800138000"})
    (item,) = api_as("admin").get("/api/v1/audit-events?actor=opal&record_type=application").json["items"]
    assert (item["action"], item["record_type"]) == ("create", "application")
    assert item["after"]["name"] == "张三" and "company_name" in item["after"]


def test_a_record_links_to_its_page(app, admin):
    from tests.factories import EnterpriseFactory

    with app.app_context():
        ent_id = EnterpriseFactory().id
    page = admin.get(f"/audit/?record_type=enterprise&record_id={ent_id}").text
    assert f'<a href="/enterprises/{ent_id}">#{ent_id}</a>' in page


def test_the_command_line_and_background_jobs_are_named_not_coded(app, admin):
    event(app, actor="cli", action="create", record_type="staff_user", record_id="3")
    event(app, actor="job:provision", action="update", record_type="datasource", record_id="4")
    event(app, actor="job:someday", action="update", record_type="datasource", record_id="5")
    text = visible_text(admin.get("/audit/").text)
    assert "命令行" in text and "后台任务：初始化数据库" in text and "后台任务：someday" in text
    assert not re.search(r"\bcli\b", text) and "job:" not in text


def test_a_support_pass_used_is_named_not_coded(app, admin):
    """The use of a support sign-in pass read impersonation:ops1 in the 操作人 column."""
    event(app, actor="impersonation:ops1", action="impersonation_used", record_type="impersonation_grant", record_id="1")
    text = visible_text(admin.get("/audit/").text)
    assert "支持登录：ops1" in text and "impersonation:" not in text
    assert "Support sign-in: ops1" in visible_text(admin.get("/audit/?lang=en").text)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_audited_column_has_a_label(app, lang):
    """A support sign-in's pass showed the column name staff_name in its audit line: every column of every
    audited table reads as a word in both languages."""
    from flask_babel import force_locale

    from platform_admin.audit.labels import column_label

    with app.test_request_context("/"), force_locale(lang):
        unlabelled = [(mapper.class_.__tablename__, attr.key) for mapper in db.Model.registry.mappers
                      if getattr(mapper.class_, "__audit__", True) and hasattr(mapper.class_, "__tablename__")
                      for attr in mapper.column_attrs
                      if str(column_label(mapper.class_.__tablename__, attr.key)) == attr.key]
    assert unlabelled == []
