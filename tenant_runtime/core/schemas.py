"""Output-schema pieces the CRM's resources share, on top of common.schemas (ids as strings, times with
their offset, every field always present)."""

from marshmallow import fields, post_dump

from common.schemas import Answer, Derived, Id, Time, computed, nullable


class Ref(Answer):
    """A related row as ``{"id", "name"}``."""

    id = Id()
    name = fields.String()


def ref(obj_id, name):
    return None if obj_id is None else {"id": str(obj_id), "name": name}


USER_ID_FIELDS = frozenset({"created_by", "deleted_by", "dnc_set_by"})  # ids whose names do not end in _id


class ChangeSchema(Answer):
    field = fields.String()
    old = fields.Raw(allow_none=True, metadata={"description": "the value before (times in UTC with an offset; "
                                                               "the id of a record, as a string)"})
    new = fields.Raw(allow_none=True)

    @post_dump
    def ids_as_strings(self, data, **_kw):
        """An owner or a department changed, or who created the record, is an id: a string, as every id in this
        API."""
        if data["field"].endswith("_id") or data["field"] in USER_ID_FIELDS:
            for key in ("old", "new"):
                if isinstance(data[key], int) and not isinstance(data[key], bool):
                    data[key] = str(data[key])
        return data


class HistoryEntrySchema(Answer):
    """One change of one record: who, when, which fields from what to what."""

    id = Id()
    action = fields.String(metadata={"description": "create, update, delete, restore"})
    user_id = nullable(Id)
    user_name = nullable()
    changes = fields.List(fields.Nested(ChangeSchema))
    created_at = Time()


STRINGS = {"type": "array", "items": {"type": "string"}}

__all__ = ["Answer", "ChangeSchema", "Derived", "HistoryEntrySchema", "Id", "Ref", "STRINGS", "Time", "computed",
           "nullable", "ref"]
