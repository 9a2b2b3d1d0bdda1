"""Attachments on follow-ups: uploaded with the follow-up's form, within the size limit, the type told by the
content and never by the name, the name made safe (no path, no CR/LF to split a header), stored outside
the web root under a random name; a download is allowed exactly when the user can see the customer; a
deleted customer's files are out of reach until it is restored, and a failed save leaves no file behind."""

import io
import os
import re
import zipfile

import pytest
import sqlalchemy as sa

from tenant_runtime.people.models import SCOPE_ALL
from tests.conftest import csrf_from
from tests.tenant_runtime.crm import (
    CONTROL_ON_MARIADB,
    Deadlock,
    add_dept,
    add_role,
    add_user,
    customer_body,
    page_client,
    tenant_api,
)

pytestmark = CONTROL_ON_MARIADB

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")


def docx():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def upload(app, tenant, customer, data, name, username="admin", **fields):
    """Record a follow-up with one file through the customer's page; the response of the form post."""
    client = page_client(app, tenant, username)
    page = client.get(f"/t/{tenant.code}/customers/{customer}")
    assert page.status_code == 200, page.status_code
    form = {"csrf_token": csrf_from(page.text), "customer_id": customer, "follow_type": "visit",
            "content": "上门拜访，留下资料", "attachment": (io.BytesIO(data), name)} | fields
    return client.post(f"/t/{tenant.code}/follow-ups/new", data=form, content_type="multipart/form-data")


