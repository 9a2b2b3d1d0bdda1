"""What ops read: status words, field labels and list actions, in Chinese (the default) and English."""

import re

import pytest

from common.timeutil import utcnow
from extensions import db
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
    with app.app_context():
        open_id = ContractFactory(status="open").id
        closed_id = ContractFactory(status="closed").id
    client = login_page("ops")
    listing = client.get("/contracts/").text
    assert "已开通" in listing and "已关闭" in listing
    assert "已开通" in client.get(f"/contracts/{open_id}").text
    assert "已关闭" in client.get(f"/contracts/{closed_id}").text
    form = client.get(f"/contracts/{open_id}/edit").text
    assert '<option selected value="open">已开通</option>' in form and '<option value="closed">已关闭</option>' in form


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
