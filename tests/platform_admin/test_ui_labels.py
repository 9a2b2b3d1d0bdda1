"""What ops read: status words, field labels and list actions, in Chinese (the default) and English."""

import re

import pytest

from common.timeutil import utcnow
from extensions import db
from tests.conftest import csrf_from
from tests.factories import ApplicationFactory, ContractFactory, EnterpriseFactory

from .ent_helpers import element


def heading(html):
    """The page's <h1>, as text."""
    return re.sub(r"<[^>]+>", " ", re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1))


def en(client):
    client.get("/?lang=en")
    return client


# ---------------------------------------------------------------------------------------------- enterprise status


@pytest.fixture
def three_enterprises(app):
    """A converted profile never opened, an open one, and one opened once and closed since."""
    with app.app_context():
        never = EnterpriseFactory(name="从未开通物业").id
        ApplicationFactory(status="converted", enterprise_id=never)
        opened = EnterpriseFactory(name="正在服务物业", status=1, opened_at=utcnow()).id
        closed = EnterpriseFactory(name="已经关闭物业", status=0, opened_at=utcnow(), closed_at=utcnow()).id
        return {"never": never, "open": opened, "closed": closed}


def test_a_converted_enterprise_never_opened_reads_not_opened(app, login_page, three_enterprises):
    client = login_page("ops")
    words = {"never": "未开通", "open": "已开通", "closed": "已关闭"}
    for key, ent_id in three_enterprises.items():
        head = heading(client.get(f"/enterprises/{ent_id}").text)
        assert words[key] in head, (key, head)
    en(client)
    english = {"never": "Not opened", "open": "Open", "closed": "Closed"}
    for key, ent_id in three_enterprises.items():
        assert english[key] in heading(client.get(f"/enterprises/{ent_id}").text)


@pytest.mark.parametrize(("status", "shown", "hidden"), [
    ("not_opened", ["从未开通物业"], ["正在服务物业", "已经关闭物业"]),
    ("closed", ["已经关闭物业"], ["从未开通物业", "正在服务物业"]),
    ("1", ["正在服务物业"], ["从未开通物业", "已经关闭物业"]),
    ("", ["从未开通物业", "正在服务物业", "已经关闭物业"], []),
])
def test_the_enterprise_list_filters_by_each_status(app, login_page, three_enterprises, status, shown, hidden):
    client = login_page("ops")
    page = client.get(f"/enterprises/?status={status}").text
    assert all(name in page for name in shown) and not any(name in page for name in hidden)
    assert '<option value="not_opened"' in page and ">未开通</option>" in page


def test_the_api_status_filter_keeps_its_numeric_values_and_knows_not_opened(app, api_as, three_enterprises):
    ops = api_as("ops")
    closed_or_never = {i["name"] for i in ops.get("/api/v1/enterprises?status=0").json["items"]}
    assert closed_or_never == {"从未开通物业", "已经关闭物业"}
    assert [i["name"] for i in ops.get("/api/v1/enterprises?status=not_opened").json["items"]] == ["从未开通物业"]


# ---------------------------------------------------------------------------------------------- contracts


def test_contract_statuses_read_as_states_not_verbs(app, login_page):
    """And as a contract's, not a tenant's (已开通/已关闭 is the company's account)."""
    with app.app_context():
        open_id = ContractFactory(status="open").id
        closed_id = ContractFactory(status="closed").id
    client = login_page("ops")
    listing = client.get("/contracts/").text
    assert "生效中" in listing and "已终止" in listing
    assert "生效中" in client.get(f"/contracts/{open_id}").text
    assert "已终止" in client.get(f"/contracts/{closed_id}").text
    form = client.get(f"/contracts/{open_id}/edit").text
    assert '<option selected value="open">生效中</option>' in form and '<option value="closed">已终止</option>' in form


def test_the_contract_form_asks_for_a_contract_summary_not_the_enterprise_introduction(app, login_page):
    with app.app_context():
        contract_id = ContractFactory(introduction="三年期物业收费系统服务").id
    client = login_page("ops")
    form = client.get(f"/contracts/{contract_id}/edit").text
    assert "企业简介" not in form and "合同简介" in element(form, "field-introduction")["text"]
    assert "合同简介" in client.get(f"/contracts/{contract_id}").text
    en(client)
    assert "Contract summary" in element(client.get(f"/contracts/{contract_id}/edit").text, "field-introduction")["text"]


def test_the_contract_list_adds_a_contract_through_choosing_the_enterprise(app, login_page):
    with app.app_context():
        complete = EnterpriseFactory(name="资料齐全物业").id
        incomplete = EnterpriseFactory(name="资料不全物业", license_no=None).id
        db.session.commit()
    client = login_page("ops")
    listing = client.get("/contracts/").text
    assert 'href="/contracts/new"' in listing and "添加合同" in listing
    chooser = client.get("/contracts/new?q=物业")
    assert chooser.status_code == 200
    assert f'href="/enterprises/{complete}/contracts/new"' in chooser.text
    assert f'href="/enterprises/{incomplete}/contracts/new"' in chooser.text and "先补全资料" in chooser.text
    assert "资料齐全物业" not in client.get("/contracts/new?q=不全").text
    assert client.get(f"/enterprises/{complete}/contracts/new").status_code == 200


