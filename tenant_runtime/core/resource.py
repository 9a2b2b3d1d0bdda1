"""One declaration per CRM entity; its list, detail, form, API, OpenAPI entry, permissions, data scope
and history come from it.

A resource says *what* (model, form, output schema, list spec, permission module, scope rule) and keeps
its business rules in services it names (``create``/``update``/``delete`` hooks); ``register`` turns it
into pages under ``/t/<code>/<name>/`` and API routes under ``/t/<code>/api/v1/<name>``:

=========  ===============================  =================================  ==============
action     page                             API                                permission
=========  ===============================  =================================  ==============
list       GET  /<name>/                    GET    /<name>                     <module>.view
create     GET, POST /<name>/new            POST   /<name>                     <module>.create
detail     GET  /<name>/<id>                GET    /<name>/<id>                <module>.view
edit       GET, POST /<name>/<id>/edit      PATCH  /<name>/<id>                <module>.edit
delete     POST /<name>/<id>/delete         DELETE /<name>/<id>                <module>.delete
history    (on the detail page)             GET    /<name>/<id>/history        <module>.view
deleted    GET  /<name>/deleted             GET    /<name>/deleted             restore_permission
restore    POST /<name>/<id>/restore        POST   /<name>/<id>/restore        restore_permission
=========  ===============================  =================================  ==============

A detail a user may not see (another owner outside their scope, soft-deleted, or absent) is a 404, the
same answer as a record that does not exist.

Soft delete: with ``soft_delete`` a delete only marks the row (``deleted_at``, ``deleted_by``); with a
``restore_permission`` as well, the resource has a recycle bin (回收站): the deleted rows, newest first,
searched by the list's own search fields, and a restore action. Both answer 404 for an id that is not in
the bin (absent, or not deleted), and need ``restore_permission`` (403 before anything else). The
restore clears the mark in the ``restore`` hook (``check_restore`` for the entity's rules, ``restored``
for work beyond the row); history records it as a ``restore`` like any change of ``deleted_at``.
"""

from dataclasses import replace
from datetime import date, datetime
from functools import cached_property
from urllib.parse import urlencode, urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import NotFound

from common.apidoc import endpoint
from common.errors import ApiError, Conflict, Invalid, deadlocked
from common.forms import apply_form_errors, form_from_json, validate_or_422
from common.pagination import newest_page, page_args
from common.timeutil import to_local
from common.urls import local_next

from ..context import current_tenant
from ..people.permissions import requires
from .listing import ListSpec, SortKey, count_cap
from .lookups import user_names
from .models import CrmChangeLog
from .schemas import HistoryEntrySchema
from .scope import current_principal

MAX_ID = 2**63 - 1
CREATE_ATTEMPTS = 3  # a create that is a deadlock's victim runs again, at most this many times in all


