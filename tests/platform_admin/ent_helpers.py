"""Helpers shared by the enterprise-profile and contract tests (kept out of conftest/factories)."""

from html.parser import HTMLParser

from sqlalchemy import func, inspect, select

from extensions import db
from tests.factories import credit_code

# The completeness fields in the order the API reports them (seed 004).
REQUIRED = ["license_no", "name", "address", "contact_name", "contact_phone"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def enterprise_payload(**overrides):
    """A complete, valid enterprise body for ``POST /api/v1/enterprises``."""
    body = {
        "name": "幸福里物业服务有限公司", "license_no": credit_code(), "province_code": "44", "city_code": "4403",
        "address": "南山区科技园路1号", "office_phone": "0755-26012345", "email": "ops@example.com",
        "contact_name": "陈经理", "contact_phone": "13800138000", "introduction": "简介", "remarks": "备注",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def wrong_check_digit(code):
    """The same code with a different (wrong) last character."""
    for ch in "0123456789ABCDEFGHJKLMNPQRTUWXY":
        if ch != code[-1]:
            return code[:-1] + ch
    raise AssertionError("unreachable")


def make(app, factory, **kw):
    """Create a row with a factory in its own app context; return its id."""
    with app.app_context():
        return factory(**kw).id


def row(app, model, pk):
    """A plain dict of a row's column values, read in a fresh session (or None)."""
    with app.app_context():
        obj = db.session.get(model, pk)
        if obj is None:
            return None
        return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def assert_error(resp, status, code=None, fields=None):
    """Assert the API error shape; ``fields`` are names that must be listed under ``error.fields``."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:2000])
    body = resp.get_json()
    assert isinstance(body, dict) and "error" in body, body
    err = body["error"]
    assert isinstance(err.get("message"), str) and err["message"]
    if code:
        assert err["code"] == code, err
    for name in fields or ():
        assert name in err.get("fields", {}), err
        assert err["fields"][name] and all(isinstance(m, str) and m for m in err["fields"][name])
    return err


class _Grab(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, element_id):
        super().__init__(convert_charrefs=True)
        self.element_id, self.depth, self.done = element_id, 0, False
        self.parts, self.hrefs, self.classes = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.done:
            return
        if self.depth:
            if tag not in self.VOID:
                self.depth += 1
            if attrs.get("href"):
                self.hrefs.append(attrs["href"])
            if attrs.get("class"):
                self.classes.append(attrs["class"])
        elif attrs.get("id") == self.element_id:
            self.depth = 1

    def handle_endtag(self, tag):
        if self.depth and not self.done and tag not in self.VOID:
            self.depth -= 1
            if self.depth == 0:
                self.done = True

    def handle_data(self, data):
        if self.depth and not self.done:
            self.parts.append(data)


def element(html, element_id):
    """The element with ``id``: its text, the links and classes inside it; None when absent."""
    grab = _Grab(element_id)
    grab.feed(html)
    if not grab.depth and not grab.done:
        return None
    return {"text": " ".join(" ".join(grab.parts).split()), "hrefs": grab.hrefs, "classes": grab.classes}
