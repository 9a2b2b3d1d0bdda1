"""What the registration, application and return-visit endpoints answer."""

from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, Id, Time, nullable

from .models import CHANNELS, INTENT_LEVELS, STATUSES


class SmsCodeSentSchema(Answer):
    phone = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds the code stays valid"})


class ApplicationSchema(Answer):
    id = Id()
    name = fields.String()
    phone = fields.String()
    company_name = nullable()
    channel = fields.String(validate=OneOf(list(CHANNELS)))
    status = fields.String(validate=OneOf(list(STATUSES)))
    owner_id = nullable(Id)
    owner = nullable(attribute="owner.display_name")
    registered_at = Time()
    phone_verified = fields.Boolean()
    next_follow_up_at = nullable(Time)
    intent_level = nullable(attribute="last_intent_level", validate=OneOf(list(INTENT_LEVELS)))
    remarks = nullable()
    enterprise_id = nullable(Id)
    updated_at = Time()


class FollowUpSchema(Answer):
    id = Id()
    application_id = Id()
    content = fields.String()
    intent_level = fields.String(validate=OneOf(list(INTENT_LEVELS)))
    next_follow_up_at = nullable(Time)
    staff_id = nullable(Id)
    staff = nullable(attribute="staff.display_name")
    created_at = Time()


class ApplicationDetailSchema(ApplicationSchema):
    follow_ups = fields.Nested(FollowUpSchema, many=True)


class FollowUpCreatedSchema(FollowUpSchema):
    """The new return visit, with the application as it now stands (status, next follow-up)."""

    application = fields.Nested(ApplicationSchema)
