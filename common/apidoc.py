"""Declared API endpoints: one declaration per view says what it takes and what it answers, the view's
answer is shaped by it, and the OpenAPI document is built from the declarations alone, so the document
cannot disagree with the API.

::

    @api.post("/enterprises")
    @endpoint("Create an enterprise profile", status=201, body=EnterpriseForm, response=EnterpriseSchema,
              errors=(409,))
    def enterprise_create():
        form = declared_body()                 # the declared form, from the JSON body, or 422
        enterprise = services.create(form.profile_data(), by=g.staff)
        commit()
        return enterprise                      # dumped with EnterpriseSchema, answered 201

Input is declared by WTForms classes (the same ones that validate the HTML pages): ``body`` for a JSON
body, ``query`` for query parameters (validated before the view runs, 422 naming the fields), ``upload``
for a multipart file field (``upload_fields``: a form class declaring the multipart body's other fields).
Output is declared by a marshmallow schema (``common/schemas.py``);
``page=True`` answers the list contract ``{"items": [...], "next_cursor": ...}`` and takes ``limit`` and
``cursor``; ``files`` (content types) declares a download, whose view returns the file's response. ``errors`` lists the error statuses the view itself raises; the ones that follow from the
declaration (400/422 for input, 401/403 for a non-public endpoint, 404 for a path parameter) are added
by the document builder.

flask-smorest builds its document from the same idea, but it takes input as marshmallow schemas through
webargs, so beside the WTForms classes it would have documented nothing the forms validate; its
pagination is offset-based and its error handlers answer another error shape. This module is the small
part of it this project needs.
"""

import functools
import re
from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify, request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter

from .errors import Invalid
from .forms import form_errors, form_from_json, validate_or_422
from .openapi import field_schema, form_schema
from .pagination import DEFAULT_LIMIT, MAX_LIMIT
from .schemas import Error

STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content",
    400: "Malformed request", 401: "Not authenticated", 403: "Not allowed", 404: "Not found",
    409: "Conflict", 413: "Payload too large", 422: "Invalid fields", 429: "Throttled",
    503: "Temporarily unavailable",
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@dataclass(frozen=True)
class Declaration:
    summary: str
    status: int = 200
    response: object = None  # a marshmallow Schema class, or a JSON schema dict for a free-form answer
    page: bool = False
    body: type | None = None  # a WTForms form class read from the JSON body
    partial: bool = False  # PATCH: the body is laid over current values, so no field is required
    optional_body: bool = False  # the body may be left out altogether (e.g. a DELETE's confirmation)
    upload: str | None = None  # name of the multipart file field
    upload_fields: type | None = None  # a WTForms form class: the multipart body's other fields
    files: tuple = ()  # content types of a file answer (a download): the view returns the file's response
    query: type | None = None  # a WTForms form class read from the query string
    errors: tuple = ()
    description: str | None = None
    also: tuple = ()  # ((status, response schema), ...): other successful answers; the view returns (result, status)

    @functools.cached_property
    def dumper(self):
        """The response schema instance, made once (marshmallow schemas are reusable for dumping)."""
        return self.response() if isinstance(self.response, type) else self.response

    @functools.cached_property
    def query_names(self):
        """The query parameters a request may send: those the document lists, ``lang`` (every answer reads it)
        and any the query declaration reads and ignores (an export's ``limit`` and ``cursor``)."""
        return frozenset([p["name"] for p in _query_parameters(self, "GET")] + ["lang"]
                         + list(getattr(self.query, "ignored_parameters", ())))

    def shape(self, result):
        """The view's return value as the declared answer: dumped with the schema, at the declared status."""
        if self.status == 204:
            if result is not None:
                raise TypeError("a 204 endpoint returns None")
            return current_app.response_class(status=204)
        if self.files:
            return result
        if self.also and isinstance(result, tuple):
            result, status = result
            schema = dict(self.also)[status]
            resp = jsonify(result if isinstance(schema, dict) else schema().dump(result))
            resp.status_code = status
            return resp
        if isinstance(self.response, dict):
            body = result
        elif self.page:
            body = {"items": self.dumper.dump(result["items"], many=True), "next_cursor": result["next_cursor"]}
        else:
            body = self.dumper.dump(result)
        resp = jsonify(body)
        if self.status != resp.status_code:  # jsonify answers 200; the setter parses and rebuilds the status line
            resp.status_code = self.status
        return resp


