"""Handover forms: each validates the page's post and the API's JSON body alike."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField
from wtforms.validators import Length, Optional, ValidationError

from common.fields import LongText, Select, Text
from common.validators import NotBlank

REASON_LABELS = {"manual": _l("Reassignment"), "resignation": _l("Resignation"),
                 "position_change": _l("Position change")}
STAGE_LABELS = {"preparation": _l("Preparation"), "review": _l("Review"), "confirmation": _l("Confirmation"),
                "completed": _l("Completed"), "cancelled": _l("Cancelled")}
STAGE_BADGES = {"preparation": "info", "review": "warn", "confirmation": "primary", "completed": "success",
                "cancelled": "muted"}
ACTION_LABELS = {"start": _l("Handover started"), "receiver": _l("Receiver chosen"), "prepare": _l("Checklist submitted"),
                 "approve": _l("Approved"), "reject": _l("Sent back"), "confirm": _l("Confirmed by the receiver"),
                 "cancel": _l("Cancelled")}
STEP_LABELS = {"prepare": _l("Prepare the checklist"), "choose_receiver": _l("Choose the receiver"),
               "review": _l("Review"), "confirm": _l("Confirm receipt")}


class IdList(SelectMultipleField):
    """Record ids: a JSON list of id strings, or checkboxes on a page (any ids; the service checks them)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [])
        kwargs.setdefault("coerce", str)
        super().__init__(*args, **kwargs)

    def pre_validate(self, form):
        if any(not str(v).isdigit() or not 0 < int(v) < 2**63 for v in self.data or []):
            raise ValidationError(_l("Not a valid id."))
        if len(self.data or []) > 5000:
            raise ValidationError(_l("At most %(n)d at once.", n=5000))


def _user_choices(users, blank):
    return [("", blank)] + [(str(uid), name) for uid, name in users]


class HandoverStartForm(FlaskForm):
    from_owner_id = Select(_l("Current owner"), validators=[NotBlank()])
    to_owner_id = Select(_l("Receiver"), validators=[NotBlank()])
    customer_ids = IdList(_l("Customers"), description=_l("Leave empty to hand over all of the owner's customers."))
    handover_reason = SelectField(_l("Reason"), choices=list(REASON_LABELS.items()), default="manual")
    reason_note = LongText(_l("Note"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, owners=(), receivers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.from_owner_id.choices = _user_choices(owners, _l("— Current owner —"))
        self.to_owner_id.choices = _user_choices(receivers, _l("— Receiver —"))


class ReceiverForm(FlaskForm):
    to_owner_id = Select(_l("Receiver"), validators=[NotBlank()])

    def __init__(self, *args, receivers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.to_owner_id.choices = _user_choices(receivers, _l("— Receiver —"))


class ApproveForm(FlaskForm):
    to_owner_id = SelectField(_l("Receiver"), validators=[Optional()],
                              description=_l("Needed when no receiver is chosen yet."))
    note = LongText(_l("Note"), validators=[Optional(), Length(max=500)])

    def __init__(self, *args, receivers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.to_owner_id.choices = _user_choices(receivers, _l("— Receiver —"))


class RejectForm(FlaskForm):
    reason = LongText(_l("Why it goes back"), validators=[NotBlank(), Length(max=500)])


class NoteForm(FlaskForm):
    note = LongText(_l("Note"), validators=[Optional(), Length(max=500)])


class ItemForm(FlaskForm):
    is_completed = BooleanField(_l("Confirmed"))
    owner_note = Text(_l("Note for the receiver"), validators=[Optional(), Length(max=500)])
