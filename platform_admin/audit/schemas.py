"""What the audit-log endpoint answers."""

from marshmallow import fields

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
                     metadata={"description": "changed values after (secrets redacted)"})
