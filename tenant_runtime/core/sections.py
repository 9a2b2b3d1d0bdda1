"""Sections of a customer's 360 view. Each module that owns data about a customer registers one (contacts,
follow-ups today; opportunities, contracts, tickets, payments, handovers and pool history as their
modules arrive), so the 360 page and ``GET /customers/<id>/360`` grow without the customer module
knowing the others."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str  # the 360 JSON key and the page anchor
    label: object
    template: str  # rendered with ``section`` (this) and ``data``
    load: object  # callable(customer, principal) -> data (None: the user may not see this section)
    schema: object  # marshmallow schema class of one item: the 360 answer lists the section's items with it
    order: int = 100


SECTIONS: list[Section] = []


def register_section(section):
    SECTIONS[:] = sorted([s for s in SECTIONS if s.key != section.key] + [section], key=lambda s: s.order)


def view_schema(customer_schema, history_schema):
    """The 360 answer's schema: the customer, its change history and one list per registered section
    (``null`` for a section the user's permissions do not open)."""
    from marshmallow import fields

    from common.schemas import Answer

    declared = {"customer": fields.Nested(customer_schema), "history": fields.List(fields.Nested(history_schema))}
    for section in SECTIONS:
        declared[section.key] = fields.List(fields.Nested(section.schema), allow_none=True, dump_default=None)
    return Answer.from_dict(declared, name="Customer360")


def sections_for(customer, principal):
    """``[(section, data)]`` the user may see, in page order."""
    out = []
    for section in SECTIONS:
        data = section.load(customer, principal)
        if data is not None:
            out.append((section, data))
    return out