def test_devops_see_no_add_contract_button(app, login_page):
    client = login_page("devops")
    assert client.get("/contracts/new").status_code == 403


# ---------------------------------------------------------------------------------------------- 26: no raw codes


def _outbox(app):
    from platform_admin.messaging.models import OutboxMessage

    with app.app_context():
        db.session.add_all([
            OutboxMessage(channel="sms", to="13800138000", body="验证码 123456", backend="outbox", status="recorded"),
            OutboxMessage(channel="email", to="ops@example.com", subject="s", body="b", backend="smtp", status="sent"),
            OutboxMessage(channel="sms", to="13900139000", body="x", backend="http", status="failed", error="timeout"),
        ])
        db.session.commit()


def _cells(html):
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


@pytest.mark.parametrize(("lang", "words"), [
    ("zh_CN", ["短信", "邮件", "已记录，未实际发送", "已发送", "失败"]),
    ("en", ["SMS", "Email", "Recorded, not delivered", "Sent", "Failed"]),
])
def test_the_outbox_names_channels_and_delivery_in_the_readers_language(app, login_page, lang, words):
    _outbox(app)
    client = login_page("admin")
    page = client.get(f"/outbox/?lang={lang}").text
    cells = _cells(page)
    assert all(any(w == c or c.startswith(w) for c in cells) for w in words), cells
    assert not {"sms", "email", "recorded", "sent", "failed"} & set(cells)
    assert f'<option value="sms" >{words[0]}</option>' in page.replace("selected", "")


def test_staff_roles_are_named_not_coded(app, login_page, make_staff):
    make_staff("rolesix", roles=("ops", "devops"))
    client = login_page("admin")
    assert "运维 运营" in _cells(client.get("/staff/?q=rolesix").text)
    en(client)
    page = client.get("/staff/?q=rolesix").text
    assert "Operations" in page and "DevOps" in page and ">ops<" not in page
    assert "(Administrator)" in page  # the signed-in admin's own roles in the top bar, in English too


def test_the_datasource_type_is_named(app, login_page, make_ready):
    with app.app_context():
        ent_id = EnterpriseFactory().id
    make_ready(ent_id)
    client = login_page("devops")
    assert "SQLite（仅限开发）" in client.get(f"/enterprises/{ent_id}").text
    en(client)
    assert "SQLite (development only)" in client.get(f"/enterprises/{ent_id}").text


def test_provinces_and_cities_are_in_english_for_english_readers(app, login_page):
    with app.app_context():
        shenzhen = EnterpriseFactory(name="深圳物业").id  # 广东省 深圳市
        beijing = EnterpriseFactory(name="北京物业", province_code="11", province="北京市", city_code="1100",
                                    city="北京市").id
    client = login_page("ops")
    assert "广东省 深圳市" in client.get(f"/enterprises/{shenzhen}").text
    en(client)
    assert "Shenzhen, Guangdong" in client.get(f"/enterprises/{shenzhen}").text
    listing = client.get("/enterprises/").text
    assert "Shenzhen, Guangdong" in listing and "Beijing" in listing and "深圳市" not in listing
    assert '<option value="44" >Guangdong</option>' in listing.replace("selected", "")
    form = client.get(f"/enterprises/{beijing}/edit").text
    assert '<optgroup label="Guangdong">' in form and ">Shenzhen</option>" in form and "广东省" not in form
    assert "Beijing" in client.get(f"/enterprises/{beijing}").text


def test_every_city_has_an_english_name():
    from common.regions import cities_by_province, city_name_en

    names = {name: city_name_en(name) for cities in cities_by_province().values() for _code, name in cities}
    assert all(english.isascii() or "ü" in english for english in names.values()), names
    assert names["西安市"] == "Xi'an" and names["长治市"] == "Changzhi" and names["漯河市"] == "Luohe"
    assert names["延边朝鲜族自治州"] == "Yanbian Prefecture" and names["阿拉善盟"] == "Alxa League"


@pytest.mark.parametrize(("tenants", "zh", "english"), [
    (0, "共 0 个租户", "0 tenants in all"),
    (1, "共 1 个租户", "1 tenant in all"),
])
def test_the_fleet_page_counts_tenants_in_proper_plurals(app, login_page, make_ready, tenants, zh, english):
    for _ in range(tenants):
        with app.app_context():
            ent_id = EnterpriseFactory().id
        make_ready(ent_id)
    client = login_page("devops")
    assert zh in client.get("/fleet/").text
    en(client)
    page = client.get("/fleet/").text
    assert english in page and "(s)" not in page


