"""Onboarding: SMS-verified self-registration, offline applications, the pipeline, return visits,
the due list and conversion into an enterprise (shared/API.md, control plane)."""

import base64
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from common import limits
from common.timeutil import utcnow
from extensions import db
from platform_admin.enterprises.models import Enterprise
from platform_admin.onboarding import services as onboarding_services
from platform_admin.onboarding.models import TRANSITIONS, Application, FollowUp, SmsCode
from tests.factories import ApplicationFactory, mobile

from .onboarding_helpers import (
    applications,
    assert_error,
    code_in,
    count,
    latest_code,
    other_code,
    outbox_sms,
    sms_rows,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SMS = "/api/v1/public/sms-codes"
REGISTER = "/api/v1/public/applications"
APPS = "/api/v1/applications"


@pytest.fixture
def ops(api_as):
    return api_as("ops")


@pytest.fixture
def admin(api_as):
    return api_as("admin")


def me(client):
    return client.get("/api/v1/me").json["id"]


def send_code(anon, phone, **kw):
    return anon.post(SMS, json={"phone": phone}, **kw)


def registration(phone, code, channel="web", **overrides):
    body = {"name": "李娜", "phone": phone, "sms_code": code, "company_name": "锦绣物业有限公司", "channel": channel}
    body.update(overrides)
    return body


def code_for(anon, admin, phone):
    resp = send_code(anon, phone)
    assert resp.status_code == 202, resp.json
    return latest_code(admin, phone)


def make_application(app, **kw):
    with app.app_context():
        return ApplicationFactory(**kw).id


def local_today():
    return datetime.now(SHANGHAI).date()


def local_iso(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute)).strftime("%Y-%m-%dT%H:%M")


# --------------------------------------------------------------------------- SMS codes


def test_sms_code_request_is_accepted_and_recorded_in_the_outbox(anon, admin, app):
    phone = mobile()
    resp = send_code(anon, phone)
    assert resp.status_code == 202
    assert resp.json["phone"] == phone
    items = outbox_sms(admin, phone)
    assert len(items) == 1
    assert items[0]["channel"] == "sms" and items[0]["to"] == phone and items[0]["status"] == "recorded"
    assert re.fullmatch(r"\d{6}", code_in(items[0]["body"]))


def test_the_outbox_finds_a_number_however_it_is_written(anon, admin):
    """The control plane records 13700001111, a company's CRM +8613700001111: ?to= in either form (or spaced)
    finds the message."""
    phone = mobile()
    assert send_code(anon, phone).status_code == 202
    for written in (phone, f"+86{phone}", f"{phone[:3]} {phone[3:7]} {phone[7:]}"):
        found = admin.get("/api/v1/outbox", query_string={"to": written, "channel": "sms"}).json["items"]
        assert [m["to"] for m in found] == [phone], written


def test_sms_code_is_six_random_digits(anon, admin):
    codes = {code_for(anon, admin, mobile()) for _ in range(5)}
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(codes) > 1, "five phones all got the same code"


def test_sms_code_is_stored_only_as_an_hmac(anon, admin, app):
    phone = mobile()
    code = code_for(anon, admin, phone)
    rows = sms_rows(app, phone)
    assert len(rows) == 1
    row = rows[0]
    assert re.fullmatch(r"[0-9a-f]{64}", row.code_hash)
    # no column holds the code (a substring test would fail by chance: the phone or the hash may contain
    # the same six digits), and the one that identifies it is its HMAC, checked below
    assert code not in (row.phone, row.purpose, row.code_hash, row.ip)
    with app.app_context():  # the same HMAC the service computes, so the hash really is of this code
        assert row.code_hash == onboarding_services._code_hash(phone, code)


def test_sms_code_phone_is_normalised(anon, admin, app):
    resp = send_code(anon, "+86 139-0000-1234")
    assert resp.status_code == 202, resp.json
    assert resp.json["phone"] == "13900001234"
    assert outbox_sms(admin, "13900001234")


@pytest.mark.parametrize("phone", [
    "", "   ", "123", "1391234567", "139123456789", "abcdefghijk", "12345678901",
    "01062345678",  # a landline cannot receive the SMS
    "+1 650 253 0000",
])
def test_sms_code_invalid_phone_is_422(anon, app, phone):
    assert_error(send_code(anon, phone), 422, "invalid_fields", ["phone"])
    assert count(app, SmsCode) == 0


def test_sms_code_missing_phone_is_422(anon):
    assert_error(anon.post(SMS, json={}), 422, "invalid_fields", ["phone"])


# --------------------------------------------------------------------------- self-registration


@pytest.mark.parametrize("channel", ["web", "wechat", "qrcode"])
def test_register_with_right_code_creates_verified_new_application(anon, admin, app, channel):
    phone = mobile()
    code = code_for(anon, admin, phone)
    resp = anon.post(REGISTER, json=registration(phone, code, channel))
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["channel"] == channel
    assert body["phone_verified"] is True
    assert body["status"] == "new"
    assert body["phone"] == phone and body["name"] == "李娜" and body["company_name"] == "锦绣物业有限公司"
    assert isinstance(body["id"], str)
    assert body["registered_at"].endswith("+08:00")
    assert applications(app) == [{"id": int(body["id"]), "phone": phone, "name": "李娜",
                                  "company_name": "锦绣物业有限公司", "channel": channel, "status": "new",
                                  "phone_verified": True, "owner_id": None}]


