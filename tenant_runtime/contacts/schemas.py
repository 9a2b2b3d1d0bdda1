"""The contact's JSON shape."""

from marshmallow import Schema, fields

from ..core.schemas import Id, Time


class ContactSchema(Schema):
    id = Id()
    customer_id = Id()
    customer_name = fields.Function(lambda c: c.customer.customer_name if c.customer else None)
    contact_name = fields.String()
    position = fields.String(allow_none=True)
    phone = fields.String(metadata={"description": "E.164"})
    email = fields.String(allow_none=True)
    wechat = fields.String(allow_none=True)
    communication_preference = fields.String(allow_none=True)
    birthday = fields.Date(allow_none=True)
    is_key = fields.Boolean()
    is_primary = fields.Boolean()
    do_not_contact = fields.Boolean()
    dnc_set_by = Id(allow_none=True)
    dnc_set_at = Time(allow_none=True)
    owner_id = Id(allow_none=True)
    remark = fields.String(allow_none=True)
    created_at = Time()
    updated_at = Time()
