"""Form fields with the coercions every form here needs (trimmed text, empty as None)."""

import re
from typing import ClassVar

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TelInput

from .i18n import list_join
from .timeutil import from_local
from .validators import display_phone, empty_to_none

LINE_BREAKS = re.compile(r"[\t\r\n\v\f\u2028\u2029]+")  # in a one-line field: a space (pasted from a sheet)
# No text anyone reads holds these: C0/C1 controls, and the bidirectional overrides and isolates that make
# 物业\u202egpj.exe show as something else ("Trojan Source"); the plain marks LRM/RLM stay allowed.
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CONTROL_MESSAGE = _l("Remove the invisible control characters from this text.")


def one_line(value):
    return LINE_BREAKS.sub(" ", value).strip() if isinstance(value, str) else value


def refuse_controls(field):
    if isinstance(field.data, str) and CONTROLS.search(field.data):
        raise ValidationError(CONTROL_MESSAGE)


class Text(StringField):
    """One line of text: trimmed, empty as None, line breaks and tabs as a space, control characters refused (a
    NUL or an escape in a name breaks exports, search and whatever reads it next)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("filters", [])
        kwargs["filters"] = [one_line, empty_to_none, *kwargs["filters"]]
        super().__init__(*args, **kwargs)

    def pre_validate(self, form):
        refuse_controls(self)


class Phone(Text):
    """A phone number, shown in the form as people write it (a mobile as its 11 digits, a landline as
    ``010-85888888``) whether it holds what was typed, the E.164 a validator made of it or a stored value: a
    form re-shown after an error, an edit page and a form pre-filled from a record all read alike. What the
    form hands on (``data``) stays as the validators left it. An ``<input type="tel">`` wherever it is shown, so
    that a phone opens its number pad (the lead forms showed a full keyboard)."""

    widget = TelInput()

    def _value(self):
        return display_phone(self.data) if self.data else ""


class LongText(TextAreaField):
    """Text of several lines: empty as None, control characters other than tabs and line breaks refused."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("filters", [])
        kwargs["filters"] = [empty_to_none, *kwargs["filters"]]
        super().__init__(*args, **kwargs)

    def pre_validate(self, form):
        refuse_controls(self)


class OwnerSelect(SelectField):
    """A record's owner: "— Me —" first, then the others the user may choose. The user's own entry (``unlisted``)
    is a valid value, an API client's own id, but is not offered: "— Me —" says it, and the list offered both."""

    unlisted = frozenset()

    def leave_out(self, me):
        """Offer every choice but ``me`` (the signed-in user's id; None: every choice)."""
        self.unlisted = frozenset({str(me)}) if me else frozenset()

    def iter_choices(self):
        return (choice for choice in super().iter_choices() if choice[0] not in self.unlisted)

    def pre_validate(self, form):
        if self.data not in self.unlisted:
            super().pre_validate(form)


class Select(SelectField):
    """A required choice, answered with one message: left out or blank, only its validator's "required" (not
    also "Not a valid choice."); not among the choices, ``invalid`` (or WTForms' "Not a valid choice.") and
    nothing more checked."""

    def __init__(self, *args, invalid=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.invalid = invalid

    def pre_validate(self, form):
        if self.data in (None, ""):
            return  # the validators say it is required
        try:
            super().pre_validate(form)
        except ValidationError as exc:
            raise StopValidation(self.invalid or exc.args[0]) from None


class MultiChoice(SelectMultipleField):
    """Several choices: those not among them named in one plain sentence, not WTForms' quoted Python list."""

    def pre_validate(self, form):
        if not self.validate_choice or not self.data:
            return
        acceptable = {self.coerce(choice[0]) for choice in self.iter_choices()}
        unknown = list(dict.fromkeys(str(value) for value in self.data if value not in acceptable))
        if unknown:
            raise ValidationError(_l("Not valid choices: %(values)s.", values=list_join(unknown)))


class MultiCheckbox(MultiChoice):
    """Checkboxes on a page, a list in JSON."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RecordId(IntegerField):
    """The id of a record a body refers to (a contact's customer): ids are strings in this API (shared/API.md),
    and a JSON number is taken too."""

    openapi_schema: ClassVar[dict] = {"type": "string", "pattern": r"^[1-9][0-9]{0,18}$"}


class LocalDateTime(DateTimeLocalField):
    """``YYYY-MM-DDTHH:MM`` from a browser, also ISO 8601 with seconds or an offset from the API."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"])
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        self._parse(valuelist)
        if self.data is not None:
            # a time that cannot be stored as UTC on every backend (e.g. 0001-01-01 local, 9999-12-31-12:00)
            # is invalid input, not an overflow in the view
            try:
                year = from_local(self.data).year
            except OverflowError:
                year = 0
            if not 1000 <= year <= 9999:
                self.data = None
                raise ValueError(self.gettext("Not a valid datetime value."))

    def _parse(self, valuelist):
        if valuelist and valuelist[0]:
            from datetime import datetime

            try:
                parsed = datetime.fromisoformat(valuelist[0])
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                self.data = parsed
                return
        super().process_formdata(valuelist)


class Date(DateField):
    """``YYYY-MM-DD``."""
