"""What the staff and token endpoints answer."""

from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, Id, Time, nullable

from .models import ROLES


class StaffRefSchema(Answer):
    id = Id()
    username = fields.String()
    roles = fields.List(fields.String(validate=OneOf(ROLES)))


class TokenSchema(Answer):
    """A new bearer token; only its hash is kept, so this is the one time it is shown."""

    token = fields.String()
    expires_at = Time()
    user = fields.Nested(StaffRefSchema)


class StaffSchema(StaffRefSchema):
    full_name = fields.String()
    phone = nullable()
    email = nullable()
    is_active = fields.Boolean()
    created_at = Time()
    last_login_at = nullable(Time)
