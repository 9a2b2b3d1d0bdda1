"""The customer's JSON shape."""

from marshmallow import fields

from common.regions import city_name, province_name

from ..core.schemas import STRINGS, Answer, Derived, Id, Ref, Time, computed, nullable, ref


class CustomerSchema(Answer):
    id = Id()
    customer_type = fields.String(metadata={"enum": ["enterprise", "individual"]})
    customer_name = fields.String()
    phone = nullable(metadata={"description": "E.164, e.g. +8613800138000"})
    tax_id = nullable(metadata={"description": "unified social credit code (enterprises only)"})
    industry = nullable()
    scale = nullable()
    province_code = nullable()
    province_name = computed(lambda c: province_name(c.province_code) if c.province_code else None,
                             {"type": "string", "nullable": True})
    city_code = nullable()
    city_name = computed(lambda c: city_name(c.province_code, c.city_code) if c.city_code else None,
                         {"type": "string", "nullable": True})
    address = nullable()
    level = fields.String(metadata={"enum": ["important", "normal", "potential"]})
    status = fields.String(metadata={"enum": ["active", "inactive", "in_pool"]})
    deal_status = fields.String(metadata={"enum": ["potential", "won", "lost"]})
    source = nullable()
    owner = Derived(lambda c: ref(c.owner_id, c.owner.full_name if c.owner_id else None), Ref, allow_none=True)
    dept = Derived(lambda c: ref(c.dept_id, c.dept.dept_name if c.dept_id else None), Ref, allow_none=True)
    tags = computed(lambda c: sorted(c.tag_names), STRINGS)
    last_follow_up_at = nullable(Time)
    next_follow_up_at = nullable(Time)
    remark = nullable()
    created_by = Id()
    created_at = Time()
    updated_at = Time()


class DuplicateSchema(Answer):
    """A customer found by the duplicate check; one the user may not see shows no id and a masked owner."""

    id = nullable(Id)
    customer_name = fields.String()
    matched_on = fields.List(fields.String(metadata={"enum": ["phone", "tax_id", "name", "similar_name"]}))
    owner_name = nullable()
    owner_dept = nullable(metadata={"description": "the owner's department, shown also where the owner's name is masked"})
    in_pool = fields.Boolean()
    deleted = fields.Boolean()
    visible = fields.Boolean()
