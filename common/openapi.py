"""Forms to OpenAPI: the JSON schema of a WTForms class, so a documented request body (or query string)
is exactly what the form that validates it accepts: its fields, types, choices, limits and defaults."""

from flask import current_app
from wtforms import (
    BooleanField,
    DateField,
    DateTimeField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Regexp,
)

from .validators import Chosen, NotBlank

REQUIRED = DataRequired | InputRequired | NotBlank


def _type_schema(field):
    if getattr(field, "openapi_schema", None):  # a field that takes JSON of its own shape (a rule's conditions)
        return dict(field.openapi_schema)
    if isinstance(field, SelectMultipleField):
        values = [str(c[0]) for c in field.choices or []]
        # choices filled per request (a company's departments) are not known to the document: any string
        return {"type": "array", "items": {"type": "string", "enum": values} if values else {"type": "string"}}
    if isinstance(field, IntegerField):
        return {"type": "integer"}
    if isinstance(field, DecimalField):
        return {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$", "example": "12800.00"}
    if isinstance(field, BooleanField):
        return {"type": "boolean"}
    if isinstance(field, DateField):  # a subclass of DateTimeField, so first
        return {"type": "string", "format": "date"}
    if isinstance(field, DateTimeField):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, PasswordField):
        return {"type": "string", "format": "password"}
    if isinstance(field, SelectField) and isinstance(field.choices, list) and field.name != "owner_id":
        values = [str(c[0]) for c in field.choices if c[0] != ""]
        return {"type": "string", "enum": values} if values else {"type": "string"}
    return {"type": "string"}


def _limits(field, schema):
    """What the field's validators enforce, in JSON schema words."""
    for rule in field.validators:
        if isinstance(rule, Length) and schema["type"] == "string":
            if rule.max is not None and rule.max >= 0:
                schema["maxLength"] = rule.max
            if rule.min is not None and rule.min > 0:
                schema["minLength"] = rule.min
        elif isinstance(rule, NumberRange) and schema["type"] == "integer":
            if rule.min is not None:
                schema["minimum"] = rule.min
            if rule.max is not None:
                schema["maximum"] = rule.max
        elif isinstance(rule, Regexp) and schema["type"] == "string":
            schema["pattern"] = rule.regex.pattern
        elif isinstance(rule, Email):
            schema["format"] = "email"
    if is_required(field):  # an empty value is missing; NotBlank also refuses only spaces
        if schema["type"] == "string":
            schema.setdefault("minLength", 1)
            if any(isinstance(v, NotBlank) for v in field.validators):
                schema.setdefault("pattern", r"\S")
        elif schema["type"] == "array":
            schema.setdefault("minItems", 1)
    return schema


def is_required(field):
    return any(isinstance(v, REQUIRED) or (isinstance(v, Chosen) and not v.unless) for v in field.validators)


def _required_unless(field):
    """The other field that, given, lets this one be left out (a follow-up's customer, unless it is on a lead)."""
    return next((v.unless for v in field.validators if isinstance(v, Chosen) and v.unless), None)


def field_schema(field):
    schema = _limits(field, _type_schema(field))
    if field.default is not None and not callable(field.default) and "enum" not in schema.get("items", {}):
        schema["default"] = field.default
    if field.description:
        schema["description"] = str(field.description)
    if isinstance(field, DateTimeField) and not isinstance(field, DateField):
        schema["description"] = " ".join(filter(None, (schema.get("description"), (
            "ISO 8601; a time without an offset is read as local time (APP_TIMEZONE, Asia/Shanghai by default), "
            "as the pages' forms send it."))))
    other = _required_unless(field)
    if other:
        schema["description"] = " ".join(filter(None, (schema.get("description"),
                                                       f"Required unless {other} is given.")))
    if not is_required(field):
        schema["nullable"] = True  # null is the same as leaving the field out
    return schema


def form_schema(form_cls):
    with current_app.test_request_context():
        form = form_cls(meta={"csrf": False})
        props, required = {}, []
        for field in form:
            if field.type in ("FileField", "CSRFTokenField"):
                continue
            props[field.name] = field_schema(field)
            if is_required(field):
                required.append(field.name)
    result = {"type": "object", "properties": props}
    if required:
        result["required"] = required
    return result
