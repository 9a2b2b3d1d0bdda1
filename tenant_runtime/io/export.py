"""Export (导出) of a resource's list as CSV or Excel, for any resource that declares ``export_columns``.

The rows are the list's own: the same filter parsing, the same data scope and view (``core.resource
.filtered_query``), in the list's sort order, read in keyset chunks (``ListSpec.chunks``) so that memory
stays flat however many rows there are. CSV is streamed as it is read; Excel is written by openpyxl's
write-only workbook to a temporary file, then sent. Above ``CRM_EXPORT_MAX_ROWS`` rows (counted up to that
many plus one) the answer is 422 ``export_too_large`` before anything is read.

Values are written as people read them on the page: labels in the reader's language (重要, not
``important``), times in local time, phones as written. A text cell that a spreadsheet would run as a
formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return first) gets a leading ``'``.

=========  ====================================  =====================================  ================
format     page                                  API                                    permission
=========  ====================================  =====================================  ================
csv, xlsx  GET /<name>/export?format=&<filters>  GET /<name>/export?format=&<filters>   <module>.export
=========  ====================================  =====================================  ================

The tenant database keeps no activity trail beyond per-record change history, so each export is logged
(INFO): who, which resource, format, how many rows, which filters (the search text itself left out).
"""

import csv
import io
import json
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from werkzeug.datastructures import MultiDict

from common.apidoc import endpoint
from common.errors import ApiError, Invalid
from common.i18n import list_join
from common.timeutil import to_local, utcnow

from ..bulkhead import tenant_slot
from ..context import current_tenant
from ..core.resource import filtered_query
from ..core.scope import current_principal
from ..people.permissions import requires

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK_SIZE = 1000  # rows read (and held) at a time
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# what the list page's links carry that is no filter: the export reads every page, in its own format
NOT_FILTERS = ("cursor", "limit", "format", "saved", "lang")
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class ExportColumn:
    """One column of an export: its header, and where its value comes from: an attribute (dotted for a
    relation: ``owner.full_name``) or ``get(row, lookups)`` (lookups: ``Resource.export_lookups``);
    ``labels`` turns a code into its label."""

    key: str | None
    label: object
    labels: dict | None = None
    get: object = None

    def value(self, row, lookups, labels=None):
        """The row's value; a code as its label from ``labels`` (``self.labels`` as text, made once per
        export: a lazy label is translated again each time it is read)."""
        if self.get is not None:
            value = self.get(row, lookups)
        else:
            value = row
            for part in self.key.split("."):
                value = getattr(value, part, None) if value is not None else None
        if value is not None and self.labels is not None:
            labels = labels if labels is not None else self.labels
            value = labels.get(value, value)
        return value


# ---------------------------------------------------------------------- cells


def neutralised(text):
    """Text a spreadsheet shows as text: one that it would run as a formula gets a leading ``'``."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def plain(value):
    """A column's value as the reader reads it: text, a local naive time, a date, or None."""
    if value is None or isinstance(value, str) and not value:
        return None
    if isinstance(value, datetime):
        return to_local(value).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    if isinstance(value, (list, tuple, set)):
        return list_join([str(v) for v in value]) or None
    return str(value)  # lazy labels in the reader's language


def csv_cell(value):
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    return neutralised(value)


def xlsx_cell(sheet, value):
    value = plain(value)
    if isinstance(value, str):
        # control characters an xlsx cannot hold (a pasted remark) would fail the whole file
        return neutralised(ILLEGAL_CHARACTERS_RE.sub("", value))
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "yyyy-mm-dd hh:mm"
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


# ---------------------------------------------------------------------- the export


