"""Enterprise profiles (seed 004, 用户详细信息表): creation, validation, licence uniqueness, the
completeness gate on the API and in the UI, and the licence scan upload.

Every test runs on MariaDB and on SQLite (the ``app`` fixture is parametrized over both).
"""

import base64
import os
import re
import threading

import pytest

from common import limits
from platform_admin.enterprises.models import Enterprise
from platform_admin.files.models import StoredFile
from tests.conftest import csrf_from
from tests.factories import EnterpriseFactory, credit_code

from .ent_helpers import (
    JPEG,
    PDF,
    PNG,
    REQUIRED,
    assert_error,
    count,
    element,
    enterprise_payload,
    make,
    row,
    wrong_check_digit,
)

API = "/api/v1/enterprises"


@pytest.fixture
def ops(api_as):
    return api_as("ops")


def create(api, **overrides):
    resp = api.post(API, json=enterprise_payload(**overrides))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


# --------------------------------------------------------------------------------------------------
# Creation, numbering, drafts
# --------------------------------------------------------------------------------------------------


def test_enterprise_no_is_generated_and_unique(app, ops):
    made = [create(ops, license_no=credit_code()) for _ in range(3)]
    made.append(ops.post(API, json={}).get_json())  # a draft is numbered too
    numbers = [e["enterprise_no"] for e in made]
    assert all(isinstance(n, str) and n for n in numbers)
    assert len(set(numbers)) == len(numbers)
    for e in made:
        assert ops.get(f"{API}/{e['id']}").get_json()["enterprise_no"] == e["enterprise_no"]
        assert isinstance(e["id"], str)


def test_enterprise_no_cannot_be_chosen_or_changed_by_the_client(app, ops):
    e = create(ops, enterprise_no="HACKED")
    assert e["enterprise_no"] != "HACKED"
    resp = ops.patch(f"{API}/{e['id']}", json={"enterprise_no": "HACKED2", "status": 1})
    assert resp.status_code == 200
    assert resp.get_json()["enterprise_no"] == e["enterprise_no"]
    assert resp.get_json()["status"] == 0  # opening goes through the gate, not PATCH


def test_draft_may_be_incomplete(app, ops):
    resp = ops.post(API, json={})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["complete"] is False
    assert body["missing"] == REQUIRED
    assert body["status"] == 0
    assert body["enterprise_no"]

    resp = ops.post(API, json={"name": "只有名称的草稿", "contact_phone": "13800138000"})
    assert resp.status_code == 201
    assert resp.get_json()["missing"] == ["license_no", "address", "contact_name"]


def test_complete_profile_is_reported_complete(app, ops):
    body = create(ops)
    assert body["complete"] is True
    assert body["missing"] == []


def test_every_profile_field_round_trips(app, ops):
    payload = enterprise_payload(email="finance@example.cn")
    body = create(ops, **payload)
    got = ops.get(f"{API}/{body['id']}").get_json()
    for key in ("name", "license_no", "province_code", "city_code", "address", "email", "contact_name",
                "introduction", "remarks"):
        assert got[key] == payload[key], key
    assert got["office_phone"] == "075526012345"
    assert got["contact_phone"] == "13800138000"
    assert got["province"] == "广东省" and got["city"] == "深圳市"
    assert got["license_scan"] is None
    assert got == body
    db_row = row(app, Enterprise, int(body["id"]))
    assert db_row["license_no"] == payload["license_no"] and db_row["status"] == 0


def test_drafts_without_licence_do_not_conflict(app, ops):
    # NULL (and "" normalized to NULL) must not collide with the unique constraint on either backend.
    for body in ({}, {"license_no": ""}, {"license_no": "   "}, {"license_no": None}):
        resp = ops.post(API, json=body)
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["license_no"] is None
    assert count(app, Enterprise) == 4


def test_text_fields_are_trimmed_and_blank_is_empty(app, ops):
    body = create(ops, name="  万家物业  ", address="   ", contact_name="\t陈经理 ")
    assert body["name"] == "万家物业"
    assert body["address"] is None
    assert body["contact_name"] == "陈经理"
    assert body["missing"] == ["address"]


# --------------------------------------------------------------------------------------------------
# Field validation
# --------------------------------------------------------------------------------------------------

_GOOD = credit_code()

BAD_LICENCES = {
    "too_short": _GOOD[:17],
    "too_long": _GOOD + "1",
    "much_too_long": _GOOD * 3,
    "wrong_check_digit": wrong_check_digit(_GOOD),
    "letter_I_not_allowed": _GOOD[:10] + "I" + _GOOD[11:],
    "letter_O_not_allowed": _GOOD[:10] + "O" + _GOOD[11:],
    "punctuation": _GOOD[:10] + "@" + _GOOD[11:],
    "chinese_characters": "营业执照" + _GOOD[4:],
    "all_letters": "ABCDEFGHJKLMNPQRTU",
    "spaces_inside": _GOOD[:9] + " " + _GOOD[9:17],
    "number_with_wrong_check_digit": 913101157429719001,
}


