"""What the audit-log endpoint answers."""

from marshmallow import fields, post_dump

from common.schemas import Answer, Id, Time, nullable


class AuditEventSchema(Answer):
    id = Id()
    created_at = Time()
    actor_id = nullable(Id)
    actor = fields.String(metadata={"description": "username, public or cli:<user>"})
    ip = nullable()
    action = fields.String()
    record_type = fields.String()
    record_id = nullable()
    before = nullable(fields.Dict, attribute="before_shown",
                      metadata={"description": "changed values before (secrets redacted)"})
    after = nullable(fields.Dict, attribute="after_shown",
                     metadata={"description": "changed values after (secrets redacted; ids as strings)"})

    @post_dump
    def ids_as_strings(self, data, **_kw):
        """A record's id among the values (``id``, ``enterprise_id``, ``staff_id``...) is a string, as every id in
        this API."""
        for key in ("before", "after"):
            values = data.get(key)
            if values:
                data[key] = {k: str(v) if _an_id(k, v) else v for k, v in values.items()}
        return data


def _an_id(key, value):
    return (key == "id" or key.endswith("_id")) and isinstance(value, int) and not isinstance(value, bool)
