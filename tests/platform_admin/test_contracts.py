"""Contracts (seed 004, 合同表): every field round-trips, validation names the field, PATCH keeps what it
is not given, the completeness gate, per-enterprise lists, and the expiring-contracts dashboard panel.

Every test runs on MariaDB and on SQLite (the ``app`` fixture is parametrized over both).
"""

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import pytest

from platform_admin.contracts.models import Contract
from platform_admin.enterprises.models import Enterprise
from tests.conftest import csrf_from
from tests.factories import ContractFactory, EnterpriseFactory, contract_payload

from .ent_helpers import PDF, PNG, REQUIRED, assert_error, count, element, make, row

REQUIRED_CONTRACT_FIELDS = ["bank_name", "legal_representative", "account_no", "start_date", "end_date",
                            "community_count", "amount", "party_a_contact", "party_a_phone", "party_b_contact",
                            "party_b_phone"]
ALL_FIELDS = REQUIRED_CONTRACT_FIELDS + ["introduction", "remarks", "status"]


@pytest.fixture
def ops(api_as):
    return api_as("ops")


@pytest.fixture
def ent_id(app):
    return make(app, EnterpriseFactory)


def contracts_url(ent_id):
    return f"/api/v1/enterprises/{ent_id}/contracts"


def create(ops, ent_id, **overrides):
    resp = ops.post(contracts_url(ent_id), json=contract_payload(**overrides))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def full_payload(**overrides):
    body = contract_payload(introduction="物业收费系统年度服务", remarks="首年八折", **overrides)
    return body


def without(body, key):
    return {k: v for k, v in body.items() if k != key}


# --------------------------------------------------------------------------------------------------
# Round trip
# --------------------------------------------------------------------------------------------------


