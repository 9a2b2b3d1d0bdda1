from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from common import limits
from common.fields import LocalDateTime, LongText, Select, Text
from common.timeutil import from_local, local_today, to_local
from common.validators import ChinesePhone, NotBlank

from .models import CHANNELS, INTENT_LEVELS, PUBLIC_CHANNELS, STATUSES


class SmsCodeForm(FlaskForm):
    phone = StringField(_l("Mobile phone"), validators=[NotBlank(), ChinesePhone(mobile_only=True)])


class RegistrationForm(FlaskForm):
    # Name and company become the enterprise's contact and name, and so the tenant's first administrator.
    name = StringField(_l("Your name"), validators=[NotBlank(), Length(max=limits.PERSON_NAME)])
    phone = StringField(_l("Mobile phone"), validators=[NotBlank(), ChinesePhone(mobile_only=True)])
    sms_code = StringField(_l("Verification code"), validators=[NotBlank(), Regexp(r"^\d{6}$", message=_l("The code has 6 digits."))])
    company_name = Text(_l("Company name"), validators=[Optional(), Length(max=limits.ENTERPRISE_NAME)])
    channel = HiddenField(validators=[DataRequired()])

    def validate_channel(self, field):
        if field.data not in PUBLIC_CHANNELS:
            from wtforms.validators import ValidationError

            raise ValidationError(_l("Channel must be one of: web, wechat, qrcode."))


def owner_choices():
    from platform_admin.auth.services import staff_with_role

    return [("", _l("— Unassigned —"))] + [(str(s.id), s.display_name) for s in staff_with_role("ops", "admin")]


class OwnerField(SelectField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("coerce", lambda v: int(v) if v not in (None, "", "None") else None)
        kwargs.setdefault("validate_choice", True)
        super().__init__(*args, **kwargs)


class OfflineApplicationForm(FlaskForm):
    name = StringField(_l("Contact name"), validators=[NotBlank(), Length(max=limits.PERSON_NAME)])
    phone = StringField(_l("Mobile phone"), validators=[NotBlank(), ChinesePhone()])
    company_name = Text(_l("Company name"), validators=[Optional(), Length(max=limits.ENTERPRISE_NAME)])
    owner_id = OwnerField(_l("Ops owner"), validators=[Optional()])
    remarks = LongText(_l("Remarks"), validators=[Optional(), Length(max=2000)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.choices = owner_choices()


class ApplicationUpdateForm(OfflineApplicationForm):
    status = SelectField(_l("Status"), choices=[(k, v) for k, v in STATUSES.items() if k != "converted"],
                         validators=[Optional()])


class FollowUpForm(FlaskForm):
    content = LongText(_l("What was discussed"), validators=[NotBlank(), Length(max=4000)])
    # no default: the first choice (高) was recorded for every visit whose form nobody touched there
    intent_level = Select(_l("Intent level"), choices=[("", _l("— Choose —")), *INTENT_LEVELS.items()],
                          validators=[NotBlank()])
    next_follow_up_at = LocalDateTime(_l("Next follow-up"), validators=[Optional()])
    outcome = SelectField(
        _l("Outcome"),
        choices=[("", _l("— Keep status —")), ("contacted", STATUSES["contacted"]),
                 ("intent_confirmed", STATUSES["intent_confirmed"]), ("rejected", STATUSES["rejected"])],
        validators=[Optional()],
    )

    def validate_next_follow_up_at(self, field):
        """A return visit is planned for today or later: a day already past shows it overdue the moment it is
        recorded (as the CRM's follow-ups refuse it)."""
        if field.data is not None and to_local(from_local(field.data)).date() < local_today():
            raise ValidationError(_l("Choose today or a later day."))


class ApplicationFilters(FlaskForm):
    """The application list's query string (API)."""

    status = SelectField(choices=list(STATUSES.items()), validators=[Optional()])
    channel = SelectField(choices=list(CHANNELS.items()), validators=[Optional()])
    owner_id = StringField(description="a staff id, or me")
    q = StringField(description="part of the name, phone or company name")


class DueFilters(FlaskForm):
    """The due follow-up list's query string (API)."""

    mine = SelectField(choices=[("1", "1"), ("true", "true"), ("0", "0"), ("false", "false")],
                       validators=[Optional()], description="1 or true: only applications the caller owns")
