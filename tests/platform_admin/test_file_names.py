"""Uploaded file names are made safe when stored (no control characters, no path, a sane length, Chinese
kept), and a name stored unsafe before still downloads (a CR/LF in it used to answer 500)."""

import os
import secrets
import unicodedata
from urllib.parse import quote, unquote

import pytest

from extensions import db
from platform_admin.files.models import StoredFile
from tests.factories import EnterpriseFactory

from .ent_helpers import PNG, make


def upload_named(api, ent_id, filename):
    """A multipart upload whose file name travels RFC 5987-encoded (``filename*=UTF-8''...``), as some
    clients send it: the only way a CR/LF or NUL reaches the server inside a name."""
    boundary = secrets.token_hex(8)
    disposition = f"form-data; name=\"file\"; filename*=UTF-8''{quote(filename, safe='')}"
    body = (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: image/png\r\n\r\n").encode() \
        + PNG + f"\r\n--{boundary}--\r\n".encode()
    return api.client.put(f"/api/v1/enterprises/{ent_id}/license-scan", data=body,
                          content_type=f"multipart/form-data; boundary={boundary}",
                          headers={"Authorization": f"Bearer {api.token}"})


def download_name(resp):
    """The file name a browser would save the download under, from Content-Disposition."""
    disposition = resp.headers["Content-Disposition"]
    if "filename*=UTF-8''" in disposition:
        return unquote(disposition.split("filename*=UTF-8''")[1])
    return disposition.split("filename=")[1].strip('"')


def assert_safe(name):
    assert name and len(name.encode()) <= 200
    assert not any(unicodedata.category(ch).startswith("C") for ch in name), repr(name)
    assert "/" not in name and "\\" not in name and not name.startswith(".")


@pytest.mark.parametrize(("sent", "stored"), [
    ("营业执照 扫描件.png", "营业执照 扫描件.png"),
    ("scan\r\nSet-Cookie x=1.png", "scanSet-Cookie x=1.png"),
    ("licence\x00.exe.png", "licence.exe.png"),
    ("../../etc/passwd.png", "passwd.png"),
    ("..\\..\\windows\\win.ini.png", "win.ini.png"),
    ("invoice\u202egnp.exe", "invoicegnp.exe"),  # a right-to-left override would show "exe.png"
    ("\r\n", "upload.png"),
    ("..", "upload.png"),
    ("a" * 300 + ".png", "a" * 196 + ".png"),
    ("营" * 300 + ".png", "营" * 65 + ".png"),
], ids=["chinese", "crlf", "nul", "dotdot", "backslashes", "rtl_override", "only_crlf", "only_dots", "long",
        "long_chinese"])
def test_a_file_name_is_made_safe_when_stored_and_downloads(app, api_as, login_page, sent, stored):
    ops = api_as("ops")
    ent_id = make(app, EnterpriseFactory)
    resp = upload_named(ops, ent_id, sent)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    scan = resp.json["license_scan"]
    assert scan["name"] == stored
    assert_safe(scan["name"])
    with login_page("ops").get(scan["url"]) as download:  # a streamed file: close it
        assert download.status_code == 200 and download.data == PNG
        assert download_name(download) == stored


@pytest.mark.parametrize("bad", ["scan\r\n.png", "scan\n\x00.png", "../../x\r.png", "营" * 120 + "\n.png"])
def test_a_name_stored_unsafe_before_still_downloads(app, login_page, bad):
    with app.app_context():
        stored = StoredFile(id=secrets.token_hex(16), original_name=bad, content_type="image/png", size=len(PNG),
                            sha256="0" * 64, relative_path="legacy.png")
        db.session.add(stored)
        db.session.commit()
        file_id = stored.id
        os.makedirs(app.config["UPLOAD_DIR"], exist_ok=True)
        with open(os.path.join(app.config["UPLOAD_DIR"], "legacy.png"), "wb") as fh:
            fh.write(PNG)
    with login_page("ops").get(f"/files/{file_id}") as resp:
        assert resp.status_code == 200 and resp.data == PNG
        assert_safe(download_name(resp))
        assert download_name(resp).endswith(".png")
