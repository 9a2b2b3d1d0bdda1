"""The contact form (page and API)."""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField
from wtforms.validators import Email, Length, NumberRange, Optional

from common.fields import LongText, Phone, RecordId, Text
from common.validators import Chosen, NotBlank, PhoneE164

# how the contact likes to be reached: 电话 and 邮件 (a call, a message), not the fields 手机号 and 邮箱
PREFERENCE_LABELS = {"phone": _lp("contact preference", "Phone"), "wechat": _l("WeChat"),
                     "email": _lp("contact preference", "Email"), "visit": _l("Visit")}


class ContactForm(FlaskForm):
    customer_id = RecordId(_l("Customer"), validators=[Chosen(_l("Choose a customer.")),
                                                       NumberRange(min=1, max=2**63 - 1)])
    contact_name = Text(_l("Name"), validators=[NotBlank(), Length(max=100)])
    position = Text(_l("Position"), validators=[Optional(), Length(max=100)])
    phone = Phone(_l("Mobile"), validators=[NotBlank(), PhoneE164()])
    email = Text(_l("Email"), validators=[Optional(), Email(message=_l("Enter a valid email address.")),
                                          Length(max=100)])
    wechat = Text(_l("WeChat ID"), validators=[Optional(), Length(max=64)])
    communication_preference = SelectField(_l("Prefers"), validators=[Optional()],
                                           choices=[("", _l("— No preference —"))] + list(PREFERENCE_LABELS.items()))
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    is_key = BooleanField(_l("Key decision maker"))
    is_primary = BooleanField(_l("Primary contact"))
    do_not_contact = BooleanField(_l("Do not contact"),
                                  description=_l("No SMS, email or call from this company's CRM reaches this person."))
    remark = LongText(_l("Remark"), validators=[Optional(), Length(max=2000)])