def upload_named(app, tenant, customer, data, name, username="admin"):
    """``upload``, the file's name sent as RFC 5987 ``filename*`` as any client may: the only way a name can
    carry a CR or LF through a multipart header (a browser percent-encodes them the same way)."""
    from urllib.parse import quote

    client = page_client(app, tenant, username)
    page = client.get(f"/t/{tenant.code}/customers/{customer}")
    boundary = "----crmtest7MA4YWxkTrZu0gW"
    parts = [(f'name="{k}"', str(v).encode()) for k, v in {
        "csrf_token": csrf_from(page.text), "customer_id": customer, "follow_type": "visit", "content": "附件"}.items()]
    parts.append((f"name=\"attachment\"; filename*=UTF-8''{quote(name, safe='')}", data))
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n".encode() + value + b"\r\n"
                    for disposition, value in parts) + f"--{boundary}--\r\n".encode()
    return client.post(f"/t/{tenant.code}/follow-ups/new", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def attachments_of(api, customer):
    view = api.get(f"/customers/{customer}/360")
    assert view.status_code == 200, view.json
    return [a for f in view.json["follow_ups"] for a in f["attachments"]]


def stored_files(app, tenant):
    folder = os.path.join(app.config["UPLOAD_DIR"], "tenants", str(tenant.id))
    return sorted(os.path.join(d, f) for d, _dirs, files in os.walk(folder) for f in files)


def download(client, tenant, attachment_id):
    """The download, read and closed (a sent file is an open file until then)."""
    resp = client.get(f"/t/{tenant.code}/attachments/{attachment_id}")
    resp.get_data()
    resp.close()
    return resp


def count(tenant, table):
    engine = tenant.engine()
    with engine.connect() as conn:
        n = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar()
    engine.dispose()
    return n


@pytest.fixture(autouse=True)
def _no_files(app, tenants):
    """The tenants' upload folders start empty (the databases are emptied per test, the files are not)."""
    import shutil

    for tenant in tenants:
        shutil.rmtree(os.path.join(app.config["UPLOAD_DIR"], "tenants", str(tenant.id)), ignore_errors=True)


@pytest.fixture
def admin(app, tenants):
    return tenant_api(app, tenants[0])


@pytest.fixture
def customer(admin):
    return admin.post("/customers", json=customer_body()).json["id"]


@pytest.mark.parametrize("data,name,content_type", [
    (PDF, "报价单.pdf", "application/pdf"),
    (PNG, "名片.png", "image/png"),
    (PDF, "看似图片.png", "application/pdf"),  # the content decides, not the name
    (docx(), "合同草稿.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
])
def test_an_accepted_file_is_kept_with_the_follow_up(app, admin, customer, data, name, content_type):
    tenant = admin.tenant
    resp = upload(app, tenant, customer, data, name)
    assert resp.status_code == 302, resp.status_code
    [attachment] = attachments_of(admin, customer)
    assert (attachment["file_name"], attachment["content_type"], attachment["size"]) == (name, content_type, len(data))
    assert attachment["created_at"].endswith("+08:00")
    [path] = stored_files(app, tenant)
    assert os.path.basename(path) != name and name not in path  # stored under a random name
    assert not os.path.commonpath([path, app.root_path]) == app.root_path  # outside the code and static files
    got = download(page_client(app, tenant), tenant, attachment["id"])
    assert got.status_code == 200 and got.data == data
    assert got.headers["Content-Type"].startswith(content_type)
    assert got.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("data,name", [
    (b"MZ\x90\x00\x03\x00\x00\x00 a windows program", "报价单.pdf"),
    (b"<html><script>alert(1)</script></html>", "page.png"),
    (b"PK\x03\x04 a zip that is not office", "archive.zip"),
    (b"", "empty.pdf"),
])
def test_a_file_of_another_kind_is_refused_on_the_form(app, admin, customer, data, name):
    tenant = admin.tenant
    before = count(tenant, "crm_follow_up")
    resp = upload(app, tenant, customer, data, name)
    assert resp.status_code == 422
    assert 'class="field has-error" id="field-attachment"' in resp.text
    assert count(tenant, "crm_follow_up") == before and count(tenant, "crm_attachment") == 0
    assert stored_files(app, tenant) == []


def test_a_file_over_the_limit_is_refused(app, admin, customer, monkeypatch):
    tenant = admin.tenant
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 4096)
    too_big = PDF + b"0" * 4096
    resp = upload(app, tenant, customer, too_big, "大文件.pdf")
    assert resp.status_code == 422 and 'class="field has-error" id="field-attachment"' in resp.text
    assert count(tenant, "crm_attachment") == 0 and stored_files(app, tenant) == []
    just_fits = PDF + b"0" * (4096 - len(PDF))
    assert upload(app, tenant, customer, just_fits, "刚好.pdf").status_code == 302
    assert [a["size"] for a in attachments_of(admin, customer)] == [4096]


def test_a_request_over_the_body_limit_is_413_not_a_500(app, admin, customer):
    tenant = admin.tenant
    # (built by hand in memory: the test client would spool a body this large to a file it never closes)
    resp = upload_named(app, tenant, customer, PDF + b"0" * (app.config["MAX_CONTENT_LENGTH"] + 1), "巨大.pdf")
    assert resp.status_code == 413
    assert count(tenant, "crm_follow_up") == 0 and stored_files(app, tenant) == []


@pytest.mark.parametrize("name,kept", [
    ("../../../etc/passwd.pdf", "passwd.pdf"),
    ("报价\r\nSet-Cookie: stolen=1.pdf", "报价Set-Cookie stolen=1.pdf"),
    ("报价\rLocation: http://evil.example/.pdf", "upload.pdf"),  # after its last slash only an extension
    ("   .pdf", "upload.pdf"),
    ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),
    ("季度报告<第一版>?.pdf", "季度报告第一版.pdf"),
])
def test_names_are_made_safe_to_store_and_send_back(app, admin, customer, name, kept):
    tenant = admin.tenant
    assert upload_named(app, tenant, customer, PDF, name).status_code == 302
    [attachment] = attachments_of(admin, customer)
    assert attachment["file_name"] == kept
    got = download(page_client(app, tenant), tenant, attachment["id"])
    assert got.status_code == 200 and got.data == PDF
    header = got.headers["Content-Disposition"]
    assert "\r" not in header and "\n" not in header and "Set-Cookie" not in got.headers
    assert ".." not in header and "/" not in header.split(";", 1)[1].replace("filename*=UTF-8''", "")
    [path] = stored_files(app, tenant)
    assert os.path.commonpath([path, app.config["UPLOAD_DIR"]]) == app.config["UPLOAD_DIR"]


def test_a_name_of_nothing_but_control_characters_gets_a_plain_one(app, admin, customer):
    tenant = admin.tenant
    assert upload_named(app, tenant, customer, PDF, "\r\n\u202e.pdf").status_code == 302
    [attachment] = attachments_of(admin, customer)
    assert attachment["file_name"] == "upload.pdf"