@pytest.mark.parametrize("value", list(BAD_LICENCES.values()), ids=list(BAD_LICENCES))
def test_license_no_must_be_a_valid_unified_social_credit_code(app, ops, value):
    err = assert_error(ops.post(API, json=enterprise_payload(license_no=value)), 422, "invalid_fields", ["license_no"])
    assert set(err["fields"]) == {"license_no"}
    assert count(app, Enterprise) == 0

    existing = create(ops)
    resp = ops.patch(f"{API}/{existing['id']}", json={"license_no": value})
    assert_error(resp, 422, "invalid_fields", ["license_no"])
    assert row(app, Enterprise, int(existing["id"]))["license_no"] == existing["license_no"]


def test_license_no_is_normalized_to_upper_case(app, ops):
    code = credit_code()
    while not re.search(r"[A-Z]", code):
        code = credit_code()
    body = create(ops, license_no=f"  {code.lower()} ")
    assert body["license_no"] == code


@pytest.mark.parametrize("province", ["99", "4403", "00", "abc", "广东省", "44 "], ids=repr)
def test_province_code_must_be_a_real_province(app, ops, province):
    resp = ops.post(API, json=enterprise_payload(province_code=province, city_code=None))
    assert_error(resp, 422, "invalid_fields", ["province_code"])
    assert count(app, Enterprise) == 0


def test_every_listed_province_is_accepted_with_its_first_city(app, ops):
    regions = ops.get("/api/v1/regions").get_json()["items"]
    assert len(regions) >= 34
    for region in regions[:40]:
        city = region["cities"][0]
        resp = ops.post(API, json={"province_code": region["code"], "city_code": city["code"]})
        assert resp.status_code == 201, (region["code"], resp.get_json())
        assert resp.get_json()["province"] == region["name"]
        assert resp.get_json()["city"] == city["name"]


@pytest.mark.parametrize(
    "province, city, ok",
    [
        ("44", "4403", True),
        ("44", "4401", True),
        ("13", "1301", True),
        ("44", "1301", False),
        ("13", "4403", False),
        ("44", "4499", False),
        ("44", "44", False),
        ("44", "440300", False),
        (None, "4403", False),
        ("", "4403", False),
    ],
)
def test_city_code_must_belong_to_the_province(app, ops, province, city, ok):
    resp = ops.post(API, json=enterprise_payload(province_code=province, city_code=city))
    if ok:
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["city_code"] == city
    else:
        err = assert_error(resp, 422, "invalid_fields", ["city_code"])
        assert "province_code" not in err["fields"] or not province
        assert count(app, Enterprise) == 0


def test_province_without_city_is_accepted(app, ops):
    body = create(ops, province_code="44", city_code=None)
    assert body["province"] == "广东省"
    assert body["city_code"] is None and body["city"] is None


@pytest.mark.parametrize("province, city, name", [("11", "1100", "北京市"), ("12", "1200", "天津市"),
                                                  ("31", "3100", "上海市"), ("50", "5000", "重庆市")])
def test_municipality_takes_its_own_code_as_city(app, ops, province, city, name):
    body = create(ops, province_code=province, city_code=city)
    assert body["province"] == name and body["city"] == name

    assert_error(ops.post(API, json=enterprise_payload(province_code=province, city_code=f"{province}01")),
                 422, "invalid_fields", ["city_code"])


def test_region_names_are_resolved_from_codes_not_taken_from_the_client(app, ops):
    body = create(ops, province="火星", city="奥林匹斯", province_code="44", city_code="4403")
    assert (body["province"], body["city"]) == ("广东省", "深圳市")

    resp = ops.patch(f"{API}/{body['id']}", json={"province_code": "11", "city_code": "1100"})
    assert resp.status_code == 200
    assert (resp.get_json()["province"], resp.get_json()["city"]) == ("北京市", "北京市")
    db_row = row(app, Enterprise, int(body["id"]))
    assert (db_row["province"], db_row["city"]) == ("北京市", "北京市")

    # Clearing the province clears its name; a city without a province is refused.
    resp = ops.patch(f"{API}/{body['id']}", json={"province_code": "", "city_code": ""})
    assert resp.status_code == 200
    assert resp.get_json()["province"] is None and resp.get_json()["city"] is None


def test_patch_revalidates_the_city_against_a_changed_province(app, ops):
    body = create(ops, province_code="44", city_code="4403")
    resp = ops.patch(f"{API}/{body['id']}", json={"province_code": "13"})  # city 4403 kept: not in 河北
    assert_error(resp, 422, "invalid_fields", ["city_code"])
    db_row = row(app, Enterprise, int(body["id"]))
    assert (db_row["province_code"], db_row["city_code"], db_row["province"]) == ("44", "4403", "广东省")


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", "a@@example.com",
                                   "a@example", "x" * 120 + "@example.com", "陈经理"], ids=repr)
def test_email_must_be_valid(app, ops, email):
    assert_error(ops.post(API, json=enterprise_payload(email=email)), 422, "invalid_fields", ["email"])
    existing = create(ops)
    assert_error(ops.patch(f"{API}/{existing['id']}", json={"email": email}), 422, "invalid_fields", ["email"])
    assert row(app, Enterprise, int(existing["id"]))["email"] == "ops@example.com"


BAD_PHONES = ["12345", "1380013800", "138001380001", "23800138000", "abc", "+1 650 253 0000",
              "+44 20 7946 0958", "010-1234", "1" * 30, "电话"]


