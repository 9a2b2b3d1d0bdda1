"""What the outbox endpoint answers."""

from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, Id, Time, nullable


class OutboxMessageSchema(Answer):
    id = Id()
    channel = fields.String(validate=OneOf(["sms", "email"]))
    to = fields.String()
    subject = nullable()
    body = fields.String()
    purpose = nullable()
    backend = fields.String()
    status = fields.String(validate=OneOf(["recorded", "sent", "failed"]))
    error = nullable()
    created_at = Time()