@pytest.fixture
def company(app, tenants):
    """东区 and 西区 sales, a manager above 东区, a custom role that sees all customers but not follow-ups."""
    t = tenants[0]
    sales = add_dept(t, "销售部")
    east, west = add_dept(t, "东区", sales), add_dept(t, "西区", sales)
    add_user(t, "att_east", ("sales",), east)
    west_user = add_user(t, "att_west", ("sales",), west)
    add_user(t, "att_mgr", ("sales_manager",), sales)
    blind = add_role(t, "只看客户", SCOPE_ALL, ["customer.view"])
    add_user(t, "att_blind", (blind,), west)
    owner = tenant_api(app, t, "att_east")
    cid = owner.post("/customers", json=customer_body()).json["id"]
    assert upload(app, t, cid, PDF, "报价单.pdf", username="att_east").status_code == 302
    [attachment] = attachments_of(owner, cid)
    t.west_user = west_user
    return t, cid, attachment["id"]


def test_download_follows_the_customers_scope(app, company):
    tenant, _cid, attachment = company
    for username, status in (("att_east", 200), ("att_mgr", 200), ("admin", 200), ("att_west", 404),
                             ("att_blind", 404)):
        resp = download(page_client(app, tenant, username), tenant, attachment)
        assert resp.status_code == status, username
        if status == 404:
            assert resp.data != PDF
    assert app.test_client().get(f"/t/{tenant.code}/attachments/{attachment}").status_code in (302, 401)
    assert download(page_client(app, tenant), tenant, 999999).status_code == 404
    assert download(page_client(app, tenant), tenant, 2**64).status_code == 404


def test_a_customer_moved_out_of_reach_takes_its_files(app, company):
    """Ownership moved to 西区: the east sales user loses the file, the west one gains it."""
    tenant, cid, attachment = company
    moved = tenant_api(app, tenant).patch(f"/customers/{cid}", json={"owner_id": str(tenant.west_user)})
    assert moved.status_code == 200, moved.json
    assert download(page_client(app, tenant, "att_east"), tenant, attachment).status_code == 404
    assert download(page_client(app, tenant, "att_west"), tenant, attachment).status_code == 200


def test_deleting_the_customer_hides_its_files_and_restoring_brings_them_back(app, company):
    tenant, cid, attachment = company
    admin = tenant_api(app, tenant)
    assert admin.delete(f"/customers/{cid}").status_code == 204
    for username in ("admin", "att_east"):
        assert download(page_client(app, tenant, username), tenant, attachment).status_code == 404
    assert len(stored_files(app, tenant)) == 1  # kept for the restore: a delete is soft
    assert admin.post(f"/customers/{cid}/restore").status_code == 200
    got = download(page_client(app, tenant, "att_east"), tenant, attachment)
    assert got.status_code == 200 and got.data == PDF


def test_a_follow_up_and_its_files_cannot_be_deleted(app, company):
    tenant, cid, attachment = company
    admin = tenant_api(app, tenant)
    [follow_up] = admin.get(f"/customers/{cid}/360").json["follow_ups"]
    assert admin.delete(f"/follow-ups/{follow_up['id']}").status_code == 405
    client = page_client(app, tenant)
    page = client.get(f"/t/{tenant.code}/customers/{cid}")
    assert client.post(f"/t/{tenant.code}/attachments/{attachment}",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 405
    assert download(client, tenant, attachment).status_code == 200


def test_a_failed_save_leaves_no_file_behind(app, admin, customer):
    """The database refuses the write after the file was stored: the follow-up, its attachment row and the
    file are all gone."""
    tenant = admin.tenant
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TRIGGER crm_test_refuse_file BEFORE INSERT ON crm_attachment FOR EACH ROW "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by test'"))
    try:
        resp = upload(app, tenant, customer, PDF, "报价单.pdf")
        assert resp.status_code in (500, 503)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS crm_test_refuse_file"))
        engine.dispose()
    assert count(tenant, "crm_follow_up") == 0 and count(tenant, "crm_attachment") == 0
    assert stored_files(app, tenant) == []
    assert upload(app, tenant, customer, PDF, "报价单.pdf").status_code == 302
    assert len(stored_files(app, tenant)) == 1


def test_a_follow_up_whose_save_loses_a_deadlock_is_saved_once_with_its_whole_file(app, admin, customer):
    """The database rolls the follow-up's transaction back as a deadlock's victim after its file was stored: it
    runs again, reading the upload from its start, and keeps one follow-up, one attachment and one file with
    every byte (the first try's file is gone). The deadlock is real: at the attachment's INSERT another
    transaction holds the end of crm_attachment and waits for the customer row the follow-up has locked."""
    tenant = admin.tenant
    with Deadlock(tenant, "INSERT INTO crm_attachment ", hold="SELECT id FROM crm_attachment FOR UPDATE",
                  wait=f"SELECT id FROM crm_customer WHERE id = {int(customer)} FOR UPDATE") as deadlock:
        resp = upload(app, tenant, customer, PDF, "报价单.pdf")
    assert resp.status_code == 302, resp.status_code
    assert deadlock.seen == 2 and deadlock.waited == "done"
    assert count(tenant, "crm_follow_up") == 1
    [attachment] = attachments_of(admin, customer)
    assert attachment["size"] == len(PDF)
    [path] = stored_files(app, tenant)
    with open(path, "rb") as fh:
        assert fh.read() == PDF