@pytest.mark.parametrize("field", ["office_phone", "contact_phone"])
@pytest.mark.parametrize("phone", BAD_PHONES, ids=repr)
def test_phones_must_be_mainland_china_numbers(app, ops, field, phone):
    err = assert_error(ops.post(API, json=enterprise_payload(**{field: phone})), 422, "invalid_fields", [field])
    assert set(err["fields"]) == {field}
    assert count(app, Enterprise) == 0


@pytest.mark.parametrize("field", ["office_phone", "contact_phone"])
@pytest.mark.parametrize("phone, normalized", [
    ("13800138000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("+86 138-0013-8000", "13800138000"),
    ("010-62345678", "01062345678"),
    ("(010) 62345678", "01062345678"),
    ("0755-26012345", "075526012345"),
])
def test_phones_accept_mobile_and_landline_and_are_normalized(app, ops, field, phone, normalized):
    body = create(ops, **{field: phone})
    assert body[field] == normalized
    assert row(app, Enterprise, int(body["id"]))[field] == normalized


@pytest.mark.parametrize("field, limit", [("name", limits.ENTERPRISE_NAME), ("address", 255),
                                          ("contact_name", limits.PERSON_NAME),
                                          ("introduction", 4000), ("remarks", 4000)])
def test_text_lengths_are_limited(app, ops, field, limit):
    assert create(ops, **{field: "物" * limit})[field] == "物" * limit
    assert_error(ops.post(API, json=enterprise_payload(**{field: "物" * (limit + 1)})), 422, "invalid_fields", [field])


def test_patch_keeps_unspecified_fields(app, ops):
    body = create(ops)
    resp = ops.patch(f"{API}/{body['id']}", json={"address": "福田区深南大道2号"})
    assert resp.status_code == 200
    after = resp.get_json()
    changed = {k for k in body if body[k] != after[k]}
    assert changed <= {"address", "updated_at"}
    assert after["address"] == "福田区深南大道2号"


def test_patch_can_clear_an_optional_field_with_empty_string(app, ops):
    body = create(ops)
    resp = ops.patch(f"{API}/{body['id']}", json={"remarks": "", "office_phone": ""})
    assert resp.status_code == 200
    assert resp.get_json()["remarks"] is None and resp.get_json()["office_phone"] is None


def test_unknown_enterprise_is_404(app, ops):
    for resp in (ops.get(f"{API}/999999"), ops.patch(f"{API}/999999", json={"name": "x"}),
                 ops.get(f"{API}/999999/completeness"), ops.post(f"{API}/999999/open"),
                 ops.post(f"{API}/999999/close")):
        assert_error(resp, 404, "not_found")


# --------------------------------------------------------------------------------------------------
# Licence number uniqueness
# --------------------------------------------------------------------------------------------------


def test_duplicate_license_no_on_create_is_409_duplicate(app, ops):
    code = credit_code()
    first = create(ops, license_no=code)
    err = assert_error(ops.post(API, json=enterprise_payload(license_no=code, name="另一家公司")), 409, "duplicate",
                       ["license_no"])
    assert set(err["fields"]) == {"license_no"}
    assert count(app, Enterprise) == 1
    # the API keeps working after the conflict (the session was rolled back)
    assert ops.get(f"{API}/{first['id']}").status_code == 200
    assert create(ops)["complete"] is True


def test_duplicate_license_no_is_detected_whatever_its_case(app, ops):
    code = credit_code()
    while not re.search(r"[A-Z]", code):
        code = credit_code()
    create(ops, license_no=code)
    assert_error(ops.post(API, json=enterprise_payload(license_no=code.lower())), 409, "duplicate", ["license_no"])
    assert count(app, Enterprise) == 1


def test_duplicate_license_no_on_patch_is_409_duplicate(app, ops):
    a, b = create(ops), create(ops)
    err = assert_error(ops.patch(f"{API}/{b['id']}", json={"license_no": a["license_no"], "name": "改名"}),
                       409, "duplicate", ["license_no"])
    assert set(err["fields"]) == {"license_no"}
    db_row = row(app, Enterprise, int(b["id"]))
    assert db_row["license_no"] == b["license_no"] and db_row["name"] == b["name"]
    # Saving an enterprise with its own licence number is not a conflict.
    assert ops.patch(f"{API}/{a['id']}", json={"license_no": a["license_no"]}).status_code == 200


def test_duplicate_license_no_against_a_factory_row_is_409(app, ops):
    code = credit_code()
    make(app, EnterpriseFactory, license_no=code)
    draft = ops.post(API, json={}).get_json()
    assert_error(ops.patch(f"{API}/{draft['id']}", json={"license_no": code}), 409, "duplicate", ["license_no"])
    assert_error(ops.post(API, json=enterprise_payload(license_no=code)), 409, "duplicate", ["license_no"])


def test_concurrent_creates_with_the_same_licence_yield_one_201_and_one_409(app, api_as, monkeypatch):
    """The database guarantees uniqueness: both requests pass validation before either inserts."""
    from platform_admin.enterprises import services

    clients = [api_as("ops"), api_as("ops")]  # two app.test_client()s, two tokens, two connections
    code = credit_code()
    start = threading.Barrier(2, timeout=15)
    validated = threading.Barrier(2, timeout=15)
    original_create = services.create

    def create_after_both_validated(*args, **kwargs):
        try:
            validated.wait()  # both requests are past validation and any lookup before this point
        except threading.BrokenBarrierError:
            pass
        return original_create(*args, **kwargs)

    monkeypatch.setattr(services, "create", create_after_both_validated)
    results, errors = [], []

    def post(api, name):
        try:
            start.wait()
            resp = api.post(API, json=enterprise_payload(license_no=code, name=name))
            results.append((resp.status_code, resp.get_json()))
        except Exception as exc:  # noqa: BLE001 - reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(c, f"并发公司{i}")) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors
    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 409], results
    conflict = next(body for status, body in results if status == 409)
    assert conflict["error"]["code"] == "duplicate"
    assert "license_no" in conflict["error"]["fields"]
    assert count(app, Enterprise, Enterprise.license_no == code) == 1
    assert count(app, Enterprise) == 1