def endpoint(summary, *, status=200, response=None, page=False, body=None, partial=False, upload=None, query=None,
             errors=(), description=None, optional_body=False, files=(), upload_fields=None, also=()):
    """Declare an API view (see the module docstring). Put it under the route decorator."""
    if status != 204 and response is None and not files:
        raise TypeError(f"{summary!r}: an endpoint that answers {status} declares its response schema")
    decl = Declaration(summary=summary, status=status, response=response, page=page, body=body, partial=partial,
                       upload=upload, upload_fields=upload_fields, files=tuple(files), query=query,
                       errors=tuple(errors), description=description,
                       optional_body=optional_body, also=tuple(also))

    def decorate(view):
        @functools.wraps(view)
        def declared(*args, **kwargs):
            _refuse_unknown_parameters(decl)  # also where the endpoint reads none (a detail, an action)
            if decl.query is not None:
                _validate_query(decl.query)
            return decl.shape(view(*args, **kwargs))

        declared.apidoc = decl
        return declared

    return decorate


def declaration_of(view):
    return getattr(view, "apidoc", None)


def current_declaration():
    return declaration_of(current_app.view_functions[request.endpoint])


def declared_body(base=None, **form_kwargs):
    """The current endpoint's declared body form, built from the JSON body (over ``base``, the current
    values, for PATCH) and validated: 400 for a body that is not a JSON object, 422 naming the fields."""
    return validate_or_422(form_from_json(current_declaration().body, base=base, **form_kwargs))


def _refuse_unknown_parameters(decl):
    """A query parameter the endpoint's document does not list is a 422 naming it: a misspelt filter
    (``?statsu=``) answered the whole list as if it had filtered."""
    if not request.args:
        return
    unknown = sorted(set(request.args) - decl.query_names)
    if unknown:
        raise Invalid({name: [_l("This list has no such parameter.") if decl.page else
                              _l("This request takes no such parameter.")] for name in unknown})


def _validate_query(form_cls):
    if hasattr(form_cls, "parse"):  # a list declaration (tenant_runtime.core.listing.ListSpec) checks its own
        return form_cls.parse(request.args)
    form = form_cls(request.args, meta={"csrf": False})
    if not form.validate():
        raise Invalid(form_errors(form))
    return form


# --- the document ---------------------------------------------------------------------------------------

def _path(rule_text, prefix):
    text = rule_text[len(prefix):] if prefix and rule_text.startswith(prefix) else rule_text
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", text) or "/"


def _path_parameter(name, converter):
    schema = {"type": "integer", "minimum": 1} if isinstance(converter, IntegerConverter) else {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(decl, method):
    params = []
    if hasattr(decl.query, "openapi_parameters"):
        params += decl.query.openapi_parameters()
    elif decl.query is not None:
        with current_app.test_request_context():
            form = decl.query(meta={"csrf": False})
            for fld in form:
                schema = field_schema(fld)
                schema.pop("nullable", None)  # a query string has no null: leave the parameter out
                params.append({"name": fld.name, "in": "query", "required": False, "schema": schema})
    if decl.page and method == "GET":  # a PUT that answers the list takes no page position
        params += [
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
            {"name": "cursor", "in": "query", "required": False, "description": "next_cursor of the previous page",
             "schema": {"type": "string"}},
        ]
    return params


def _request_body(decl):
    if decl.body is not None:
        schema = form_schema(decl.body)
        if decl.partial:
            schema.pop("required", None)
        return {"required": not decl.optional_body, "content": {"application/json": {"schema": schema}}}
    if decl.upload is not None:
        fields = form_schema(decl.upload_fields).get("properties", {}) if decl.upload_fields is not None else {}
        return {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [decl.upload],
            "properties": {**fields, decl.upload: {"type": "string", "format": "binary"}}}}}}
    return None