def test_the_timeline_links_each_file(app, admin, customer):
    tenant = admin.tenant
    assert upload(app, tenant, customer, PDF, "报价单.pdf").status_code == 302
    [attachment] = attachments_of(admin, customer)
    page = page_client(app, tenant).get(f"/t/{tenant.code}/customers/{customer}").text
    assert re.search(rf'href="/t/{tenant.code}/attachments/{attachment["id"]}">报价单.pdf</a>', page)
    # its size as people read one (a small file said "0.1 KB", a large one "3072.0 KB")
    assert f"({len(PDF)} B)" in page
    size = app.jinja_env.filters["file_size"]
    assert (size(1536), size(3 * 1024 * 1024), size(1023)) == ("1.5 KB", "3.0 MB", "1023 B")


def test_a_file_of_a_follow_up_on_something_else_is_not_judged_by_a_customer_of_the_same_number(app, admin,
                                                                                                  customer):
    """A follow-up on a lead (relation_type "lead") whose number equals a customer's: its file is not sent on
    the strength of that unrelated customer's scope."""
    tenant = admin.tenant
    assert upload(app, tenant, customer, PDF, "客户的.pdf").status_code == 302
    engine = tenant.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE crm_follow_up SET relation_type = 'lead'"))
    engine.dispose()
    [path] = stored_files(app, tenant)
    engine = tenant.engine()
    with engine.connect() as conn:
        attachment_id = conn.execute(sa.text("SELECT MAX(id) FROM crm_attachment")).scalar()
    engine.dispose()
    assert os.path.exists(path)
    assert download(page_client(app, tenant), tenant, attachment_id).status_code == 404


def test_the_api_adds_files_to_ones_own_follow_up_and_downloads_them(app, company):
    """The API twin: POST /follow-ups/<id>/attachments (multipart ``attachment``) by the follow-up's author,
    GET /attachments/<id> with the bearer token, under the same rules as the page."""
    tenant, cid, _attachment = company
    east, west, mgr = (tenant_api(app, tenant, name) for name in ("att_east", "att_west", "att_mgr"))
    follow_up = east.post("/follow-ups", json={"customer_id": cid, "follow_type": "email", "content": "发了报价"}).json

    def add(api, data, name, field="attachment"):
        return api.client.post(f"{api.prefix}/follow-ups/{follow_up['id']}/attachments",
                               headers={"Authorization": f"Bearer {api.token}"}, content_type="multipart/form-data",
                               data={field: (io.BytesIO(data), name)})

    made = add(east, PNG, "现场照片.png")
    assert made.status_code == 201, made.json
    assert (made.json["file_name"], made.json["content_type"], made.json["size"]) == ("现场照片.png", "image/png",
                                                                                       len(PNG))
    assert [a["id"] for a in east.get(f"/follow-ups/{follow_up['id']}").json["attachments"]] == [made.json["id"]]
    def fetch(api, attachment_id):
        resp = api.get(f"/attachments/{attachment_id}")
        resp.get_data()
        resp.close()
        return resp

    got = fetch(east, made.json["id"])
    assert got.status_code == 200 and got.data == PNG and got.headers["Content-Type"] == "image/png"
    assert fetch(mgr, made.json["id"]).status_code == 200
    assert fetch(west, made.json["id"]).status_code == 404
    before = count(tenant, "crm_attachment")
    refused = add(east, b"MZ\x90\x00 a program", "照片.png")
    assert refused.status_code == 422 and "attachment" in refused.json["error"]["fields"]
    missing = add(east, PDF, "x.pdf", field="file")
    assert missing.status_code == 422 and "attachment" in missing.json["error"]["fields"]
    not_author = add(mgr, PDF, "经理补充.pdf")
    assert not_author.status_code == 403 and not_author.json["error"]["code"] == "not_author"
    assert add(west, PDF, "外人.pdf").status_code == 404
    assert count(tenant, "crm_attachment") == before
    assert east.get("/attachments/999999").json["error"]["code"] == "not_found"
