"""The pool's forms: a rule (the API's JSON and the page's fields build the same conditions), the settings,
a return to the pool, an assignment, and the pool list's query."""

from typing import ClassVar

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from common.fields import MultiCheckbox, Select, Text
from common.validators import NotBlank

from ..customers.forms import (
    DEAL_STATUS_LABELS,
    LEVEL_LABELS,
    SOURCE_LABELS,
    TYPE_LABELS,
)
from .rules import MATCHES, MAX_DAYS

CONDITIONS_SCHEMA = {
    "type": "object", "required": ["match", "items"], "additionalProperties": False,
    "description": "items combined with AND (all) or OR (any); at least one inactive_days item",
    "properties": {
        "match": {"type": "string", "enum": ["all", "any"]},
        "items": {"type": "array", "minItems": 1, "maxItems": 20, "items": {
            "type": "object", "required": ["field", "op", "value"], "additionalProperties": False,
            "properties": {
                "field": {"type": "string", "enum": ["inactive_days", "created_days", "level", "deal_status",
                                                     "customer_type", "source", "never_followed_up"]},
                "op": {"type": "string", "enum": ["gte", "in", "not_in", "is"]},
                "value": {"description": "days (1-3650), days per level {level: days}, a list of codes, or a "
                                         "boolean, as the field takes"}}}}}}


class ConditionsField(StringField):
    """The rule's conditions: a JSON object in the API (validated by ``rules.validate``, not by the form)."""

    openapi_schema = CONDITIONS_SCHEMA


class RuleForm(FlaskForm):
    """A rule's name, switch and order (its conditions are checked on their own, see ``rules.validate``)."""

    rule_name = Text(_l("Rule name"), validators=[NotBlank(), Length(max=50)])
    enabled = BooleanField(_l("Enabled"), default=True)
    sort = IntegerField(_l("Order"), default=0, validators=[Optional(), NumberRange(min=0, max=9999)],
                        description=_l("Rules are tried in this order; a customer goes with the first that takes it."))


class RuleBody(RuleForm):
    """What the API takes: the form's fields and the conditions as JSON."""

    conditions = ConditionsField(_l("Conditions"), validators=[InputRequired()])


MAX_RULES = 50


class RuleListField(StringField):
    """The rules of ``PUT /pool/rules``: a JSON list (read by the view, not by the form)."""

    openapi_schema: ClassVar[dict] = {
        "type": "array", "minItems": 0, "maxItems": MAX_RULES,
        "description": "an empty list deletes every rule (nothing is then recycled automatically)",
        "items": {"type": "object", "description": "a new rule (no id) needs rule_name and conditions", "properties": {
            "id": {"type": "string", "description": "the rule this item changes; none: a new rule"},
            "rule_name": {"type": "string", "maxLength": 50}, "enabled": {"type": "boolean"},
            "sort": {"type": "integer", "minimum": 0, "maximum": 9999,
                     "description": "the order it is tried in; none: its place in the list"},
            "conditions": CONDITIONS_SCHEMA}}}


class RuleListBody(FlaskForm):
    """``PUT /pool/rules``: the whole list of rules, each a rule body with the id of the rule it changes (none: a
    new rule)."""

    rules = RuleListField(_l("Rules"), validators=[InputRequired()])



def _choices(labels):
    return list(labels.items())


