"""What the enterprise page says after 初始化数据库: with jobs inline the job has ended when the page
comes back, so the notice says how it ended; one status line; where the first administrator's sign-in
went (masked); and the next step, not provisioning again, is the primary button."""

import re
import secrets

import pytest

from extensions import db
from tests.conftest import csrf_from
from tests.factories import EnterpriseFactory

from .ent_helpers import element


@pytest.fixture
def configured(app, make_staff):
    """``configured(**datasource)``: an enterprise with a saved, not yet provisioned datasource."""
    from datasource_registry import services
    from platform_admin.auth.models import StaffUser

    def make(contact_phone="13912345678", email="ops@example.com", **datasource):
        with app.test_request_context():
            staff = db.session.get(StaffUser, make_staff(roles=("devops",)))
            enterprise = EnterpriseFactory(contact_phone=contact_phone, email=email)
            data = {"type": "sqlite", "host": None, "port": None, "username": "tenant", "password": "Tenant#Pw1x",
                    "max_connections": 3, "min_connections": 1, "remark": None, **datasource}
            services.configure(enterprise, data, by=staff)
            db.session.commit()
            return enterprise.id

    return make


def provision(client, ent_id):
    page = client.get(f"/enterprises/{ent_id}")
    resp = client.post(f"/enterprises/{ent_id}/datasource/provision", data={"csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302
    assert re.search(rf"/enterprises/{ent_id}\?job=\w+#datasource$", resp.headers["Location"]), resp.headers["Location"]
    return client.get(resp.headers["Location"])


def alerts(html):
    return [(kind, " ".join(re.sub(r"<[^>]+>", " ", text).split()))
            for kind, text in re.findall(r'<div class="alert alert-(\w+)" role="status">(.*?)</div>', html, re.S)]


def buttons(html, section="datasource"):
    """``{label: classes}`` of the buttons in a section."""
    body = re.search(rf'<section class="card" id="{section}">(.*?)</section>', html, re.S).group(1)
    return {label.strip(): classes for classes, label in re.findall(r'<button type="submit" class="btn ([^"]*)"[^>]*>(.*?)</button>', body)}


def test_an_inline_provisioning_says_it_is_done_once(app, login_page, configured):
    ent_id = configured()
    page = provision(login_page("devops"), ent_id).text
    assert alerts(page) == [("success", "数据库已初始化完成。")]
    assert "已开始" not in page
    status = element(page, "provision-job")["text"]
    assert status.count("数据库已初始化") == 1 and "完成" not in status.replace("初始化", "")
    assert 'http-equiv="refresh"' not in page


def test_the_page_says_where_the_first_administrators_sign_in_went(app, login_page, configured):
    ent_id = configured(contact_phone="13912345678", email="chen.jl@example.com")
    page = provision(login_page("devops"), ent_id).text
    sent = element(page, "first-login")["text"]
    assert "首位管理员的登录信息已发送至" in sent
    assert "短信 139****5678" in sent and "邮件 c******@example.com" in sent
    assert "13912345678" not in sent and "chen.jl@" not in sent
    assert "（已记录，未实际发送）" in sent  # the outbox backend records, it does not deliver (full-width, in Chinese)
    # deleting it now keeps the database created: the confirmation says so (a new one would find it and its admin)
    assert "已创建的数据库会保留" in page


def test_provisioning_again_says_no_new_sign_in_was_sent(app, login_page, configured):
    ent_id = configured()
    client = login_page("devops")
    provision(client, ent_id)
    page = provision(client, ent_id).text
    assert "首位管理员已存在，未发送新的登录信息。" in element(page, "first-login")["text"]


def test_after_success_the_next_step_is_the_primary_button(app, login_page, configured):
    ent_id = configured()
    before = buttons(login_page("devops").get(f"/enterprises/{ent_id}").text)
    assert "btn-primary" in before["初始化数据库"]

    provisioned = provision(login_page("devops"), ent_id).text
    devops = buttons(provisioned)  # devops may not open an enterprise
    assert "初始化数据库" not in devops and "btn-primary" not in devops["重新初始化"]
    assert "btn-primary" in devops["标记为实施中"]
    assert "开通" not in devops and "由运营" in element(provisioned, "next-step")["text"]  # who does it, not a button

    page = login_page("ops", "devops").get(f"/enterprises/{ent_id}").text  # who may open sees 开通 first
    both = buttons(page)
    assert "btn-primary" in both["开通"] and "btn-primary" not in both["标记为实施中"]
    assert "下一步：开通企业" in element(page, "next-step")["text"]


def test_a_failed_provisioning_says_so_and_why(app, login_page, configured):
    ent_id = configured(type="mysql", host="127.0.0.1", port=1, username=f"u{secrets.token_hex(3)}")
    page = provision(login_page("devops"), ent_id).text
    assert alerts(page) == [("danger", "初始化失败，原因见下方。")]
    status = element(page, "provision-job")["text"]
    assert "初始化失败" in status and "无法连接租户数据库服务器" in status  # the code's words, never the driver's
    assert "btn-primary" in buttons(page)["初始化数据库"]  # retrying is the next step


def test_a_queued_job_shows_its_progress_and_refreshes(app, login_page, configured):
    from datasource_registry.models import Datasource, TenantJob

    ent_id = configured()
    with app.app_context():
        ds = db.session.scalars(db.select(Datasource).where(Datasource.enterprise_id == ent_id)).one()
        db.session.add(TenantJob(id=secrets.token_hex(16), kind="provision", tenant_id=ent_id, datasource_id=ds.id,
                                 status="running", progress=60, message="Writing the identity marker"))
        db.session.commit()
    page = login_page("devops").get(f"/enterprises/{ent_id}").text
    assert 'http-equiv="refresh" content="2"' in page and '<progress max="100" value="60">' in page
    assert "正在初始化数据库" in element(page, "provision-job")["text"]


def test_the_feedback_reads_in_english(app, login_page, configured):
    ent_id = configured()
    client = login_page("devops")
    client.get("/?lang=en")
    page = provision(client, ent_id).text
    assert alerts(page) == [("success", "The database is provisioned.")]
    status = element(page, "provision-job")["text"]
    assert "Database provisioned" in status and "SMS 139****5678" in status and "完成" not in status


@pytest.mark.parametrize(("phone", "masked"), [("13912345678", "139****5678"), ("01085888888", "010****8888"),
                                               ("1234", "****")])
def test_phones_are_masked(phone, masked):
    from platform_admin.datasources.feedback import mask_email, mask_phone

    assert mask_phone(phone) == masked
    assert mask_email("a@example.com") == "a**@example.com"


def test_a_named_job_of_another_enterprise_or_nonsense_is_ignored(app, login_page, configured):
    mine, other = configured(), configured()
    client = login_page("devops")
    provision(client, mine)
    other_job = re.search(r"job=(\w+)", client.post(
        f"/enterprises/{other}/datasource/provision",
        data={"csrf_token": csrf_from(client.get(f"/enterprises/{other}").text)}).headers["Location"]).group(1)
    for job in (other_job, "x'\"<", "9" * 500, ""):
        page = client.get(f"/enterprises/{mine}", query_string={"job": job})
        assert page.status_code == 200 and 'data-status="finished"' in page.text
        assert f"/enterprises/{other}" not in page.text
