"""The handover's JSON shape."""

from marshmallow import fields

from ..core.schemas import Answer, Derived, Id, Ref, Time, computed, nullable, ref
from .models import ITEM_TYPES, REASONS, STAGES

STEPS = ["prepare", "choose_receiver", "review", "confirm"]


class HandoverItemSchema(Answer):
    """A checklist item: generated from the customer's data, confirmed and annotated by the original owner."""

    id = Id()
    customer_id = Id()
    item_type = fields.String(metadata={"description": "basic_info, contacts, follow_up_plans, or a later "
                                                       "module's type (" + ", ".join(ITEM_TYPES[3:]) + ")"})
    item_description = fields.String()
    is_completed = fields.Boolean()
    owner_note = nullable()


class HandoverEventSchema(Answer):
    """A stage change: who, when, what, and a note (the reason of a send-back)."""

    id = Id()
    action = fields.String(metadata={"enum": ["start", "receiver", "prepare", "approve", "reject", "confirm",
                                              "cancel"]})
    stage = fields.String(metadata={"enum": list(STAGES)})
    note = nullable()
    user = Derived(lambda e: ref(e.user_id, getattr(e, "user_name", None)), Ref, allow_none=True)
    created_at = Time()


class HandoverCustomerSchema(Answer):
    id = Id()
    name = fields.String()


def _ref(attr):
    return Derived(lambda h: ref(getattr(h, f"{attr}_id"), h.names.get(getattr(h, f"{attr}_id"))), Ref, allow_none=True)


class HandoverSchema(Answer):
    id = Id()
    from_owner = _ref("from_owner")
    to_owner = _ref("to_owner")
    reviewer = _ref("reviewer")
    handover_reason = fields.String(metadata={"enum": list(REASONS)})
    reason_note = nullable()
    current_stage = fields.String(metadata={"enum": list(STAGES)})
    started_automatically = fields.Boolean()
    next_step = computed(lambda h: h.step, {"type": "string", "nullable": True, "enum": [*STEPS, None],
                                            "description": "what the signed-in user has to do on it now"},
                         allow_none=True)
    created_by = Derived(lambda h: ref(h.created_by, h.names.get(h.created_by)), Ref, allow_none=True)
    customers = fields.List(fields.Nested(HandoverCustomerSchema), attribute="customer_rows")
    items = fields.List(fields.Nested(HandoverItemSchema))
    events = fields.List(fields.Nested(HandoverEventSchema))
    created_at = Time()
    updated_at = Time()
    completed_at = nullable(Time)