class Resource:
    """Subclass and set the attributes; override the hooks where the entity has rules of its own."""

    name = None  # URL segment: "customers"
    module = None  # permission module: "customer"
    model = None
    form = None  # WTForms class: validates the page's post and the API's JSON alike
    edit_form = None  # the form for changes, when it differs (a field that never changes); default ``form``
    schema = None  # marshmallow schema class: the JSON shape
    listing = None  # core.listing.ListSpec
    label = None  # lazy text, singular
    label_plural = None
    columns = ()  # (attribute or callable, label) shown in the HTML list
    soft_delete = True
    # with soft_delete: who may see the recycle bin and restore from it ("customer.restore"); None: no bin
    restore_permission = None
    recycle_columns = None  # Columns the recycle bin shows before when and by whom (default: the list's)
    recycle_note = None  # lazy text under the recycle bin's title: what a deleted record still holds
    restore_summary = None  # the API document's summary of the restore (default: "Restore a deleted <label>")
    restore_forbidden = _l("This action is not allowed.")  # the 403 of a restore without restore_permission
    not_deleted = _l("The record changed or the action is not allowed in its state.")  # the 409 not_deleted
    deleted_template = "tenant/crud/deleted.html"
    detail_template = "tenant/crud/detail.html"
    list_template = "tenant/crud/list.html"
    form_template = "tenant/crud/form.html"
    unique_fields = {}  # constraint name or "table.column" -> form field, for 409 duplicate
    history_words = {}  # field -> {stored code: word}: what the history API answers for coded fields
    actions = ("list", "create", "detail", "edit", "delete")
    # io.export.ExportColumn: declared, the list gets an export (CSV, Excel) under <module>.export
    export_columns = ()
    # io.importing.ImportSpec: declared, the list gets an import (Excel, CSV) under <module>.import
    import_spec = None
    # core.batch.BatchAction: declared, the list's rows can be ticked for them (批量操作), under <module>.view
    # and each action's own permission; ``batch_fields``: a form of what the actions read (a level, tags...)
    batch_actions = ()
    batch_fields = None

    # ------------------------------------------------------------------ queries

    def base_query(self):
        query = select(self.model)
        if self.soft_delete:
            query = query.where(self.model.deleted_at.is_(None))
        return query

    def scope(self, query, principal):
        """Rows the principal may see; by default through the model's own owner and department."""
        return query.where(principal.scope_clause(self.model.owner_id, self.model.dept_id))

    def scope_branches(self, principal):
        """Conditions whose union is ``scope`` (``Principal.scope_branches``), for lists to read branch by
        branch; None where the resource has a scope rule of its own."""
        if type(self).scope is not Resource.scope:
            return None
        return principal.scope_branches(self.model.owner_id, self.model.dept_id)

    def views(self, principal):
        """Built-in saved views: ``{key: (label, callable(query) -> query)}``; the first is the default."""
        return {}

    def default_view(self, principal, views):
        return next(iter(views)) if views else None

    def visible_query(self, principal, view=None, scoped=True):
        """What the principal may see in ``view``; ``scoped=False`` leaves the data scope to the caller (only
        ``list_branches``, whose conditions are the scope)."""
        query = self.base_query()
        if scoped:
            query = self.scope(query, principal)
        views = self.views(principal)
        if views:
            query = views[self.view_key(principal, view, views)][1](query)
        return query

    def view_key(self, principal, view, views):
        """The built-in view a list shows: the one asked for, or the default."""
        return view if view in views else self.default_view(principal, views)

    def get_visible(self, record_id, principal=None):
        if not 0 < record_id <= MAX_ID:
            abort(404)
        principal = principal or current_principal()
        query = self.scope(self.base_query().where(self.model.id == record_id), principal)
        obj = current_tenant.session.scalar(query)
        if obj is None:
            abort(404)
        return obj

    def preload(self, rows):
        """Load what the list shows for all rows at once (owners, departments)."""

    def export_lookups(self, rows):
        """What the export's columns read beyond the rows, for one chunk of them: what the list loads
        (``preload``) and a dict the columns' getters receive (override to add, e.g. names of creators)."""
        self.preload(rows)
        return {}

    def form_kwargs(self):
        """What the form needs beyond its input, e.g. choices that depend on the user (override)."""
        return {}

    def build_form(self, editing=False, **kwargs):
        """The form for this request."""
        return self.form_class(editing)(**self.form_kwargs(), **kwargs)

    def form_class(self, editing=False):
        return (self.edit_form or self.form) if editing else self.form

    def created_url(self, obj):
        """Where the page goes after a create (default: the new record)."""
        return url_for(self.endpoint("detail"), record_id=obj.id)

    def shown_elsewhere(self, record_id):
        """Where a record the user may not see here is shown to them now (its page says so), or None: a 404."""

    def edited_url(self, obj):
        """Where the page goes after an edit (default: the record)."""
        return url_for(self.endpoint("detail"), record_id=obj.id)

    def created_message(self, obj):
        """What the page says after a create (default: saved)."""
        return _("Saved."), "success"

    def detail_page(self, obj, status=200, **extra):
        """The record's page as its detail view shows it (``obj`` preloaded), answering ``status``; ``extra`` for the
        template replaces what ``detail_context`` gives (a form refused, shown again instead of the blank one)."""
        entries, users, paging = _history_page(self, obj)
        return render_template(self.detail_template, resource=self, obj=obj, history=entries, history_users=users,
                               history_paging=paging, principal=current_principal(),
                               **{**self.detail_context(obj), **extra}), status

    def saved_message(self, obj):
        """What the page says after an edit (default: saved)."""
        return _("Saved."), "success"

    def check_invalid_form(self, form, principal):
        """A create form refused for its own errors may still say what the save would have: return the
        ``ApiError`` (a duplicate) its valid fields already meet, shown with the field errors in one round.
        Default: nothing."""

    # ------------------------------------------------------------------ writes (override for rules)

    def create(self, form, principal):
        obj = self.model(**self.form_to_values(form), created_by=principal.user_id)
        current_tenant.session.add(obj)
        return obj

    def update(self, obj, form, principal):
        for key, value in self.form_to_values(form).items():
            setattr(obj, key, value)
        return obj

    def delete(self, obj, principal):
        from ..models import utcnow

        if self.soft_delete:
            obj.deleted_at, obj.deleted_by = utcnow(), principal.user_id
        else:
            current_tenant.session.delete(obj)

    # ------------------------------------------------------------------ recycle bin (soft_delete + restore_permission)

    @property
    def has_recycle_bin(self):
        return bool(self.soft_delete and self.restore_permission)

    @cached_property
    def recycle_listing(self):
        """The recycle bin's list: no filters, the list's search fields, newest first."""
        return ListSpec(model=self.model, filters={}, search=self.listing.search,
                        phones=self.listing.phones,
                        sorts={"deleted": SortKey(self.model.id, _l("Deleted"))}, default_sort="-deleted")

    def deleted_query(self):
        """Every deleted row, whoever owned it: the bin is for those who hold ``restore_permission``."""
        return select(self.model).where(self.model.deleted_at.is_not(None))

    def get_deleted(self, record_id):
        """A record in the recycle bin, or 404 (no such record, or not deleted)."""
        obj = current_tenant.session.get(self.model, record_id) if 0 < record_id <= MAX_ID else None
        if obj is None or obj.deleted_at is None:
            abort(404)
        return obj

    def recycle_columns_shown(self):
        """The declared ``recycle_columns``, else the list's columns without links (a deleted record has no
        detail page) and without sorting (the bin sorts by deletion only)."""
        if self.recycle_columns is not None:
            return self.recycle_columns
        return tuple(replace(c, kind="text" if c.kind in ("link", "ref") else c.kind, sort=None) for c in self.columns)

    def check_restore(self, obj, principal):
        """The rules before a restore (override to add the entity's own): 403 without ``restore_permission``,
        409 ``not_deleted``."""
        if not principal.can(self.restore_permission):
            raise ApiError(403, "forbidden", str(self.restore_forbidden))
        if obj.deleted_at is None:
            raise Conflict("not_deleted", str(self.not_deleted))

    def restore(self, obj, principal):
        """Bring a deleted record back as it was (owner, department, everything it held)."""
        self.check_restore(obj, principal)
        obj.deleted_at, obj.deleted_by = None, None
        self.restored(obj, principal)
        return obj

    def restored(self, obj, principal):
        """Work a restore does beyond the record's own row (override); nothing by default."""

    def form_to_values(self, form):
        columns = {c.key for c in self.model.__mapper__.column_attrs}
        return {f.name: f.data for f in form if f.name in columns}

    def form_values(self, obj, as_text=True):
        """The record's current values as form input: as text for PATCH, which lays the body over them
        (times local with an offset, dates ISO: never a str() of a stored UTC value), or as values for the
        edit page (times as local wall-clock time)."""
        values = {}
        for f in self.build_form(editing=True, meta={"csrf": False}, formdata=None):
            if f.type in ("CSRFTokenField", "FileField", "SubmitField") or not hasattr(obj, f.name):
                continue
            values[f.name] = _form_value(getattr(obj, f.name), as_text)
        return values

    def create_committed(self, form, principal):
        """``create`` and commit. A new record touches nothing another request has read, so when MariaDB picks
        its transaction as a deadlock's victim (seen when many first leads all made the default pool at once)
        the whole create runs again: the victim kept nothing, and the user asked for one record, not a 409.
        Edits are not run again: their PATCH was laid over the values read before the race."""
        attempt = 1
        while True:
            try:
                obj = self.create(form, principal)
                self.commit()
                return obj
            except OperationalError as exc:
                if attempt == CREATE_ATTEMPTS or not deadlocked(exc):
                    raise
                current_tenant.session.rollback()
                attempt += 1
                current_app.logger.info("create of a %s lost a deadlock; attempt %d of %d", self.name, attempt,
                                        CREATE_ATTEMPTS)

    def commit(self):
        """Commit, or roll back and answer 409 ``duplicate`` naming the field a unique constraint guards."""
        self._write(current_tenant.session.commit)

    def flush(self):
        """Flush (a new row's id), with the same 409 as ``commit``."""
        self._write(current_tenant.session.flush)

    def _write(self, action):
        try:
            action()
        except IntegrityError as exc:
            current_tenant.session.rollback()
            field = duplicate_field(exc, self.unique_fields)
            if field is None:
                raise Conflict("conflict", _("The change conflicts with existing data.")) from None
            raise Conflict("duplicate", _("This value is already in use."), {field: [_("Already in use.")]}) from None

    # ------------------------------------------------------------------ output

    def dump(self, obj):
        return self.schema().dump(obj)

    def dump_many(self, rows):
        return self.schema(many=True).dump(rows)

    def detail_context(self, obj):
        return {}

    def form_context(self, form, obj=None):
        """What the form page shows beyond the form (override), e.g. the customer a record is for."""
        return {}

    def list_context(self, principal):
        return {}

    def record_url(self, obj):
        """The record's own page."""
        return url_for(self.endpoint("detail"), record_id=obj.id)

    def record_name(self, obj):
        """What a record is called in its pages' titles and breadcrumbs: its list's name (the link column), or
        its number."""
        column = next((c for c in self.columns if c.kind == "link"), None)
        value = column.value(obj) if column is not None else None
        return str(value) if value else f"#{obj.id}"

    def field_labels(self):
        """Field name -> label, for change history."""
        form = self.build_form(meta={"csrf": False}, formdata=None)
        return {f.name: f.label.text for f in form if hasattr(f, "label")}

    @property
    def slug(self):
        """The name as it appears in endpoint names (``follow-ups`` -> ``follow_ups``)."""
        return self.name.replace("-", "_")

    def endpoint(self, action, api=False):
        return f"{'tenant_api' if api else 'tenant'}.{self.endpoint_name(action, api)}"

    def endpoint_name(self, action, api=False):
        # the recycle bin's API endpoints were named *_api when written by hand: the names stay (the
        # permission table and the API document's operationIds use them)
        return f"{self.slug}_{action}" + ("_api" if api and action in RECYCLE_BIN_ACTIONS else "")

    def permission(self, action):
        return {"list": "view", "detail": "view", "history": "view", "create": "create", "edit": "edit",
                "delete": "delete"}.get(action, action)

    def required_permission(self, action):
        """The permission an action's page and API need."""
        if action in RECYCLE_BIN_ACTIONS:
            return self.restore_permission
        return f"{self.module}.{self.permission(action)}"


