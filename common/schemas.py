"""Building blocks of the API's answers (marshmallow): one place for the conventions of shared/API.md,
so every resource's output schema writes ids, times and money the same way and documents them so.

Ids are strings, times ISO 8601 with the local offset, money a decimal string, dates ``YYYY-MM-DD``.
"""

from datetime import UTC, datetime

from marshmallow import INCLUDE, Schema, fields, missing
from marshmallow.utils import _get_value_for_key

from .timeutil import isoformat, local_zone


class Answer(Schema):
    """An output schema: every declared field is always in the answer (``null`` where it allows none),
    so the document lists them all as required and a client can rely on the keys.

    Dumping goes through a plan made once per schema instance (``_plan``): the same steps marshmallow's
    ``Field.serialize`` takes, without its layers of calls per field, which cost more than the query on a
    list of 50 rows (bench/bench_crm.py). Fields that change how a value is read or written beyond what
    the plan knows (a dotted attribute, an overridden ``serialize``, ``Nested``, ``List``...) go through
    marshmallow itself; tests/test_schemas_fast_dump.py checks the answers are the same."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = True
        self._dump_plan = None
        self._has_times = False  # set by _plan

    def _serialize(self, obj, *, many=False):
        plan = self._dump_plan
        if plan is None:
            plan = self._dump_plan = self._plan()
        # the local zone looked up once per dump, not once per time (a list of 50 rows has 200 of them)
        zone = local_zone() if self._has_times else None
        if many and obj is not None:
            return [self._one(d, plan, zone) for d in obj]
        return self._one(obj, plan, zone)

    def _one(self, obj, plan, zone):
        ret = {}
        for key, kind, field, name in plan:
            if kind is _FUNCTION:
                ret[key] = field.serialize_func(obj)
                continue
            if kind is _DERIVED:  # field: the nested Answer; name: the function
                value = name(obj)
                ret[key] = None if value is None else field._serialize(value)
                continue
            if kind is _MARSHMALLOW:
                value = field.serialize(name, obj, accessor=self.get_attribute)
                if value is not missing:
                    ret[key] = value
                continue
            value = getattr(obj, name, missing) if not hasattr(obj, "__getitem__") else \
                _get_value_for_key(obj, name, missing)
            if value is missing:
                default = field.dump_default
                value = default() if callable(default) else default
                if value is missing:
                    continue
            if kind is _PLAIN:
                ret[key] = value
            elif kind is _STRING:
                ret[key] = value if value is None or type(value) is str else field._serialize(value, name, obj)
            elif kind is _TIME:  # Time._serialize (timeutil.isoformat) with the zone already at hand
                ret[key] = None if value is None else (
                    value if value.tzinfo is not None else value.replace(tzinfo=UTC)
                ).astimezone(zone).isoformat(timespec="seconds")
            else:  # _READ
                ret[key] = field._serialize(value, name, obj)
        return ret

    def _plan(self):
        """``(key, kind, field, attribute)`` per dumped field: how ``_serialize`` writes it."""
        plan, own_accessor = [], type(self).get_attribute is Schema.get_attribute and self.dict_class is dict
        for attr_name, field in self.dump_fields.items():
            key = field.data_key if field.data_key is not None else attr_name
            cls = type(field)
            standard = own_accessor and cls.serialize is fields.Field.serialize
            attribute = attr_name if field.attribute is None else field.attribute
            if standard and cls is fields.Function:
                plan.append((key, _FUNCTION, field, attr_name))
            elif standard and cls is Derived and not field.many and _plain_answer(nested := field.schema):
                plan.append((key, _DERIVED, nested, field.function))
            elif (standard and field._CHECK_ATTRIBUTE and cls.get_value is fields.Field.get_value
                  and isinstance(attribute, str) and "." not in attribute):
                if cls._serialize is fields.Field._serialize:
                    kind = _PLAIN
                elif cls is Time:
                    kind = _TIME
                elif cls._serialize is fields.String._serialize:
                    kind = _STRING
                else:
                    kind = _READ
                plan.append((key, kind, field, attribute))
            else:
                plan.append((key, _MARSHMALLOW, field, attr_name))
        self._has_times = any(kind is _TIME for _key, kind, _field, _name in plan)
        return plan


_PLAIN, _STRING, _TIME, _READ, _FUNCTION, _DERIVED, _MARSHMALLOW = (
    "plain", "string", "time", "read", "function", "derived", "marshmallow")


def _plain_answer(schema):
    """Whether dumping one object with ``schema`` is exactly its ``_serialize``: an Answer of one object,
    no pre/post-dump hooks (marshmallow's ``Nested`` would call ``dump``, which adds only those)."""
    return isinstance(schema, Answer) and not schema.many and not any(schema._hooks.values())


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
