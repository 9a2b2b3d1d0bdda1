"""The datasource pages without JavaScript: the connection test button before saving, the check's plain
reasons, and an administrator's deletion of a datasource whose database cannot be reached."""

import re
import secrets
import socket

import pytest
from sqlalchemy import select

from datasource_registry.models import Datasource, TenantJob
from extensions import db
from platform_admin.audit.models import AuditEvent
from tests.conftest import csrf_from
from tests.factories import EnterpriseFactory


@pytest.fixture
def enterprise_id(app):
    with app.app_context():
        return EnterpriseFactory().id


def form_data(page_html, tenant_account, action, **overrides):
    data = {"csrf_token": csrf_from(page_html), "type": "mysql", "host": tenant_account["host"],
            "port": str(tenant_account["port"]), "username": tenant_account["username"],
            "password": tenant_account["password"], "max_connections": "5", "min_connections": "1", "remark": "",
            "action": action}
    data.update(overrides)
    return data


def saved(app):
    with app.app_context():
        return db.session.scalars(select(Datasource)).first()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_test_button_tries_the_values_and_saves_nothing(app, login_page, enterprise_id, tenant_account):
    page = login_page("devops")
    url = f"/enterprises/{enterprise_id}/datasource/new"
    form = page.get(url)
    assert 'value="test"' in form.text and 'value="save"' in form.text
    tested = page.post(url, data=form_data(form.text, tenant_account, "test"))
    assert tested.status_code == 200
    assert 'id="connection-test"' in tested.text and 'data-ok="true"' in tested.text
    assert "连接测试通过" in tested.text and "将在初始化时创建" in tested.text
    assert tenant_account["password"] not in tested.text  # the form asks for it again instead
    assert "保存前请重新输入密码" in tested.text
    assert re.search(r'name="host"[^>]*value="127\.0\.0\.1"', tested.text)  # the other values stay
    assert saved(app) is None
    done = page.post(url, data=form_data(tested.text, tenant_account, "save"))
    assert done.status_code == 302 and saved(app) is not None


def test_a_failed_test_shows_the_plain_reason(app, login_page, enterprise_id, tenant_account):
    page = login_page("devops")
    url = f"/enterprises/{enterprise_id}/datasource/new"
    tested = page.post(url, data=form_data(page.get(url).text, tenant_account, "test", password="Wrong#Pass1"))
    assert tested.status_code == 200 and 'data-ok="false"' in tested.text
    assert "数据库服务器拒绝了该账号：密码错误或权限不足" in tested.text
    for word in ("Access denied", "1045", "OperationalError"):
        assert word not in tested.text
    assert saved(app) is None


def test_a_host_outside_the_allow_list_is_named_on_the_form(app, login_page, enterprise_id, tenant_account, monkeypatch):
    monkeypatch.setitem(app.config, "DATASOURCE_ALLOWED_HOSTS", "10.0.0.0/8")
    page = login_page("devops")
    url = f"/enterprises/{enterprise_id}/datasource/new"
    for action in ("test", "save"):
        resp = page.post(url, data=form_data(page.get(url).text, tenant_account, action))
        assert resp.status_code == 422
        assert re.search(r'id="field-host".*?该主机不在允许的数据源主机范围内', resp.text, re.S)
        assert 'id="connection-test"' not in resp.text
    assert saved(app) is None


def test_production_does_not_offer_sqlite(app, login_page, api_as, enterprise_id, tenant_account, monkeypatch):
    """Production listed "SQLite（仅限开发）" and then refused it with a 422."""
    page = login_page("devops")
    url = f"/enterprises/{enterprise_id}/datasource/new"
    assert 'value="sqlite"' in page.get(url).text  # the embedded default's own choice
    monkeypatch.setitem(app.config, "ALLOW_SQLITE_DATASOURCES", False)
    form = page.get(url)
    assert 'value="sqlite"' not in form.text and 'value="mysql"' in form.text
    sent = page.post(url, data=form_data(form.text, tenant_account, "save", type="sqlite"))
    assert sent.status_code == 422 and saved(app) is None
    body = {"type": "sqlite", "username": "x", "password": "Strong-Pass-2026!", "max_connections": 5,
            "min_connections": 1}
    refused = api_as("devops").put(f"/api/v1/enterprises/{enterprise_id}/datasource", json=body)
    assert refused.status_code == 422 and "type" in refused.json["error"]["fields"]


