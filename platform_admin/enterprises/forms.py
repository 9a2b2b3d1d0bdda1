from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField
from wtforms.validators import Email, Length, Optional, Regexp, ValidationError

from common import limits
from common.fields import LongText, Text
from common.regions import cities_by_province, city_choices, province_choices
from common.validators import ChinesePhone, CreditCode, NotBlank


def _province_choices():
    return [("", _l("— Province —"))] + province_choices()


def _city_choices():
    # Grouped by province so the page works without JavaScript; a script narrows it to one province.
    cities = city_choices()
    groups = {name: cities[code] for code, name in province_choices()}
    return {"": [("", _l("— City —"))], **groups}


class EnterpriseForm(FlaskForm):
    # Name, e-mail and contact are copied into the tenant's database: its columns set the limits.
    name = Text(_l("Enterprise name"), validators=[Optional(), Length(max=limits.ENTERPRISE_NAME)])
    license_no = Text(_l("Business licence number"), validators=[Optional(), CreditCode()],
                      description=_l("18-character unified social credit code"))
    province_code = SelectField(_l("Province"), validators=[Optional()])
    city_code = SelectField(_l("City"), validators=[Optional()])
    address = Text(_l("Detailed address"), validators=[Optional(), Length(max=255)])
    office_phone = Text(_l("Office phone"), validators=[Optional(), ChinesePhone()])
    email = Text(_l("Email"), validators=[Optional(), Email(message=_l("Enter a valid email address.")),
                                          Length(max=limits.EMAIL)])
    contact_name = Text(_l("Contact person"), validators=[Optional(), Length(max=limits.PERSON_NAME)])
    contact_phone = Text(_l("Contact phone"), validators=[Optional(), ChinesePhone()])
    introduction = LongText(_l("Introduction"), validators=[Optional(), Length(max=4000)])
    remarks = LongText(_l("Remarks"), validators=[Optional(), Length(max=4000)])
    license_scan = FileField(_l("Licence scan (JPG, PNG or PDF)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.province_code.choices = _province_choices()
        self.city_code.choices = _city_choices()

    def validate_city_code(self, field):
        if not field.data:
            return
        if not self.province_code.data:
            raise ValidationError(_l("Choose the province first."))
        if field.data not in dict(cities_by_province().get(self.province_code.data, [])):
            raise ValidationError(_l("This city is not in the chosen province."))

    def profile_data(self):
        """The profile columns, with region names resolved from their codes."""
        from common.regions import city_name, province_name

        data = {name: getattr(self, name).data or None for name in (
            "name", "license_no", "province_code", "city_code", "address", "office_phone", "email",
            "contact_name", "contact_phone", "introduction", "remarks")}
        data["province"] = province_name(data["province_code"]) if data["province_code"] else None
        data["city"] = city_name(data["province_code"], data["city_code"]) if data["city_code"] else None
        return data


EDITABLE_FIELDS = ("name", "license_no", "province_code", "city_code", "address", "office_phone", "email",
                   "contact_name", "contact_phone", "introduction", "remarks")


class SuspendForm(FlaskForm):
    """Maintenance mode for one tenant: what its users read meanwhile."""

    message = LongText(_l("Message to the company's users"), validators=[NotBlank(), Length(max=500)],
                       description=_l("Shown on every page of the company's CRM until it is resumed."))


class ImpersonateForm(FlaskForm):
    """A support pass: act as one tenant user, once, for two minutes."""

    username = Text(_l("Tenant user name"), validators=[NotBlank(), Length(max=limits.USERNAME)])
    reason = Text(_l("Reason"), validators=[NotBlank(), Length(max=255)],
                  description=_l("Recorded here and shown to the company's administrators."))


class EnterpriseFilters(FlaskForm):
    """The enterprise list's query string (API)."""

    status = SelectField(choices=[("0", "0"), ("1", "1"), ("not_opened", "not_opened"), ("closed", "closed")],
                         validators=[Optional()],
                         description="1 open, 0 not open (not_opened: never opened, closed: closed since)")
    province_code = StringField(validators=[Optional(), Regexp(r"^\d{2}(0000)?$", message=_l("Use the two digits (31) or all six (310000)."))],
                                description="the province's GB/T 2260 code: its two digits as the profile stores them "
                                            "(31 for 上海) or all six (310000)")
    complete = SelectField(choices=[("0", "0"), ("false", "false")], validators=[Optional()],
                           description="0 or false: only profiles still missing an activation field")
    q = StringField(description="part of the name, enterprise number, licence number or contact phone")