RECYCLE_BIN_ACTIONS = ("deleted", "restore")


def _form_value(value, as_text=True):
    if isinstance(value, datetime):
        local = to_local(value)
        return local.isoformat(timespec="seconds") if as_text else local.replace(tzinfo=None)
    if isinstance(value, date) and as_text:
        return value.isoformat()
    return value


def duplicate_field(exc, unique_fields):
    """The form field a violated unique constraint guards (MariaDB names the key, SQLite the column)."""
    text = str(getattr(exc, "orig", exc))
    for marker, field in unique_fields.items():
        if marker in text:
            return field
    return None


# ---------------------------------------------------------------------- change history


def history_rows(entries, users, words=None):
    """The entries with the names of who made them, ready for ``HistoryEntrySchema``. ``words``: field ->
    {stored code: the word the record's own JSON answers} (a lead's status 2 is "following" there too)."""
    rows = []
    for entry in entries:
        changes = entry.changes
        if words:
            changes = [{**c, "old": words[c["field"]].get(c.get("old"), c.get("old")),
                        "new": words[c["field"]].get(c.get("new"), c.get("new"))} if c.get("field") in words else c
                       for c in changes]
        rows.append({"id": entry.id, "action": entry.action, "user_id": entry.user_id,
                     "user_name": users.get(entry.user_id), "changes": changes, "created_at": entry.created_at})
    return rows