def _success(decl):
    if decl.status == 204:
        return {"description": STATUS_TEXT[204]}
    if decl.files:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {"description": STATUS_TEXT.get(decl.status, "OK"), "content": {t: binary for t in decl.files}}
    if decl.page:
        schema = {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": decl.response},
            "next_cursor": {"type": "string", "nullable": True}}}
    else:
        schema = decl.response
    return {"description": STATUS_TEXT.get(decl.status, "OK"), "content": {"application/json": {"schema": schema}}}


def _error_statuses(decl, path_arguments, public, common_errors):
    statuses = set(decl.errors) | set(common_errors)
    if decl.body is not None:
        statuses |= {400, 422}
    if decl.upload is not None:
        statuses |= {413, 422}
    if decl.query is not None or decl.page:
        statuses.add(422)
    if not public:
        statuses |= {401, 403}
    if path_arguments:
        statuses.add(404)
    return sorted(statuses)


@dataclass
class DocumentSource:
    """Where a document's operations come from and who may call them.

    ``access(endpoint)`` returns ``(public, description)``; ``prefix`` is cut from every path (it is the
    server URL instead) and ``server_arguments`` are the rule arguments that belong to that prefix;
    ``common_errors`` are statuses every operation may answer (e.g. a tenant that is closed).
    """

    blueprint: str
    title: str
    description: str
    access: object
    prefix: str = ""
    servers: list = field(default_factory=list)
    server_arguments: tuple = ()
    common_errors: tuple = ()


def build_document(source):
    """The OpenAPI 3 document of one blueprint, from its endpoints' declarations only."""
    spec = APISpec(title=source.title, version="1.0.0", openapi_version="3.0.3", plugins=[MarshmallowPlugin()],
                   info={"description": source.description}, **({"servers": source.servers} if source.servers else {}))
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=Error)
    paths = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith(f"{source.blueprint}."):
            continue
        decl = declaration_of(current_app.view_functions[rule.endpoint])
        if decl is None:  # tests/platform_admin/test_openapi.py names it: declare it with @endpoint
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(_path(rule.rule, source.prefix), {})[method.lower()] = _operation(source, rule, method, decl)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(source, rule, method, decl):
    public, who = source.access(rule.endpoint)
    name = rule.endpoint.split(".", 1)[1]
    shared = len(rule.methods - {"HEAD", "OPTIONS"}) > 1  # one view answering several methods
    op = {
        "operationId": f"{name}_{method.lower()}" if shared else name,
        "summary": decl.summary,
        "description": " ".join(part for part in (who, decl.description) if part),
        "responses": {str(decl.status): _success(decl)},
    }
    for status, schema in decl.also:
        op["responses"][str(status)] = {"description": STATUS_TEXT.get(status, "OK"),
                                        "content": {"application/json": {"schema": schema}}}
    path_arguments = sorted(set(rule.arguments) - set(source.server_arguments))
    for status in _error_statuses(decl, path_arguments, public, source.common_errors):
        op["responses"][str(status)] = {"description": STATUS_TEXT.get(status, "Error"),
                                        "content": {"application/json": {"schema": ERROR_REF}}}
    if not public:
        op["security"] = [{"bearer": []}]
    params = [_path_parameter(arg, rule._converters[arg]) for arg in path_arguments]
    params += _query_parameters(decl, method)
    if params:
        op["parameters"] = params
    body = _request_body(decl)
    if body is not None:
        op["requestBody"] = body
    return op
