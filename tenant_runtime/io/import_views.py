"""A background import's progress and outcome (``io/import_jobs.py``), for the person who sent the file: the API's
``GET /imports``, ``GET /imports/<id>``, ``POST /imports/<id>/resume`` and ``POST /imports/<id>/confirm`` (import
what a dry run checked), and the page ``/imports/<id>``, which refreshes itself while the job runs (no JavaScript
needed) and then shows what the import did."""

from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import fields
from sqlalchemy import select

from common.apidoc import endpoint
from common.errors import ApiError
from common.pagination import newest_page, page_args

from ..context import current_tenant
from ..core.schemas import Answer, Id, Time, computed, nullable
from ..people.permissions import ANY_USER, requires
from . import import_jobs
from .models import RUNNING, CrmImport

STATUS_LABELS = {"queued": _l("Waiting to start"), "checking": _l("Checking the rows"), "importing": _l("Importing"),
                 "done": _l("Finished"), "invalid": _l("Invalid rows: nothing imported"), "failed": _l("Stopped")}


def progress(record):
    """How far the job has come, 0-100: checking is the first half and writing the second (a dry run only
    checks)."""
    total = max(record.total_rows, 1)
    if record.status in ("done", "invalid"):
        return 100
    if record.dry_run:
        return min(99, record.checked_rows * 100 // total)
    return min(99, (record.checked_rows + record.written_rows) * 50 // total)


class ImportSchema(Answer):
    id = Id()
    resource = fields.String(metadata={"description": "the list imported into", "enum": ["customers", "contacts",
                                                                                         "leads"]})
    file_name = fields.String()
    status = fields.String(metadata={"description": "queued, checking, importing, done, invalid (nothing "
                                                    "imported), failed (stopped: POST .../resume goes on)",
                                     "enum": ["queued", "checking", "importing", "done", "invalid", "failed"]})
    dry_run = fields.Boolean()
    on_duplicate = fields.String(metadata={"enum": ["skip", "error"]})
    rows = fields.Integer(attribute="total_rows", metadata={"description": "data rows in the file"})
    checked_rows = fields.Integer()
    written_rows = fields.Integer()
    progress = computed(progress, {"type": "integer", "description": "0-100"})
    created = fields.Integer()
    skipped = fields.Integer()
    result = computed(lambda r: {k: v for k, v in (r.result or {}).items() if k not in ("stopped_in", "imported_as")}, {
        "type": "object", "description": "what the import did: rows, columns (field -> the file's header), "
        "ignored_columns, skipped_rows and invalid_rows (each {row, fields}, at most 1,000 listed), invalid (how "
        "many rows are invalid), also_created"})
    imported_as = computed(lambda r: str(r.result["imported_as"]) if (r.result or {}).get("imported_as") else None,
                           {"type": "string", "nullable": True, "pattern": r"^[0-9]+$",
                            "description": "a dry run imported since (POST .../confirm): the import that did it"})
    error = nullable()
    created_at = Time()
    started_at = nullable(Time)
    finished_at = nullable(Time)


def own(import_id):
    """The signed-in user's import ``import_id`` (its file's bytes are deferred: never read here), or 404."""
    record = current_tenant.session.scalar(
        select(CrmImport).where(CrmImport.id == import_id)) \
        if 0 < import_id < 2**63 else None
    if record is None or record.user_id != g.tenant_user.id:
        abort(404)
    return record


def recent(user_id, limit, resource=None, before=None):
    """The user's latest imports (of one list's, with ``resource``; older than id ``before``), newest first."""
    query = select(CrmImport).where(CrmImport.user_id == user_id)
    if resource is not None:
        query = query.where(CrmImport.resource == resource)
    if before is not None:
        query = query.where(CrmImport.id < before)
    return current_tenant.session.scalars(query.order_by(CrmImport.id.desc()).limit(limit)).all()


def register(pages, api):
    def route(blueprint, rule, methods=("GET",)):
        def decorator(view):
            blueprint.add_url_rule(rule, view_func=view, methods=list(methods))
            requires(f"{blueprint.name}.{view.__name__}", ANY_USER)  # one's own imports only
            return view
        return decorator

    @route(api, "/imports")
    @endpoint("Your imports run in the background (files of more rows than one request imports) and your kept "
              "checks (dry runs that found rows to import), newest first",
              response=ImportSchema, page=True)
    def import_list():
        limit, before = page_args()
        items, cursor = newest_page(recent(g.tenant_user.id, limit + 1, before=before), limit)
        return {"items": items, "next_cursor": cursor}

    @route(api, "/imports/<int:import_id>")
    @endpoint("One of your background imports: its progress while it runs, then what it did",
              response=ImportSchema)
    def import_detail(import_id):
        return own(import_id)

    @route(api, "/imports/<int:import_id>/resume", methods=["POST"])
    @endpoint("Go on with a background import that stopped (a worker gone, a database down), after the rows it "
              "had committed", status=202, response=ImportSchema, errors=(409, 429, 503),
              description="409 import_running while it runs, import_finished once it has finished; 429 "
                          "import_busy while another import of the company runs.")
    def import_resume(import_id):
        return import_jobs.resume(own(import_id))

    @route(api, "/imports/<int:import_id>/confirm", methods=["POST"])
    @endpoint("Import the file a finished dry run checked, without sending it again", status=202,
              response=ImportSchema, errors=(409, 429, 503),
              description="A new import of the same file with the same choices; it checks the file again before it "
                          "writes (the CRM may have changed since the check), and the dry run's imported_as names "
                          "it. 409 import_not_checked for anything but a finished dry run, import_confirmed once it "
                          "has been imported, import_file_gone when its file was deleted (CRM_IMPORT_KEEP_DAYS); "
                          "429 import_busy while another import of the company runs.")
    def import_confirm(import_id):
        return import_jobs.confirm(own(import_id))

    @route(pages, "/imports/<int:import_id>")
    def import_page(import_id):
        record = own(import_id)
        from ..core.resource import REGISTERED

        resource = REGISTERED.get(record.resource)
        stalled = import_jobs.stalled(record)
        has_file = import_jobs.has_file(current_tenant.session, record.id)
        companion = resource.import_spec.companion if resource is not None else None
        return render_template("tenant/io/import_status.html", record=record, resource=resource,
                               also_label=companion.resource().label_plural if companion else "",
                               progress=progress(record), running=record.status in RUNNING and not stalled,
                               has_file=has_file, stalled=stalled, keep_days=current_app.config["CRM_IMPORT_KEEP_DAYS"],
                               status_label=STATUS_LABELS[record.status])

    @route(pages, "/imports/<int:import_id>/resume", methods=["POST"])
    def import_resume_page(import_id):
        try:
            import_jobs.resume(own(import_id))
        except ApiError as exc:
            current_tenant.session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for("tenant.import_page", import_id=import_id))

    @route(pages, "/imports/<int:import_id>/confirm", methods=["POST"])
    def import_confirm_page(import_id):
        try:
            import_id = import_jobs.confirm(own(import_id)).id
        except ApiError as exc:
            current_tenant.session.rollback()
            flash(exc.message, "danger")
        return redirect(url_for("tenant.import_page", import_id=import_id))