HISTORY_SHOWN = 30  # changes a detail page shows at once; older ones a page further (?history_before=<entry id>)


def _history_page(r, obj):
    """The detail page's changes: the newest, or those before ``?history_before``; with the links (to the record's
    page) to the older ones and back to the newest, when there are such."""
    before = request.args.get("history_before", type=int)
    before = before if before is not None and 0 < before <= MAX_ID else None
    entries, users = history_of(obj, limit=HISTORY_SHOWN + 1, before=before)
    args = {k: v for k, v in request.args.items() if k != "history_before"} if request.method == "GET" else {}

    def link(**more):
        return url_for(r.endpoint("detail"), record_id=obj.id, **args, **more, _anchor="history")

    paging = {"older": link(history_before=entries[HISTORY_SHOWN - 1].id) if len(entries) > HISTORY_SHOWN else None,
              "newest": link() if before else None}
    return entries[:HISTORY_SHOWN], users, paging


def history_of(obj, limit=100, before=None):
    """Newest first (older than the entry ``before``, when given), with the names of who made each change and of
    owners a change moved (by user id), and of departments a change moved (under ``("dept", id)``: a page shows
    names, never ids)."""
    from ..models import SysDept
    from .history import entity_type
    from .lookups import names

    session = current_tenant.session
    query = select(CrmChangeLog).where(CrmChangeLog.entity_type == entity_type(obj), CrmChangeLog.entity_id == obj.id)
    if before is not None:
        query = query.where(CrmChangeLog.id < before)
    entries = session.scalars(query.order_by(CrmChangeLog.id.desc()).limit(limit)).all()

    def moved(field):
        return {c.get(k) for e in entries for c in e.changes if c.get("field") == field for k in ("old", "new")}

    users = user_names(session, {e.user_id for e in entries} | moved("owner_id"))
    for field, (kind, id_column, name_column) in _referenced(SysDept).items():
        ids = moved(field) - {None}
        if ids:  # under (kind, id); the page finds the kind under ("ref", field)
            users[("ref", field)] = kind
            users.update(((kind, i), name) for i, name in names(session, id_column, name_column, ids).items())
    return entries, users