def test_every_contract_field_round_trips(app, ops, ent_id):
    payload = full_payload()
    resp = ops.post(contracts_url(ent_id), json=payload)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    for key in ALL_FIELDS:
        assert created[key] == payload[key], key
    assert created["enterprise_id"] == str(ent_id)
    assert isinstance(created["id"], str)
    assert created["contract_no"]
    assert created["scan"] is None
    assert created["created_at"] and created["updated_at"]

    fetched = ops.get(f"/api/v1/contracts/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.get_json() == created

    db_row = row(app, Contract, int(created["id"]))
    assert db_row["enterprise_id"] == ent_id
    assert db_row["start_date"] == date(2026, 1, 1) and db_row["end_date"] == date(2026, 12, 31)
    assert db_row["amount"] == Decimal("12800.00")
    assert db_row["community_count"] == 5
    for key in ("bank_name", "legal_representative", "account_no", "party_a_contact", "party_a_phone",
                "party_b_contact", "party_b_phone", "introduction", "remarks", "status"):
        assert db_row[key] == payload[key], key


def test_contract_numbers_are_generated_and_unique(app, ops, ent_id):
    numbers = [create(ops, ent_id, contract_no="MINE")["contract_no"] for _ in range(3)]
    assert "MINE" not in numbers
    assert len(set(numbers)) == 3 and all(numbers)


def test_optional_fields_may_be_omitted_and_status_defaults_to_open(app, ops, ent_id):
    body = contract_payload()
    del body["status"]
    resp = ops.post(contracts_url(ent_id), json=body)
    assert resp.status_code == 201, resp.get_json()
    got = resp.get_json()
    assert got["status"] == "open"
    assert got["introduction"] is None and got["remarks"] is None


@pytest.mark.parametrize("sent, shown", [
    ("12800.00", "12800.00"), ("12800", "12800.00"), (12800, "12800.00"), ("0.5", "0.50"), (0.01, "0.01"),
    ("99999.9", "99999.90"), ("  250.25 ", "250.25"), (1e3, "1000.00"), ("999999999999.99", "999999999999.99"),
])
def test_amount_is_a_decimal_string_with_two_places(app, ops, ent_id, sent, shown):
    created = create(ops, ent_id, amount=sent)
    assert created["amount"] == shown
    assert isinstance(created["amount"], str)
    assert ops.get(f"/api/v1/contracts/{created['id']}").get_json()["amount"] == shown
    assert row(app, Contract, int(created["id"]))["amount"] == Decimal(shown)


def test_phones_and_account_number_are_normalized(app, ops, ent_id):
    created = create(ops, ent_id, party_a_phone="010-62345678", party_b_phone="+86 139 0013 9000",
                     account_no="6225 8801 2345 6789")
    assert created["party_a_phone"] == "01062345678"
    assert created["party_b_phone"] == "13900139000"
    assert created["account_no"] == "6225880123456789"


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def assert_invalid(app, ops, ent_id, body, field):
    err = assert_error(ops.post(contracts_url(ent_id), json=body), 422, "invalid_fields", [field])
    assert count(app, Contract) == 0
    return err


@pytest.mark.parametrize("start, end", [("2026-01-01", "2026-01-01"), ("2026-01-01", "2025-12-31"),
                                        ("2026-06-01", "2026-01-01")], ids=["same_day", "day_before", "months_before"])
def test_end_date_must_be_after_start_date(app, ops, ent_id, start, end):
    err = assert_invalid(app, ops, ent_id, contract_payload(start_date=start, end_date=end), "end_date")
    assert set(err["fields"]) == {"end_date"}


def test_end_date_one_day_after_start_is_accepted(app, ops, ent_id):
    assert create(ops, ent_id, start_date="2026-01-01", end_date="2026-01-02")["end_date"] == "2026-01-02"


@pytest.mark.parametrize("field", ["start_date", "end_date"])
@pytest.mark.parametrize("value", ["2026-02-30", "2026/01/01", "01-01-2026", "tomorrow", "2026-1-1x", 20260101,
                                   "2026-01-01T00:00:00"], ids=repr)
def test_dates_must_be_yyyy_mm_dd(app, ops, ent_id, field, value):
    assert_invalid(app, ops, ent_id, contract_payload(**{field: value}), field)


@pytest.mark.parametrize("amount", ["0", "0.00", "-1", "-0.01", -12800, "-0"], ids=repr)
def test_amount_must_be_greater_than_zero(app, ops, ent_id, amount):
    err = assert_invalid(app, ops, ent_id, contract_payload(amount=amount), "amount")
    assert set(err["fields"]) == {"amount"}


@pytest.mark.parametrize("amount", ["12800.001", "0.005", "1.999", "1e-3", 0.1 + 0.2], ids=repr)
def test_amount_may_have_at_most_two_decimal_places(app, ops, ent_id, amount):
    assert_invalid(app, ops, ent_id, contract_payload(amount=amount), "amount")


@pytest.mark.parametrize("amount", ["abc", "12,800.00", "¥12800", "12800元", "1/2", "0x10", "1.2.3", True,
                                    "NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "1e999999999", "1e5",
                                    "+5", "5_000"], ids=repr)
def test_amount_must_be_a_number(app, ops, ent_id, amount):
    assert_invalid(app, ops, ent_id, contract_payload(amount=amount), "amount")


@pytest.mark.parametrize("amount", ["1000000000000", "1e12", "99999999999999999999"], ids=repr)
def test_amount_must_fit_the_column(app, ops, ent_id, amount):
    assert_invalid(app, ops, ent_id, contract_payload(amount=amount), "amount")


@pytest.mark.parametrize("value", [0, -1, "0", "1.5", 2.5, "abc", "", "  ", True, 100001, "9" * 30], ids=repr)
def test_community_count_must_be_a_positive_integer(app, ops, ent_id, value):
    err = assert_invalid(app, ops, ent_id, contract_payload(community_count=value), "community_count")
    assert set(err["fields"]) == {"community_count"}


@pytest.mark.parametrize("value, stored", [(1, 1), ("12", 12), (100000, 100000)])
def test_community_count_accepts_positive_integers(app, ops, ent_id, value, stored):
    assert create(ops, ent_id, community_count=value)["community_count"] == stored


@pytest.mark.parametrize("field", ["party_a_phone", "party_b_phone"])
@pytest.mark.parametrize("phone", ["12345", "1380013800", "138001380001", "23800138000", "abc",
                                   "+1 650 253 0000", "010-1234", "电话号码"], ids=repr)
def test_contract_phones_must_be_mainland_china_numbers(app, ops, ent_id, field, phone):
    err = assert_invalid(app, ops, ent_id, contract_payload(**{field: phone}), field)
    assert set(err["fields"]) == {field}


@pytest.mark.parametrize("account", ["abcdefgh", "1234567", "6225-8801-2345-6789", "1" * 33, "６２２５８８０１"],
                         ids=repr)
def test_account_no_must_be_8_to_32_digits(app, ops, ent_id, account):
    assert_invalid(app, ops, ent_id, contract_payload(account_no=account), "account_no")


@pytest.mark.parametrize("field", REQUIRED_CONTRACT_FIELDS)
def test_required_fields_missing_are_named(app, ops, ent_id, field):
    err = assert_invalid(app, ops, ent_id, without(contract_payload(), field), field)
    assert set(err["fields"]) == {field}


@pytest.mark.parametrize("field", REQUIRED_CONTRACT_FIELDS)
@pytest.mark.parametrize("blank", ["", "   ", None], ids=["empty", "spaces", "null"])
def test_required_fields_blank_are_named(app, ops, ent_id, field, blank):
    assert_invalid(app, ops, ent_id, contract_payload(**{field: blank}), field)


def test_all_required_fields_missing_are_all_named(app, ops, ent_id):
    err = assert_invalid(app, ops, ent_id, {}, "bank_name")
    assert set(err["fields"]) == set(REQUIRED_CONTRACT_FIELDS)


@pytest.mark.parametrize("status", ["active", "OPEN", "Closed", "1", "0", "", "开通", True], ids=repr)
def test_status_must_be_open_or_closed(app, ops, ent_id, status):
    assert_invalid(app, ops, ent_id, contract_payload(status=status), "status")


@pytest.mark.parametrize("field, limit", [("bank_name", 100), ("legal_representative", 50), ("party_a_contact", 50),
                                          ("party_b_contact", 50), ("introduction", 4000), ("remarks", 4000)])
def test_text_lengths_are_limited(app, ops, ent_id, field, limit):
    assert create(ops, ent_id, **{field: "合" * limit})[field] == "合" * limit
    resp = ops.post(contracts_url(ent_id), json=contract_payload(**{field: "合" * (limit + 1)}))
    assert_error(resp, 422, "invalid_fields", [field])
    assert count(app, Contract) == 1


# --------------------------------------------------------------------------------------------------
# PATCH
# --------------------------------------------------------------------------------------------------


def test_patch_keeps_unspecified_fields(app, ops, ent_id):
    created = create(ops, ent_id, **full_payload())
    resp = ops.patch(f"/api/v1/contracts/{created['id']}", json={"remarks": "续签一年", "community_count": 8})
    assert resp.status_code == 200, resp.get_json()
    after = resp.get_json()
    assert after["remarks"] == "续签一年" and after["community_count"] == 8
    changed = {k for k in created if created[k] != after[k]}
    assert changed == {"remarks", "community_count", "updated_at"} or changed == {"remarks", "community_count"}
    assert after["amount"] == "12800.00"
    assert after["contract_no"] == created["contract_no"]
    assert row(app, Contract, int(created["id"]))["amount"] == Decimal("12800.00")


def test_patch_with_an_empty_body_changes_nothing(app, ops, ent_id):
    created = create(ops, ent_id, **full_payload())
    before = row(app, Contract, int(created["id"]))
    resp = ops.patch(f"/api/v1/contracts/{created['id']}", json={})
    assert resp.status_code == 200
    assert {k: v for k, v in resp.get_json().items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"}
    after = row(app, Contract, int(created["id"]))
    assert {k: v for k, v in after.items() if k != "updated_at"} == {k: v for k, v in before.items() if k != "updated_at"}


@pytest.mark.parametrize("patch", [{"end_date": "2025-12-31"}, {"end_date": "2026-01-01"},
                                   {"start_date": "2027-01-01"}, {"start_date": "2026-12-31"},
                                   {"start_date": "2026-06-01", "end_date": "2026-05-31"}], ids=repr)
def test_patch_revalidates_the_date_order(app, ops, ent_id, patch):
    created = create(ops, ent_id)  # 2026-01-01 .. 2026-12-31
    before = row(app, Contract, int(created["id"]))
    assert_error(ops.patch(f"/api/v1/contracts/{created['id']}", json=patch), 422, "invalid_fields", ["end_date"])
    assert row(app, Contract, int(created["id"])) == before


def test_patch_moving_both_dates_consistently_is_accepted(app, ops, ent_id):
    created = create(ops, ent_id)
    resp = ops.patch(f"/api/v1/contracts/{created['id']}", json={"start_date": "2027-01-01", "end_date": "2027-12-31"})
    assert resp.status_code == 200
    assert (resp.get_json()["start_date"], resp.get_json()["end_date"]) == ("2027-01-01", "2027-12-31")


@pytest.mark.parametrize("patch, field", [
    ({"amount": "0"}, "amount"), ({"amount": "1.001"}, "amount"), ({"amount": "NaN"}, "amount"),
    ({"community_count": 0}, "community_count"), ({"party_a_phone": "12345"}, "party_a_phone"),
    ({"status": "paused"}, "status"), ({"bank_name": "  "}, "bank_name"), ({"start_date": "x"}, "start_date"),
], ids=repr)
def test_patch_validates_fields(app, ops, ent_id, patch, field):
    created = create(ops, ent_id)
    before = row(app, Contract, int(created["id"]))
    assert_error(ops.patch(f"/api/v1/contracts/{created['id']}", json=patch), 422, "invalid_fields", [field])
    assert row(app, Contract, int(created["id"])) == before


def test_patch_can_close_a_contract(app, ops, ent_id):
    created = create(ops, ent_id)
    resp = ops.patch(f"/api/v1/contracts/{created['id']}", json={"status": "closed"})
    assert resp.status_code == 200 and resp.get_json()["status"] == "closed"
    assert row(app, Contract, int(created["id"]))["status"] == "closed"


def test_patch_cannot_move_a_contract_to_another_enterprise(app, ops, ent_id):
    other = make(app, EnterpriseFactory)
    created = create(ops, ent_id)
    resp = ops.patch(f"/api/v1/contracts/{created['id']}", json={"enterprise_id": str(other), "contract_no": "X"})
    assert resp.status_code == 200
    assert resp.get_json()["enterprise_id"] == str(ent_id)
    assert resp.get_json()["contract_no"] == created["contract_no"]


def test_unknown_contract_or_enterprise_is_404(app, ops):
    assert_error(ops.get("/api/v1/contracts/999999"), 404, "not_found")
    assert_error(ops.patch("/api/v1/contracts/999999", json={"remarks": "x"}), 404, "not_found")
    assert_error(ops.get(contracts_url(999999)), 404, "not_found")
    assert_error(ops.post(contracts_url(999999), json=contract_payload()), 404, "not_found")
    assert count(app, Contract) == 0


# --------------------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------------------


def test_contract_list_is_per_enterprise_with_a_status_filter(app, ops, ent_id):
    other = make(app, EnterpriseFactory)
    open1 = create(ops, ent_id)["id"]
    closed1 = create(ops, ent_id, status="closed")["id"]
    open2 = create(ops, ent_id, start_date="2027-01-01", end_date="2027-12-31")["id"]
    foreign = create(ops, other)["id"]

    def ids(url):
        resp = ops.get(url)
        assert resp.status_code == 200
        body = resp.get_json()
        assert body["next_cursor"] is None
        return [item["id"] for item in body["items"]]

    assert ids(contracts_url(ent_id)) == [open2, closed1, open1]  # newest first
    assert ids(contracts_url(ent_id) + "?status=open") == [open2, open1]
    assert ids(contracts_url(ent_id) + "?status=closed") == [closed1]
    assert ids(contracts_url(other)) == [foreign]
    assert ids(contracts_url(other) + "?status=closed") == []
    item = ops.get(contracts_url(ent_id)).get_json()["items"][0]
    assert item["amount"] == "12800.00" and item["enterprise_id"] == str(ent_id)


def test_contract_list_pages_with_a_cursor(app, ops, ent_id):
    made = [create(ops, ent_id)["id"] for _ in range(3)]
    first = ops.get(contracts_url(ent_id) + "?limit=2").get_json()
    assert [i["id"] for i in first["items"]] == made[::-1][:2]
    assert first["next_cursor"]
    second = ops.get(contracts_url(ent_id) + f"?limit=2&cursor={first['next_cursor']}").get_json()
    assert [i["id"] for i in second["items"]] == [made[0]]
    assert second["next_cursor"] is None


def test_contract_list_of_an_incomplete_enterprise_is_readable(app, ops):
    ent = make(app, EnterpriseFactory, address=None)
    resp = ops.get(contracts_url(ent))
    assert resp.status_code == 200 and resp.get_json()["items"] == []


# --------------------------------------------------------------------------------------------------
# The completeness gate
# --------------------------------------------------------------------------------------------------

MISSING_CASES = [["license_no"], ["name"], ["address"], ["contact_name"], ["contact_phone"],
                 ["name", "contact_phone"], list(REQUIRED)]


@pytest.mark.parametrize("missing", MISSING_CASES, ids=lambda m: "+".join(m))
def test_creating_a_contract_on_an_incomplete_profile_is_409_incomplete_profile(app, ops, missing):
    ent = make(app, EnterpriseFactory, **{name: None for name in missing})
    err = assert_error(ops.post(contracts_url(ent), json=full_payload()), 409, "incomplete_profile")
    assert sorted(err["fields"]) == sorted(missing)
    assert count(app, Contract) == 0


def test_the_gate_answers_before_the_body_is_judged(app, ops):
    ent = make(app, EnterpriseFactory, license_no=None)
    assert_error(ops.post(contracts_url(ent), json={}), 409, "incomplete_profile")
    assert count(app, Contract) == 0


def test_completing_the_profile_lifts_the_contract_gate(app, ops):
    ent = make(app, EnterpriseFactory, contact_phone=None)
    assert_error(ops.post(contracts_url(ent), json=full_payload()), 409, "incomplete_profile")
    assert ops.patch(f"/api/v1/enterprises/{ent}", json={"contact_phone": "13800138000"}).status_code == 200
    assert create(ops, ent)["enterprise_id"] == str(ent)


def test_existing_contracts_stay_editable_when_the_profile_becomes_incomplete(app, ops, ent_id):
    created = create(ops, ent_id)
    assert ops.patch(f"/api/v1/enterprises/{ent_id}", json={"address": ""}).status_code == 200
    resp = ops.patch(f"/api/v1/contracts/{created['id']}", json={"remarks": "补充"})
    assert resp.status_code == 200
    assert_error(ops.post(contracts_url(ent_id), json=contract_payload()), 409, "incomplete_profile")


def test_ui_contract_form_post_on_incomplete_profile_creates_nothing(app, login_page):
    ent = make(app, EnterpriseFactory, name=None)
    page = login_page("ops")
    token = csrf_from(page.get("/").text)
    resp = page.post(f"/enterprises/{ent}/contracts/new", data={**contract_payload(), "csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/enterprises/{ent}/edit?for=contract")
    assert count(app, Contract) == 0


def test_ui_contract_form_saves_a_contract_on_a_complete_profile(app, login_page, ent_id):
    page = login_page("ops")
    form = page.get(f"/enterprises/{ent_id}/contracts/new")
    resp = page.post(f"/enterprises/{ent_id}/contracts/new",
                     data={**contract_payload(), "csrf_token": csrf_from(form.text)})
    assert resp.status_code == 302, resp.text[:500]
    assert count(app, Contract, Contract.enterprise_id == ent_id) == 1


def test_ui_contract_form_shows_inline_errors(app, login_page, ent_id):
    page = login_page("ops")
    form = page.get(f"/enterprises/{ent_id}/contracts/new")
    resp = page.post(f"/enterprises/{ent_id}/contracts/new",
                     data={**contract_payload(end_date="2025-01-01", amount="1.001"), "csrf_token": csrf_from(form.text)})
    assert resp.status_code == 422
    assert "error" in element(resp.text, "field-end_date")["classes"]
    assert "error" in element(resp.text, "field-amount")["classes"]
    assert count(app, Contract) == 0


def test_a_form_with_errors_says_the_chosen_scan_must_be_chosen_again(app, login_page, ent_id):
    """A scan chosen on a form that came back with errors was silently gone (a browser keeps no file over a
    new page): the contract was then saved without it and 合同扫描件 read —. The page names the file and asks for
    it again; the enterprise's licence scan the same; a form without errors or without a file says nothing."""
    page = login_page("ops")
    url = f"/enterprises/{ent_id}/contracts/new"
    form = page.get(url)
    assert 'id="unsaved-scan"' not in form.text
    resp = page.post(url, content_type="multipart/form-data", data={
        **contract_payload(amount="1.001"), "scan": (BytesIO(PDF), "合同扫描件.pdf"), "csrf_token": csrf_from(form.text)})
    assert resp.status_code == 422
    note = resp.text.split('id="unsaved-scan"', 1)[1].split("</div>", 1)[0]
    assert "合同扫描件.pdf 尚未保存：保存前请重新选择该文件。" in note
    resp = page.post(url, data={**contract_payload(amount="1.001"), "csrf_token": csrf_from(form.text)})
    assert resp.status_code == 422 and 'id="unsaved-scan"' not in resp.text
    edit = page.get(f"/enterprises/{ent_id}/edit?lang=en")
    resp = page.post(f"/enterprises/{ent_id}/edit", content_type="multipart/form-data", data={
        "name": "华庭物业", "license_no": "123", "license_scan": (BytesIO(PDF), "licence.pdf"),
        "csrf_token": csrf_from(edit.text)})
    assert "licence.pdf was not saved: choose the file again before saving." in resp.text
    assert count(app, Contract) == 0


# --------------------------------------------------------------------------------------------------
# Permissions
# --------------------------------------------------------------------------------------------------


def test_contract_api_needs_ops_and_a_token(app, api_as, anon, ent_id):
    contract = make(app, ContractFactory)
    devops = api_as("devops")
    assert_error(devops.post(contracts_url(ent_id), json=contract_payload()), 403, "forbidden")
    assert_error(devops.get(f"/api/v1/contracts/{contract}"), 403, "forbidden")
    assert_error(anon.post(contracts_url(ent_id), json=contract_payload()), 401, "not_authenticated")
    assert_error(anon.patch(f"/api/v1/contracts/{contract}", json={"remarks": "x"}), 401)
    assert count(app, Contract) == 1
    assert create(api_as("admin"), ent_id)["enterprise_id"] == str(ent_id)


# --------------------------------------------------------------------------------------------------
# Contract scan
# --------------------------------------------------------------------------------------------------


def test_contract_scan_is_checked_by_content(app, ops):
    contract = make(app, ContractFactory)
    headers = {"Authorization": f"Bearer {ops.token}"}
    url = f"/api/v1/contracts/{contract}/scan"
    resp = ops.client.put(url, data={"file": (BytesIO(PDF), "合同.pdf")}, headers=headers,
                          content_type="multipart/form-data")
    assert resp.status_code == 200
    assert resp.get_json()["scan"]["content_type"] == "application/pdf"
    bad = ops.client.put(url, data={"file": (BytesIO(b"plain text"), "x.png")}, headers=headers,
                         content_type="multipart/form-data")
    assert_error(bad, 422, "invalid_fields", ["file"])
    assert_error(ops.client.put(url, data={}, headers=headers, content_type="multipart/form-data"), 422,
                 "invalid_fields", ["file"])
    png = ops.client.put(url, data={"file": (BytesIO(PNG), "x.png")}, headers=headers,
                         content_type="multipart/form-data")
    assert png.status_code == 200 and png.get_json()["scan"]["content_type"] == "image/png"


# --------------------------------------------------------------------------------------------------
# Expiring contracts on the dashboard
# --------------------------------------------------------------------------------------------------


def _today(app):
    from common.timeutil import local_today

    with app.app_context():
        return local_today()


def _contract(app, days, status="open"):
    today = _today(app)
    with app.app_context():
        c = ContractFactory(end_date=today + timedelta(days=days), start_date=today - timedelta(days=300),
                            status=status)
        return c.id, c.contract_no


def expiring_panel(page):
    resp = page.get("/")
    assert resp.status_code == 200
    panel = element(resp.text, "panel-expiring")
    assert panel is not None, "no #panel-expiring on the dashboard"
    return panel


@pytest.mark.parametrize("days", [0, 1, 10, 29, 30])
def test_open_contract_ending_within_30_days_is_on_the_dashboard(app, login_page, days):
    contract_id, number = _contract(app, days)
    panel = expiring_panel(login_page("ops"))
    assert number in panel["text"]
    assert f"/contracts/{contract_id}" in panel["hrefs"]


@pytest.mark.parametrize("days, status", [(60, "open"), (31, "open"), (365, "open"), (10, "closed"), (0, "closed"),
                                          (-1, "open"), (-30, "open")], ids=repr)
def test_contract_ending_later_or_closed_or_past_is_not_on_the_dashboard(app, login_page, days, status):
    _, shown = _contract(app, 5)  # so the panel is not simply empty
    contract_id, number = _contract(app, days, status)
    panel = expiring_panel(login_page("ops"))
    assert shown in panel["text"]
    assert number not in panel["text"]
    assert f"/contracts/{contract_id}" not in panel["hrefs"]


def test_dashboard_expiring_panel_mixed(app, login_page):
    soon, soon_no = _contract(app, 7)
    later, later_no = _contract(app, 60)
    closed, closed_no = _contract(app, 7, "closed")
    panel = expiring_panel(login_page("ops"))
    assert soon_no in panel["text"]
    assert later_no not in panel["text"] and closed_no not in panel["text"]


def test_closing_a_contract_via_the_api_removes_it_from_the_dashboard(app, ops, login_page):
    contract_id, number = _contract(app, 5)
    page = login_page("ops")
    assert number in expiring_panel(page)["text"]
    assert ops.patch(f"/api/v1/contracts/{contract_id}", json={"status": "closed"}).status_code == 200
    assert number not in expiring_panel(page)["text"]


# --------------------------------------------------------------------------------------------------
# Nothing a client sends produces a 500
# --------------------------------------------------------------------------------------------------

WEIRD = {
    "not_json": ("raw", b"amount=1", "application/json", {400}),
    "broken_json": ("raw", b'{"amount": ', "application/json", {400}),
    "json_list": ("json", [contract_payload()], None, {400}),
    "json_null": ("raw", b"null", "application/json", {400}),
    "nested_object": ("json", contract_payload(amount={"value": 1}), None, {422}),  # names the field
    "list_amount": ("json", contract_payload(amount=["1", "2"]), None, {201, 422}),
    "huge_float": ("raw", b'{"amount": 1e400, "community_count": 1e400}', "application/json", {422}),
    "huge_int": ("json", contract_payload(community_count=10**40, amount=10**40), None, {422}),
    "bool_dates": ("json", contract_payload(start_date=True, end_date=False), None, {422}),
    "year_one": ("json", contract_payload(start_date="0001-01-01", end_date="0001-01-02"), None, {201, 422}),
    "year_9999": ("json", contract_payload(start_date="9999-12-30", end_date="9999-12-31"), None, {201, 422}),
    "year_zero": ("json", contract_payload(start_date="0000-01-01"), None, {422}),
    "huge_text": ("json", contract_payload(remarks="x" * 100_000, bank_name="y" * 10_000), None, {422}),
    "emoji": ("json", contract_payload(bank_name="🏦招商银行", remarks="👍"), None, {201}),
    "nul_char": ("json", contract_payload(remarks="a\x00b"), None, {201, 422}),
    "unknown_fields": ("json", contract_payload(id="7", scan_id="zzz", created_by_id=99, enterprise_id="999"), None,
                       {201}),
}


@pytest.mark.parametrize("kind, body, content_type, expected", list(WEIRD.values()), ids=list(WEIRD))
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_nothing_a_client_sends_to_the_contract_api_is_a_500(app, ops, ent_id, method, kind, body, content_type,
                                                             expected):
    if method == "POST":
        target = contracts_url(ent_id)
    else:
        target = f"/api/v1/contracts/{create(ops, ent_id)['id']}"
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
        got = resp.get_json()
        assert got["enterprise_id"] == str(ent_id)
        assert got["scan"] is None


@pytest.mark.parametrize("query", ["?status=bogus", "?limit=0", "?limit=x", "?cursor=%%%", "?cursor=" + "Z" * 60])
def test_contract_list_query_parameters_never_cause_a_500(app, ops, ent_id, query):
    create(ops, ent_id)
    resp = ops.get(contracts_url(ent_id) + query)
    assert resp.status_code in (200, 422), resp.status_code


@pytest.mark.parametrize("query", ["?page=" + "9" * 30, "?expiring=1&page=-3", "?status=%00&q=%25"])
def test_contract_list_page_query_parameters_never_cause_a_500(app, login_page, query):
    make(app, ContractFactory)
    resp = login_page("ops").get(f"/contracts/{query}")
    assert resp.status_code == 200


def test_enterprise_row_is_untouched_by_contract_work(app, ops, ent_id):
    before = row(app, Enterprise, ent_id)
    create(ops, ent_id)
    assert row(app, Enterprise, ent_id) == before