@dataclass
class Export:
    """One export being made: what it reads and how it is written."""

    resource: object
    principal: object
    format: str
    params: object
    query: object
    branches: object  # listing.Branches or None, as filtered_query made them
    view: str | None
    total: int  # the rows counted when the export was asked for

    @property
    def headers(self):
        return [str(col.label) for col in self.resource.export_columns]

    def chunks(self):
        """Rows as lists of values, one list per chunk of rows read."""
        r = self.resource
        columns = [(col, {k: str(v) for k, v in col.labels.items()} if col.labels else None)
                   for col in r.export_columns]
        for rows in r.listing.chunks(current_tenant.session, self.query, self.params, branches=self.branches,
                                     size=CHUNK_SIZE):
            lookups = r.export_lookups(rows)
            yield [[col.value(row, lookups, labels) for col, labels in columns] for row in rows]

    def file_name(self):
        """``客户_20261130_1405.csv`` and its ASCII fallback ``customers_20261130_1405.csv`` (local time)."""
        stamp = to_local(utcnow()).strftime("%Y%m%d_%H%M")
        return f"{self.resource.label_plural}_{stamp}.{self.format}", f"{self.resource.name}_{stamp}.{self.format}"

    def disposition(self):
        name, fallback = self.file_name()
        return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"

    def record(self):
        """Who exported what, when it is asked for (a download broken off is recorded too). No personal data:
        the search text is left out, filters are codes and ids."""
        filters = {k: (["…"] if k == "q" else v) for k, v in self.params.active.items()}
        if self.view:
            filters["view"] = [self.view]
        current_app.logger.info("export: tenant %s user %s exported %d %s as %s, filters %s",
                                current_tenant.tenant_id, self.principal.user_id, self.total, self.resource.name,
                                self.format, json.dumps(filters, ensure_ascii=False, sort_keys=True))


def prepare(resource, args, principal):
    """Check the format and the list's parameters, and that the rows are few enough; 422 otherwise."""
    errors = {}
    fmt = args.get("format") or "csv"
    if fmt not in CONTENT_TYPES:
        errors["format"] = [_("Choose csv or xlsx.")]
    filters = MultiDict([(k, v) for k, v in args.items(multi=True) if k not in NOT_FILTERS])
    params = query = branches = None
    try:
        params, query, branches = filtered_query(resource, filters, principal)
    except Invalid as exc:
        errors.update(exc.fields or {})
    if errors:
        raise Invalid(errors)
    cap, view = current_app.config["CRM_EXPORT_MAX_ROWS"], filters.get("view")
    total = resource.listing.count(current_tenant.session, query, branches=branches, cap=cap, params=params)
    if total > cap:
        raise ApiError(422, "export_too_large", _(
            "More than %(cap)s records match, more than one export may hold. Narrow the filters (a department, an "
            "owner, a date range) and export again.", cap=f"{cap:,}"), extra={"max_rows": cap})
    return Export(resource, principal, fmt, params, query, branches, view, total)


def tenant_stream(pieces):
    """``stream_with_context`` for a tenant's answer. Flask tears the request down before the body streams
    (closing its tenant session and releasing its bulkhead slot), then runs the body inside the request's
    contexts again: so the body opens its tenant again (a session and a slot of its own, closed by the
    teardown at the end of the stream). A body that never starts holds nothing."""
    from ..routing import resolve

    code = current_tenant.code

    def body():
        resolve(code)
        yield from pieces()

    return stream_with_context(body())


def csv_response(export, finished=lambda: None):
    """Streamed as it is read: a byte-order mark (Excel on Chinese Windows reads UTF-8 by it), the header,
    then one piece per chunk; ``finished`` is called once the last piece is read (or the reading stops)."""

    def pieces():
        try:
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(export.headers)
            yield ("\ufeff" + buf.getvalue()).encode("utf-8")
            for chunk in export.chunks():
                buf.seek(0)
                buf.truncate()
                writer.writerows([csv_cell(v) for v in values] for values in chunk)
                yield buf.getvalue().encode("utf-8")
        finally:
            finished()

    return Response(tenant_stream(pieces), content_type=CONTENT_TYPES["csv"],
                    headers={"Content-Disposition": export.disposition(), "Cache-Control": "no-store"})