# --------------------------------------------------------------------------------------------------
# Completeness
# --------------------------------------------------------------------------------------------------

MISSING_CASES = [
    [],
    ["license_no"],
    ["name"],
    ["address"],
    ["contact_name"],
    ["contact_phone"],
    ["license_no", "contact_phone"],
    ["name", "address", "contact_name"],
    list(REQUIRED),
]


@pytest.mark.parametrize("missing", MISSING_CASES, ids=lambda m: "+".join(m) or "complete")
def test_completeness_reports_missing_fields_by_exact_name_in_stable_order(app, ops, missing):
    ent_id = make(app, EnterpriseFactory, **{name: None for name in reversed(missing)})
    resp = ops.get(f"{API}/{ent_id}/completeness")
    assert resp.status_code == 200
    assert resp.get_json() == {"complete": not missing, "missing": missing}
    detail = ops.get(f"{API}/{ent_id}").get_json()
    assert (detail["complete"], detail["missing"]) == (not missing, missing)


def test_whitespace_only_values_count_as_missing(app, ops):
    ent_id = make(app, EnterpriseFactory, name="   ", contact_name="\t", address="")
    assert ops.get(f"{API}/{ent_id}/completeness").get_json() == {
        "complete": False, "missing": ["name", "address", "contact_name"]}


def test_optional_fields_do_not_affect_completeness(app, ops):
    ent_id = make(app, EnterpriseFactory, email=None, province_code=None, province=None, city_code=None, city=None)
    assert ops.get(f"{API}/{ent_id}/completeness").get_json() == {"complete": True, "missing": []}


def test_completeness_follows_patches(app, ops):
    draft = ops.post(API, json={}).get_json()
    url = f"{API}/{draft['id']}/completeness"
    steps = [({"license_no": credit_code()}, ["name", "address", "contact_name", "contact_phone"]),
             ({"name": "万家物业"}, ["address", "contact_name", "contact_phone"]),
             ({"address": "南山区1号", "contact_name": "陈经理"}, ["contact_phone"]),
             ({"contact_phone": "13800138000"}, []),
             ({"contact_name": ""}, ["contact_name"])]
    for patch, missing in steps:
        assert ops.patch(f"{API}/{draft['id']}", json=patch).status_code == 200
        assert ops.get(url).get_json() == {"complete": not missing, "missing": missing}


def test_completeness_is_readable_by_devops_but_opening_is_not(app, api_as):
    ent_id = make(app, EnterpriseFactory, name=None)
    devops = api_as("devops")
    assert devops.get(f"{API}/{ent_id}/completeness").get_json() == {"complete": False, "missing": ["name"]}
    assert_error(devops.post(f"{API}/{ent_id}/open"), 403, "forbidden")
    assert_error(devops.patch(f"{API}/{ent_id}", json={"name": "x"}), 403, "forbidden")


def test_enterprise_api_requires_a_token(app, anon):
    ent_id = make(app, EnterpriseFactory)
    for resp in (anon.get(API), anon.post(API, json={}), anon.get(f"{API}/{ent_id}/completeness"),
                 anon.post(f"{API}/{ent_id}/open")):
        assert_error(resp, 401, "not_authenticated")
    assert count(app, Enterprise) == 1


# --------------------------------------------------------------------------------------------------
# The completeness gate: API
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", MISSING_CASES[1:], ids=lambda m: "+".join(m))
def test_open_on_incomplete_profile_is_409_naming_exactly_the_missing_fields(app, ops, missing):
    ent_id = make(app, EnterpriseFactory, **{name: None for name in missing})
    err = assert_error(ops.post(f"{API}/{ent_id}/open"), 409, "incomplete_profile")
    assert sorted(err["fields"]) == sorted(missing)
    db_row = row(app, Enterprise, ent_id)
    assert db_row["status"] == 0 and db_row["opened_at"] is None


def test_open_complete_profile_then_open_again_conflicts_then_close(app, ops, make_ready):
    ent_id = make_ready(make(app, EnterpriseFactory))
    resp = ops.post(f"{API}/{ent_id}/open")
    assert resp.status_code == 200
    assert resp.get_json()["status"] == 1 and resp.get_json()["opened_at"]
    assert row(app, Enterprise, ent_id)["status"] == 1

    assert_error(ops.post(f"{API}/{ent_id}/open"), 409)
    assert row(app, Enterprise, ent_id)["status"] == 1

    resp = ops.post(f"{API}/{ent_id}/close")
    assert resp.status_code == 200
    assert resp.get_json()["status"] == 0 and resp.get_json()["closed_at"]
    assert row(app, Enterprise, ent_id)["status"] == 0

    assert_error(ops.post(f"{API}/{ent_id}/close"), 409)
    assert ops.post(f"{API}/{ent_id}/open").get_json()["status"] == 1  # may be reopened