def _referenced(dept_model):
    """Fields a change may move that hold another record's id, shown by that record's name: field -> (kind, id
    column, name column)."""
    from ..customers.models import CrmCustomer
    from ..leads.models import CrmLead, CrmLeadPool

    return {"dept_id": ("dept", dept_model.id, dept_model.dept_name),
            "converted_customer_id": ("customer", CrmCustomer.id, CrmCustomer.customer_name),
            "customer_id": ("customer", CrmCustomer.id, CrmCustomer.customer_name),
            "source_lead_id": ("lead", CrmLead.id, CrmLead.lead_name),
            "pool_id": ("lead_pool", CrmLeadPool.id, CrmLeadPool.pool_name)}


# ---------------------------------------------------------------------- routes


REGISTERED = {}  # name -> the resource, as ``register`` declared it


def register(resource, pages, api):
    """Add the resource's pages to ``pages`` and its API to ``api`` (the tenant blueprints)."""
    r = REGISTERED[resource.name] = resource
    if "list" in r.actions:
        _route(pages, f"/{r.name}/", r, "list", _page_list(r))
        _route(api, f"/{r.name}", r, "list", _api_list(r), api=True)
    if "create" in r.actions:
        _route(pages, f"/{r.name}/new", r, "create", _page_create(r), methods=["GET", "POST"])
        _route(api, f"/{r.name}", r, "create", _api_create(r), methods=["POST"], api=True)
    if "detail" in r.actions:
        _route(pages, f"/{r.name}/<int:record_id>", r, "detail", _page_detail(r))
        _route(api, f"/{r.name}/<int:record_id>", r, "detail", _api_detail(r), api=True)
        if getattr(r.model, "__history__", False):
            _route(api, f"/{r.name}/<int:record_id>/history", r, "history", _api_history(r), api=True)
    if "edit" in r.actions:
        _route(pages, f"/{r.name}/<int:record_id>/edit", r, "edit", _page_edit(r), methods=["GET", "POST"])
        _route(api, f"/{r.name}/<int:record_id>", r, "edit", _api_edit(r), methods=["PATCH"], api=True)
    if "delete" in r.actions:
        _route(pages, f"/{r.name}/<int:record_id>/delete", r, "delete", _page_delete(r), methods=["POST"])
        _route(api, f"/{r.name}/<int:record_id>", r, "delete", _api_delete(r), methods=["DELETE"], api=True)
    if r.has_recycle_bin:
        _route(pages, f"/{r.name}/deleted", r, "deleted", _page_deleted(r))
        _route(api, f"/{r.name}/deleted", r, "deleted", _api_deleted(r), api=True)
        _route(pages, f"/{r.name}/<int:record_id>/restore", r, "restore", _page_restore(r), methods=["POST"])
        _route(api, f"/{r.name}/<int:record_id>/restore", r, "restore", _api_restore(r), methods=["POST"], api=True)
    if r.export_columns:
        from ..io import export

        export.register(r, pages, api)
    if r.import_spec is not None:
        from ..io import importing

        importing.register(r, pages, api)
    if r.batch_actions:
        from . import batch

        batch.register(r, pages, api)


