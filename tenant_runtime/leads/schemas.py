"""The lead's and the lead pool's JSON shapes. Seed 002's tinyint codes are answered as words (the
description says which code each is)."""

from marshmallow import fields

from ..core.schemas import Answer, Derived, Id, Ref, Time, computed, nullable, ref
from .forms import INTENT_WORDS, STATUS_WORDS


class LeadSchema(Answer):
    id = Id()
    lead_name = fields.String()
    phone = nullable(metadata={"description": "E.164, e.g. +8613800138000"})
    company = nullable()
    position = nullable()
    source = nullable()
    intent_product = nullable()
    intent_level = computed(lambda lead: INTENT_WORDS.get(lead.intent_level),
                            {"type": "string", "nullable": True, "enum": ["low", "medium", "high", None],
                             "description": "seed 002 codes 1 low, 2 medium, 3 high"})
    status = computed(lambda lead: STATUS_WORDS.get(lead.status, "new"),
                      {"type": "string", "enum": ["new", "following", "converted", "invalid"],
                       "description": "seed 002 codes 1 new, 2 following, 3 converted, 4 invalid"})
    remark = nullable()
    owner = Derived(lambda lead: ref(lead.owner_id, lead.owner.full_name if lead.owner_id else None), Ref,
                    allow_none=True)
    dept = Derived(lambda lead: ref(lead.dept_id, lead.dept.dept_name if lead.dept_id else None), Ref,
                   allow_none=True)
    pool = Derived(lambda lead: ref(lead.pool_id, lead.pool.pool_name if lead.pool_id else None), Ref,
                   allow_none=True)
    in_pool = computed(lambda lead: lead.owner_id is None, {"type": "boolean"})
    last_follow_up_at = nullable(Time)
    next_follow_up_at = nullable(Time)
    claimed_at = nullable(Time)
    converted_customer_id = nullable(Id)
    converted_at = nullable(Time)
    created_by = Id()
    created_at = Time()
    updated_at = Time()
    deleted_at = nullable(Time, metadata={"description": "set only in the recycle bin (GET /leads/deleted)"})
    deleted_by = nullable(Id)


class LeadPoolSchema(Answer):
    id = Id()
    pool_name = fields.String()
    description = nullable()
    is_public = fields.Boolean()
    dept = Derived(lambda p: ref(p.dept_id, p.dept.dept_name if p.dept_id else None), Ref, allow_none=True)
    recycle_days = nullable(fields.Integer)
    lead_count = computed(lambda p: getattr(p, "lead_count", None), {"type": "integer", "nullable": True,
                                                                     "description": "unowned leads in the pool"})
    created_at = Time()


class SourceLeadSchema(Answer):
    """A lead a customer came from (the customer's 360 section)."""

    id = Id()
    lead_name = fields.String()
    company = nullable()
    source = nullable()
    status = computed(lambda lead: STATUS_WORDS.get(lead.status, "new"),
                      {"type": "string", "enum": ["new", "following", "converted", "invalid"]})
    converted_at = nullable(Time)
    created_at = Time()
