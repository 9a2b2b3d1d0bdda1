"""The pool's JSON shapes."""

from marshmallow import fields

from common.regions import city_name, province_name

from ..core.schemas import (
    Answer,
    ChangeSchema,
    Derived,
    Id,
    Ref,
    Time,
    computed,
    nullable,
    ref,
)


class PoolEntrySchema(Answer):
    """A customer in the public pool, with its pool row."""

    id = Id(metadata={"description": "the customer's id"})
    customer_name = fields.String()
    level = fields.String(metadata={"enum": ["important", "normal", "potential"]})
    customer_type = fields.String()
    dept = Derived(lambda c: ref(c.dept_id, c.dept.dept_name if c.dept_id else None), Ref, allow_none=True)
    last_follow_up_at = nullable(Time)
    sea_time = nullable(Time, metadata={"description": "when it entered the pool"})
    recycle_reason = computed(lambda c: c.pool_row.recycle_reason if c.pool_row else None,
                              {"type": "string", "nullable": True,
                               "description": "inactive_days:<rule> or manual:<the reason given>"})
    inactive_days = computed(lambda c: c.pool_row.inactive_days if c.pool_row else None,
                             {"type": "integer", "nullable": True})
    original_owner = Derived(lambda c: c.original_owner, Ref, allow_none=True)
    pool_status = computed(lambda c: c.pool_row.pool_status if c.pool_row else "available",
                           {"type": "string", "enum": ["available", "assigned", "claimed"]})


class PoolMoveSchema(Answer):
    """The customer after a claim, an assignment or a return."""

    id = Id()
    customer_name = fields.String()
    status = fields.String(metadata={"enum": ["active", "inactive", "in_pool"]})
    owner = Derived(lambda c: ref(c.owner_id, c.owner.full_name if c.owner_id else None), Ref, allow_none=True)
    owned_since = nullable(Time)
    sea_time = nullable(Time)


class RuleSchema(Answer):
    id = Id()
    rule_name = fields.String()
    enabled = fields.Boolean()
    sort = fields.Integer()
    conditions = fields.Raw(metadata={"type": "object"})
    created_at = Time()
    updated_at = Time()


class SettingsSchema(Answer):
    remind_days_before = fields.Integer()
    daily_claim_cap = fields.Integer()
    holding_cap = fields.Integer()
    reclaim_cooldown_days = fields.Integer()
    exempt_open_opportunities = fields.Boolean()
    exempt_signed_contracts = fields.Boolean()
    exemptions_in_force = computed(lambda s: s.in_force, {"type": "array", "items": {"type": "string"},
                                                          "description": "exemptions switched on whose tables exist"})
    updated_at = Time()


class PreviewItemSchema(Answer):
    customer_id = Id()
    customer_name = fields.String()
    level = fields.String()
    owner_id = Id()
    owner_name = nullable()
    rule_id = Id()
    rule_name = nullable()
    inactive_days = fields.Integer()


class PreviewSchema(Answer):
    total = fields.Integer(metadata={"description": "how many customers the next recycling takes"})
    items = fields.List(fields.Nested(PreviewItemSchema))
    next_cursor = nullable()


class RecycleResultSchema(Answer):
    recycled = fields.Integer()


class SoonSchema(Answer):
    customer_id = Id()
    customer_name = fields.String()
    days = fields.Integer(metadata={"description": "days without follow-up today"})
    days_left = fields.Integer(metadata={"description": "days until the recycling takes it"})
    reason = nullable()


class PoolHistorySchema(Answer):
    """One move of the customer in or out of the pool."""

    id = Id()
    action = fields.String(metadata={"enum": ["recycle", "claim", "assign", "return"]})
    user_id = nullable(Id)
    user_name = nullable()
    changes = fields.List(fields.Nested(ChangeSchema))
    created_at = Time()


class PoolFollowUpSchema(Answer):
    """A follow-up as the pool shows it: how, what, who and when (its attachments stay with the customer's
    owners)."""

    id = Id()
    follow_type = fields.String(metadata={"enum": ["phone", "visit", "wechat", "email", "other"]})
    content = fields.String()
    created_by_name = computed(lambda f: getattr(f, "author_name", None), {"type": "string", "nullable": True})
    created_at = Time()


class PoolCustomerSchema(PoolEntrySchema):
    """A customer in the public pool as anyone who may claim it sees it: the profile without phone, tax id,
    address or contacts (the one who claims it sees those), its follow-ups and its moves in and out of
    the pool."""

    industry = nullable()
    scale = nullable()
    province_name = computed(lambda c: province_name(c.province_code) if c.province_code else None,
                             {"type": "string", "nullable": True})
    city_name = computed(lambda c: city_name(c.province_code, c.city_code) if c.city_code else None,
                         {"type": "string", "nullable": True})
    source = nullable()
    created_at = Time()
    follow_ups = Derived(lambda c: c.timeline, PoolFollowUpSchema, many=True)
    history = Derived(lambda c: c.pool_history, PoolHistorySchema, many=True)


__all__ = ["PoolCustomerSchema", "PoolEntrySchema", "PoolFollowUpSchema", "PoolHistorySchema", "PoolMoveSchema", "PreviewSchema", "RecycleResultSchema",
           "Ref", "RuleSchema", "SettingsSchema", "SoonSchema"]