def _route(blueprint, rule, resource, action, view, methods=("GET",), api=False):
    name = resource.endpoint_name(action, api)
    if api:
        summary, declared = _declaration(resource, action)
        view = endpoint(summary, **declared)(view)
    blueprint.add_url_rule(rule, endpoint=name, view_func=view, methods=list(methods))
    requires(f"{blueprint.name}.{name}", resource.required_permission(action))


def _declaration(r, action):
    """What a generated API action takes and answers (``common.apidoc.endpoint``): the document is built from
    this, and the answer is shaped by it."""
    one, many = str(r.label).lower(), str(r.label_plural)
    if action == "list":
        return f"{many}: the user's data scope, filtered, sorted, in keyset pages", {
            "response": r.schema, "page": True, "query": r.listing}
    if action == "create":
        return f"Create a {one}", {"status": 201, "body": r.form, "response": r.schema, "errors": (409,)}
    if action == "detail":
        return f"One {one}", {"response": r.schema}
    if action == "history":
        return f"Change history of one {one}, newest first", {"response": HistoryEntrySchema, "page": True}
    if action == "edit":
        return f"Change a {one}: fields left out keep their values", {
            "body": r.form_class(editing=True), "partial": True, "response": r.schema, "errors": (409,)}
    if action == "delete":
        return f"Delete a {one}" + (" (kept: an administrator can restore it)" if r.soft_delete else ""), {
            "status": 204, "errors": (409,)}
    if action == "deleted":
        return f"Deleted {many.lower()} (the recycle bin), newest first, for an administrator to restore", {
            "response": r.schema, "page": True, "query": r.recycle_listing}
    if action == "restore":
        return r.restore_summary or f"Restore a deleted {one} (administrators)", {"response": r.schema}
    raise ValueError(action)


def filtered_query(resource, args, principal, default_limit=None):
    """Parse a list's parameters and apply scope, view and filters: the parameters, the query (unsorted) that
    the list pages through and the export reads whole, and its data scope branch by branch (``list_branches``)
    for reading and counting it."""
    from .listing import DEFAULT_LIMIT

    params, view = resource.listing.parse(args, default_limit or DEFAULT_LIMIT), args.get("view") or None
    check_view(resource, view)
    query = resource.listing.where(resource.visible_query(principal, view), params)
    branches = list_branches(resource, principal, view, params)
    narrowed = params.search and _narrowed(resource, principal, view)
    if params.search and not resource.listing.indexed(params):
        params.by_id = query.with_hint(resource.model.__table__, "FORCE INDEX (PRIMARY)", dialect_name="mysql")
        if narrowed:  # the page's first try (ListSpec.page); an unlimited list reads by id anyway
            params.probe = params.by_id
    if narrowed:
        if branches is None:
            query = search_in_scope(resource, query)
        else:  # each branch's read; the page's own statement then reads the merged ids by key
            branches = replace(branches, query=search_in_scope(resource, branches.query))
    return params, query, branches


def check_view(resource, view):
    """A view asked for by name is one of the list's: a misspelt one is refused naming ``view``, rather than
    answered with the default view's rows. One the user does not have (a sales user's 全部客户, which for them
    is 我的客户 anyway) shows the default view, as a link shared by a manager should."""
    if view is not None and view not in (resource.listing.views or ()):
        raise Invalid({"view": [str(_l("No such view."))]})


def _narrowed(resource, principal, view):
    """Whether the list is limited to some owners or departments (the data scope, or a view such as 我的客户)."""
    if not principal.sees_all:
        return True
    views = resource.views(principal)
    return bool(views) and resource.view_key(principal, view, views) != "all"


