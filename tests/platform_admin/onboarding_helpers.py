"""Helpers shared by the onboarding tests (registration API and the public registration page)."""

import re

from sqlalchemy import func, select

from extensions import db
from platform_admin.messaging.models import OutboxMessage
from platform_admin.onboarding.models import Application, SmsCode

CODE_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def assert_error(resp, status, code=None, fields=()):
    """The response is the API error shape with this status (and code / field names when given)."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.is_json, resp.headers
    body = resp.get_json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str) and re.fullmatch(r"[a-z][a-z0-9_]*", error["code"]), error
    assert isinstance(error.get("message"), str) and error["message"], error
    if code is not None:
        assert error["code"] == code, error
    for name in fields:
        assert name in error.get("fields", {}), error
        assert all(isinstance(m, str) and m for m in error["fields"][name]), error
    return error


def code_in(body):
    match = CODE_RE.search(body)
    assert match, f"no 6-digit code in SMS body {body!r}"
    return match.group(1)


def outbox_sms(admin, phone):
    """The SMS messages sent to ``phone``, newest first, read through the admin outbox API."""
    resp = admin.get(f"/api/v1/outbox?to={phone}&channel=sms")
    assert resp.status_code == 200, resp.json
    return resp.json["items"]


def latest_code(admin, phone):
    items = outbox_sms(admin, phone)
    assert items, f"no SMS recorded for {phone}"
    return code_in(items[0]["body"])


def other_code(code):
    """A well-formed code that is not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def applications(app, *where):
    with app.app_context():
        rows = db.session.scalars(select(Application).where(*where).order_by(Application.id)).all()
        return [
            {"id": a.id, "phone": a.phone, "name": a.name, "company_name": a.company_name, "channel": a.channel,
             "status": a.status, "phone_verified": a.phone_verified, "owner_id": a.owner_id}
            for a in rows
        ]


def sms_rows(app, phone):
    with app.app_context():
        return db.session.scalars(select(SmsCode).where(SmsCode.phone == phone).order_by(SmsCode.id)).all()


def outbox_rows(app, phone):
    with app.app_context():
        return db.session.scalars(select(OutboxMessage).where(OutboxMessage.to == phone)).all()