def test_landlines_show_their_area_code(app, login_page):
    with app.app_context():
        ent_id = EnterpriseFactory(office_phone="01085888888", contact_phone="13800138000").id
        contract_id = ContractFactory(party_a_phone="075526012345").id
    client = login_page("ops")
    page = client.get(f"/enterprises/{ent_id}").text
    assert "010-85888888" in page and "13800138000" in page and "01085888888" not in page
    assert "0755-26012345" in client.get(f"/contracts/{contract_id}").text
    with app.app_context():  # stored as before: digits only
        from platform_admin.enterprises.models import Enterprise

        assert db.session.get(Enterprise, ent_id).office_phone == "01085888888"


# ---------------------------------------------------------------------------------------------- 31: fleet page


def _fleet_runs(app):
    from datasource_registry.models import FleetRun

    with app.app_context():
        return db.session.scalar(db.select(db.func.count(FleetRun.id)))


def _provisioned(app, make_ready, revision=None):
    """A tenant provisioned (at the head); ``revision``: its provisioning recorded an older schema instead."""
    from datasource_registry.models import Datasource, TenantJob

    with app.app_context():
        ent_id = EnterpriseFactory().id
    make_ready(ent_id)
    if revision:
        with app.app_context():
            job = db.session.scalars(db.select(TenantJob).join(Datasource, TenantJob.datasource_id == Datasource.id)
                                     .where(Datasource.enterprise_id == ent_id)).one()
            job.result = {**job.result, "schema_version": revision}
            db.session.commit()
    return ent_id


def test_the_fleet_page_offers_no_run_when_every_tenant_is_current(app, login_page, make_ready):
    _provisioned(app, make_ready)
    client = login_page("devops")
    page = client.get("/fleet/").text
    assert "所有租户数据库均已是结构版本" in element(page, "nothing-to-upgrade")["text"]
    assert re.search(r'<button class="btn btn-primary" type="submit" disabled>开始批量升级</button>', page)
    resp = client.post("/fleet/", data={"canary": "1", "parallelism": "2", "csrf_token": csrf_from(page)})
    assert resp.status_code == 409 and "无需升级" in resp.text
    assert _fleet_runs(app) == 0


def test_the_fleet_page_offers_no_run_without_tenants(app, login_page):
    page = login_page("devops").get("/fleet/").text
    assert "还没有已初始化的租户数据库" in page and " disabled>开始批量升级" in page


def test_the_fleet_page_counts_the_tenants_behind_and_offers_a_run(app, login_page, make_ready):
    _provisioned(app, make_ready)
    _provisioned(app, make_ready, revision="0000_older")
    page = login_page("devops").get("/fleet/").text
    assert "有 1 个租户数据库尚未确认处于" in element(page, "tenants-behind")["text"]
    assert 'type="submit">开始批量升级' in page and 'id="nothing-to-upgrade"' not in page


def test_a_run_that_has_not_counted_its_tenants_shows_no_100_percent(app, login_page):
    from datasource_registry.models import FleetRun

    with app.app_context():
        run = FleetRun(status="running", running_slot=1, target_revision="x", canary_size=1, parallelism=2)
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    page = login_page("devops").get(f"/fleet/{run_id}").text
    assert "正在统计需要升级的租户" in page and "100%" not in page and '<progress max="100" value="0">' in page


@pytest.mark.parametrize("lang, says", [("zh_CN", "未配置任务队列：请用 <code>flask crm run-tasks</code> 执行。"),
                                        ("en", "No job queue is configured: run them with <code>flask crm run-tasks</code>.")])
def test_the_schedule_page_shows_its_command_as_code_not_markdown(app, login_page, monkeypatch, lang, says):
    """Without a job queue the scheduled tasks' page read 请用 `flask crm run-tasks` 执行, backticks and all."""
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    page = login_page("devops").get(f"/schedule/?lang={lang}")
    assert page.status_code == 200
    assert says in page.text and "`" not in page.text.split("<main", 1)[1]


@pytest.mark.parametrize("lang, who", [("zh_CN", "命令行"), ("en", "Command line")])
def test_a_fleet_run_started_from_the_command_line_says_so_in_words(app, login_page, lang, who):
    """A run started by `flask tenants upgrade` read 发起人 CLI, in Chinese too (the audit log says 命令行)."""
    from datasource_registry.models import FleetRun

    with app.app_context():
        run = FleetRun(status="finished", target_revision="head", canary_size=1, parallelism=2, total=0, succeeded=0,
                       failed=0, finished_at=utcnow())
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    client = login_page("devops")
    for path in (f"/fleet/{run_id}?lang={lang}", f"/fleet/?lang={lang}"):
        page = client.get(path).text
        assert who in page and ">CLI<" not in page, path