def search_in_scope(resource, query):
    """A search (``q``: LIKE '%...%', which no index serves) within a scope: MariaDB would rather read the whole
    table backwards by id, hoping to meet a page of matches soon, than read the scope's own rows through their
    index (owner or department, then id) and test only those: a sales user's search read 100,000 rows for 2,700
    of their own (170 ms; at a million, seconds). Not for an unlimited list, where reading by id and stopping at a
    page of matches is the best there is."""
    return query.with_hint(resource.model.__table__, "IGNORE INDEX FOR ORDER BY (PRIMARY)", dialect_name="mysql")


def list_rows(resource, args, principal, default_limit=None):
    """Parse a list's parameters, apply scope, view, filters and sort: one page, its next cursor, and what
    ``filtered_query`` made of the parameters (for the page's count)."""
    params, query, branches = filtered_query(resource, args, principal, default_limit)
    rows, cursor = resource.listing.page(current_tenant.session, query, params, branches=branches)
    resource.preload(rows)
    return rows, cursor, params, query, branches


def list_branches(resource, principal, view, params):
    """The list's data scope branch by branch (``listing.Branches``), or None where it is one condition."""
    from .listing import Branches

    conditions = resource.scope_branches(principal)
    if not conditions:
        return None
    return Branches(resource.listing.where(resource.visible_query(principal, view, scoped=False), params), conditions)


def _api_list(r):
    def view():
        rows, cursor, *_parsed = list_rows(r, request.args, current_principal())
        return {"items": rows, "next_cursor": cursor}
    return view


def _api_detail(r):
    def view(record_id):
        obj = r.get_visible(record_id)
        r.preload([obj])
        return obj
    return view


def _api_history(r):
    def view(record_id):
        limit, before = page_args()
        entries, users = history_of(r.get_visible(record_id), limit=limit + 1, before=before)
        entries, next_cursor = newest_page(entries, limit)
        return {"items": history_rows(entries, users, r.history_words), "next_cursor": next_cursor}
    return view


def _api_create(r):
    def view():
        principal = current_principal()
        form = validate_or_422(form_from_json(r.form, **r.form_kwargs()))
        obj = r.create_committed(form, principal)
        r.preload([obj])
        return obj
    return view


def _api_edit(r):
    def view(record_id):
        principal = current_principal()
        obj = r.get_visible(record_id, principal)
        form = validate_or_422(form_from_json(r.form_class(editing=True), base=r.form_values(obj), **r.form_kwargs()))
        r.update(obj, form, principal)
        r.commit()
        r.preload([obj])
        return obj
    return view


def _api_delete(r):
    def view(record_id):
        principal = current_principal()
        r.delete(r.get_visible(record_id, principal), principal)
        r.commit()
    return view


def _page_list(r):
    def view():
        if any(value == "" for _key, value in request.args.items(multi=True)):
            # 筛选 sends every field of the filter form, the empty ones too: the address keeps what was chosen
            kept = [(k, v) for k, v in request.args.items(multi=True) if v != ""]
            return redirect(request.path + (f"?{urlencode(kept)}" if kept else ""))
        principal = current_principal()
        views, view = r.views(principal), request.args.get("view")
        errors = {}
        try:
            rows, cursor, params, query, branches = list_rows(r, request.args, principal, default_limit=20)
            total = r.listing.count(current_tenant.session, query, branches=branches, params=params)
        except Invalid as exc:
            rows, cursor, params, total, errors = [], None, None, 0, exc.fields
        return render_template(r.list_template, resource=r, rows=rows, next_cursor=cursor, params=params,
                               total=total, count_cap=count_cap(params), errors=errors, principal=principal,
                               views=views,
                               current_view=r.view_key(principal, view, views),
                               saved_views=_saved_views(r, principal),
                               **r.list_context(principal))
    return view


def _saved_views(r, principal):
    if not (r.listing and r.listing.views):
        return []
    from .saved_views import saved_views

    return saved_views(r.name, principal.user_id)


def _render_form(r, form, obj=None, status=200, error=None):
    return render_template(r.form_template, resource=r, form=form, obj=obj, error=error,
                           **r.form_context(form, obj)), status


