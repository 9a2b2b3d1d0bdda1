"""The follow-up's JSON shape."""

from marshmallow import fields

from ..core.schemas import Answer, Derived, Id, Time, computed, nullable


class AttachmentSchema(Answer):
    id = Id()
    file_name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    created_at = Time()


class FollowUpSchema(Answer):
    id = Id()
    relation_type = fields.String(metadata={"enum": ["customer", "lead"]})
    relation_id = Id()
    contact_id = nullable(Id)
    follow_type = fields.String(metadata={"enum": ["phone", "visit", "wechat", "email", "other"]})
    content = fields.String()
    next_follow_time = nullable(Time)
    next_content = nullable()
    created_by = Id()
    created_by_name = computed(lambda f: getattr(f, "author_name", None), {"type": "string", "nullable": True})
    attachments = Derived(lambda f: getattr(f, "attachment_rows", []), AttachmentSchema, many=True)
    created_at = Time()
