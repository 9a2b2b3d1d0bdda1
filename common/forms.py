"""One form class validates both an HTML post and a JSON body, so each rule is written once."""

import json
import math

from flask import request
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.fields.core import UnboundField

from .errors import ApiError, Invalid


def json_body():
    """The request's JSON object, or 400 when the body is not a JSON object."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        if not request.is_json and request.get_data():  # curl -d '{...}' sends form-urlencoded
            raise ApiError(400, "malformed_body", _l("Send the body as JSON, with Content-Type: application/json."))
        raise ApiError(400, "malformed_body", _l("The body must be a JSON object."))
    problem = _unstorable(data)
    if problem == "surrogate":  # valid JSON ("\\ud800"), but no database can store it: 400, not a 500
        raise ApiError(400, "malformed_body", _l("The body contains text that is not valid Unicode."))
    if problem == "number":
        _refuse_non_finite(data)
    return data


def refuse_malformed_body():
    """Both APIs' ``before_request``: a JSON body that does not parse is 400 on every endpoint, also on one that
    reads no body (claim, enable...), rather than doing the action as if the client had said nothing."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.is_json and request.get_data(cache=True) \
            and request.get_json(silent=True) is None:
        raise ApiError(400, "malformed_body", _l("The body is not valid JSON."))


def _refuse_non_finite(data):
    """NaN and Infinity, which Python's parser takes but JSON (RFC 8259) does not have: 400. A number too large
    for a float (1e400, valid JSON that parses as infinity): 422 naming the fields that hold one."""
    def refuse(constant):
        raise ValueError(constant)

    try:
        json.loads(request.get_data(), parse_constant=refuse)
    except ValueError:
        raise ApiError(400, "malformed_body", _l("The body contains NaN or Infinity, which JSON does not have.")) \
            from None
    raise Invalid({key: [_l("This number is too large.")] for key, value in data.items() if _unstorable(value)})


def _unstorable(value):
    """What in a parsed body no column can hold: a lone surrogate in text, or a number that is not finite."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "surrogate"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "number"
    if isinstance(value, dict):
        return next(filter(None, (_unstorable(k) or _unstorable(v) for k, v in value.items())), None)
    if isinstance(value, list):
        return next(filter(None, map(_unstorable, value)), None)
    return None


def _takes_list(field_class):
    """Whether a field reads several values (a JSON list): a multiple choice, or a field that says so (tags)."""
    return issubclass(field_class, SelectMultipleField) or getattr(field_class, "accepts_list", False)


def _as_formdata(data, form_cls):
    """The JSON body's fields as a form post would send them, and the errors of those whose value has a type the
    field cannot hold (a list or ``true`` for a name, an object anywhere): such a value is left out, never its
    text (``"None"``, ``"True"``) stored or silently the list's first item."""
    md, errors = MultiDict(), {}
    for key, value in data.items():
        if value is None:
            continue
        field_class = getattr(form_cls, key).field_class
        if isinstance(value, dict):
            errors[key] = [_l("Expected text or a number, not an object.")]
        elif getattr(field_class, "list_only", False) and not isinstance(value, (list, tuple)):
            errors[key] = [_l("Expected a list.")]
        elif isinstance(value, (list, tuple)):
            if not _takes_list(field_class):
                errors[key] = [_l("Expected one value, not a list.")]
            elif any(item is None or isinstance(item, (dict, list, tuple, bool)) for item in value):
                errors[key] = [_l("Each item of the list must be text or a number.")]
            else:
                for item in value:
                    md.add(key, str(item))
        elif issubclass(field_class, BooleanField):  # only JSON's true and false: "no" or 0 is not read as yes
            if isinstance(value, bool):
                md.add(key, "true" if value else "")
            else:
                errors[key] = [_l("Give true or false.")]
        elif isinstance(value, bool):  # true or false is no text, number, date or choice anyone gave
            errors[key] = [_l("Expected text, not true or false.") if issubclass(field_class, StringField)
                           else _l("Expected a value, not true or false.")]
        else:
            md.add(key, str(value))
    return md, errors


def _field_names(form_cls):
    return {name for name in dir(form_cls) if isinstance(getattr(form_cls, name, None), UnboundField)}


def form_from_json(form_cls, base=None, **kwargs):
    """Build ``form_cls`` from the JSON body, laid over ``base`` (current values, for PATCH). Keys the form
    does not have are ignored, whatever their value, as a form post ignores fields it does not know."""
    return form_from_data(form_cls, json_body(), base, **kwargs)


def form_from_data(form_cls, body, base=None, **kwargs):
    """``form_from_json`` for a JSON object already read (a body with another name for a field, an item of a
    list)."""
    data = dict(base or {})
    data.update(body)
    fields = _field_names(form_cls)
    for name in fields:  # a box a form post leaves unticked is false; one a JSON body leaves out has its default
        unbound = getattr(form_cls, name)
        if data.get(name) is None and issubclass(unbound.field_class, BooleanField) and unbound.kwargs.get("default"):
            data[name] = True
    formdata, type_errors = _as_formdata({k: v for k, v in data.items() if k in fields}, form_cls)
    form = form_cls(formdata=formdata, meta={"csrf": False}, **kwargs)
    if type_errors:  # reported by validate() with the other fields' errors, in one 422
        validate = form.validate

        def validate_with_types(*args, **kw):
            validate(*args, **kw)  # an Optional() field clears what it had: the type's message goes on after
            for name, messages in type_errors.items():
                form[name].errors = [*messages, *(m for m in form[name].errors if m not in messages)]
            return False

        form.validate = validate_with_types
    return form


def validate_or_422(form):
    if not form.validate():
        raise Invalid(form_errors(form))
    return form


def form_errors(form):
    errors = {}
    for name, messages in form.errors.items():
        if isinstance(messages, dict):  # FormField
            for sub, sub_msgs in messages.items():
                errors[f"{name}.{sub}"] = [str(m) for m in sub_msgs]
        else:
            errors[name] = [str(m) for m in messages]
    return errors


def apply_form_errors(form, fields):
    """Show service-level field errors (uniqueness, gates) inline on an HTML form."""
    for name, messages in (fields or {}).items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + [str(m) for m in messages]
        else:
            form.form_errors.extend(str(m) for m in messages)
