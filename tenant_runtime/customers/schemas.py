"""The customer's JSON shape."""

from marshmallow import Schema, fields

from common.regions import city_name, province_name

from ..core.schemas import Id, Ref, Time


class CustomerSchema(Schema):
    id = Id()
    customer_type = fields.String()
    customer_name = fields.String()
    phone = fields.String(allow_none=True, metadata={"description": "E.164"})
    tax_id = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    scale = fields.String(allow_none=True)
    province_code = fields.String(allow_none=True)
    province_name = fields.Function(lambda c: province_name(c.province_code) if c.province_code else None)
    city_code = fields.String(allow_none=True)
    city_name = fields.Function(
        lambda c: city_name(c.province_code, c.city_code) if c.city_code else None)
    address = fields.String(allow_none=True)
    level = fields.String()
    status = fields.String()
    deal_status = fields.String()
    source = fields.String(allow_none=True)
    owner = fields.Function(lambda c: {"id": str(c.owner_id), "name": c.owner.full_name} if c.owner_id else None,
                            metadata={"schema": Ref})
    dept = fields.Function(lambda c: {"id": str(c.dept_id), "name": c.dept.dept_name} if c.dept_id else None,
                           metadata={"schema": Ref})
    tags = fields.Function(lambda c: sorted(c.tag_names))
    last_follow_up_at = Time(allow_none=True)
    next_follow_up_at = Time(allow_none=True)
    remark = fields.String(allow_none=True)
    created_by = Id()
    created_at = Time()
    updated_at = Time()
