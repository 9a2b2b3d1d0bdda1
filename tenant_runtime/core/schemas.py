"""Marshmallow fields for the API's conventions (shared/API.md): ids are strings, times ISO 8601 with an
offset in the tenant's zone, dates YYYY-MM-DD."""

from marshmallow import Schema, fields

from common.timeutil import isoformat


class Id(fields.Field):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


class Time(fields.Field):
    """A stored naive-UTC datetime as local ISO 8601 with its offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        return isoformat(value)


class Ref(Schema):
    """A related row as ``{"id", "name"}``."""

    id = Id()
    name = fields.String()


def ref(obj_id, name):
    return None if obj_id is None else {"id": str(obj_id), "name": name}
