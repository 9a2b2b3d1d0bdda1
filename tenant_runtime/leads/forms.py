"""Lead and lead-pool forms: each validates the page's post and the API's JSON body alike."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from common.fields import LongText, OwnerSelect, Phone, RecordId, Select, Text
from common.validators import CreditCode, NotBlank, PhoneE164

from ..customers.forms import LEVEL_LABELS, TYPE_LABELS
from .models import STATUS_CONVERTED, STATUS_FOLLOWING, STATUS_INVALID, STATUS_NEW

# seed 002's codes (tinyint in the table) as the API's words
STATUS_CODES = {"new": STATUS_NEW, "following": STATUS_FOLLOWING, "converted": STATUS_CONVERTED,
                "invalid": STATUS_INVALID}
STATUS_WORDS = {code: word for word, code in STATUS_CODES.items()}
INTENT_CODES = {"low": 1, "medium": 2, "high": 3}
INTENT_WORDS = {code: word for word, code in INTENT_CODES.items()}

STATUS_LABELS = {"new": _l("New lead"), "following": _l("Following up"), "converted": _l("Converted"),
                 "invalid": _l("Invalid")}
INTENT_LABELS = {"low": _l("Low"), "medium": _l("Medium"), "high": _l("High")}
SOURCE_LABELS = {
    "website": _l("Website"), "exhibition": _l("Exhibition"), "referral": _l("Referral"),
    "cold_call": _l("Cold call"), "advertising": _l("Advertising"), "wechat": _l("WeChat"), "other": _l("Other"),
}
# what a person may set by editing; "converted" only comes from a conversion
EDITABLE_STATUSES = ("new", "following", "invalid")


class LeadForm(FlaskForm):
    lead_name = Text(_l("Lead name"), validators=[NotBlank(), Length(max=100)],
                     description=_l("A person's or a company's name."))
    phone = Phone(_l("Phone"), validators=[Optional(), PhoneE164()],
                 description=_l("Mobile or landline; one lead per number."))
    company = Text(_l("Company"), validators=[Optional(), Length(max=200)])
    position = Text(_l("Position"), validators=[Optional(), Length(max=100)])
    source = SelectField(_l("Lead source"), choices=[("", _l("— Source —"))] + list(SOURCE_LABELS.items()),
                         validators=[Optional()])
    intent_product = Text(_l("Product of interest"), validators=[Optional(), Length(max=200)])
    intent_level = SelectField(_l("Intent"), choices=[("", _l("— Intent —"))] + list(INTENT_LABELS.items()),
                               validators=[Optional()])
    status = SelectField(_l("Status"), choices=[(s, STATUS_LABELS[s]) for s in EDITABLE_STATUSES], default="new")
    pool_id = SelectField(_l("Lead pool"), coerce=str, validators=[Optional()],
                          description=_l("Where the lead goes when nobody owns it."))
    owner_id = OwnerSelect(_l("Owner"), coerce=str, validators=[Optional()],
                           description=_l("Leave empty to own it yourself; choose the pool to leave it unowned."))
    remark = LongText(_l("Remark"), validators=[Optional(), Length(max=2000)])
    confirm_duplicate = BooleanField(_l("Save it anyway: it is someone new, not that customer"))

    POOL = "pool"  # the owner choice that leaves the lead in its pool

    def __init__(self, *args, owner_choices=(), pool_choices=(), me=None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.owner_id is not None:  # the edit form has none
            self.owner_id.leave_out(me)
            self.owner_id.choices = [("", _l("— Me —")), (self.POOL, _l("— Nobody: leave it in the pool —"))] + [
                (str(uid), name) for uid, name in owner_choices]
        self.pool_id.choices = [("", _l("— Default public pool —"))] + [(str(pid), name) for pid, name in pool_choices]


class LeadEditForm(LeadForm):
    """Editing changes the lead's fields; who owns it changes by claim, assign and return."""

    owner_id = None
    confirm_duplicate = None  # asked when a lead is started, not at each edit


class LeadPoolForm(FlaskForm):
    pool_name = Text(_l("Pool name"), validators=[NotBlank(), Length(max=100)])
    description = LongText(_l("Description"), validators=[Optional(), Length(max=2000)])
    is_public = BooleanField(_l("Public: every sales user may claim from it"), default=True)
    dept_id = SelectField(_l("Department"), coerce=str, validators=[Optional()],
                          description=_l("A department's own pool: only that department's users claim from it."))
    recycle_days = IntegerField(_l("Recycle after (days without follow-up)"),
                                validators=[Optional(), NumberRange(min=1, max=3650)],
                                description=_l("Owned leads not followed up for this long go back to the pool. "
                                               "Empty: never."))

    def __init__(self, *args, dept_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.dept_id.choices = [("", _l("— None —"))] + [(str(did), name) for did, name in dept_choices]

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        # a department's pool names its department, a public one none (checked after the fields themselves)
        if self.is_public.data and self.dept_id.data:
            self.dept_id.errors = [*self.dept_id.errors, _l("A public pool belongs to no department.")]
            return False
        if not self.is_public.data and not self.dept_id.data:
            self.dept_id.errors = [*self.dept_id.errors, _l("Choose the department whose pool this is.")]
            return False
        return valid


class ReasonForm(FlaskForm):
    """Returning a lead to its pool."""

    reason = Text(_l("Reason"), validators=[NotBlank(), Length(max=200)])


class AssignForm(FlaskForm):
    to_user_id = Select(_l("Assign to"), coerce=str, validators=[NotBlank()])

    def __init__(self, *args, user_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.to_user_id.choices = [("", _l("— Choose —"))] + [(str(uid), name) for uid, name in user_choices]

    @property
    def user_id(self):
        return int(self.to_user_id.data)


class ConvertForm(FlaskForm):
    """Conversion: the new customer (pre-filled from the lead), optionally a contact, or an existing customer
    to attach the lead to instead."""

    customer_type = SelectField(_l("Customer type"), choices=list(TYPE_LABELS.items()), default="enterprise")
    # no Optional() on the conditionally required fields: it stops the chain before their validate_* methods
    customer_name = Text(_l("Customer name"), validators=[Length(max=200)])
    phone = Phone(_l("Phone"), validators=[Optional(), PhoneE164()])
    tax_id = Text(_l("Unified social credit code"), validators=[Optional(), CreditCode()])
    level = SelectField(_l("Level"), choices=list(LEVEL_LABELS.items()), default="normal")
    with_contact = BooleanField(_l("Also create a contact from the lead"))
    contact_name = Text(_l("Contact name"), validators=[Length(max=100)])
    contact_phone = Phone(_l("Contact mobile"), validators=[PhoneE164()])
    contact_position = Text(_l("Contact position"), validators=[Optional(), Length(max=100)])
    attach_to = RecordId(_l("Attach to existing customer"), validators=[Optional(), NumberRange(min=1, max=2**63 - 1)],
                         description=_l("Instead of creating a customer, link the lead to this one."))
    confirm_duplicate = BooleanField(_l("Create it anyway: it is not the same customer"))

    def validate_customer_name(self, field):
        if not self.attach_to.data and not (field.data or "").strip():
            raise ValidationError(_l("This field is required."))

    def validate_tax_id(self, field):
        if field.data and self.customer_type.data != "enterprise":
            raise ValidationError(_l("Only an enterprise has a unified social credit code."))

    def validate_contact_name(self, field):
        if self.with_contact.data and not (field.data or "").strip():
            raise ValidationError(_l("This field is required."))

    def validate_contact_phone(self, field):
        if self.with_contact.data and not field.data:
            raise ValidationError(_l("This field is required."))