def test_closing_a_draft_says_it_was_never_opened_and_suspending_none_is_404(app, ops):
    draft = ops.post(API, json={"name": "从未开通物业"}).get_json()
    err = assert_error(ops.post(f"{API}/{draft['id']}/close", headers={"Accept-Language": "en"}), 409,
                       "illegal_transition")
    assert "never been opened" in err["message"]  # not "already closed": it never was open
    assert_error(ops.post(f"{API}/999999999/suspend", json={}), 404)  # no such enterprise, whatever the body
    assert_error(ops.post(f"{API}/{draft['id']}/close", data="{bad json", content_type="application/json"),
                 400, "malformed_body")


def test_a_misspelt_filter_is_a_422_naming_it_not_the_whole_list(ops, api_as):
    """?statsu=1 answered every enterprise as if it had filtered: a parameter the endpoint does not read is named;
    the documented ones, paging and ?lang= still answer."""
    err = assert_error(ops.get(f"{API}?statsu=1&incomplet=1"), 422, "invalid_fields")
    assert sorted(err["fields"]) == ["incomplet", "statsu"]
    assert ops.get(f"{API}?status=1&limit=1&lang=en").status_code == 200
    admin = api_as("admin")
    assert_error(admin.get("/api/v1/outbox?recipient=13700001111"), 422, "invalid_fields", ["recipient"])
    assert admin.get("/api/v1/outbox?to=13700001111&channel=sms&limit=5").status_code == 200


def test_completing_the_profile_lifts_the_open_gate(app, ops, make_ready):
    draft = ops.post(API, json={"name": "草稿物业"}).get_json()
    err = assert_error(ops.post(f"{API}/{draft['id']}/open"), 409, "incomplete_profile")
    assert sorted(err["fields"]) == sorted(["license_no", "address", "contact_name", "contact_phone"])
    patch = {k: v for k, v in enterprise_payload().items() if k in REQUIRED}
    assert ops.patch(f"{API}/{draft['id']}", json=patch).get_json()["complete"] is True
    assert_error(ops.post(f"{API}/{draft['id']}/open"), 409, "datasource_not_ready")  # the next gate
    make_ready(int(draft["id"]))
    assert ops.post(f"{API}/{draft['id']}/open").get_json()["status"] == 1


def test_status_filter_and_incomplete_filter_on_the_list(app, ops, make_ready):
    complete = make(app, EnterpriseFactory)
    incomplete = make(app, EnterpriseFactory, address=None)
    opened = make_ready(make(app, EnterpriseFactory))
    assert ops.post(f"{API}/{opened}/open").status_code == 200

    def ids(query):
        resp = ops.get(f"{API}{query}")
        assert resp.status_code == 200
        return {int(item["id"]) for item in resp.get_json()["items"]}

    assert ids("") == {complete, incomplete, opened}
    assert ids("?status=1") == {opened}
    assert ids("?status=0") == {complete, incomplete}
    assert ids("?complete=0") == {incomplete}


def test_the_province_filter_takes_the_code_in_two_or_six_digits(app, ops):
    """The document's example, 110000, found nothing: profiles keep the province's two digits."""
    shanghai = make(app, EnterpriseFactory, province_code="31", province="上海市")
    beijing = make(app, EnterpriseFactory, province_code="11", province="北京市")
    for code in ("31", "310000"):
        found = {int(item["id"]) for item in ops.get(f"{API}?province_code={code}").get_json()["items"]}
        assert shanghai in found and beijing not in found, code
    bad = ops.get(f"{API}?province_code=上海")
    assert bad.status_code == 422 and list(bad.get_json()["error"]["fields"]) == ["province_code"]


# --------------------------------------------------------------------------------------------------
# The completeness gate: pages
# --------------------------------------------------------------------------------------------------


def missing_on_page(html):
    box = element(html, "missing-fields")
    assert box is not None, "no #missing-fields on the completion form"
    return [href.removeprefix("#field-") for href in box["hrefs"]]


@pytest.mark.parametrize("missing", [["contact_phone"], ["license_no", "address"], list(REQUIRED)],
                         ids=lambda m: "+".join(m))
def test_ui_open_on_incomplete_profile_redirects_to_completion_form_naming_missing(app, login_page, missing):
    ent_id = make(app, EnterpriseFactory, **{name: None for name in missing})
    page = login_page("ops")
    detail = page.get(f"/enterprises/{ent_id}")
    assert detail.status_code == 200
    resp = page.post(f"/enterprises/{ent_id}/open", data={"csrf_token": csrf_from(detail.text)})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/enterprises/{ent_id}/edit?for=open")
    form = page.get(resp.headers["Location"])
    assert form.status_code == 200
    assert missing_on_page(form.text) == missing
    assert row(app, Enterprise, ent_id)["status"] == 0