def xlsx_response(export):
    """Written row by row to a temporary file (openpyxl's write-only workbook keeps no rows in memory), then
    sent from it; the file is gone once sent, or when the answer is closed."""
    book = Workbook(write_only=True)
    # a sheet name has at most 31 characters and no backslash, / ? * [ ] or :
    sheet = book.create_sheet(title=re.sub(r"[\\/?*\[\]:]", " ", str(export.resource.label_plural))[:31])
    sheet.append(export.headers)
    for chunk in export.chunks():
        for values in chunk:
            sheet.append([xlsx_cell(sheet, v) for v in values])
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - the answer closes it once sent
    try:
        book.save(out)
        size = out.tell()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    resp = Response(_read_and_close(out), content_type=CONTENT_TYPES["xlsx"], direct_passthrough=True,
                    headers={"Content-Disposition": export.disposition(), "Cache-Control": "no-store"})
    resp.content_length = size
    resp.call_on_close(out.close)  # a client gone before the end: the server closes the answer
    return resp


def _read_and_close(fh, block=64 * 1024):
    """The file's bytes, closing it (and so removing a temporary file) once they are all sent."""
    try:
        while data := fh.read(block):
            yield data
    finally:
        fh.close()


def respond(resource, args):
    export = prepare(resource, args, current_principal())
    release = _export_slot()
    try:
        export.record()
        resp = csv_response(export, release) if export.format == "csv" else xlsx_response(export)
    except BaseException:
        release()
        raise
    if resp.is_streamed and export.format == "csv":
        # the CSV is read while it streams: the slot is held until its last piece is read or the answer closes
        resp.call_on_close(release)
    else:
        release()  # the Excel file is written: sending it reads nothing more
    return resp


def _export_slot():
    """One of the tenant's export slots in this process (``CRM_EXPORTS_PER_TENANT``), or 429 ``export_busy``."""
    return tenant_slot("export_bulkhead", "CRM_EXPORTS_PER_TENANT", "export_busy", _(
        "Another export of your company is being prepared. Try again when it has finished."))


# ---------------------------------------------------------------------- routes


def register(resource, pages, api):
    """``/<name>/export`` on the pages (the list's 导出 link) and in the API, under ``<module>.export``."""
    r = resource
    permission = f"{r.module}.{r.permission('export')}"

    def api_view():
        return respond(r, request.args)

    def page_view():
        try:
            return respond(r, request.args)
        except ApiError as exc:  # back to the list, its filters kept, saying why
            flash(" ".join([str(exc.message)] + [m for msgs in (exc.fields or {}).values() for m in msgs]),
                  "danger")
            back = [(k, v) for k, v in request.args.items(multi=True) if k != "format"]
            return redirect(url_for(r.endpoint("list"), **MultiDict(back).to_dict(flat=False)))

    name = f"{r.slug}_export"
    summary = (f"Export {str(r.label_plural).lower()} as CSV (UTF-8 with a BOM, streamed) or Excel: the list's "
               "filters, search, view and sort, within the user's data scope")
    declared = endpoint(summary, files=tuple(CONTENT_TYPES.values()), query=ExportQuery(r.listing), errors=(422, 429),
                        description="format: csv (default) or xlsx. More rows than the tenant's export limit: 422 "
                                    "export_too_large (narrow the filters). Another export of the company still "
                                    "in progress: 429 export_busy.")(api_view)
    api.add_url_rule(f"/{r.name}/export", endpoint=name, view_func=declared)
    pages.add_url_rule(f"/{r.name}/export", endpoint=name, view_func=page_view)
    requires(f"{api.name}.{name}", permission)
    requires(f"{pages.name}.{name}", permission)


class ExportQuery:
    """The export's query parameters for the API document: ``format`` and the list's own (but paging).
    The view checks them itself (``prepare``), so that ``format`` and the filters are named in one 422."""

    ignored_parameters = ("limit", "cursor")  # a list page's address, paging and all, exports every page

    def __init__(self, listing):
        self.listing = listing

    def parse(self, args):
        return None

    def openapi_parameters(self):
        return [{"name": "format", "in": "query", "required": False, "description": "file format",
                 "schema": {"type": "string", "enum": list(CONTENT_TYPES), "default": "csv"}},
                *self.listing.openapi_parameters()]
