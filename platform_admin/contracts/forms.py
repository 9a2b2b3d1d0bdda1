from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DecimalField, IntegerField, SelectField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from common.fields import Date, LongText, Text
from common.validators import ChinesePhone, Money, NotBlank

from .models import STATUSES

REQUIRED = _l("This field is required.")


class MoneyField(DecimalField):
    """Keeps the raw text so Money can reject a third decimal place instead of rounding it away."""

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = valuelist[0].strip() if valuelist[0] else None

    def _value(self):
        # a stored amount is a Decimal (shown with its two places); posted text is shown as typed
        return self.data if isinstance(self.data, str) else super()._value()


class ContractForm(FlaskForm):
    bank_name = Text(_l("Bank name"), validators=[NotBlank(), Length(max=100)])
    legal_representative = Text(_l("Legal representative"), validators=[NotBlank(), Length(max=50)])
    account_no = Text(_l("Account number"), validators=[NotBlank(), Regexp(r"^[0-9 ]{8,40}$", message=_l("Digits only, 8 to 32 of them."))])
    start_date = Date(_l("Cooperation start"), validators=[InputRequired(message=REQUIRED)])
    end_date = Date(_l("Cooperation end"), validators=[InputRequired(message=REQUIRED)])
    community_count = IntegerField(_l("Authorized communities"),
                                   validators=[InputRequired(message=REQUIRED), NumberRange(min=1, max=100000, message=_l("From 1 to 100000."))])
    amount = MoneyField(_l("Amount (CNY)"), validators=[InputRequired(message=REQUIRED), Money()])
    party_a_contact = Text(_l("Party A contact"), validators=[NotBlank(), Length(max=50)])
    party_a_phone = Text(_l("Party A phone"), validators=[NotBlank(), ChinesePhone()])
    party_b_contact = Text(_l("Party B contact"), validators=[NotBlank(), Length(max=50)])
    party_b_phone = Text(_l("Party B phone"), validators=[NotBlank(), ChinesePhone()])
    introduction = LongText(_l("Contract summary"), validators=[Optional(), Length(max=4000)])
    remarks = LongText(_l("Remarks"), validators=[Optional(), Length(max=4000)])
    status = SelectField(_l("Status"), choices=list(STATUSES.items()), default="open")
    scan = FileField(_l("Contract scan (JPG, PNG or PDF)"))

    def validate_account_no(self, field):
        if field.data:
            field.data = field.data.replace(" ", "")
            if not 8 <= len(field.data) <= 32:
                raise ValidationError(_l("Digits only, 8 to 32 of them."))

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data <= self.start_date.data:
            raise ValidationError(_l("The end date must be after the start date."))

    def contract_data(self):
        return {name: getattr(self, name).data for name in CONTRACT_FIELDS}


class ContractFilters(FlaskForm):
    """The contract list's query string (API)."""

    status = SelectField(choices=list(STATUSES.items()), validators=[Optional()])


CONTRACT_FIELDS = ("bank_name", "legal_representative", "account_no", "start_date", "end_date", "community_count",
                   "amount", "party_a_contact", "party_a_phone", "party_b_contact", "party_b_phone",
                   "introduction", "remarks", "status")
