"""The contact's JSON shape."""

from marshmallow import fields

from ..core.schemas import Answer, Id, Time, computed, nullable


class ContactSchema(Answer):
    id = Id()
    customer_id = Id()
    customer_name = computed(lambda c: c.customer.customer_name if c.customer else None,
                             {"type": "string", "nullable": True})
    contact_name = fields.String()
    position = nullable()
    phone = fields.String(metadata={"description": "E.164"})
    email = nullable()
    wechat = nullable()
    communication_preference = nullable()
    birthday = nullable(fields.Date)
    is_key = fields.Boolean()
    is_primary = fields.Boolean()
    do_not_contact = fields.Boolean()
    dnc_set_by = nullable(Id)
    dnc_set_at = nullable(Time)
    owner_id = nullable(Id)
    remark = nullable()
    created_at = Time()
    updated_at = Time()
