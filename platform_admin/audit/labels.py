"""What the audit page shows a reader instead of codes: actions, record types, field names and values in
their language, times in local time. The API keeps the raw codes; only the page uses this.

Field names come from the forms' own labels where a form edits the column, so the log speaks the words
ops already know; the columns no form edits have their own. Anything not listed (a new verb, a new
table) is shown as its code rather than hidden.
"""

from datetime import date, datetime

from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import DateTime, select
from wtforms.fields.core import UnboundField

from common.i18n import list_join
from extensions import db

from .recorder import REDACTED

ACTIONS = {
    "create": lazy_pgettext("audit action", "Created"),
    "update": _l("Changed"),
    "delete": lazy_pgettext("audit action", "Deleted"),
    "state_change": _l("Status changed"),
    "open": lazy_pgettext("audit action", "Opened"),
    "close": lazy_pgettext("audit action", "Closed"),
    "suspend": _l("Maintenance mode started"),
    "resume": _l("Maintenance mode ended"),
    "status_implementing": _l("Marked implementing"),
    "status_live": _l("Marked live"),
    "provision": _l("Provisioning started"),
    "login": _l("Signed in"),
    "login_failed": _l("Sign-in failed"),
    "login_throttled": _l("Sign-in throttled"),
    "token_issued": _l("API token issued"),
    "impersonation_used": _l("Support sign-in used"),
}

RECORD_TYPES = {
    "application": _l("Application"),
    "follow_up": _l("Return visit"),
    "enterprise": _l("Enterprise"),
    "contract": _l("Contract"),
    "datasource": _l("Datasource"),
    "staff_user": _l("Staff account"),
    "api_token": _l("API token"),
    "stored_file": _l("Uploaded file"),
    "sms_code": _l("SMS code"),
    "impersonation_grant": _l("Support sign-in pass"),
}

# Columns no form edits (or named differently in the table), for every record type.
COLUMNS = {
    "id": _l("ID"),
    "created_at": _l("Created"),
    "updated_at": _l("Updated"),
    "created_by_id": _l("Created by"),
    "status": _l("Status"),
    "enterprise_id": _l("Enterprise"),
    "tenant_id": _l("Enterprise"),
    "application_id": _l("Application"),
    "staff_id": _l("Staff"),
    "uploaded_by_id": _l("Uploaded by"),
    "enterprise_no": _l("Enterprise no."),
    "contract_no": _l("Contract no."),
    "province": _l("Province"),
    "city": _l("City"),
    "scan_id": _l("Contract scan"),
    "license_scan_id": _l("Licence scan"),
    "opened_at": lazy_pgettext("audit field", "Opened"),
    "closed_at": lazy_pgettext("audit field", "Closed"),
    "suspended_at": _l("Suspended since"),
    "suspend_message": _l("Message to users"),
    "channel": _l("Channel"),
    "registered_at": _l("Registered"),
    "phone_verified": _l("Phone verified by SMS"),
    "next_follow_up_at": _l("Next follow-up"),
    "last_intent_level": _l("Intent level"),
    "roles_csv": _l("Roles"),
    "is_active_flag": _l("Active"),
    "locale": _l("Language"),
    "last_login_at": _l("Last sign-in"),
    "password_hash": _l("Password"),
    "password_encrypted": _l("Password"),
    "token_hash": _l("Token"),
    "expires_at": _l("Expires"),
    "revoked_at": _l("Revoked"),
    "last_used_at": _l("Last used"),
    "used_at": _l("Used"),
    "used_ip": _l("Used from"),
    "created_ip": _l("Created from"),
    "database": _l("Database name"),
    "implementation_status": _l("Implementation status"),
    "implementing_at": _l("Implementing since"),
    "implementing_by_id": _l("Marked implementing by"),
    "live_at": _l("Live since"),
    "live_by_id": _l("Marked live by"),
    "original_name": _l("File name"),
    "content_type": _l("File type"),
    "size": _l("Size (bytes)"),
    "sha256": _l("Checksum"),
    "relative_path": _l("Stored as"),
    "staff_username": _l("Support staff"),
    "staff_name": _l("Support staff's name"),
    "username": _l("Username"),
    "limit": _l("Limit"),
    "job_id": _l("Job"),
}
# The same column name means something else on these record types.
TYPE_COLUMNS = {
    ("datasource", "name"): _l("Datasource name"),
    ("impersonation_grant", "username"): _l("Tenant user name"),
}
# Columns the row already shows (the record id) or whose code duplicates a name column next to it.
HIDDEN = {"id", "province_code", "city_code"}
# Columns holding a staff account's id: shown as that account's name.
STAFF_COLUMNS = {"created_by_id", "staff_id", "owner_id", "uploaded_by_id", "implementing_by_id", "live_by_id"}
# Columns holding an enterprise's id: shown as its name.
ENTERPRISE_COLUMNS = {"enterprise_id", "tenant_id"}
# Where a record's own page is, for the record types that have one.
RECORD_PAGES = {
    "enterprise": ("enterprises.enterprise_detail", "ent_id"),
    "contract": ("contracts.contract_detail", "contract_id"),
    "application": ("onboarding.application_detail", "app_id"),
    "staff_user": ("staff.staff_edit", "staff_id"),
}
# What names a record in a one-line summary, first found wins.
NAMING_COLUMNS = ("name", "contract_no", "enterprise_no", "username", "original_name")