class RulePageForm(RuleForm):
    """The rule editor's fields; each one filled becomes one condition."""

    match = SelectField(_l("Recycle when"), choices=list(MATCHES.items()), default="all")
    inactive_all = IntegerField(_l("Days without follow-up (every level)"),
                                validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)])
    inactive_important = IntegerField(_l("Days without follow-up: important customers"),
                                      validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)])
    inactive_normal = IntegerField(_l("Days without follow-up: normal customers"),
                                   validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)])
    inactive_potential = IntegerField(_l("Days without follow-up: potential customers"),
                                      validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)])
    level_in = MultiCheckbox(_l("Level is one of"), choices=_choices(LEVEL_LABELS))
    deal_status_not_in = MultiCheckbox(_l("Deal status is none of"), choices=_choices(DEAL_STATUS_LABELS))
    customer_type_in = MultiCheckbox(_l("Customer type is one of"), choices=_choices(TYPE_LABELS))
    source_in = MultiCheckbox(_l("Source is one of"), choices=_choices(SOURCE_LABELS))
    never_followed_up = BooleanField(_l("Never followed up"))
    created_days = IntegerField(_l("Created at least this many days ago"),
                                validators=[Optional(), NumberRange(min=1, max=MAX_DAYS)])

    LIST_FIELDS: ClassVar[dict] = {"level_in": ("level", "in"), "deal_status_not_in": ("deal_status", "not_in"),
                                   "customer_type_in": ("customer_type", "in"), "source_in": ("source", "in")}

    def conditions(self):
        items = []
        per_level = {lvl: getattr(self, f"inactive_{lvl}").data for lvl in LEVEL_LABELS
                     if getattr(self, f"inactive_{lvl}").data}
        if self.inactive_all.data:
            items.append({"field": "inactive_days", "op": "gte", "value": self.inactive_all.data})
        if per_level:
            items.append({"field": "inactive_days", "op": "gte", "value": per_level})
        for name, (field, op) in self.LIST_FIELDS.items():
            if getattr(self, name).data:
                items.append({"field": field, "op": op, "value": list(getattr(self, name).data)})
        if self.never_followed_up.data:
            items.append({"field": "never_followed_up", "op": "is", "value": True})
        if self.created_days.data:
            items.append({"field": "created_days", "op": "gte", "value": self.created_days.data})
        return {"match": self.match.data, "items": items}

    @classmethod
    def fits(cls, conditions):
        """Whether the page's fields can show these conditions (else the rule is edited through the API)."""
        seen = set()
        for item in conditions.get("items", []):
            key = (item["field"], item["op"], type(item["value"]).__name__)
            if key in seen or key[:2] not in {("inactive_days", "gte"), ("created_days", "gte"),
                                               ("never_followed_up", "is"), *cls.LIST_FIELDS.values()}:
                return False
            if item["field"] == "never_followed_up" and item["value"] is not True:
                return False
            seen.add(key)
        return True

    def fill(self, rule):
        """Set the fields from a saved rule (one that ``fits``)."""
        self.rule_name.data, self.enabled.data, self.sort.data = rule.rule_name, rule.enabled, rule.sort
        self.match.data = rule.conditions["match"]
        reverse = {v: k for k, v in self.LIST_FIELDS.items()}
        for item in rule.conditions["items"]:
            field, op, value = item["field"], item["op"], item["value"]
            if field == "inactive_days" and isinstance(value, dict):
                for lvl, days in value.items():
                    getattr(self, f"inactive_{lvl}").data = days
            elif field == "inactive_days":
                self.inactive_all.data = value
            elif field == "created_days":
                self.created_days.data = value
            elif field == "never_followed_up":
                self.never_followed_up.data = True
            else:
                getattr(self, reverse[(field, op)]).data = value


class SettingsForm(FlaskForm):
    remind_days_before = IntegerField(_l("Remind the owner this many days before"), default=3,
                                      validators=[InputRequired(), NumberRange(min=0, max=30)],
                                      description=_l("0 sends no reminders."))
    daily_claim_cap = IntegerField(_l("Claims per user per day"), default=10,
                                   validators=[InputRequired(), NumberRange(min=0, max=1000)])
    holding_cap = IntegerField(_l("Customers one user may hold"), default=200,
                               validators=[InputRequired(), NumberRange(min=0, max=100000)])
    reclaim_cooldown_days = IntegerField(_l("Days before the previous owner may claim again"), default=7,
                                         validators=[InputRequired(), NumberRange(min=0, max=365)])
    exempt_open_opportunities = BooleanField(_l("Never recycle customers with open opportunities"), default=True)
    exempt_signed_contracts = BooleanField(_l("Never recycle customers with signed contracts"), default=True)


class ReturnForm(FlaskForm):
    reason = Text(_l("Why does the customer go back to the pool?"), validators=[NotBlank(), Length(max=90)])


class AssignForm(FlaskForm):
    to_user_id = Select(_l("Give to"), coerce=str, validators=[InputRequired()],
                        invalid=_l("Choose a user you manage."))

    def __init__(self, *args, user_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        # blank first, as assigning a lead and handing over start: a person chosen in advance would get the
        # customer with one click, perhaps the very one it was just recycled from
        self.to_user_id.choices = [("", _l("— Choose —"))] + [(str(uid), name) for uid, name in user_choices]

    def validate_to_user_id(self, field):
        from wtforms.validators import ValidationError

        if not (field.data or "").isdigit():
            raise ValidationError(_l("Choose a user you manage."))

    @property
    def user(self):
        return int(self.to_user_id.data)
