"""The follow-up form (page and API)."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from common.fields import LocalDateTime, LongText, RecordId, Text
from common.timeutil import from_local, local_today, to_local
from common.validators import Chosen, NotBlank

METHOD_LABELS = {"phone": _l("Phone call"), "visit": _l("Visit"), "wechat": _l("WeChat"), "email": _lp("follow-up method", "Email"),
                 "other": _l("Other")}


class FollowUpForm(FlaskForm):
    customer_id = RecordId(_l("Customer"), validators=[Chosen(_l("Choose a customer."), unless="lead_id"),
                                                       NumberRange(min=1, max=2**63 - 1)])
    lead_id = RecordId(_l("Lead"), validators=[Optional(), NumberRange(min=1, max=2**63 - 1)],
                       description=_l("Instead of a customer: the lead followed up."))
    contact_id = SelectField(_l("Spoke with"), coerce=str, validators=[Optional()], validate_choice=False)
    follow_type = SelectField(_l("Method"), choices=list(METHOD_LABELS.items()), default="phone")
    content = LongText(_l("What was said"), validators=[NotBlank(), Length(max=5000)])
    next_follow_time = LocalDateTime(_l("Next follow-up"), validators=[Optional()])
    next_content = Text(_l("Plan for the next follow-up"), validators=[Optional(), Length(max=500)])
    attachment = FileField(_l("Attachment (image, PDF or Office document)"))

    def validate_next_follow_time(self, field):
        """A plan is for today or later: a day already past would show the record overdue the moment it is saved
        (a typo in the year, or a date picked from last month)."""
        if field.data is not None and to_local(from_local(field.data)).date() < local_today():
            raise ValidationError(_l("Choose today or a later day."))

    def validate_lead_id(self, field):
        if field.data and self.customer_id.data:
            raise ValidationError(_l("A follow-up is on a customer or on a lead, not both."))
        if field.data and self.contact_id.data:
            raise ValidationError(_l("A lead has no contacts: leave the contact empty."))
