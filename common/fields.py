"""Form fields with the coercions every form here needs (trimmed text, empty as None)."""

from wtforms import DateField, DateTimeLocalField, StringField, TextAreaField

from .timeutil import from_local
from .validators import display_phone, empty_to_none


class Text(StringField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("filters", [])
        kwargs["filters"] = [empty_to_none, *kwargs["filters"]]
        super().__init__(*args, **kwargs)


class Phone(Text):
    """A phone number, shown in the form as people write it (a mobile as its 11 digits, a landline as
    ``010-85888888``) whether it holds what was typed, the E.164 a validator made of it or a stored value: a
    form re-shown after an error, an edit page and a form pre-filled from a record all read alike. What the
    form hands on (``data``) stays as the validators left it."""

    def _value(self):
        return display_phone(self.data) if self.data else ""


class LongText(TextAreaField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("filters", [])
        kwargs["filters"] = [empty_to_none, *kwargs["filters"]]
        super().__init__(*args, **kwargs)


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
