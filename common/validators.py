"""Field rules shared by forms: Chinese phone numbers, unified social credit codes, money."""

import functools
import re
from decimal import Decimal, InvalidOperation

import phonenumbers
from flask_babel import lazy_gettext as _l
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError
from wtforms.validators import StopValidation, ValidationError


def normalize_phone(value):
    """The number as dialled within China, digits only (``13800138000``, ``01062345678``,
    ``4008008888``), or None when it is not a valid mainland number."""
    if not value:
        return None
    try:
        number = phonenumbers.parse(str(value).strip(), "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isdigit())


def display_phone(value):
    """A stored number as people write it: a landline with its area code apart (``010-85888888``), a
    service number grouped (``400-812-3123``), a mobile as its 11 digits. Anything else as it is."""
    if not value:
        return value or ""
    return _display_phone(value) if isinstance(value, str) else _display_phone.__wrapped__(value)


@functools.lru_cache(maxsize=4096)
def _display_phone(value):
    """``display_phone`` of a non-empty value, remembered: parsing and classifying a number with phonenumbers
    costs about 0.1 ms, and a list page shows twenty of them on every request."""
    try:
        number = phonenumbers.parse(str(value).strip(), "CN")
    except phonenumbers.NumberParseException:
        return value
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return value
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)  # "010 8588 8888"
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        area, _sep, local = national.partition(" ")
        return f"{area}-{local.replace(' ', '')}"
    if kind == phonenumbers.PhoneNumberType.MOBILE:
        return "".join(ch for ch in national if ch.isdigit())
    return national.replace(" ", "-")


def is_mobile(value):
    try:
        number = phonenumbers.parse(str(value).strip(), "CN")
    except phonenumbers.NumberParseException:
        return False
    return number.country_code == 86 and phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ) and phonenumbers.is_valid_number(number)


class ChinesePhone:
    """A valid mainland China number; ``mobile_only`` for numbers that must receive SMS."""

    def __init__(self, mobile_only=False):
        self.mobile_only = mobile_only

    def __call__(self, form, field):
        if not field.data:
            return
        normalized = normalize_phone(field.data)
        if normalized is None or (self.mobile_only and not is_mobile(field.data)):
            message = _l("Enter a valid mainland China mobile number.") if self.mobile_only else _l(
                "Enter a valid mainland China phone number."
            )
            raise StopValidation(message)
        field.data = normalized


def is_credit_code(value):
    """Whether ``value`` is an 18-character unified social credit code with a valid check digit."""
    return isinstance(value, str) and len(value) == 18 and uscc.is_valid(value)


class CreditCode:
    """An 18-character unified social credit code (统一社会信用代码) with a valid checksum."""

    def __call__(self, form, field):
        if not field.data:
            return
        value = str(field.data).strip().upper()
        if len(value) != 18:
            raise StopValidation(_l("A unified social credit code has exactly 18 characters."))
        try:
            field.data = uscc.validate(value)
        except StdnumError:
            raise StopValidation(_l("This is not a valid unified social credit code (check digit mismatch).")) from None


class Money:
    """A positive decimal with at most two places."""

    def __call__(self, form, field):
        if field.data is None:
            return
        if isinstance(field.data, str) and not re.fullmatch(r"-?\d+(\.\d+)?", field.data):
            # Decimal also reads 1e5, +5 and 5_000: an amount is written in digits and a point (as the API
            # document's pattern says; a minus is let through to be told the amount must be above zero)
            raise StopValidation(_l("Enter an amount such as 12800.00."))
        try:
            value = Decimal(field.data)
        except (InvalidOperation, TypeError):
            raise StopValidation(_l("Enter an amount such as 12800.00.")) from None
        if not value.is_finite():  # NaN/Infinity: comparing NaN raises and Infinity has no exponent (a 500)
            raise StopValidation(_l("Enter an amount such as 12800.00."))
        if value <= 0:
            raise StopValidation(_l("The amount must be greater than zero."))
        if value.as_tuple().exponent < -2:
            raise StopValidation(_l("The amount may have at most two decimal places."))
        if value >= Decimal("1e12"):
            raise StopValidation(_l("The amount is too large."))
        field.data = value.quantize(Decimal("0.01"))


class NotBlank:
    """Reject values that are only whitespace, after stripping them."""

    def __call__(self, form, field):
        if isinstance(field.data, str):
            field.data = field.data.strip()
        if not field.data:
            raise StopValidation(_l("This field is required."))


class Chosen:
    """A record chosen by its id (the customer of a contact or a follow-up) must be given: left out, blank or null,
    the field says ``message`` (not "Not a valid integer value."), together with the form's other errors. With
    ``unless`` naming another field that is given (a follow-up on a lead), it may be left out, as with
    ``Optional``."""

    def __init__(self, message, unless=None):
        self.message, self.unless = message, unless

    def __call__(self, form, field):
        if not _blank(field.raw_data):
            return
        field.errors[:] = []
        if self.unless and not _blank(form[self.unless].raw_data):
            raise StopValidation()
        raise StopValidation(self.message)


def _blank(raw_data):
    return not raw_data or (isinstance(raw_data[0], str) and not raw_data[0].strip())


class StrongPassword:
    """The platform's rule for people's passwords (staff and tenant users alike): at least 10 characters,
    not only digits and not only letters."""

    def __call__(self, form, field):
        value = field.data or ""
        if value and (len(value) < 10 or value.isdigit() or value.isalpha()):
            raise ValidationError(_l("Use at least 10 characters mixing letters and digits."))


def strip(value):
    return value.strip() if isinstance(value, str) else value


def empty_to_none(value):
    value = strip(value)
    return value or None


__all__ = ["ChinesePhone", "Chosen", "CreditCode", "Money", "NotBlank", "StrongPassword", "ValidationError",
           "empty_to_none", "normalize_phone", "strip"]


def to_e164(value):
    """A valid mainland China number in E.164 (``+8613800138000``, ``+861062345678``), or None."""
    if not value:
        return None
    try:
        number = phonenumbers.parse(str(value).strip(), "CN")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PhoneE164:
    """A valid mainland China phone number, stored as E.164 (the CRM's form of a phone)."""

    def __call__(self, form, field):
        if not field.data:
            return
        normalized = to_e164(field.data)
        if normalized is None:
            raise StopValidation(_l("Enter a valid mainland China phone number."))
        field.data = normalized