def _forms():
    from platform_admin.auth.forms import StaffCreateForm, StaffUpdateForm
    from platform_admin.contracts.forms import ContractForm
    from platform_admin.datasources.forms import DatasourceForm
    from platform_admin.enterprises.forms import EnterpriseForm, ImpersonateForm
    from platform_admin.onboarding.forms import ApplicationUpdateForm, FollowUpForm

    return {"application": [ApplicationUpdateForm], "follow_up": [FollowUpForm], "enterprise": [EnterpriseForm],
            "contract": [ContractForm], "datasource": [DatasourceForm], "staff_user": [StaffCreateForm, StaffUpdateForm],
            "impersonation_grant": [ImpersonateForm]}


def _form_labels():
    labels = {}
    for record_type, forms in _forms().items():
        for form in forms:
            for name in dir(form):
                field = getattr(form, name, None)
                if isinstance(field, UnboundField) and field.args:
                    labels.setdefault((record_type, name), field.args[0])
    return labels


_FORM_LABELS = None


def column_label(record_type, column):
    global _FORM_LABELS
    if _FORM_LABELS is None:
        _FORM_LABELS = _form_labels()
    key = (record_type, column)
    return TYPE_COLUMNS.get(key) or _FORM_LABELS.get(key) or COLUMNS.get(column) or column


def _value_labels():
    from datasource_registry.models import IMPLEMENTATION_STATUSES, TYPE_LABELS
    from platform_admin.auth.forms import ROLE_LABELS
    from platform_admin.contracts.models import STATUSES as CONTRACT_STATUSES
    from platform_admin.onboarding.models import CHANNELS, INTENT_LEVELS
    from platform_admin.onboarding.models import STATUSES as APPLICATION_STATUSES

    return {
        ("enterprise", "status"): {0: lazy_pgettext("enterprise status value", "Closed"),
                                   1: lazy_pgettext("enterprise status value", "Open")},
        ("application", "status"): APPLICATION_STATUSES,
        ("application", "channel"): CHANNELS,
        ("application", "last_intent_level"): INTENT_LEVELS,
        ("follow_up", "intent_level"): INTENT_LEVELS,
        ("contract", "status"): CONTRACT_STATUSES,
        ("datasource", "implementation_status"): IMPLEMENTATION_STATUSES,
        ("datasource", "type"): TYPE_LABELS,
        ("staff_user", "roles_csv"): ROLE_LABELS,
        ("staff_user", "locale"): {"zh_CN": "中文", "en": "English"},
    }


def action_label(action):
    return ACTIONS.get(action, action)


def record_type_label(record_type):
    return RECORD_TYPES.get(record_type, record_type)


JOB_ACTORS = {"provision": _l("Provision"), "upgrade": _l("Schema upgrade")}


def actor_label(actor):
    """Who did it, as ops read it: a staff member's username as it is; the public, the system, the command
    line, background jobs (``job:<kind>``, datasource_registry/jobs.py) and support passes by name."""
    named = {"public": _l("Public visitor"), "system": _l("System"), "cli": _l("Command line")}.get(actor)
    if named is not None:
        return named
    if actor and actor.startswith("job:"):
        kind = actor[4:]
        return _l("Background job: %(kind)s", kind=JOB_ACTORS.get(kind, kind))
    if actor and actor.startswith("impersonation:"):  # a support pass used (tenant_runtime/impersonation.py)
        return _l("Support sign-in: %(username)s", username=actor[len("impersonation:"):])
    return actor


