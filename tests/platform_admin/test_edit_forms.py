"""Every edit form opens for a saved, fully filled record, and what it shows can be saved back unchanged.

The round trip reads the form the page renders (inputs, selected options, textareas), posts it back as a
browser would, and checks the record did not move: a value the form shows in a shape its own validation
refuses (an amount, a date, a phone) fails here. Contract and enterprise scans are uploaded through the
form and then shown on the next edit.
"""

import re
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from io import BytesIO

import pytest
from sqlalchemy import select

from common.timeutil import utcnow
from extensions import db
from platform_admin.auth.models import StaffUser
from platform_admin.contracts.models import Contract
from platform_admin.enterprises.models import Enterprise
from platform_admin.onboarding.models import Application
from tests.factories import ApplicationFactory, ContractFactory, EnterpriseFactory

from .ent_helpers import PDF, PNG, row


class _Form(HTMLParser):
    """The values a browser would submit from the first ``<form method="post">`` that has a submit button."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.fields, self.files = [], []
        self._in_form = self._done = False
        self._select = self._textarea = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._done:
            return
        if tag == "form" and a.get("method") == "post" and "inline" not in (a.get("class") or ""):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "file":
                self.files.append(a["name"])
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button") and a.get("name"):
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a["name"], []

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, "".join(self._text).removeprefix("\r\n").removeprefix("\n")))
            self._textarea = None
        elif tag == "form" and self._in_form:
            self._in_form, self._done = False, True


def form_values(html):
    parser = _Form()
    parser.feed(html)
    return parser


def post_back(client, url, extra=None):
    """GET the edit form, post its own values back (plus ``extra``), return (form page, response)."""
    page = client.get(url)
    assert page.status_code == 200, page.text[:800]
    form = form_values(page.text)
    data = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    data.update(extra or {})
    return page, client.post(url, data=data, content_type="multipart/form-data")


def unchanged(before, after, ignore=("updated_at",)):
    return {k: (before[k], after[k]) for k in before if k not in ignore and before[k] != after[k]}


# ---------------------------------------------------------------------------------------------- contracts


@pytest.fixture
def contract_id(app):
    with app.app_context():
        return ContractFactory(amount=Decimal("12800.55"), start_date=date(2026, 1, 1), end_date=date(2027, 6, 30),
                               community_count=12, introduction="年度物业收费系统服务\n含两次上门培训",
                               remarks="首年八折", status="closed", party_a_phone="01085888888").id


def test_a_saved_contract_opens_for_editing_with_its_values(app, login_page, contract_id):
    page = login_page("ops").get(f"/contracts/{contract_id}/edit")
    assert page.status_code == 200
    values = dict(form_values(page.text).fields)
    assert values["amount"] == "12800.55"
    assert (values["start_date"], values["end_date"]) == ("2026-01-01", "2027-06-30")
    assert values["status"] == "closed" and values["community_count"] == "12"
    assert values["introduction"] == "年度物业收费系统服务\n含两次上门培训"


def test_a_saved_contract_posted_back_unchanged_stays_unchanged(app, login_page, contract_id):
    before = row(app, Contract, contract_id)
    _page, resp = post_back(login_page("ops"), f"/contracts/{contract_id}/edit")
    assert resp.status_code == 302, resp.text[:2000]
    assert unchanged(before, row(app, Contract, contract_id)) == {}


@pytest.mark.parametrize(("amount", "stored"), [("9999.99", Decimal("9999.99")), ("15000", Decimal("15000.00")),
                                                ("0.5", Decimal("0.50"))])
def test_editing_a_contract_saves_amount_dates_and_a_scan(app, login_page, contract_id, amount, stored):
    client = login_page("ops")
    url = f"/contracts/{contract_id}/edit"
    _page, resp = post_back(client, url, {"amount": amount, "end_date": "2028-12-31",
                                          "scan": (BytesIO(PDF), "合同扫描件.pdf")})
    assert resp.status_code == 302, resp.text[:2000]
    saved = row(app, Contract, contract_id)
    assert saved["amount"] == stored and saved["end_date"] == date(2028, 12, 31) and saved["scan_id"]
    again = client.get(url)  # the scan and the new amount show on the next edit
    assert again.status_code == 200 and "合同扫描件.pdf" in again.text
    assert dict(form_values(again.text).fields)["amount"] == f"{stored:.2f}"
    assert client.get(f"/contracts/{contract_id}").status_code == 200


def test_an_invalid_contract_edit_shows_what_was_typed(app, login_page, contract_id):
    before = row(app, Contract, contract_id)
    _page, resp = post_back(login_page("ops"), f"/contracts/{contract_id}/edit", {"amount": "12.345"})
    assert resp.status_code == 422
    assert dict(form_values(resp.text).fields)["amount"] == "12.345"
    assert unchanged(before, row(app, Contract, contract_id)) == {}


# ---------------------------------------------------------------------------------------------- enterprises


def test_a_fully_filled_enterprise_round_trips_through_its_edit_form(app, login_page):
    with app.app_context():
        ent_id = EnterpriseFactory(office_phone="01085888888", email="ops@example.com", introduction="简介\n第二行",
                                   remarks="备注", province_code="11", province="北京市", city_code="1100",
                                   city="北京市").id
    client = login_page("ops")
    url = f"/enterprises/{ent_id}/edit"
    _page, resp = post_back(client, url, {"license_scan": (BytesIO(PNG), "执照.png")})
    assert resp.status_code == 302, resp.text[:2000]
    before = row(app, Enterprise, ent_id)
    assert before["license_scan_id"]
    page, resp = post_back(client, url)  # now with the scan stored: opens, and saves back unchanged
    assert "执照.png" in page.text
    assert resp.status_code == 302, resp.text[:2000]
    assert unchanged(before, row(app, Enterprise, ent_id)) == {}


# ---------------------------------------------------------------------------------------------- applications


def test_a_fully_filled_application_round_trips_through_its_edit_form(app, login_page, make_staff):
    owner = make_staff("owner1", roles=("ops",), full_name="欧阳")
    with app.app_context():
        app_id = ApplicationFactory(owner_id=owner, status="contacted", remarks="想要免费试用\n下周再联系",
                                    company_name="幸福里物业", next_follow_up_at=utcnow() + timedelta(days=2)).id
    before = row(app, Application, app_id)
    page, resp = post_back(login_page("ops"), f"/applications/{app_id}/edit")
    assert dict(form_values(page.text).fields)["owner_id"] == str(owner)
    assert resp.status_code == 302, resp.text[:2000]
    assert unchanged(before, row(app, Application, app_id)) == {}


# ---------------------------------------------------------------------------------------------- staff


def test_a_fully_filled_staff_account_round_trips_through_its_edit_form(app, login_page, make_staff):
    staff_id = make_staff("fullstaff", roles=("ops", "devops"), full_name="李四", phone="13800138000",
                          email="li@example.com")
    with app.app_context():
        before = {k: v for k, v in row(app, StaffUser, staff_id).items() if k != "last_login_at"}
    admin = login_page("admin")
    page, resp = post_back(admin, f"/staff/{staff_id}/edit")
    assert sorted(v for k, v in form_values(page.text).fields if k == "roles") == ["devops", "ops"]
    # the password: optional here (left empty, kept), required (marked *) on a new account's form
    label = re.compile(r'<label for="password">([^<]*)(<span class="req">\*</span>)?</label>')
    assert label.search(page.text).group(2) is None
    assert label.search(admin.get("/staff/new").text).group(2) is not None
    assert resp.status_code == 302, resp.text[:2000]
    after = {k: v for k, v in row(app, StaffUser, staff_id).items() if k != "last_login_at"}
    assert unchanged(before, after) == {}
    with app.app_context():
        assert db.session.scalars(select(StaffUser).where(StaffUser.id == staff_id)).one().is_active
