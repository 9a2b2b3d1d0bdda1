"""The follow-up's JSON shape."""

from marshmallow import Schema, fields

from ..core.schemas import Id, Time


class AttachmentSchema(Schema):
    id = Id()
    file_name = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    created_at = Time()


class FollowUpSchema(Schema):
    id = Id()
    relation_type = fields.String()
    relation_id = Id()
    contact_id = Id(allow_none=True)
    follow_type = fields.String()
    content = fields.String()
    next_follow_time = Time(allow_none=True)
    next_content = fields.String(allow_none=True)
    created_by = Id()
    created_by_name = fields.Function(lambda f: getattr(f, "author_name", None))
    attachments = fields.Function(lambda f: AttachmentSchema(many=True).dump(getattr(f, "attachment_rows", [])))
    created_at = Time()
