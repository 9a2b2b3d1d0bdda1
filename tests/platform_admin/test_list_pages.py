"""Every paginated HTML list opens its second page, and a page past the last, in Chinese and English.

Each list gets more rows than one page holds; the test checks the row that sorts onto page 2 is there
(and not on page 1), the pager says where the reader is, and a page number beyond the end shows the last
page instead of an error.
"""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from common.timeutil import utcnow
from extensions import db

ROWS = 25  # lists show 20 a page
WIDE_ROWS = 55  # the audit log and the outbox show 50


def _audit_rows():
    from platform_admin.audit.models import AuditEvent

    db.session.add_all(AuditEvent(actor=f"row{i:03d}", action="update", record_type="enterprise", record_id=str(i),
                                  before={"name": "a"}, after={"name": "b"}) for i in range(WIDE_ROWS))
    return "row000"  # newest first: the oldest is on page 2


def _outbox_rows():
    from platform_admin.messaging.models import OutboxMessage

    db.session.add_all(OutboxMessage(channel="sms", to=f"row{i:03d}", body="hello", backend="outbox", status="recorded")
                       for i in range(WIDE_ROWS))
    return "row000"


def _staff_rows():
    from platform_admin.auth.models import StaffUser

    db.session.add_all(StaffUser(username=f"row{i:03d}", password_hash="x", roles_csv="ops") for i in range(ROWS))
    return f"row{ROWS - 1:03d}"  # by user name: the last ones are on page 2


def _enterprise_rows():
    from tests.factories import EnterpriseFactory

    for i in range(ROWS):
        EnterpriseFactory(name=f"row{i:03d}")
    return "row000"


def _application_rows():
    from tests.factories import ApplicationFactory

    for i in range(ROWS):
        ApplicationFactory(name=f"row{i:03d}")
    return "row000"


def _due_rows():
    from tests.factories import ApplicationFactory

    for i in range(ROWS):  # all overdue, the longest overdue first
        ApplicationFactory(name=f"row{i:03d}", status="contacted", next_follow_up_at=utcnow() - timedelta(days=ROWS - i))
    return f"row{ROWS - 1:03d}"


def _contract_rows():
    from tests.factories import ContractFactory, EnterpriseFactory

    enterprise = EnterpriseFactory()
    for i in range(ROWS):
        ContractFactory(enterprise=enterprise, contract_no=f"row{i:03d}")
    return "row000"


def _fleet_rows():
    from datasource_registry.models import FleetRun

    db.session.add_all(FleetRun(status="finished", target_revision=f"row{i:03d}", canary_size=1, parallelism=2,
                                finished_at=utcnow()) for i in range(ROWS))
    return "row000"


LISTS = [
    ("/audit/", "admin", _audit_rows),
    ("/outbox/", "admin", _outbox_rows),
    ("/staff/", "admin", _staff_rows),
    ("/enterprises/", "ops", _enterprise_rows),
    ("/applications/", "ops", _application_rows),
    ("/applications/follow-ups", "ops", _due_rows),
    ("/contracts/", "ops", _contract_rows),
    ("/contracts/new", "ops", _enterprise_rows),  # choosing the enterprise of a new contract
    ("/fleet/", "devops", _fleet_rows),
]
PAGER = {"zh_CN": ("第 2/2 页", "上一页"), "en": ("page 2 of 2", "Previous")}


def _cells(html, marker):
    return re.findall(rf"\b{marker}\b", html)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize(("path", "role", "make_rows"), LISTS, ids=[p for p, _r, _m in LISTS])
def test_every_list_opens_page_two_and_a_page_past_the_end(app, login_page, path, role, make_rows, lang):
    client = login_page(role)
    with app.app_context():
        marker = make_rows()
        db.session.commit()
    client.get(f"{path}?lang={lang}")  # the language sticks for the session

    first = client.get(path)
    assert first.status_code == 200 and not _cells(first.text, marker)
    second = client.get(f"{path}?page=2")
    assert second.status_code == 200, second.text[:500]
    assert _cells(second.text, marker), f"{marker} not on page 2 of {path}"
    where, previous = PAGER[lang]
    assert where in second.text and previous in second.text
    assert 'rel="prev"' in second.text and 'page=1' in second.text and 'rel="next"' not in second.text

    beyond = client.get(f"{path}?page=99")  # an old bookmark after rows were deleted: the last page
    assert beyond.status_code == 200
    assert where in beyond.text and _cells(beyond.text, marker)


def test_no_template_rebinds_the_translation_function():
    """`{% set _ = ... %}` inside a template shadows `_()` for the rest of it (and broke every page 2)."""
    templates = Path(__file__).resolve().parents[2] / "templates"
    offenders = [str(p.relative_to(templates)) for p in templates.rglob("*.html")
                 if re.search(r"{%-?\s*(set|for)\s+(\w+\s*,\s*)*_\s*(,|=|in\b)", p.read_text())]
    assert not offenders, offenders