def test_register_with_wrong_code_is_422_and_creates_nothing(anon, admin, app):
    phone = mobile()
    code = code_for(anon, admin, phone)
    assert_error(anon.post(REGISTER, json=registration(phone, other_code(code))), 422, "invalid_fields", ["sms_code"])
    assert count(app, Application) == 0


def test_register_without_requesting_a_code_is_422(anon, app):
    assert_error(anon.post(REGISTER, json=registration(mobile(), "123456")), 422, "invalid_fields", ["sms_code"])
    assert count(app, Application) == 0


def test_register_with_a_code_sent_to_another_phone_is_422(anon, admin, app):
    phone, other = mobile(), mobile()
    code = code_for(anon, admin, phone)
    assert_error(anon.post(REGISTER, json=registration(other, code)), 422, "invalid_fields", ["sms_code"])
    assert count(app, Application) == 0


def test_register_with_expired_code_is_422(anon, admin, app):
    phone = mobile()
    code = code_for(anon, admin, phone)
    with app.app_context():
        db.session.execute(update(SmsCode).where(SmsCode.phone == phone)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert_error(anon.post(REGISTER, json=registration(phone, code)), 422, "invalid_fields", ["sms_code"])
    assert count(app, Application) == 0


@pytest.mark.parametrize(("minutes_later", "status"), [(4, 201), (6, 422)])
def test_sms_code_lives_five_minutes(anon, admin, app, monkeypatch, minutes_later, status):
    phone = mobile()
    code = code_for(anon, admin, phone)
    later = utcnow() + timedelta(minutes=minutes_later)
    monkeypatch.setattr(onboarding_services, "utcnow", lambda: later)
    resp = anon.post(REGISTER, json=registration(phone, code))
    assert resp.status_code == status, resp.json
    assert count(app, Application) == (1 if status == 201 else 0)


@pytest.mark.parametrize(("wrong_attempts", "right_code_works"), [(4, True), (5, False)])
def test_five_wrong_attempts_kill_the_code(anon, admin, app, wrong_attempts, right_code_works):
    phone = mobile()
    code = code_for(anon, admin, phone)
    for _ in range(wrong_attempts):
        assert_error(anon.post(REGISTER, json=registration(phone, other_code(code))), 422, fields=["sms_code"])
    resp = anon.post(REGISTER, json=registration(phone, code))
    if right_code_works:
        assert resp.status_code == 201, resp.json
    else:
        assert_error(resp, 422, "invalid_fields", ["sms_code"])
    assert count(app, Application) == (1 if right_code_works else 0)


def test_sms_code_is_single_use(anon, admin, app):
    phone = mobile()
    code = code_for(anon, admin, phone)
    assert anon.post(REGISTER, json=registration(phone, code)).status_code == 201
    again = anon.post(REGISTER, json=registration(phone, code, name="另一个人", company_name="另一家公司"))
    assert_error(again, 422, "invalid_fields", ["sms_code"])
    assert count(app, Application) == 1


def test_new_code_invalidates_the_old_one(anon, admin, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_LIMIT_PER_PHONE", "10 per minute")  # stand in for a minute passing
    phone = mobile()
    first = code_for(anon, admin, phone)
    second = code_for(anon, admin, phone)
    if first == second:  # one in a million: the old code would still "work" because it equals the new one
        pytest.skip("the two random codes collided")
    assert_error(anon.post(REGISTER, json=registration(phone, first)), 422, "invalid_fields", ["sms_code"])
    assert anon.post(REGISTER, json=registration(phone, second)).status_code == 201
    assert count(app, Application) == 1


@pytest.mark.parametrize("channel", ["offline", "OFFLINE", "sms", "", None, "web "])
def test_public_registration_rejects_other_channels(anon, admin, app, channel):
    phone = mobile()
    code = code_for(anon, admin, phone)
    body = registration(phone, code, channel)
    if channel is None:
        del body["channel"]
    assert_error(anon.post(REGISTER, json=body), 422, "invalid_fields", ["channel"])
    assert count(app, Application) == 0


@pytest.mark.parametrize(("field", "value"), [
    ("name", ""), ("name", "   "), ("name", "长" * (limits.PERSON_NAME + 1)), ("name", None),
    ("phone", "12345"), ("phone", "01062345678"), ("phone", None),
    ("sms_code", ""), ("sms_code", "12345"), ("sms_code", "1234567"), ("sms_code", "abcdef"), ("sms_code", None),
    ("company_name", "公" * (limits.ENTERPRISE_NAME + 1)),
])
def test_public_registration_validates_fields(anon, admin, app, field, value):
    phone = mobile()
    code = code_for(anon, admin, phone)
    body = registration(phone, code)
    if value is None:
        del body[field]
    else:
        body[field] = value
    assert_error(anon.post(REGISTER, json=body), 422, "invalid_fields", [field])
    assert count(app, Application) == 0


def test_public_registration_company_name_is_optional(anon, admin, app):
    phone = mobile()
    code = code_for(anon, admin, phone)
    resp = anon.post(REGISTER, json=registration(phone, code, company_name="  "))
    assert resp.status_code == 201, resp.json
    assert resp.json["company_name"] is None


MALFORMED = [
    pytest.param({"data": "{not json", "content_type": "application/json"}, id="broken-json"),
    pytest.param({"json": ["13900001234"]}, id="json-list"),
    pytest.param({"json": "13900001234"}, id="json-string"),
    pytest.param({"json": 13900001234}, id="json-number"),
    pytest.param({"data": "null", "content_type": "application/json"}, id="json-null"),
    pytest.param({"data": {"phone": "13900001234"}}, id="form-encoded"),
    pytest.param({}, id="empty"),
]


@pytest.mark.parametrize("kwargs", MALFORMED)
@pytest.mark.parametrize("path", [SMS, REGISTER])
def test_public_endpoints_reject_a_body_that_is_not_a_json_object(app, path, kwargs):
    resp = app.test_client().post(path, **kwargs)
    assert_error(resp, 400)
    assert count(app, SmsCode) == 0 and count(app, Application) == 0


@pytest.mark.parametrize("path", [SMS, REGISTER])
def test_a_field_of_the_wrong_json_type_is_a_422_naming_it(app, path):
    resp = app.test_client().post(path, json={"phone": {"nested": "13900001234"}})
    assert_error(resp, 422)
    assert "phone" in resp.get_json()["error"]["fields"]
    assert count(app, SmsCode) == 0 and count(app, Application) == 0


# --------------------------------------------------------------------------- throttling


def test_second_code_to_the_same_phone_within_a_minute_is_throttled(anon, admin, app):
    phone = mobile()
    assert send_code(anon, phone).status_code == 202
    assert_error(send_code(anon, phone), 429, "throttled")
    assert_error(send_code(anon, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"), 429, "throttled")
    assert len(outbox_sms(admin, phone)) == 1
    assert send_code(anon, mobile()).status_code == 202  # another phone is not affected


def test_throttled_response_is_plain_json(anon):
    phone = mobile()
    send_code(anon, phone)
    resp = send_code(anon, phone)
    assert resp.status_code == 429
    assert resp.headers.getlist("Content-Type") == ["application/json"]
    assert "Retry-After" in resp.headers or "X-RateLimit-Reset" in resp.headers


def test_sms_codes_are_throttled_per_ip(anon, admin, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_LIMIT_PER_IP", "3 per hour")
    for _ in range(3):
        assert send_code(anon, mobile()).status_code == 202
    phone = mobile()
    assert_error(send_code(anon, phone), 429, "throttled")
    assert outbox_sms(admin, phone) == []
    other_ip = send_code(anon, mobile(), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_ip.status_code == 202, other_ip.json


def test_registrations_are_throttled_per_ip(anon, app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_LIMIT_PER_IP", "2 per hour")
    for _ in range(2):
        assert anon.post(REGISTER, json=registration(mobile(), "123456")).status_code == 422
    assert_error(anon.post(REGISTER, json=registration(mobile(), "123456")), 429, "throttled")


# --------------------------------------------------------------------------- offline applications


def test_offline_application_by_ops_is_created_with_channel_offline_owned_by_creator(ops, app):
    resp = ops.post(APPS, json={"name": "张伟", "phone": "13800138000", "company_name": "安居物业", "remarks": "展会"})
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["channel"] == "offline"
    assert body["owner_id"] == me(ops)
    assert body["status"] == "new"
    assert body["phone_verified"] is False
    assert body["remarks"] == "展会"
    assert count(app, Application, Application.channel == "offline") == 1


def test_offline_application_accepts_a_landline_and_another_owner(ops, make_staff, app):
    colleague = make_staff(roles=("ops",))
    resp = ops.post(APPS, json={"name": "张伟", "phone": "010-62345678", "owner_id": str(colleague)})
    assert resp.status_code == 201, resp.json
    assert resp.json["phone"] == "01062345678"
    assert resp.json["owner_id"] == str(colleague)


@pytest.mark.parametrize(("field", "value"), [
    ("name", None), ("name", ""), ("name", "   "), ("name", "长" * (limits.PERSON_NAME + 1)),
    ("phone", None), ("phone", ""), ("phone", "12345"), ("phone", "not a phone"), ("phone", "+1 650 253 0000"),
    ("company_name", "公" * (limits.ENTERPRISE_NAME + 1)),
    ("owner_id", "abc"), ("owner_id", "999999"),
    ("remarks", "x" * 2001),
])
def test_offline_application_validates_fields(ops, app, field, value):
    body = {"name": "张伟", "phone": "13800138000", "company_name": "安居物业"}
    if value is None:
        body.pop(field, None)
    else:
        body[field] = value
    assert_error(ops.post(APPS, json=body), 422, "invalid_fields", [field])
    assert count(app, Application) == 0


def test_offline_application_owner_must_be_ops_or_admin(ops, make_staff, app):
    devops = make_staff(roles=("devops",))
    assert_error(ops.post(APPS, json={"name": "张伟", "phone": "13800138000", "owner_id": str(devops)}),
                 422, "invalid_fields", ["owner_id"])


def test_applications_need_an_ops_or_admin_token(anon, api_as):
    assert_error(anon.get(APPS), 401)
    assert_error(anon.post(APPS, json={"name": "张伟", "phone": "13800138000"}), 401)
    assert_error(api_as("devops").get(APPS), 403)
    assert api_as("admin").get(APPS).status_code == 200


# --------------------------------------------------------------------------- listing


@pytest.fixture
def listed(app, ops, make_staff):
    """Five applications: two offline ones owned by the caller, three self-registered."""
    colleague = make_staff(roles=("ops",))
    ids = {}
    ids["mine_new"] = ops.post(APPS, json={"name": "赵敏", "phone": "13800000001", "company_name": "碧水物业"}).json["id"]
    ids["mine_contacted"] = ops.post(APPS, json={"name": "钱进", "phone": "13800000002"}).json["id"]
    ops.patch(f"{APPS}/{ids['mine_contacted']}", json={"status": "contacted"})
    with app.app_context():
        ids["web_new"] = str(ApplicationFactory(name="孙丽", phone="13900000003", company_name="青山物业", channel="web").id)
        ids["wechat_rejected"] = str(ApplicationFactory(name="周杰", phone="13900000004", channel="wechat",
                                                       status="rejected", owner_id=colleague).id)
        ids["qrcode_contacted"] = str(ApplicationFactory(name="吴芳", phone="13900000005", company_name="碧水花园物业",
                                                        channel="qrcode", status="contacted", owner_id=colleague).id)
    return ids


def listed_ids(client, query):
    resp = client.get(f"{APPS}?{query}")
    assert resp.status_code == 200, resp.json
    assert set(resp.json) == {"items", "next_cursor"}
    return {item["id"] for item in resp.json["items"]}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"mine_new", "mine_contacted", "web_new", "wechat_rejected", "qrcode_contacted"}),
    ("status=contacted", {"mine_contacted", "qrcode_contacted"}),
    ("status=rejected", {"wechat_rejected"}),
    ("channel=offline", {"mine_new", "mine_contacted"}),
    ("channel=wechat", {"wechat_rejected"}),
    ("owner_id=me", {"mine_new", "mine_contacted"}),
    ("q=碧水", {"mine_new", "qrcode_contacted"}),
    ("q=13900000004", {"wechat_rejected"}),
    ("q=孙丽", {"web_new"}),
    ("q=nobody", set()),
    ("status=contacted&owner_id=me", {"mine_contacted"}),
    ("status=contacted&channel=qrcode&q=吴", {"qrcode_contacted"}),
    ("owner_id=999999", set()),
    ("owner_id=abc", set()),
])
def test_application_list_filters(ops, listed, query, expected):
    assert listed_ids(ops, query) == {listed[k] for k in expected}


def test_application_list_owner_id_filter_by_number(ops, listed):
    owner = me(ops)
    assert listed_ids(ops, f"owner_id={owner}") == {listed["mine_new"], listed["mine_contacted"]}


def test_application_list_is_cursor_paginated_newest_first(ops, listed):
    seen, cursor, pages = [], None, 0
    while True:
        resp = ops.get(f"{APPS}?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert resp.status_code == 200, resp.json
        items = resp.json["items"]
        assert len(items) <= 2
        seen += [i["id"] for i in items]
        pages += 1
        cursor = resp.json["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and pages < 10
    assert pages == 3
    assert seen == sorted(listed.values(), key=int, reverse=True)


def test_application_list_pagination_keeps_filters(ops, listed):
    first = ops.get(f"{APPS}?channel=offline&limit=1").json
    second = ops.get(f"{APPS}?channel=offline&limit=1&cursor={first['next_cursor']}").json
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [listed["mine_contacted"], listed["mine_new"]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", ""])
def test_application_list_bad_limit_is_422(ops, limit):
    assert_error(ops.get(f"{APPS}?limit={limit}"), 422, "invalid_fields", ["limit"])


@pytest.mark.parametrize("cursor", ["!!!", "abc", "@@", base64.urlsafe_b64encode(b"x1").decode()])
def test_application_list_bad_cursor_is_422(ops, cursor):
    assert_error(ops.get(f"{APPS}?cursor={cursor}"), 422, "invalid_fields", ["cursor"])


@pytest.mark.parametrize(("name", "value"), [("status", "bogus"), ("status", "CONVERTED"), ("channel", "fax")])
def test_application_list_unknown_filter_value_is_422(ops, name, value):
    assert_error(ops.get(f"{APPS}?{name}={value}"), 422, "invalid_fields", [name])


# --------------------------------------------------------------------------- status transitions

OPEN = ["new", "contacted", "intent_confirmed", "rejected"]
ALLOWED = [(old, new) for old in OPEN for new in sorted(TRANSITIONS[old])]
ILLEGAL = [(old, new) for old in OPEN for new in OPEN if new != old and new not in TRANSITIONS[old]]


def status_of(app, app_id):
    with app.app_context():
        return db.session.get(Application, int(app_id)).status


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_allowed_status_transitions_succeed(ops, app, old, new):
    app_id = make_application(app, status=old)
    resp = ops.patch(f"{APPS}/{app_id}", json={"status": new})
    assert resp.status_code == 200, resp.json
    assert resp.json["status"] == new
    assert status_of(app, app_id) == new


@pytest.mark.parametrize(("old", "new"), ILLEGAL)
def test_illegal_status_transitions_are_409(ops, app, old, new):
    app_id = make_application(app, status=old)
    assert_error(ops.patch(f"{APPS}/{app_id}", json={"status": new}), 409, "illegal_transition")
    assert status_of(app, app_id) == old


@pytest.mark.parametrize("old", OPEN)
def test_converted_cannot_be_set_directly(ops, app, old):
    app_id = make_application(app, status=old)
    resp = ops.patch(f"{APPS}/{app_id}", json={"status": "converted"})
    assert resp.status_code in (409, 422), resp.json
    assert_error(resp, resp.status_code, fields=["status"])
    assert status_of(app, app_id) == old
    assert count(app, Enterprise) == 0


@pytest.mark.parametrize("body", [{"status": "new"}, {"status": "rejected"}, {"name": "改名"}, {"phone": "13700000000"}])
def test_converted_application_status_and_details_are_frozen(ops, app, body):
    app_id = make_application(app, status="converted")
    assert_error(ops.patch(f"{APPS}/{app_id}", json=body), 409)
    assert status_of(app, app_id) == "converted"


def test_converted_application_still_takes_owner_and_remarks(ops, app):
    app_id = make_application(app, status="converted")
    resp = ops.patch(f"{APPS}/{app_id}", json={"remarks": "已签约", "owner_id": me(ops)})
    assert resp.status_code == 200, resp.json
    assert resp.json["remarks"] == "已签约" and resp.json["owner_id"] == me(ops)


@pytest.mark.parametrize("status", ["bogus", "NEW", "converted "])
def test_unknown_status_is_422(ops, app, status):
    app_id = make_application(app, status="new")
    assert_error(ops.patch(f"{APPS}/{app_id}", json={"status": status}), 422, "invalid_fields", ["status"])
    assert status_of(app, app_id) == "new"


def test_patch_without_status_keeps_it_and_updates_details(ops, app):
    app_id = make_application(app, status="contacted")
    resp = ops.patch(f"{APPS}/{app_id}", json={"company_name": "新名字物业"})
    assert resp.status_code == 200, resp.json
    assert resp.json["company_name"] == "新名字物业" and resp.json["status"] == "contacted"


@pytest.mark.parametrize("body", [{"phone": "123"}, {"name": ""}, {"owner_id": "abc"}])
def test_patch_validates_fields(ops, app, body):
    app_id = make_application(app)
    assert_error(ops.patch(f"{APPS}/{app_id}", json=body), 422, "invalid_fields", list(body))


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_unknown_application_is_404(ops, method):
    assert_error(ops.open(method, f"{APPS}/987654", json={"status": "contacted"}), 404)


# --------------------------------------------------------------------------- return visits


def visit(client, app_id, **overrides):
    body = {"content": "电话沟通，客户对工单模块感兴趣", "intent_level": "high",
            "next_follow_up_at": local_iso(local_today() + timedelta(days=3), 10)}
    body.update(overrides)
    return client.post(f"{APPS}/{app_id}/follow-ups", json=body)


def test_return_visit_is_recorded(ops, app):
    app_id = make_application(app, status="contacted")
    day = local_today() + timedelta(days=2)
    resp = visit(ops, app_id, intent_level="medium", next_follow_up_at=local_iso(day, 15, 30))
    assert resp.status_code == 201, resp.json
    body = resp.json
    assert body["content"] == "电话沟通，客户对工单模块感兴趣"
    assert body["intent_level"] == "medium"
    assert body["next_follow_up_at"] == f"{day.isoformat()}T15:30:00+08:00"
    assert body["staff_id"] == me(ops)
    assert body["application"]["next_follow_up_at"] == body["next_follow_up_at"]
    assert body["application"]["intent_level"] == "medium"
    detail = ops.get(f"{APPS}/{app_id}").json
    assert [f["id"] for f in detail["follow_ups"]] == [body["id"]]
    listed = ops.get(f"{APPS}/{app_id}/follow-ups").json
    assert [f["id"] for f in listed["items"]] == [body["id"]] and listed["next_cursor"] is None


def test_return_visit_time_with_offset_is_respected(ops, app):
    app_id = make_application(app)
    resp = visit(ops, app_id, next_follow_up_at="2030-05-01T02:00:00+00:00")
    assert resp.status_code == 201, resp.json
    assert resp.json["next_follow_up_at"] == "2030-05-01T10:00:00+08:00"


def test_first_return_visit_marks_new_application_contacted(ops, app):
    app_id = make_application(app, status="new")
    resp = visit(ops, app_id)
    assert resp.status_code == 201, resp.json
    assert resp.json["application"]["status"] == "contacted"
    assert resp.json["application"]["owner_id"] == me(ops)  # an unowned applicant goes to whoever called
    assert status_of(app, app_id) == "contacted"


@pytest.mark.parametrize("old", ["new", "contacted"])
def test_return_visit_outcome_intent_confirmed_moves_the_application(ops, app, old):
    app_id = make_application(app, status=old)
    resp = visit(ops, app_id, outcome="intent_confirmed")
    assert resp.status_code == 201, resp.json
    assert resp.json["application"]["status"] == "intent_confirmed"
    assert status_of(app, app_id) == "intent_confirmed"


def test_return_visit_outcome_rejected_closes_the_application(ops, app):
    app_id = make_application(app, status="contacted")
    assert visit(ops, app_id, outcome="rejected", intent_level="none").status_code == 201
    assert status_of(app, app_id) == "rejected"


def test_return_visit_with_illegal_outcome_is_409_and_not_recorded(ops, app):
    app_id = make_application(app, status="intent_confirmed")
    assert_error(visit(ops, app_id, outcome="contacted"), 409, "illegal_transition")
    assert status_of(app, app_id) == "intent_confirmed"
    assert count(app, FollowUp) == 0


@pytest.mark.parametrize("content", [None, "", "   "])
def test_return_visit_without_content_is_422(ops, app, content):
    app_id = make_application(app)
    body = {"intent_level": "high"}
    if content is not None:
        body["content"] = content
    assert_error(ops.post(f"{APPS}/{app_id}/follow-ups", json=body), 422, "invalid_fields", ["content"])
    assert count(app, FollowUp) == 0
    assert status_of(app, app_id) == "new"


@pytest.mark.parametrize("level", [None, "", "very_high", "HIGH", "1"])
def test_return_visit_with_bad_intent_level_is_422(ops, app, level):
    app_id = make_application(app)
    body = {"content": "沟通"}
    if level is not None:
        body["intent_level"] = level
    assert_error(ops.post(f"{APPS}/{app_id}/follow-ups", json=body), 422, "invalid_fields", ["intent_level"])
    assert count(app, FollowUp) == 0


def test_the_visit_form_chooses_no_intent_for_the_visitor(app, login_page):
    """意向程度 came chosen as 高, so a visit saved without a look at it recorded a high intent nobody judged: it comes
    unchosen, and saving it so names the field and records nothing."""
    from tests.conftest import csrf_from

    app_id = make_application(app)
    page = login_page("ops")
    detail = page.get(f"/applications/{app_id}").text
    select = detail.split('name="intent_level"', 1)[1].split("</select>", 1)[0]
    assert select.split("<option", 2)[1].startswith(' value=""') and "selected" not in select, select  # the blank
    saved = page.post(f"/applications/{app_id}/follow-ups", data={"csrf_token": csrf_from(detail), "content": "电话沟通"})
    assert saved.status_code == 422 and 'id="field-intent_level"' in saved.text and "电话沟通" in saved.text
    assert count(app, FollowUp) == 0


@pytest.mark.parametrize("when", ["tomorrow", "2026-13-01T10:00", "2026-02-30T10:00", "10:00", "0001-01-01T00:00",
                                  "0999-06-01T10:00", "9999-12-31T23:59:59-12:00"])
def test_return_visit_with_bad_next_time_is_422(ops, app, when):
    app_id = make_application(app)
    assert_error(visit(ops, app_id, next_follow_up_at=when), 422, "invalid_fields", ["next_follow_up_at"])
    assert count(app, FollowUp) == 0


@pytest.mark.parametrize("outcome", ["converted", "new", "bogus"])
def test_return_visit_with_bad_outcome_is_422(ops, app, outcome):
    app_id = make_application(app)
    assert_error(visit(ops, app_id, outcome=outcome), 422, "invalid_fields", ["outcome"])
    assert count(app, FollowUp) == 0


@pytest.mark.parametrize("status", ["rejected", "converted"])
def test_return_visit_on_closed_application_is_409(ops, app, status):
    app_id = make_application(app, status=status)
    assert_error(visit(ops, app_id), 409)
    assert count(app, FollowUp) == 0
    assert status_of(app, app_id) == status


def test_return_visit_on_unknown_application_is_404(ops):
    assert_error(visit(ops, 987654), 404)


# --------------------------------------------------------------------------- due list


def due_ids(client, query=""):
    resp = client.get(f"/api/v1/follow-ups/due{query}")
    assert resp.status_code == 200, resp.json
    assert set(resp.json) == {"items", "next_cursor"}
    return {i["id"] for i in resp.json["items"]}


def with_next_visit(client, app, day, hour, minute=0, status="new"):
    """An application whose next return visit was booked through the API for ``day hour:minute`` local."""
    from common.timeutil import from_local, local_today

    app_id = make_application(app, status=status)
    with app.app_context():
        today = local_today()
    if day >= today:
        resp = visit(client, app_id, next_follow_up_at=local_iso(day, hour, minute))
        assert resp.status_code == 201, resp.json
        return str(app_id)
    # booked then, and the day has passed since (a return visit is planned for today or later)
    assert visit(client, app_id).status_code == 201
    with app.app_context():
        db.session.execute(update(Application).where(Application.id == app_id).values(
            next_follow_up_at=from_local(datetime.combine(day, time(hour, minute)))))
        db.session.commit()
    return str(app_id)


def test_a_return_visit_is_planned_for_today_or_later(ops, app):
    """A day already past showed the application overdue the moment the visit was recorded."""
    from common.timeutil import local_today

    app_id = make_application(app)
    with app.app_context():
        today = local_today()
    yesterday = today - timedelta(days=1)
    assert_error(visit(ops, app_id, next_follow_up_at=local_iso(yesterday, 10)), 422, "invalid_fields",
                 ["next_follow_up_at"])
    assert count(app, FollowUp) == 0
    assert visit(ops, app_id, next_follow_up_at=local_iso(today, 23, 55)).status_code == 201  # today: fine


def test_due_list_has_todays_and_overdue_visits_and_uncontacted_applicants(ops, app):
    today = local_today()
    due = {
        with_next_visit(ops, app, today, 0, 5),
        with_next_visit(ops, app, today, 23, 55),
        with_next_visit(ops, app, today - timedelta(days=1), 9),
        with_next_visit(ops, app, today - timedelta(days=30), 9, status="contacted"),
        str(make_application(app, status="new")),  # nobody has called yet
    }
    with app.app_context():  # confirmed intent with an overdue visit is still due
        a = ApplicationFactory(status="intent_confirmed", next_follow_up_at=utcnow() - timedelta(hours=1))
        due.add(str(a.id))
    assert due_ids(ops) == due


def test_due_list_excludes_future_converted_and_rejected(ops, app):
    today = local_today()
    with_next_visit(ops, app, today + timedelta(days=1), 0, 5)
    with_next_visit(ops, app, today + timedelta(days=7), 10)
    past = utcnow() - timedelta(days=1)
    with app.app_context():
        ApplicationFactory(status="converted", next_follow_up_at=past)
        ApplicationFactory(status="rejected", next_follow_up_at=past)
        ApplicationFactory(status="rejected")
        ApplicationFactory(status="contacted")  # called, no next visit booked
    assert due_ids(ops) == set()


def test_due_list_uses_the_local_day(ops, app):
    """The day ends at midnight Asia/Shanghai, i.e. 16:00 UTC: 23:30 local is today, 00:30 is tomorrow."""
    today = local_today()
    end_utc = datetime.combine(today + timedelta(days=1), time.min, SHANGHAI).astimezone(ZoneInfo("UTC"))
    end_utc = end_utc.replace(tzinfo=None)
    with app.app_context():
        last_minute = ApplicationFactory(status="contacted", next_follow_up_at=end_utc - timedelta(minutes=30)).id
        ApplicationFactory(status="contacted", next_follow_up_at=end_utc + timedelta(minutes=30))
    assert due_ids(ops) == {str(last_minute)}


@pytest.mark.parametrize("mine", ["1", "true"])
def test_due_list_mine_filters_by_owner(ops, app, make_staff, mine):
    colleague = make_staff(roles=("ops",))
    past = utcnow() - timedelta(hours=2)
    with app.app_context():
        ours = ApplicationFactory(status="contacted", next_follow_up_at=past, owner_id=int(me(ops))).id
        theirs = ApplicationFactory(status="contacted", next_follow_up_at=past, owner_id=colleague).id
        unowned = ApplicationFactory(status="new").id
    assert due_ids(ops) == {str(ours), str(theirs), str(unowned)}
    assert due_ids(ops, f"?mine={mine}") == {str(ours)}
    unclear = ops.get("/api/v1/follow-ups/due?mine=maybe")  # was read as "no": everyone's list, as if asked
    assert unclear.status_code == 422 and list(unclear.json["error"]["fields"]) == ["mine"]


def test_due_list_is_paginated(ops, app):
    with app.app_context():
        ids = {str(ApplicationFactory(status="new").id) for _ in range(3)}
    first = ops.get("/api/v1/follow-ups/due?limit=2").json
    second = ops.get(f"/api/v1/follow-ups/due?limit=2&cursor={first['next_cursor']}").json
    assert {i["id"] for i in first["items"] + second["items"]} == ids
    assert second["next_cursor"] is None
    assert_error(ops.get("/api/v1/follow-ups/due?limit=0"), 422, "invalid_fields", ["limit"])


# --------------------------------------------------------------------------- conversion


def convert(client, app_id):
    return client.post(f"{APPS}/{app_id}/convert")


def test_conversion_creates_the_enterprise_from_the_application(ops, app):
    app_id = make_application(app, status="intent_confirmed", name="王强", phone="13912340000",
                              company_name="幸福里物业服务有限公司")
    resp = convert(ops, app_id)
    assert resp.status_code == 201, resp.json
    ent = resp.json
    assert re.fullmatch(r"QY\d{6}\d{6,}", ent["enterprise_no"]), ent["enterprise_no"]
    assert ent["name"] == "幸福里物业服务有限公司"
    assert ent["contact_name"] == "王强"
    assert ent["contact_phone"] == "13912340000"
    assert isinstance(ent["id"], str)
    application = ops.get(f"{APPS}/{app_id}").json
    assert application["status"] == "converted"
    assert application["enterprise_id"] == ent["id"]
    assert application["next_follow_up_at"] is None
    assert ops.get(f"/api/v1/enterprises/{ent['id']}").json["enterprise_no"] == ent["enterprise_no"]


def test_conversion_enterprise_numbers_are_unique(ops, app):
    numbers = set()
    for _ in range(3):
        resp = convert(ops, make_application(app, status="intent_confirmed"))
        assert resp.status_code == 201, resp.json
        numbers.add(resp.json["enterprise_no"])
    assert len(numbers) == 3


def test_conversion_without_company_name_still_works(ops, app):
    app_id = make_application(app, status="intent_confirmed", company_name=None)
    resp = convert(ops, app_id)
    assert resp.status_code == 201, resp.json
    assert resp.json["enterprise_no"]


@pytest.mark.parametrize("status", ["new", "contacted", "rejected"])
def test_conversion_needs_confirmed_intent(ops, app, status):
    app_id = make_application(app, status=status)
    assert_error(convert(ops, app_id), 409)
    assert status_of(app, app_id) == status
    assert count(app, Enterprise) == 0


def test_converting_twice_is_409_and_creates_one_enterprise(ops, app):
    app_id = make_application(app, status="intent_confirmed")
    first = convert(ops, app_id)
    assert first.status_code == 201, first.json
    assert_error(convert(ops, app_id), 409)
    assert count(app, Enterprise) == 1
    assert ops.get(f"{APPS}/{app_id}").json["enterprise_id"] == first.json["id"]


def test_full_pipeline_from_registration_to_enterprise(anon, admin, ops, app):
    phone = mobile()
    code = code_for(anon, admin, phone)
    app_id = anon.post(REGISTER, json=registration(phone, code, "qrcode")).json["id"]
    assert app_id in due_ids(ops)
    assert visit(ops, app_id, outcome="intent_confirmed").status_code == 201
    ent = convert(ops, app_id)
    assert ent.status_code == 201, ent.json
    assert ent.json["contact_phone"] == phone and ent.json["name"] == "锦绣物业有限公司"
    assert app_id not in due_ids(ops)


# --------------------------------------------------------------------------- no 500s

WEIRD_BODIES = [
    pytest.param({"data": "{not json", "content_type": "application/json"}, id="broken-json"),
    pytest.param({"json": []}, id="json-list"),
    pytest.param({"json": "x"}, id="json-string"),
    pytest.param({"json": 1}, id="json-number"),
    pytest.param({"data": "null", "content_type": "application/json"}, id="json-null"),
    pytest.param({"data": {"name": "x"}}, id="form-encoded"),
    pytest.param({"data": b"\xff\xfe\x00", "content_type": "application/json"}, id="bad-utf8"),
    pytest.param({"json": {"name": {"a": 1}, "phone": [[1]]}}, id="nested"),
    pytest.param({"json": {"name": ["a", "b"], "phone": ["13800138000", "x"], "status": ["new", "rejected"],
                           "content": ["a"], "intent_level": ["high", "low"], "outcome": ["rejected"],
                           "channel": ["web"], "sms_code": ["123456"], "owner_id": ["1", "2"]}}, id="lists"),
    pytest.param({"json": {"name": True, "phone": 13800138000, "status": False, "content": 1.5,
                           "intent_level": True, "owner_id": -1, "next_follow_up_at": 12,
                           "sms_code": 123456, "channel": 0, "company_name": False}}, id="wrong-types"),
    pytest.param({"json": {"name": "x" * 100_000, "phone": "1" * 10_000, "content": "x" * 100_000,
                           "next_follow_up_at": "9" * 5000, "owner_id": "9" * 5000, "sms_code": "9" * 5000,
                           "intent_level": "x" * 5000}}, id="huge"),
    pytest.param({"json": {"name": "\x00", "phone": "１３８００１３８０００", "content": "\ud800",
                           "next_follow_up_at": "0000-00-00T00:00", "owner_id": "²"}}, id="odd-characters"),
    pytest.param({"json": {"next_follow_up_at": "9999-12-31T23:59:59-12:00", "content": "x",
                           "intent_level": "high", "owner_id": "99999999999999999999999"}}, id="extreme-values"),
]
WRITE_PATHS = [
    ("POST", SMS), ("POST", REGISTER), ("POST", APPS), ("PATCH", APPS + "/{id}"),
    ("POST", APPS + "/{id}/follow-ups"), ("POST", APPS + "/{id}/convert"),
]


@pytest.mark.parametrize("kwargs", WEIRD_BODIES)
@pytest.mark.parametrize(("method", "path"), WRITE_PATHS)
def test_no_client_input_causes_a_500_on_writes(app, ops, method, path, kwargs):
    app_id = make_application(app, status="contacted")
    resp = ops.client.open(path.format(id=app_id), method=method, headers=ops._headers(None), **kwargs)
    assert resp.status_code < 500, resp.get_data(as_text=True)[:500]
    if resp.status_code >= 400:
        assert_error(resp, resp.status_code)


@pytest.mark.parametrize("query", [
    "limit=99999999999999999999999", "limit=" + "9" * 5000, "cursor=" + "A" * 5000, "cursor=%00",
    "cursor=" + base64.urlsafe_b64encode(b"9" * 40).decode().rstrip("="),
    "cursor=" + base64.urlsafe_b64encode(b"-5").decode().rstrip("="),
    "owner_id=99999999999999999999999", "owner_id=²", "owner_id=%00", "q=%25", "q=_", "q=%00", "q=" + "x" * 5000,
    "status=%00", "channel=", "mine=1&limit=abc",
])
@pytest.mark.parametrize("path", [APPS, "/api/v1/follow-ups/due", APPS + "/{id}/follow-ups", "/api/v1/outbox"])
def test_no_client_query_causes_a_500_on_lists(app, api_as, path, query):
    client = api_as("admin", "ops")
    app_id = make_application(app)
    resp = client.get(f"{path.format(id=app_id)}?{query}")
    assert resp.status_code < 500, resp.get_data(as_text=True)[:500]
    if resp.status_code >= 400:
        assert_error(resp, resp.status_code)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", APPS, {"name": "张\ud800", "phone": "13800138000"}),
    ("POST", APPS, {"name": "张伟", "phone": "13800138000", "remarks": "\udfff"}),
    ("PATCH", APPS + "/{id}", {"company_name": "\ud800物业"}),
    ("POST", APPS + "/{id}/follow-ups", {"content": "\ud800", "intent_level": "high"}),
    ("POST", REGISTER, {"name": "\ud800", "phone": "13800138000", "sms_code": "123456", "channel": "web"}),
])
def test_text_with_lone_surrogates_is_refused_not_a_500(ops, app, method, path, body):
    app_id = make_application(app)
    resp = ops.open(method, path.format(id=app_id), json=body)
    assert 400 <= resp.status_code < 500, resp.get_data(as_text=True)[:500]
    assert_error(resp, resp.status_code)


@pytest.mark.parametrize("app_id", ["99999999999999999999999", "0", "9" * 400])
@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("PATCH", ""), ("GET", "/follow-ups"),
                                                ("POST", "/follow-ups"), ("POST", "/convert")])
def test_no_application_id_causes_a_500(ops, app_id, method, suffix):
    resp = ops.open(method, f"{APPS}/{app_id}{suffix}", json={"content": "x", "intent_level": "high"})
    assert_error(resp, 404)