def _page_create(r):
    def view():
        principal = current_principal()
        form = r.build_form()
        if form.validate_on_submit():
            try:
                obj = r.create_committed(form, principal)
            except ApiError as exc:
                current_tenant.session.rollback()
                apply_form_errors(form, exc.fields or {"": [exc.message]})
                return _render_form(r, form, status=exc.status, error=exc)
            flash(*r.created_message(obj))
            return redirect(r.created_url(obj))
        error = r.check_invalid_form(form, principal) if form.errors else None
        if error is not None:
            apply_form_errors(form, {k: v for k, v in (error.fields or {}).items()
                                     if k not in form or not form[k].errors})
        return _render_form(r, form, status=422 if form.errors else 200, error=error)
    return view


def _page_detail(r):
    def view(record_id):
        try:
            obj = r.get_visible(record_id)
        except NotFound:
            elsewhere = r.shown_elsewhere(record_id)  # a record that moved out of the user's sight, to where it is
            if elsewhere is None:
                raise
            return redirect(elsewhere)
        r.preload([obj])
        return r.detail_page(obj)
    return view


def _page_edit(r):
    def view(record_id):
        principal = current_principal()
        obj = r.get_visible(record_id, principal)
        form = r.build_form(editing=True, data=r.form_values(obj, as_text=False)) if request.method == "GET" \
            else r.build_form(editing=True)
        if request.method == "POST" and form.validate_on_submit():
            try:
                r.update(obj, form, principal)
                r.commit()
            except ApiError as exc:
                current_tenant.session.rollback()
                apply_form_errors(form, exc.fields or {"": [exc.message]})
                return _render_form(r, form, obj, status=exc.status, error=exc)
            flash(*r.saved_message(obj))
            return redirect(r.edited_url(obj))
        return _render_form(r, form, obj, status=422 if form.errors else 200)
    return view


def _page_delete(r):
    def view(record_id):
        principal = current_principal()
        obj = r.get_visible(record_id, principal)
        try:
            r.delete(obj, principal)
            r.commit()
        except ApiError as exc:  # refused (a department with people, a pool with leads...): nothing deleted
            current_tenant.session.rollback()
            flash(exc.message, "danger")
            return redirect(_page_sent_from(r, record_id))
        flash(_("Deleted."), "success")
        return redirect(url_for(r.endpoint("list")))
    return view


def _page_sent_from(r, record_id):
    """The page a form was posted from, when it is one of this company's (the browser's Referer, a path under
    ``/t/<code>/`` of this host), else the record's page: where a refused action sends the user back to."""
    sent_from = urlsplit(request.referrer or "")
    if sent_from.netloc == request.host and sent_from.path != request.path:
        back = local_next(sent_from.path + (f"?{sent_from.query}" if sent_from.query else ""),
                          prefix=url_for("tenant.home"))
        if back:
            return back
    if "detail" in r.actions:
        return url_for(r.endpoint("detail"), record_id=record_id)
    return url_for(r.endpoint("list"))


# ---------------------------------------------------------------------- recycle bin


def deleted_rows(resource, args):
    """One page of the recycle bin, its next cursor and its query (for the page's count)."""
    params = resource.recycle_listing.parse(args)
    query = resource.recycle_listing.where(resource.deleted_query(), params)
    rows, cursor = resource.recycle_listing.page(current_tenant.session, query, params)
    return rows, cursor, query


def _api_deleted(r):
    def view():
        rows, cursor, _query = deleted_rows(r, request.args)
        r.preload(rows)
        return {"items": rows, "next_cursor": cursor}
    return view


def _page_deleted(r):
    def view():
        try:
            rows, cursor, query = deleted_rows(r, request.args)
            total = r.recycle_listing.count(current_tenant.session, query)
        except Invalid:
            rows, cursor, total = [], None, 0
        r.preload(rows)
        users = user_names(current_tenant.session, {obj.deleted_by for obj in rows})
        return render_template(r.deleted_template, resource=r, rows=rows, next_cursor=cursor, total=total,
                               users=users, columns=r.recycle_columns_shown())
    return view


def _api_restore(r):
    def view(record_id):
        obj = r.get_deleted(record_id)
        r.restore(obj, current_principal())
        r.commit()
        r.preload([obj])
        return obj
    return view


def _page_restore(r):
    def view(record_id):
        r.restore(r.get_deleted(record_id), current_principal())
        r.commit()
        flash(_("Restored."), "success")
        return redirect(url_for(r.endpoint("detail"), record_id=record_id))
    return view


__all__ = ["REGISTERED", "Resource", "deleted_rows", "duplicate_field", "filtered_query", "history_of", "history_rows", "list_rows", "register"]
