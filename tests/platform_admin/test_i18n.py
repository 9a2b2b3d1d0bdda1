"""Simplified Chinese by default, English on request, and every UI string translated."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def _translated(entry):
    if entry is None:
        return False
    return all(entry.string) if isinstance(entry.string, tuple) else bool(entry.string)  # every plural form


def test_every_string_is_translated_to_simplified_chinese(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_pgettext:1c,2",
                    "-k", "lazy_gettext", "--ignore-dirs=.venv tests bench migrations", "-o", str(pot), "."],
                   cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as fh:
        source = read_po(fh)
    with open(ROOT / "translations/zh/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh)
    missing = [m.id for m in source if m.id and not _translated(catalog.get(m.id, context=m.context))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not missing, f"untranslated: {missing[:20]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:20]}"


def test_pages_are_chinese_by_default(client):
    page = client.get("/login")
    assert 'lang="zh-CN"' in page.text and "员工登录" in page.text


def test_english_is_available_and_sticks_for_the_session(client):
    page = client.get("/login?lang=en")
    assert 'lang="en"' in page.text and "Staff sign in" in page.text
    assert "Staff sign in" in client.get("/login").text


def test_api_errors_are_chinese_by_default_and_english_on_request(anon):
    zh = anon.post("/api/v1/public/sms-codes", json={"phone": "123"})
    assert zh.status_code == 422
    assert "手机号" in zh.json["error"]["fields"]["phone"][0]
    en = anon.post("/api/v1/public/sms-codes", json={"phone": "123"}, headers={"Accept-Language": "en"})
    assert en.json["error"]["fields"]["phone"] == ["Enter a valid mainland China mobile number."]


def test_wtforms_builtin_messages_are_translated(api_as):
    resp = api_as("admin").post("/api/v1/staff", json={"username": "x1", "password": "Long-enough-pw-1", "roles": ["ops"],
                                                        "email": "not-an-email"})
    assert resp.status_code == 422
    assert resp.json["error"]["fields"]["email"] == ["请输入有效的邮箱地址。"] or "邮箱" in resp.json["error"]["fields"]["email"][0]


def test_api_404_and_405_speak_the_readers_language(anon):
    """werkzeug's own sentences ("The requested URL was not found on the server...") are English only: the API
    answers a missing URL or a wrong method in the reader's language."""
    zh = anon.get("/api/v1/no-such-thing")
    assert zh.status_code == 404 and zh.json["error"]["message"] == "您访问的页面或记录不存在。"
    en = anon.get("/api/v1/no-such-thing", headers={"Accept-Language": "en"})
    assert en.json["error"]["message"] == "The page or record you asked for does not exist."
    wrong = anon.delete("/api/v1/public/sms-codes")
    assert wrong.status_code == 405 and "requested URL" not in wrong.json["error"]["message"]
    assert wrong.headers.get("Allow")


def test_the_language_chosen_on_the_sign_in_page_survives_signing_in_and_out(app, make_staff):
    """Signing in starts a new session (no fixation) and signing out ends it: the language the reader picked
    (English on the sign-in page) stays, where the dashboard used to come back in Chinese and the sign-out
    notice in English sat on a Chinese sign-in page."""
    import re

    from tests.conftest import PASSWORD

    make_staff("linglish", roles=("ops",))
    client = app.test_client()
    page = client.get("/login?lang=en")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    resp = client.post("/login", data={"username": "linglish", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    home = client.get("/")
    assert 'lang="en"' in home.text and "Dashboard" in home.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    assert 'lang="en"' in out.text and "You have signed out." in out.text and "Staff sign in" in out.text


def test_a_language_asked_for_on_a_page_that_redirects_to_sign_in_is_kept(client):
    """/?lang=… while signed out answers with the sign-in page, the page asked for in ``next``: that page speaks the
    language asked for, though nothing was translated on the way (the choice was only read when a text was)."""
    client.get("/login?lang=en")
    asked = client.get("/?lang=zh_CN")
    assert asked.status_code == 302 and "/login" in asked.headers["Location"]
    assert '<html lang="zh-CN"' in client.get(asked.headers["Location"]).text
    client.get("/?lang=en")
    assert '<html lang="en"' in client.get("/login").text