def _time_columns(record_type):
    """The columns of ``record_type`` that hold times (stored as naive UTC ISO text in the log)."""
    for mapper in db.Model.registry.mappers:
        table = getattr(mapper, "local_table", None)
        if table is not None and table.name == record_type:
            return {attr.key for attr in mapper.column_attrs if isinstance(attr.columns[0].type, DateTime)}
    return set()


class Describer:
    """Turns one page of events into rows the template can show as they are."""

    def __init__(self, events):
        from common.timeutil import to_local

        self.to_local = to_local
        self.values = _value_labels()
        self.times = {t: _time_columns(t) for t in {e.record_type for e in events}}
        self.staff = self._names(events, STAFF_COLUMNS, "staff")
        self.enterprises = self._names(events, ENTERPRISE_COLUMNS, "enterprise")

    @staticmethod
    def _names(events, columns, kind):
        """``{id: name}`` of the staff accounts or enterprises the page's events point at, in one query."""
        from platform_admin.auth.models import StaffUser
        from platform_admin.enterprises.models import Enterprise

        ids = {v for e in events for d in (e.before or {}, e.after or {}) for k, v in d.items()
               if k in columns and isinstance(v, int)}
        if not ids:
            return {}
        if kind == "staff":
            return dict(db.session.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(ids))).all())
        return {e.id: e.display_name for e in db.session.scalars(select(Enterprise).where(Enterprise.id.in_(ids)))}

    def value(self, record_type, column, value):
        if value is None or value == "":
            return "—"
        if value == REDACTED:
            return _l("(hidden)")
        if isinstance(value, bool):
            return _l("Yes") if value else _l("No")
        labels = self.values.get((record_type, column))
        if labels is not None:
            if column == "roles_csv":
                return list_join([str(labels.get(r, r)) for r in str(value).split(",") if r])
            return labels.get(value, value)
        if column in STAFF_COLUMNS and value in self.staff:
            return self.staff[value]
        if column in ENTERPRISE_COLUMNS and value in self.enterprises:
            return self.enterprises[value]
        if column in self.times.get(record_type, ()) and isinstance(value, str):
            try:
                return self.to_local(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M:%S")
            except ValueError:
                return value
        if isinstance(value, date | datetime):
            return value.isoformat()
        return value

    def fields(self, event):
        """``[(label, before, after)]`` for every column the event carries, in the table's order."""
        before, after = event.before or {}, event.after or {}
        names = [k for k in {**before, **after} if k not in HIDDEN]
        rows = []
        for name in names:
            old, new = before.get(name), after.get(name)
            if event.before is None and new in (None, ""):
                continue  # a new record's empty columns say nothing
            if event.after is None and old in (None, ""):
                continue
            rows.append((column_label(event.record_type, name), self.value(event.record_type, name, old),
                         self.value(event.record_type, name, new)))
        return rows

    def summary(self, event, fields):
        """One line: what changed (``Status: New → Contacted``), or which record was created or deleted."""
        if event.before is None or event.after is None:
            snapshot = event.after if event.before is None else event.before
            return next((str(snapshot[c]) for c in NAMING_COLUMNS if snapshot and snapshot.get(c)), "")
        if len(fields) == 1:
            label, old, new = fields[0]
            return f"{label}: {old} → {new}"
        return list_join([str(label) for label, _old, _new in fields])

    def link(self, event):
        from platform_admin.permissions import can

        page = RECORD_PAGES.get(event.record_type)
        if page is None or not event.record_id or not event.record_id.isdigit() or event.action == "delete":
            return None
        endpoint, arg = page
        return url_for(endpoint, **{arg: int(event.record_id)}) if can(endpoint) else None

    def row(self, event):
        fields = self.fields(event)
        return {
            "event": event,
            "time": self.to_local(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            "actor": actor_label(event.actor),
            "action": action_label(event.action),
            "record_type": record_type_label(event.record_type),
            "link": self.link(event),
            "fields": fields,
            "one_sided": event.before is None or event.after is None,
            "summary": self.summary(event, fields),
        }


def describe(events):
    describer = Describer(events)
    return [describer.row(e) for e in events]


def choices(column, labeller):
    """``[(code, label)]`` for a filter select: every value the log holds, by label."""
    from .models import AuditEvent

    codes = db.session.scalars(select(getattr(AuditEvent, column)).distinct()).all()
    return sorted(((c, str(labeller(c))) for c in codes if c), key=lambda pair: pair[1])