def test_ui_open_on_complete_profile_opens(app, login_page, make_ready):
    ent_id = make_ready(make(app, EnterpriseFactory))
    page = login_page("ops")
    token = csrf_from(page.get(f"/enterprises/{ent_id}").text)
    resp = page.post(f"/enterprises/{ent_id}/open", data={"csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/enterprises/{ent_id}")
    assert row(app, Enterprise, ent_id)["status"] == 1


def test_ui_open_without_csrf_token_is_refused(app, login_page):
    ent_id = make(app, EnterpriseFactory)
    page = login_page("ops")
    resp = page.post(f"/enterprises/{ent_id}/open", data={})
    assert resp.status_code == 400
    assert row(app, Enterprise, ent_id)["status"] == 0


def test_ui_new_contract_on_incomplete_profile_redirects_to_completion_form(app, login_page):
    ent_id = make(app, EnterpriseFactory, license_no=None, contact_name=None)
    page = login_page("ops")
    resp = page.get(f"/enterprises/{ent_id}/contracts/new")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/enterprises/{ent_id}/edit?for=contract")
    form = page.get(resp.headers["Location"])
    assert form.status_code == 200
    assert missing_on_page(form.text) == ["license_no", "contact_name"]


def test_ui_new_contract_on_complete_profile_shows_the_form(app, login_page):
    ent_id = make(app, EnterpriseFactory)
    resp = login_page("ops").get(f"/enterprises/{ent_id}/contracts/new")
    assert resp.status_code == 200
    assert 'name="bank_name"' in resp.text


def _form_data(app, ent_id, token, **overrides):
    current = row(app, Enterprise, ent_id)
    data = {name: current[name] or "" for name in (
        "name", "license_no", "province_code", "city_code", "address", "office_phone", "email",
        "contact_name", "contact_phone", "introduction", "remarks")}
    data["csrf_token"] = token
    data.update(overrides)
    return data


@pytest.mark.parametrize("bad", [BAD_LICENCES["wrong_check_digit"], BAD_LICENCES["too_short"],
                                 BAD_LICENCES["letter_O_not_allowed"]], ids=["check_digit", "short", "bad_char"])
def test_ui_completion_form_with_invalid_licence_shows_inline_error_and_changes_nothing(app, login_page, bad):
    ent_id = make(app, EnterpriseFactory, license_no=None, address=None)
    before = row(app, Enterprise, ent_id)
    page = login_page("ops")
    url = f"/enterprises/{ent_id}/edit?for=open"
    token = csrf_from(page.get(url).text)
    resp = page.post(url, data=_form_data(app, ent_id, token, license_no=bad, address="新地址1号"))
    assert resp.status_code == 422
    field = element(resp.text, "field-license_no")
    assert field is not None and "error" in field["classes"], "no inline error next to the licence field"
    assert 'aria-invalid="true"' in resp.text
    assert element(resp.text, "field-address")["classes"].count("error") == 0
    assert row(app, Enterprise, ent_id) == before
    # The page still names what is missing.
    assert missing_on_page(resp.text) == ["license_no", "address"]


def test_ui_completion_form_with_a_duplicate_licence_shows_inline_error(app, login_page):
    code = credit_code()
    make(app, EnterpriseFactory, license_no=code)
    ent_id = make(app, EnterpriseFactory, license_no=None)
    before = row(app, Enterprise, ent_id)
    page = login_page("ops")
    url = f"/enterprises/{ent_id}/edit?for=open"
    resp = page.post(url, data=_form_data(app, ent_id, csrf_from(page.get(url).text), license_no=code))
    assert resp.status_code == 422
    assert "error" in element(resp.text, "field-license_no")["classes"]
    assert row(app, Enterprise, ent_id) == before


def test_ui_completion_form_for_contract_leads_on_to_the_contract_form(app, login_page):
    ent_id = make(app, EnterpriseFactory, license_no=None)
    page = login_page("ops")
    url = f"/enterprises/{ent_id}/edit?for=contract"
    code = credit_code()
    resp = page.post(url, data=_form_data(app, ent_id, csrf_from(page.get(url).text), license_no=code))
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/enterprises/{ent_id}/contracts/new")
    assert row(app, Enterprise, ent_id)["license_no"] == code
    assert page.get(resp.headers["Location"]).status_code == 200


def test_ui_new_enterprise_form_rejects_bad_region_and_creates_nothing(app, login_page):
    page = login_page("ops")
    token = csrf_from(page.get("/enterprises/new").text)
    resp = page.post("/enterprises/new", data={"csrf_token": token, "name": "新公司", "province_code": "44",
                                               "city_code": "1301"})
    assert resp.status_code == 422
    assert "error" in element(resp.text, "field-city_code")["classes"]
    assert count(app, Enterprise) == 0
    resp = page.post("/enterprises/new", data={"csrf_token": token, "name": "新公司", "province_code": "44",
                                               "city_code": "4403"})
    assert resp.status_code == 302
    assert count(app, Enterprise) == 1


# --------------------------------------------------------------------------------------------------
# Licence scan upload
# --------------------------------------------------------------------------------------------------


def upload(api, ent_id, content, filename="scan.png", field="file"):
    from io import BytesIO

    return api.client.put(f"{API}/{ent_id}/license-scan", data={field: (BytesIO(content), filename)},
                          headers={"Authorization": f"Bearer {api.token}"}, content_type="multipart/form-data")


@pytest.mark.parametrize("content, filename, content_type", [
    (PNG, "营业执照.png", "image/png"),
    (JPEG, "licence.jpg", "image/jpeg"),
    (JPEG, "licence.jpeg", "image/jpeg"),
    (PDF, "licence.pdf", "application/pdf"),
    (PNG, "licence.txt", "image/png"),  # judged by content, not by name
], ids=["png", "jpg", "jpeg", "pdf", "png_named_txt"])
def test_license_scan_accepts_png_jpeg_pdf_by_content(app, ops, login_page, anon, content, filename, content_type):
    ent_id = make(app, EnterpriseFactory)
    resp = upload(ops, ent_id, content, filename)
    assert resp.status_code == 200, resp.get_json()
    scan = resp.get_json()["license_scan"]
    assert scan["content_type"] == content_type
    assert scan["size"] == len(content)
    assert scan["name"] == filename
    assert ops.get(f"{API}/{ent_id}").get_json()["license_scan"] == scan

    # Stored under UPLOAD_DIR, outside the static folder (the web root).
    with app.app_context():
        from extensions import db

        stored = db.session.get(StoredFile, scan["id"])
        path = os.path.realpath(os.path.join(app.config["UPLOAD_DIR"], stored.relative_path))
    upload_dir = os.path.realpath(app.config["UPLOAD_DIR"])
    static_dir = os.path.realpath(app.static_folder)
    assert os.path.commonpath([path, upload_dir]) == upload_dir
    assert os.path.commonpath([path, static_dir]) != static_dir
    with open(path, "rb") as fh:
        assert fh.read() == content
    assert page_404(anon.client.get(f"/static/{os.path.basename(path)}"))
    assert page_404(anon.client.get(f"/static/{stored.relative_path}"))

    # Staff download it at the returned url; anonymous visitors are sent to the login page.
    staff = login_page("ops")
    with staff.get(scan["url"]) as got:  # a streamed file: close it
        assert got.status_code == 200
        assert got.data == content
        assert got.headers["Content-Type"].startswith(content_type)
    refused = anon.client.get(scan["url"])
    assert refused.status_code == 302
    assert "/login" in refused.headers["Location"]
    assert content not in refused.data


def page_404(resp):
    return resp.status_code == 404


def test_license_scan_is_downloadable_by_devops_staff_too(app, ops, login_page):
    ent_id = make(app, EnterpriseFactory)
    url = upload(ops, ent_id, PDF, "l.pdf").get_json()["license_scan"]["url"]
    with login_page("devops").get(url) as resp:
        assert resp.status_code == 200 and resp.data == PDF


@pytest.mark.parametrize("content, filename", [
    (b"just some text, not an image", "scan.png"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00", "scan.gif"),
    (b"<html><script>alert(1)</script></html>", "scan.pdf"),
    (b"MZ\x90\x00\x03", "scan.jpg"),
    (b"\x89PNG", "truncated.png"),
], ids=["text_named_png", "gif", "html_named_pdf", "exe_named_jpg", "truncated_png_magic"])
def test_license_scan_refuses_other_content_whatever_its_name(app, ops, content, filename):
    ent_id = make(app, EnterpriseFactory)
    assert_error(upload(ops, ent_id, content, filename), 422, "invalid_fields", ["file"])
    assert row(app, Enterprise, ent_id)["license_scan_id"] is None
    assert count(app, StoredFile) == 0


def test_license_scan_refuses_an_oversize_file(app, ops, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 1024)  # restored by monkeypatch
    ent_id = make(app, EnterpriseFactory)
    assert_error(upload(ops, ent_id, PNG + b"\x00" * 2000), 422, "invalid_fields", ["file"])
    assert row(app, Enterprise, ent_id)["license_scan_id"] is None
    exact = PNG + b"\x00" * (1024 - len(PNG))
    assert upload(ops, ent_id, exact).status_code == 200


def test_license_scan_refuses_a_missing_or_empty_file(app, ops):
    ent_id = make(app, EnterpriseFactory)
    url = f"{API}/{ent_id}/license-scan"
    assert_error(ops.client.put(url, data={}, headers={"Authorization": f"Bearer {ops.token}"},
                                content_type="multipart/form-data"), 422, "invalid_fields", ["file"])
    assert_error(upload(ops, ent_id, PNG, field="scan"), 422, "invalid_fields", ["file"])
    assert_error(upload(ops, ent_id, b""), 422, "invalid_fields", ["file"])
    assert_error(ops.put(url, json={"file": base64.b64encode(PNG).decode()}), 422, "invalid_fields", ["file"])
    assert row(app, Enterprise, ent_id)["license_scan_id"] is None


def test_license_scan_ignores_path_in_the_file_name(app, ops):
    ent_id = make(app, EnterpriseFactory)
    resp = upload(ops, ent_id, PNG, "../../../../etc/evil.png")
    assert resp.status_code == 200
    scan = resp.get_json()["license_scan"]
    assert scan["name"] == "evil.png"
    with app.app_context():
        from extensions import db

        stored = db.session.get(StoredFile, scan["id"])
        path = os.path.realpath(os.path.join(app.config["UPLOAD_DIR"], stored.relative_path))
    assert path.startswith(os.path.realpath(app.config["UPLOAD_DIR"]) + os.sep)


def test_license_scan_can_be_replaced(app, ops):
    ent_id = make(app, EnterpriseFactory)
    first = upload(ops, ent_id, PNG).get_json()["license_scan"]
    second = upload(ops, ent_id, PDF, "new.pdf").get_json()["license_scan"]
    assert first["id"] != second["id"]
    assert ops.get(f"{API}/{ent_id}").get_json()["license_scan"]["id"] == second["id"]


def test_license_scan_needs_ops_and_a_token(app, api_as, anon):
    ent_id = make(app, EnterpriseFactory)
    assert_error(upload(api_as("devops"), ent_id, PNG), 403, "forbidden")
    assert_error(anon.client.put(f"{API}/{ent_id}/license-scan", data={"file": (__import__("io").BytesIO(PNG), "a.png")},
                                 content_type="multipart/form-data"), 401)
    assert_error(upload(api_as("ops"), 999999, PNG), 404)
    assert count(app, StoredFile) == 0


def test_unknown_file_is_404_for_staff(app, login_page):
    resp = login_page("ops").get("/files/" + "0" * 32)
    assert resp.status_code == 404


# --------------------------------------------------------------------------------------------------
# Nothing a client sends produces a 500
# --------------------------------------------------------------------------------------------------

WEIRD_BODIES = {
    "not_json": ("raw", b"name=x", "application/json", {400}),
    "broken_json": ("raw", b'{"name": ', "application/json", {400}),
    "form_encoded": ("raw", b"name=x", "application/x-www-form-urlencoded", {400}),
    "json_list": ("json", [1, 2], None, {400}),
    "json_string": ("json", "name", None, {400}),
    "json_null": ("raw", b"null", "application/json", {400}),
    "nested_object": ("json", {"name": {"zh": "x"}}, None, {422}),  # a value of the wrong type: 422 naming it
    "list_of_objects": ("json", {"name": [{"a": 1}]}, None, {422}),
    "list_value": ("json", {"name": ["a", "b"]}, None, {201, 422}),
    "numbers_for_codes": ("json", {"province_code": 44, "city_code": 4403}, None, {201}),
    "bool_values": ("json", {"name": True, "province_code": False, "license_no": True}, None, {201, 422}),
    "float_licence": ("json", {"license_no": 1.5e17}, None, {422}),
    "huge_number": ("raw", b'{"name": 1e400, "contact_phone": 1e400}', "application/json", {201, 422}),
    "huge_name": ("json", {"name": "x" * 100_000}, None, {422}),
    "emoji": ("json", {"name": "😀物业", "address": "🏢" * 10}, None, {201}),
    "nul_character": ("json", {"remarks": "a\x00b"}, None, {201, 422}),
    "control_chars_phone": ("json", {"contact_phone": "138\n00138000"}, None, {201, 422}),
    "unicode_digits_phone": ("json", {"contact_phone": "１３８００１３８０００"}, None, {201, 422}),
    "sql_like": ("json", {"name": "x'); DROP TABLE enterprise; --", "license_no": "' OR 1=1 --"}, None, {422}),
    "unknown_fields": ("json", {"id": 5, "status": 1, "created_at": "x", "license_scan_id": "abc"}, None, {201}),
    "city_as_list": ("json", {"province_code": "44", "city_code": ["4403", "1301"]}, None, {201, 422}),
}


@pytest.mark.parametrize("kind, body, content_type, expected", list(WEIRD_BODIES.values()), ids=list(WEIRD_BODIES))
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_nothing_a_client_sends_to_the_enterprise_api_is_a_500(app, ops, method, kind, body, content_type, expected):
    target = API
    if method == "PATCH":
        target = f"{API}/{make(app, EnterpriseFactory)}"
        expected = {200 if s == 201 else s for s in expected}
    headers = {"Authorization": f"Bearer {ops.token}"}
    if kind == "json":
        resp = ops.client.open(target, method=method, json=body, headers=headers)
    else:
        resp = ops.client.open(target, method=method, data=body, content_type=content_type, headers=headers)
    assert resp.status_code in expected, (resp.status_code, resp.get_data(as_text=True)[:500])
    if resp.status_code >= 400:
        assert "error" in resp.get_json()
    else:
        assert resp.get_json()["status"] == 0


@pytest.mark.parametrize("query", [
    "?limit=abc", "?limit=0", "?limit=201", "?limit=-5", "?cursor=!!!", "?cursor=" + "A" * 50,
    "?cursor=" + base64.urlsafe_b64encode(b"9" * 40).decode(), "?cursor=" + base64.urlsafe_b64encode(b"-1").decode(),
    "?status=2", "?status=abc", "?province_code=%00", "?q=%25", "?q=" + "x" * 5000, "?complete=yes",
])
def test_list_query_parameters_never_cause_a_500(app, ops, query):
    make(app, EnterpriseFactory)
    resp = ops.get(f"{API}{query}")
    assert resp.status_code in (200, 422), (resp.status_code, resp.get_data(as_text=True)[:500])
    if resp.status_code == 200:
        assert isinstance(resp.get_json()["items"], list)


@pytest.mark.parametrize("query", ["?page=abc", "?page=-1", "?page=" + "9" * 30, "?q=%25", "?status=%00"])
def test_enterprise_list_page_query_parameters_never_cause_a_500(app, login_page, query):
    make(app, EnterpriseFactory)
    resp = login_page("ops").get(f"/enterprises/{query}")
    assert resp.status_code in (200, 404, 422), resp.status_code
