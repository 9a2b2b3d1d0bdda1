"""Building blocks of the API's answers (marshmallow): one place for the conventions of shared/API.md,
so every resource's output schema writes ids, times and money the same way and documents them so.

Ids are strings, times ISO 8601 with the local offset, money a decimal string, dates ``YYYY-MM-DD``.
"""

from datetime import UTC, datetime

from marshmallow import INCLUDE, Schema, fields, missing

from .timeutil import isoformat


class Answer(Schema):
    """An output schema: every declared field is always in the answer (``null`` where it allows none),
    so the document lists them all as required and a client can rely on the keys."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = True


class Id(fields.String):
    """A database id, written as a string (``"42"``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("pattern", r"^[0-9]+$")
        super().__init__(**kwargs)


class Time(fields.DateTime):
    """A stored naive-UTC time as ISO 8601 in the configured zone, with its offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)


class EpochTime(fields.DateTime):
    """A ``time.time()`` reading as ISO 8601 in the configured zone, with its offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return isoformat(datetime.fromtimestamp(value, UTC).replace(tzinfo=None))


class Money(fields.String):
    """An amount as a decimal string with two places (``"12800.00"``), never a float."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(pattern=r"^-?[0-9]+\.[0-9]{2}$", example="12800.00")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{value:.2f}"


def nullable(field_cls=fields.String, attribute=None, **kwargs):
    """A field that may be ``null``; with a dotted ``attribute`` (``"owner.username"``) it is ``null``
    when the related row is absent instead of missing from the answer."""
    return field_cls(attribute=attribute, allow_none=True, dump_default=None, **kwargs)


def computed(function, openapi_type, **kwargs):
    """A value computed from the object (``function(obj)``), documented as ``openapi_type``
    (a JSON schema such as ``{"type": "array", "items": {"type": "string"}}``)."""
    return fields.Function(function, metadata=dict(openapi_type), **kwargs)


class Derived(fields.Nested):
    """A nested answer computed from the object (``function(obj)``) rather than read from an attribute,
    documented by its schema like any nested one."""

    def __init__(self, function, nested, **kwargs):
        super().__init__(nested, **kwargs)
        self.function = function

    def get_value(self, obj, attr, accessor=None, default=missing):
        return self.function(obj)


class ErrorDetail(Schema):
    class Meta:
        unknown = INCLUDE  # some codes add keys: "missing", "found", "report", "run_id"

    code = fields.String(required=True, metadata={"description": "snake_case code, e.g. invalid_fields"})
    message = fields.String(required=True, metadata={"description": "human readable, in the request's language"})
    fields_ = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), data_key="fields",
                          metadata={"description": "only where input was invalid: field name -> reasons"})


class Error(Schema):
    """Every error answer: ``{"error": {"code", "message", "fields"?}}`` (some codes add keys)."""

    error = fields.Nested(ErrorDetail, required=True)