def test_the_check_before_provisioning_says_to_provision_first(app, login_page, tenant_factory):
    ent_id = tenant_factory(provision=False)
    page = login_page("devops")
    detail = page.get(f"/enterprises/{ent_id}")
    resp = page.post(f"/enterprises/{ent_id}/datasource/check", data={"csrf_token": csrf_from(detail.text)},
                     follow_redirects=True)
    assert "租户数据库尚未创建，请先初始化" in resp.text
    assert "OperationalError" not in resp.text and "无响应" not in resp.text


@pytest.fixture
def unreachable_provisioned(app, api_as, enterprise_id, tenant_account):
    """A datasource with a wrong port whose provisioning is recorded as finished: its database may hold data."""
    devops = api_as("devops")
    body = {"host": tenant_account["host"], "port": closed_port(), "type": "mysql", "username": tenant_account["username"],
            "password": tenant_account["password"], "max_connections": 5, "min_connections": 1}
    ds_id = int(devops.put(f"/api/v1/enterprises/{enterprise_id}/datasource", json=body).json["id"])
    with app.app_context():
        db.session.add(TenantJob(id=secrets.token_hex(16), kind="provision", tenant_id=enterprise_id, datasource_id=ds_id,
                                 status="finished", progress=100))
        db.session.commit()
    return ds_id


def test_devops_are_told_an_admin_can_delete_an_unreachable_one(app, login_page, enterprise_id, unreachable_provisioned):
    page = login_page("devops")
    detail = page.get(f"/enterprises/{enterprise_id}")
    assert 'id="force-delete-link"' not in detail.text  # admins only
    resp = page.post(f"/enterprises/{enterprise_id}/datasource/delete", data={"csrf_token": csrf_from(detail.text)},
                     follow_redirects=True)
    assert "无法连接租户数据库服务器" in resp.text and "管理员仍可填写原因后将其删除" in resp.text
    assert saved(app) is not None


def test_an_admin_deletes_an_unreachable_one_with_confirmation_and_reason(app, login_page, enterprise_id,
                                                                         unreachable_provisioned):
    page = login_page("admin", username="ops_lead")
    detail = page.get(f"/enterprises/{enterprise_id}")
    assert 'id="force-delete-link"' in detail.text
    url = f"/enterprises/{enterprise_id}/datasource/force-delete"
    form = page.get(url)
    assert form.status_code == 200 and 'name="force"' in form.text and 'name="reason"' in form.text
    token = csrf_from(form.text)
    missing = page.post(url, data={"csrf_token": token, "reason": ""})
    assert missing.status_code == 422
    assert 'id="field-force"' in missing.text and "请确认删除" in missing.text
    assert re.search(r'id="field-reason".*?class="error"', missing.text, re.S)
    assert saved(app) is not None
    done = page.post(url, data={"csrf_token": token, "force": "y", "reason": "端口填错，无法连接"})
    assert done.status_code == 302 and saved(app) is None
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "force_delete")).one()
        assert event.actor == "ops_lead" and event.record_id == str(unreachable_provisioned)
        assert event.after == {"reason": "端口填错，无法连接", "cause": "unreachable"}


@pytest.mark.parametrize("lang, listed", [
    ("zh_CN", "密码须包含：至少 8 位、大写字母、数字、特殊字符。"),
    ("en", "The password needs at least 8 characters, an upper-case letter, a digit, a special character."),
])
def test_a_weak_password_lists_what_it_lacks_in_the_readers_language(app, login_page, enterprise_id, tenant_account,
                                                                     lang, listed):
    """What a weak password lacks is joined as the page's language joins a list: 、 in Chinese (it read
    至少 8 位, 大写字母, 数字, 特殊字符 with English commas)."""
    page = login_page("devops")
    url = f"/enterprises/{enterprise_id}/datasource/new?lang={lang}"
    form = page.get(url)
    refused = page.post(url, data=form_data(form.text, tenant_account, "save", password="abc"))
    assert refused.status_code == 422
    assert listed in refused.text
    assert saved(app) is None
