"""The customer form: validates the page's post and the API's JSON body alike."""

import re

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from common.fields import CONTROL_MESSAGE, CONTROLS, LocalDateTime, LongText, OwnerSelect, Phone, Text
from common.regions import cities_by_province, city_choices, province_choices
from common.validators import CreditCode, NotBlank, PhoneE164

TYPE_LABELS = {"enterprise": _l("Enterprise"), "individual": _l("Individual")}
LEVEL_LABELS = {"important": _l("Important"), "normal": _l("Normal"), "potential": _l("Potential")}
STATUS_LABELS = {"active": _lp("customer status", "Active"), "inactive": _lp("customer status", "Inactive"),
                 "in_pool": _l("In the public pool")}
EDITABLE_STATUSES = ("active", "inactive")
DEAL_STATUS_LABELS = {"potential": _l("Prospect"), "won": _l("Won"), "lost": _l("Lost")}
SOURCE_LABELS = {
    "website": _l("Website"), "exhibition": _l("Exhibition"), "referral": _l("Referral"),
    "cold_call": _l("Cold call"), "advertising": _l("Advertising"), "wechat": _l("WeChat"),
    "lead": _l("Converted lead"), "other": _l("Other"),
}
# broad sections of GB/T 4754 (国民经济行业分类), the ones a property company's customers come from
INDUSTRY_LABELS = {
    "real_estate": _l("Real estate"), "manufacturing": _l("Manufacturing"), "it": _l("Information technology"),
    "finance": _l("Finance"), "retail": _l("Wholesale and retail"), "hospitality": _l("Hotels and catering"),
    "education": _l("Education"), "health": _l("Health care"), "public": _l("Government and public institutions"),
    "logistics": _l("Transport and logistics"), "other": _l("Other"),
}
SCALE_LABELS = {
    "lt50": _l("Fewer than 50 people"), "50_199": _l("50–199 people"), "200_999": _l("200–999 people"),
    "1000_plus": _l("1,000 people or more"),
}
TAG_MAX, TAG_LENGTH = 10, 30
LABELS = {"types": TYPE_LABELS, "levels": LEVEL_LABELS, "statuses": STATUS_LABELS, "deals": DEAL_STATUS_LABELS,
          "industries": INDUSTRY_LABELS, "scales": SCALE_LABELS, "sources": SOURCE_LABELS}


def _choices(labels, blank=None):
    items = list(labels.items())
    return ([("", blank)] if blank is not None else []) + items


class TagsField(StringField):
    """Tags as one text (``重点, 老客户``) on the page or a list in JSON; stored one row per tag."""

    accepts_list = True  # common.forms: a JSON list is its values

    def process_formdata(self, valuelist):
        parts = []
        for raw in valuelist:
            parts += re.split(r"[,，、;；\s]+", str(raw))  # 、: how a Chinese export joins them
        seen = []
        for tag in (p.strip() for p in parts):
            if tag and tag not in seen:
                seen.append(tag)
        self.data = seen

    def process_data(self, value):
        self.data = list(value or [])

    def _value(self):
        return ", ".join(self.data or [])

    def pre_validate(self, form):
        if any(CONTROLS.search(t) for t in self.data or []):
            raise ValidationError(CONTROL_MESSAGE)
        if len(self.data or []) > TAG_MAX:
            raise ValidationError(_l("At most %(n)d tags.", n=TAG_MAX))
        if any(len(t) > TAG_LENGTH for t in self.data or []):
            raise ValidationError(_l("A tag has at most %(n)d characters.", n=TAG_LENGTH))


class CustomerForm(FlaskForm):
    customer_type = SelectField(_l("Customer type"), choices=_choices(TYPE_LABELS), default="enterprise")
    customer_name = Text(_l("Customer name"), validators=[NotBlank(), Length(max=200)])
    phone = Phone(_l("Phone"), validators=[Optional(), PhoneE164()],
                 description=_l("Mobile or landline; one customer per number."))
    tax_id = Text(_l("Unified social credit code"), validators=[Optional(), CreditCode()],
                  description=_l("Enterprises only; 18 characters."))
    industry = SelectField(_l("Industry"), choices=_choices(INDUSTRY_LABELS, _l("— Industry —")),
                           validators=[Optional()])
    scale = SelectField(_l("Company size"), choices=_choices(SCALE_LABELS, _l("— Size —")), validators=[Optional()])
    province_code = SelectField(_l("Province"), validators=[Optional()])
    city_code = SelectField(_l("City"), validators=[Optional()])
    address = Text(_l("Address"), validators=[Optional(), Length(max=500)])
    level = SelectField(_l("Level"), choices=_choices(LEVEL_LABELS), default="normal")
    deal_status = SelectField(_l("Deal status"), choices=_choices(DEAL_STATUS_LABELS), default="potential")
    source = SelectField(_l("Source"), choices=_choices(SOURCE_LABELS, _l("— Source —")), validators=[Optional()])
    owner_id = OwnerSelect(_l("Owner"), coerce=str, validators=[Optional()],
                           description=_l("Leave empty to own it yourself."))
    next_follow_up_at = LocalDateTime(_l("Next follow-up"), validators=[Optional()])
    tags = TagsField(_l("Tags"), description=_l("Separate tags with commas."))
    remark = LongText(_l("Remark"), validators=[Optional(), Length(max=2000)])
    confirm_duplicate = BooleanField(_l("Create it anyway: it is not the same customer"))

    def __init__(self, *args, owner_choices=(), me=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner_id.leave_out(me)
        # names in the reader's language (Guangdong, Shaoguan in English); the codes stored are the same
        self.province_code.choices = [("", _l("— Province —"))] + province_choices()
        cities = city_choices()
        self.city_code.choices = {"": [("", _l("— City —"))],
                                  **{name: cities[code] for code, name in province_choices()}}
        self.owner_id.choices = [("", _l("— Me —"))] + [(str(uid), name) for uid, name in owner_choices]

    def validate_tax_id(self, field):
        if field.data and self.customer_type.data != "enterprise":
            raise ValidationError(_l("Only an enterprise has a unified social credit code."))

    def validate_scale(self, field):
        if field.data and self.customer_type.data != "enterprise":
            raise ValidationError(_l("Only an enterprise has a company size."))

    def validate_city_code(self, field):
        if not field.data:
            return
        if not self.province_code.data:
            raise ValidationError(_l("Choose the province first."))
        if field.data not in dict(cities_by_province().get(self.province_code.data, [])):
            raise ValidationError(_l("This city is not in the chosen province."))

    @property
    def owner(self):
        return int(self.owner_id.data) if self.owner_id.data else None


class CustomerEditForm(CustomerForm):
    """Editing also sets whether the customer is worked (活跃) or set aside (非活跃); a customer enters and leaves
    the public pool only by the pool's own actions. Not sent, the status stays as it is."""

    status = SelectField(_l("Status"), choices=[(k, STATUS_LABELS[k]) for k in EDITABLE_STATUSES],
                         validators=[Optional()], validate_choice=False,
                         description=_l("Inactive: kept, but not being worked for now."))

    def validate_status(self, field):
        if field.data not in (None, "", *STATUS_LABELS):
            raise ValidationError(_l("Not a valid choice."))


class DuplicateQuery(FlaskForm):
    """The duplicate check's query string (at least one of the three)."""

    name = StringField(_l("Company name"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    tax_id = StringField(_l("Unified social credit code"), validators=[Optional(), Length(max=18)])
