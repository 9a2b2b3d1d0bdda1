"""Forms to OpenAPI: the JSON schema of a WTForms class, so a documented request body is exactly what
the form that validates it accepts."""

from flask import current_app
from wtforms import BooleanField, DateField, DateTimeField, DecimalField, IntegerField, SelectField, SelectMultipleField
from wtforms.validators import DataRequired, InputRequired

from .validators import NotBlank


def field_schema(field):
    if isinstance(field, SelectMultipleField):
        return {"type": "array", "items": {"type": "string", "enum": [str(c[0]) for c in field.choices or []]}}
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
    if isinstance(field, SelectField) and isinstance(field.choices, list) and field.name != "owner_id":
        values = [str(c[0]) for c in field.choices if c[0] != ""]
        return {"type": "string", "enum": values} if values else {"type": "string"}
    return {"type": "string"}


def form_schema(form_cls):
    with current_app.test_request_context():
        form = form_cls(meta={"csrf": False})
        props, required = {}, []
        for field in form:
            if field.type in ("FileField", "CSRFTokenField"):
                continue
            schema = field_schema(field)
            if field.description:
                schema["description"] = str(field.description)
            props[field.name] = schema
            if any(isinstance(v, DataRequired | InputRequired | NotBlank) for v in field.validators):
                required.append(field.name)
    result = {"type": "object", "properties": props}
    if required:
        result["required"] = required
    return result
