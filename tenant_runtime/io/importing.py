"""Import (导入) of records from a spreadsheet, Excel (.xlsx) or CSV, for any resource that declares an
``import_spec``.

Every row goes through the resource's own create form and create service, as if the person importing had typed
it into the 新建 page: the same validation (phones normalised, credit codes checked), the same duplicate check
(查重), the same owner rules, word index and change history. Cells are read as people write them: a column is
found by its header in either language (客户名称 or "Customer name", an alias such as 手机 or 公司名称, or the
field's name), a choice by its label (重要, 广东 for 广东省, an owner by name) or its code, a record it points at
by name (a contact's customer), a time or date as Excel stores it or as text (2026-12-05, 2026/12/5 14:30,
2026年12月5日), a yes/no as 是/否. Row numbers are the spreadsheet's own.

The whole file is one transaction. A row that is invalid stops the import: nothing is written and the answer
(422 ``import_invalid``) lists every such row with its fields, so the file can be corrected and sent again. A
row that is already in the CRM (its phone, its credit code, its company name), or that repeats an earlier row of
the file, is skipped and reported (``on_duplicate=skip``, the default), or counts as invalid
(``on_duplicate=error``). ``dry_run`` checks the whole file the same way and writes nothing to the CRM; a check
that found rows to import keeps the file (``import_id``: ``POST /imports/<id>/confirm``, 导入 on the page, imports
it without it being sent again; the daily ``imports.expire`` drops it after ``CRM_IMPORT_KEEP_DAYS``). Sending a file
again after an import only skips what it created, so an import is safe to repeat.

==============  =====================================  =====================================  =================
action          page                                   API                                    permission
==============  =====================================  =====================================  =================
import          GET, POST /<name>/import               POST /<name>/import (multipart)        <module>.import
template        GET /<name>/import/template?format=    GET /<name>/import/template?format=    <module>.import
==============  =====================================  =====================================  =================

One import per tenant runs at a time in a process (``CRM_IMPORTS_PER_TENANT``, 429 ``import_busy``); a file
holds at most ``CRM_IMPORT_MAX_ROWS`` rows and ``CRM_IMPORT_MAX_BYTES`` bytes. Each import is logged (INFO):
who, which resource, how many rows were created and skipped; no cell is logged.
"""

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from urllib.parse import quote

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, RadioField
from wtforms.validators import Optional

from common.apidoc import endpoint
from common.db import savepoint
from common.errors import ApiError, Invalid
from common.i18n import list_join
from common.regions import city_choices, province_choices
from common.uploads import read_upload, sniff

from ..bulkhead import tenant_slot
from ..context import current_tenant
from ..core.scope import current_principal
from ..people.permissions import requires
from .export import CONTENT_TYPES, xlsx_cell

ON_DUPLICATE = {"skip": _l("Skip it and import the others"), "error": _l("Treat it as an error: import nothing")}
DUPLICATE_CODES = ("duplicate", "possible_duplicate")  # the create service's 409s that mean "already there"
FORMULA_QUOTE = re.compile(r"^'(?=[=+\-@\t\r])")  # the quote an export put before a formula-like text
HEADER_NOTE = re.compile(r"[（(][^）)]*[）)]|[*＊]")  # 客户名称（必填）, 客户名称*: the header is 客户名称
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
                "%Y.%m.%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y%m%d")
DAY_STARTS = time(9, 0)  # a date without a time: 09:00 that day, the start of a working day
YES = {"是", "有", "对", "√", "✓", "✔", "y", "yes", "true", "1"}
NO = {"否", "无", "不是", "×", "✗", "n", "no", "false", "0"}
LISTED_CHOICES = 40  # the template's notes list the choices of a field with at most this many


@dataclass(frozen=True)
class Pointer:
    """A field that holds another record's id, written in the file as that record's name (a contact's
    customer): ``resolve(text, principal)`` gives the id, or raises ValueError saying why none or several;
    ``hint`` says what the column takes."""

    resolve: object
    hint: str = ""


@dataclass(frozen=True)
class Companion:
    """Columns of a file that make a second record beside each row's own, in the same savepoint: a customer's
    first contact (联系人, 联系人手机). ``resource()`` gives the other resource; ``fields`` maps the file's names
    of those columns to the other form's fields, ``labels`` and ``aliases`` name them; ``link`` is the other
    form's field that takes the new record's id. The columns are offered (template, page, headers) only to a
    user with ``permission``; a row with none of them filled makes no second record."""

    resource: object
    link: str
    fields: dict
    labels: dict
    aliases: dict = field(default_factory=dict)
    permission: str = ""


class CompanionRefused(Exception):
    """The second record of a row cannot be made: ``fields`` by the file's names of its columns."""

    def __init__(self, fields):
        super().__init__("companion refused")
        self.fields = fields


@dataclass(frozen=True)
class ImportSpec:
    """What a resource imports: its create form's fields in the template's order, those a file must have a
    column for, other headers people give those columns (``{field: ("手机", "电话")}``), the fields written as
    another record's name (``{field: Pointer}``), and the fields whose values together may appear once in a
    file (``keys``; by default each of the resource's unique fields alone)."""

    fields: tuple
    required: tuple = ()
    aliases: dict = field(default_factory=dict)
    pointers: dict = field(default_factory=dict)
    keys: tuple = ()
    companion: Companion | None = None
    # {a column (a field or a companion's): lazy text}: how to write it, said before what its kind takes
    notes: dict = field(default_factory=dict)
    # {field: a function giving its value as the create service's 查重 compares it}: a row whose value compares
    # equal to an earlier row's repeats it (广州某某有限公司 and 广州某某), found in the file itself, so that a
    # background import's check, which rolls its batches back, finds what the create service would
    similar: dict = field(default_factory=dict)

    def file_keys(self, resource, names):
        """The keys a row of the file is compared to the earlier rows by."""
        keys = self.keys or tuple((name,) for name in sorted(set(resource.unique_fields.values())))
        return tuple(key for key in keys if set(key) <= set(names))


@dataclass
class Column:
    """One field of the import, as the create form has it (for the current user: owners they manage)."""

    name: str
    label: str
    kind: str  # "choice", "pointer", "time", "date", "bool" or "text"
    choices: list = field(default_factory=list)  # [(value, label)] of a choice
    required: bool = False
    description: str = ""
    pointer: Pointer | None = None
    companion: bool = False  # a column of the spec's companion (a customer's first contact)
    labels_elsewhere: list = field(default_factory=list)  # [(value, label)] of a choice in every language

    def normalised_choices(self):
        """label (in either language) or code, normalised -> the values it may mean."""
        found = {}
        for value, label in self.choices + self.labels_elsewhere:
            if value in ("", None):
                continue
            for key in {norm(label), norm(value)}:
                found.setdefault(key, [])
                if value not in found[key]:
                    found[key].append(value)
        return found


def norm(text):
    """Text as headers and choices are compared: full-width folded, case folded, without spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)).casefold())


# ---------------------------------------------------------------------- the columns a resource takes


def form_columns(resource, spec, principal=None):
    """The spec's fields as the current user's create form has them, then its companion's columns when the
    user may create what they make."""
    form = resource.build_form(meta={"csrf": False}, formdata=None)
    columns = [_column(name, form[name], str(form[name].label.text), spec.pointers.get(name), name in spec.required)
               for name in spec.fields]
    companion = spec.companion
    if companion and (principal or current_principal()).can(companion.permission):
        other = companion.resource().build_form(meta={"csrf": False}, formdata=None)
        for name, other_name in companion.fields.items():
            columns.append(_column(name, other[other_name], str(companion.labels[name]), None, False))
            columns[-1].companion = True
    for column in columns:
        if column.name in spec.notes:
            column.description = " ".join(filter(None, (str(spec.notes[column.name]), column.description)))
    return columns


REGION_NAMES = {"province_code": lambda: province_choices(),
                "city_code": lambda: [option for group in city_choices().values() for option in group]}


def _column(name, f, label, pointer, required):
    if pointer is not None:
        column = Column(name, label, "pointer", pointer=pointer)
    elif f.type in ("SelectField", "RadioField", "OwnerSelect"):
        choices = f.choices
        if isinstance(choices, dict):  # grouped (cities by province): every group's options
            choices = [option for group in choices.values() for option in group]
        pairs = list(_pairs(choices))
        column = Column(name, label, "choice", [(v, str(lbl)) for v, lbl in pairs])
        for locale in ("zh", "en"):  # a sheet written in the other language (重要 for an English reader) reads too
            with force_locale(locale):
                column.labels_elsewhere += [(v, str(lbl)) for v, lbl in pairs]
                # regions are named per request (plain text, not lazy): 广东省 read by an English reader too
                column.labels_elsewhere += list(REGION_NAMES.get(name, tuple)())
    else:
        column = Column(name, label, {"LocalDateTime": "time", "DateField": "date", "BooleanField": "bool"}.get(
            f.type, "text"))
    column.required, column.description = required, str(f.description or "")
    return column


def _pairs(choices):
    for choice in choices:
        yield (choice[0], choice[1]) if isinstance(choice, (tuple, list)) else (choice, choice)


def header_names(resource, spec, columns):
    """Normalised header -> field: each field's name, its label in Chinese and in English, its aliases."""
    names = {}
    aliases = {**spec.aliases, **(spec.companion.aliases if spec.companion else {})}
    for column in columns:
        names[norm(column.name)] = column.name
        names[norm(column.label)] = column.name
        for alias in aliases.get(column.name, ()):
            names[norm(alias)] = column.name
    form_cls = resource.form_class()
    for locale in ("zh", "en"):
        with force_locale(locale):
            for column in columns:
                if column.companion:
                    label = spec.companion.labels[column.name]
                else:
                    unbound = getattr(form_cls, column.name)
                    label = unbound.args[0] if unbound.args else unbound.kwargs.get("label")
                if label:
                    names[norm(label)] = column.name
    return names


# ---------------------------------------------------------------------- reading the file


def read_table(data, filename, cap=None):
    """The file's rows as ``(row number, [cells])``, blank rows left out: an .xlsx's first sheet, or a CSV in
    UTF-8 (with or without a byte-order mark) or GB18030 (what Excel on Chinese Windows saves). Reading stops
    past ``cap`` rows (default ``CRM_IMPORT_MAX_ROWS``) and the header: one row too many is enough to say so."""
    cap = cap or _row_cap()
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Invalid({"file": [_("This is an old Excel file (.xls). Save it as .xlsx or CSV and send it again.")]})
    if sniff(data[:8], filename or "file.xlsx", allowed=("xlsx",)) is not None:
        return _xlsx_rows(data, cap)
    if data.startswith(b"PK") or b"\x00" in data[:4096]:
        raise Invalid({"file": [_("Send an Excel file (.xlsx) or a CSV file.")]})
    return _csv_rows(data, cap)


def _xlsx_rows(data, cap):
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise Invalid({"file": [_("This Excel file cannot be read. Save it again as .xlsx and send it.")]}) from exc
    sheet = book.worksheets[0] if book.worksheets else None
    if sheet is None:
        return []
    rows = []
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if any(v not in (None, "") for v in values):
                rows.append((number, list(values)))
            if len(rows) > cap + 1:  # the header and one row too many are enough to say so
                break
    finally:
        book.close()
    return rows


def _csv_rows(data, cap):
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Invalid({"file": [_("The CSV file is neither UTF-8 nor GBK text.")]})
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = []
    try:
        for number, values in enumerate(csv.reader(io.StringIO(text, newline=""), dialect), start=1):
            if any(v.strip() for v in values):
                rows.append((number, values))
            if len(rows) > cap + 1:
                break
    except csv.Error as exc:
        raise Invalid({"file": [_("The CSV file cannot be read: %(reason)s", reason=str(exc))]}) from exc
    return rows


def _row_cap():
    return current_app.config["CRM_IMPORT_MAX_ROWS"]


def cell_text(value, column):
    """A cell as the form's text input: Excel's numbers and times written as a person would type them."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if column.kind == "date":
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S") if column.kind == "time" else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone kept as a number: 13800138000, not 13800138000.0
    text = str(value).strip()
    return FORMULA_QUOTE.sub("", text)


def typed_time(text):
    """``(datetime, whether a time of day was written)`` for a time typed in one of the ways people do, or
    ``(None, False)``."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt), "%H" in fmt
        except ValueError:
            continue
    return None, False


def time_text(text):
    """A time as the form reads it (``YYYY-MM-DD HH:MM:SS``; a date alone at ``DAY_STARTS``); the text itself
    when it is none (the form then says what is wrong)."""
    parsed, with_time = typed_time(text)
    if parsed is None:
        return text
    return (parsed if with_time else datetime.combine(parsed.date(), DAY_STARTS)).strftime("%Y-%m-%d %H:%M:%S")


def date_text(text):
    """A date as the form reads it (``YYYY-MM-DD``); the text itself when it is none."""
    parsed, _with_time = typed_time(text)
    return text if parsed is None else parsed.date().isoformat()


def bool_value(text):
    """``"y"`` for 是 (yes, 1, √...), ``""`` for 否 (no, 0, ×...); ValueError for anything else."""
    key = norm(text)
    if key in YES:
        return "y"
    if key in NO:
        return ""
    raise ValueError(_("Write 是 or 否 (yes or no)."))


def choice_value(text, column, lookup):
    """The choice a cell means (its label, its code, or the one label it starts); raises ValueError saying why
    it means none, or several."""
    key = norm(text)
    found = lookup.get(key)
    if not found and len(key) >= 2:
        found = sorted({v for k, values in lookup.items() if k.startswith(key) for v in values})
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(_("“%(text)s” matches several options; write it in full.", text=text))
    labels = [label for value, label in column.choices if value not in ("", None)]
    if len(labels) <= LISTED_CHOICES:
        raise ValueError(_("“%(text)s” is not one of: %(options)s.", text=text, options=list_join(labels)))
    raise ValueError(_("“%(text)s” is not one of the options.", text=text))


# ---------------------------------------------------------------------- the import


@dataclass
class Outcome:
    """What an import did (or, dry run, would do)."""

    dry_run: bool
    rows: int = 0
    created_ids: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # {"row", "fields", "duplicate_of_row", "matches"}
    errors: list = field(default_factory=list)  # {"row", "fields"}
    ignored_columns: list = field(default_factory=list)
    columns: dict = field(default_factory=dict)  # field -> the file's header for it
    also_created: dict = field(default_factory=dict)  # the companion's resource name -> records it made
    import_id: int | None = None  # a dry run's check, kept with its file for POST /imports/<id>/confirm

    def as_json(self):
        return {"dry_run": self.dry_run, "rows": self.rows, "created": len(self.created_ids),
                "ids": [] if self.dry_run else [str(i) for i in self.created_ids], "skipped": len(self.skipped),
                "skipped_rows": self.skipped, "ignored_columns": self.ignored_columns, "columns": self.columns,
                "also_created": self.also_created,
                "import_id": str(self.import_id) if self.import_id is not None else None}


@dataclass
class Prepared:
    """A file read and its columns found, ready to import: ``rows`` are ``(row number, [cells])`` under the
    header."""

    resource: object
    columns: list
    mapping: dict  # column index -> field
    ignored: list
    headers: dict  # field -> the file's header for it
    rows: list

    def outcome(self, dry_run):
        return Outcome(dry_run=dry_run, rows=len(self.rows), ignored_columns=self.ignored, columns=self.headers)


def read_upload_options(upload, on_duplicate):
    """The upload's bytes, after checking the form's other fields; 422 naming what is missing or wrong."""
    if upload is None or not upload.filename:
        raise Invalid({"file": [_("Choose a file.")]})
    if on_duplicate not in ON_DUPLICATE:
        raise Invalid({"on_duplicate": [_("Choose skip or error.")]})
    return read_upload(upload, "file", current_app.config["CRM_IMPORT_MAX_BYTES"])


def prepare(resource, data, filename, principal=None, columns=None):
    """Read ``data`` (the file's bytes) and find its columns for ``resource``: 422 naming the file when it cannot
    be read, has no rows, too many, or lacks a required column. ``columns``: ``form_columns`` of the resource
    for this user, when the caller has them already."""
    table = read_table(data, filename)
    spec = resource.import_spec
    columns = columns or form_columns(resource, spec, principal)
    mapping, ignored = map_headers(resource, spec, columns, table)
    rows = table[1:]
    if not rows:
        raise Invalid({"file": [_("The file has no rows under its header.")]})
    if len(rows) > _row_cap():
        raise Invalid({"file": [_("The file has more than %(n)s rows. Split it into files of at most %(n)s rows.",
                                  n=f"{_row_cap():,}")]})
    return Prepared(resource, columns, mapping, ignored,
                    {name: str(table[0][1][i]).strip() for i, name in mapping.items()}, rows)


class RowImporter:
    """Creates a prepared file's rows, as many at a time as it is given (``add``), each in a savepoint of the
    tenant's session; the caller commits or rolls back. Remembers the rows it has seen, so that a row repeating
    an earlier one of the file is a duplicate whichever batch the earlier one was in."""

    def __init__(self, prepared, on_duplicate, principal):
        self.prepared, self.on_duplicate, self.principal = prepared, on_duplicate, principal
        resource, columns = prepared.resource, prepared.columns
        spec = resource.import_spec
        self.by_name = {c.name: c for c in columns}
        self.lookups = {c.name: c.normalised_choices() for c in columns if c.kind == "choice"}
        self.form_cls, self.form_kwargs = resource.form_class(), resource.form_kwargs()
        self.keys = spec.file_keys(resource, self.by_name)
        self.similar = {(name,): compare for name, compare in spec.similar.items() if name in self.by_name}
        self.seen = {key: {} for key in (*self.keys, *self.similar)}
        self.pointed = {}  # (field, text) -> id or the ValueError: a customer named on many rows is looked up once
        self.companion = spec.companion if any(c.companion for c in columns) else None
        if self.companion:
            self.other = self.companion.resource()
            self.other_cls, self.other_kwargs = self.other.form_class(), self.other.form_kwargs()

    def add(self, rows, outcome):
        """Create ``rows`` (a slice of the prepared rows) into ``outcome``: created ids, skipped and invalid rows."""
        resource, session, companion = self.prepared.resource, current_tenant.session, self.companion
        if companion:
            outcome.also_created.setdefault(self.other.name, 0)
        for number, values in rows:
            data, problems = {}, {}
            for index, name in self.prepared.mapping.items():
                column = self.by_name[name]
                text = cell_text(values[index] if index < len(values) else None, column)
                if not text:
                    continue  # an empty cell: the form's default, as a field left empty on the page
                try:
                    text = _cell_value(text, column, self.lookups, self.pointed, self.principal)
                except ValueError as exc:
                    problems[name] = [str(exc)]
                    continue
                if text != "":
                    data[name] = text
            other_form = None
            if companion and any(name in data for name in companion.fields):
                other_form, other_problems = _companion_form(
                    companion, self.other_cls, self.other_kwargs,
                    {name: data.pop(name) for name in companion.fields if name in data})
                problems.update(other_problems)
            form = self.form_cls(formdata=MultiDict(data), meta={"csrf": False}, **self.form_kwargs)
            if not form.validate() or problems:
                outcome.errors.append({"row": number, "fields": {**_form_errors(form), **problems}})
                continue
            row_keys = {key: tuple(form[name].data for name in key) for key in self.keys
                        if all(form[name].data for name in key)}
            row_keys.update({key: (compare(form[key[0]].data),) for key, compare in self.similar.items()
                             if form[key[0]].data and compare(form[key[0]].data)})
            earlier = next(((key, self.seen[key][value]) for key, value in row_keys.items()
                            if value in self.seen[key]), None)
            if earlier is not None:
                self._duplicate(outcome, {"row": number, "fields": {earlier[0][-1]: [
                    _("The same as row %(row)s of this file.", row=earlier[1])]}, "duplicate_of_row": earlier[1],
                    "matches": []})
                continue
            try:
                with savepoint(session):
                    obj = resource.create(form, self.principal)
                    session.flush()
                    if other_form is not None:
                        _create_companion(companion, self.other, other_form, obj, self.principal)
                        session.flush()
            except CompanionRefused as exc:
                outcome.errors.append({"row": number, "fields": exc.fields})
                continue
            except ApiError as exc:
                entry = {"row": number, "fields": _messages(exc.fields) or {"": [str(exc.message)]}}
                if exc.code in DUPLICATE_CODES:
                    self._duplicate(outcome, {**entry, "duplicate_of_row": None,
                                              "matches": exc.extra.get("duplicates", [])})
                else:
                    outcome.errors.append(entry)
                continue
            except IntegrityError as exc:
                from ..core.resource import duplicate_field

                name = duplicate_field(exc, resource.unique_fields) or ""
                self._duplicate(outcome, {"row": number, "fields": {name: [_("Already in use.")]},
                                          "duplicate_of_row": None, "matches": []})
                continue
            outcome.created_ids.append(obj.id)
            if other_form is not None:
                outcome.also_created[self.other.name] += 1
            for key, value in row_keys.items():
                self.seen[key][value] = number
        return outcome

    def _duplicate(self, outcome, entry):
        (outcome.skipped if self.on_duplicate == "skip" else outcome.errors).append(entry)


def invalid_answer(errors, headers):
    """The 422 of a file with invalid rows: nothing was imported."""
    return ApiError(422, "import_invalid", ngettext(
        "%(num)s row of the file is invalid, so nothing was imported. Correct it and send the file again.",
        "%(num)s rows of the file are invalid, so nothing was imported. Correct them and send the file again.",
        len(errors)), {"file": [_("Some rows are invalid.")]}, extra={"rows": errors, "columns": headers})


def log_import(resource, principal, outcome, background=False):
    current_app.logger.info("import: tenant %s user %s imported %d %s (%d skipped, %d rows%s%s)",
                            current_tenant.tenant_id, principal.user_id, len(outcome.created_ids), resource.name,
                            len(outcome.skipped), outcome.rows, ", dry run" if outcome.dry_run else "",
                            ", in the background" if background else "")


def import_file(resource, upload, on_duplicate="skip", dry_run=False, principal=None, columns=None):
    """Import ``upload`` (a werkzeug FileStorage) into ``resource`` for ``principal``: the outcome, committed
    (or, dry run, rolled back); 422 ``import_invalid`` with every invalid row and nothing written. ``columns``:
    ``form_columns`` of the resource for this user, when the caller has them already."""
    principal = principal or current_principal()
    data = read_upload_options(upload, on_duplicate)
    prepared = prepare(resource, data, upload.filename, principal, columns)
    return import_prepared(prepared, on_duplicate, dry_run, principal)


def import_prepared(prepared, on_duplicate, dry_run, principal):
    """The whole of a prepared file in one transaction (``import_file``)."""
    resource, session = prepared.resource, current_tenant.session
    outcome = RowImporter(prepared, on_duplicate, principal).add(prepared.rows, prepared.outcome(dry_run))
    if outcome.errors:
        session.rollback()
        raise invalid_answer(outcome.errors, outcome.columns)
    if dry_run:
        session.rollback()
    else:
        resource.commit()
    log_import(resource, principal, outcome)
    return outcome


def _companion_form(companion, form_cls, form_kwargs, cells):
    """The companion's form from a row's cells (by the file's names), validated, and its problems by those names.
    Its link holds a stand-in id until the row's own record exists (``_create_companion``)."""
    formdata = MultiDict({companion.fields[name]: text for name, text in cells.items()} | {companion.link: "1"})
    form = form_cls(formdata=formdata, meta={"csrf": False}, **form_kwargs)
    form.validate()
    by_field = {other_name: name for name, other_name in companion.fields.items()}
    return form, {by_field.get(name, ""): [str(m) for m in messages] for name, messages in form.errors.items()
                  if not isinstance(messages, dict)}


def _create_companion(companion, other, form, obj, principal):
    """The companion's record for ``obj``, just created; CompanionRefused (its fields by the file's names) when its
    service says no."""
    form[companion.link].data = obj.id
    try:
        other.create(form, principal)
    except ApiError as exc:
        by_field = {other_name: name for name, other_name in companion.fields.items()}
        raise CompanionRefused({by_field.get(name, ""): messages for name, messages in _messages(exc.fields).items()}
                               or {"": [str(exc.message)]}) from exc


def _cell_value(text, column, lookups, pointed, principal):
    """A cell's text as the form's input takes it; ValueError saying why it cannot be."""
    if column.kind == "choice":
        return choice_value(text, column, lookups[column.name])
    if column.kind == "pointer":
        key = (column.name, text.strip())  # as the lookup compares it: 甲 公司 is not 甲公司
        if key not in pointed:
            try:
                pointed[key] = str(column.pointer.resolve(text, principal))
            except ValueError as exc:
                pointed[key] = exc
        if isinstance(pointed[key], ValueError):
            raise pointed[key]
        return pointed[key]
    if column.kind == "time":
        return time_text(text)
    if column.kind == "date":
        return date_text(text)
    if column.kind == "bool":
        return bool_value(text)
    return text


def _messages(fields):
    return {name: [str(m) for m in messages] for name, messages in (fields or {}).items()}


def _form_errors(form):
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()
            if not isinstance(messages, dict)}


def map_headers(resource, spec, columns, table):
    """``{column index: field}`` from the file's first row, and the headers no field takes; 422 naming the
    file when a required column is missing or a field has two columns."""
    if not table:
        raise Invalid({"file": [_("The file is empty.")]})
    names = header_names(resource, spec, columns)
    mapping, ignored, taken = {}, [], {}
    for index, header in enumerate(table[0][1]):
        text = "" if header is None else str(header).strip()
        if not text:
            continue
        name = names.get(norm(HEADER_NOTE.sub("", text))) or names.get(norm(text))
        if name is None:
            ignored.append(text)
        elif name in taken:
            raise Invalid({"file": [_("The columns “%(a)s” and “%(b)s” are the same field.", a=taken[name], b=text)]})
        else:
            mapping[index], taken[name] = name, text
    missing = [c.label for c in columns if c.required and c.name not in taken]
    if missing:
        raise Invalid({"file": [_("The file has no column for %(fields)s (the first row holds the column names).",
                                  fields=list_join(missing))]})
    return mapping, ignored


# ---------------------------------------------------------------------- the template


def template_response(resource, fmt):
    """An empty file to fill: the columns in the spec's order (required ones marked *), and for Excel a second
    sheet saying what each column takes."""
    spec = resource.import_spec
    columns = form_columns(resource, spec)
    headers = [c.label + ("*" if c.required else "") for c in columns]
    stem = "{}_{}".format(resource.label_plural, _("import template"))
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerow(headers)
        body, content_type = ("\ufeff" + buf.getvalue()).encode("utf-8"), CONTENT_TYPES["csv"]
    else:
        book = Workbook()
        sheet = book.active
        sheet.title = str(resource.label_plural)[:31]
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[sheet.cell(1, index).column_letter].width = max(12, 2 * len(column.label) + 4)
            sheet.cell(1, index).number_format = "@"
        notes = book.create_sheet(_("Notes"))
        notes.append([_("Column"), _("Required"), _("What it takes")])
        for cell in notes[1]:
            cell.font = Font(bold=True)
        for column in columns:
            # the choices are the company's own (pool names, owners): xlsx_cell drops what a sheet cannot hold
            notes.append([column.label, _("Yes") if column.required else _("No"), xlsx_cell(notes, describe(column))])
        notes.column_dimensions["A"].width, notes.column_dimensions["C"].width = 20, 90
        out = io.BytesIO()
        book.save(out)
        body, content_type = out.getvalue(), CONTENT_TYPES["xlsx"]
    name = f"{stem}.{fmt}"
    fallback = f"{resource.name}_import_template.{fmt}"
    return current_app.response_class(body, content_type=content_type, headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
        "Cache-Control": "no-store"})


def describe(column):
    """What a column takes, for the template's notes and the import page."""
    parts = [column.description] if column.description else []
    if column.kind == "choice":
        labels = [label for value, label in column.choices if value not in ("", None)]
        if len(labels) <= LISTED_CHOICES:
            parts.append(_("One of: %(options)s.", options=list_join(labels)))
        else:
            parts.append(_("Its name as the form lists it."))
    elif column.kind == "time":
        parts.append(_("A date and time, e.g. 2026-12-05 14:30; a date alone means 09:00 that day."))
    elif column.kind == "date":
        parts.append(_("A date, e.g. 1985-06-01."))
    elif column.kind == "bool":
        parts.append(_("Yes or no: 是 or 否, y or n (empty: no)."))
    elif column.kind == "pointer" and column.pointer.hint:
        parts.append(str(column.pointer.hint))
    return " ".join(parts)


# ---------------------------------------------------------------------- pages and API


class ImportForm(FlaskForm):
    file = FileField(_l("File"), description=_l("Excel (.xlsx) or CSV, the first row holding the column names."))
    on_duplicate = RadioField(_l("A record already in the CRM"), choices=list(ON_DUPLICATE.items()), default="skip")
    dry_run = BooleanField(_l("Only check the file: import nothing"), validators=[Optional()])


def _slot():
    """The tenant's import slot in this process (``CRM_IMPORTS_PER_TENANT``), or 429 ``import_busy``."""
    return tenant_slot("import_bulkhead", "CRM_IMPORTS_PER_TENANT", "import_busy", _(
        "Another import of your company is running. Try again when it has finished."))


def run(resource, upload, on_duplicate, dry_run, columns=None):
    """Import the upload: the ``Outcome`` of a file imported within the request, or the ``CrmImport`` of one of
    more than ``CRM_IMPORT_INLINE_ROWS`` rows, which a job imports (``import_jobs``)."""
    from . import import_jobs

    principal = current_principal()
    data = read_upload_options(upload, on_duplicate)
    prepared = prepare(resource, data, upload.filename, principal, columns)
    if len(prepared.rows) > current_app.config["CRM_IMPORT_INLINE_ROWS"]:
        return import_jobs.queue_import(prepared, data, upload.filename, on_duplicate, dry_run, principal)
    release = _slot()
    try:
        import_jobs.refuse_while_busy(current_tenant.session)
        outcome = import_prepared(prepared, on_duplicate, dry_run, principal)
        if dry_run:  # kept, so that 导入 takes the checked file without it being sent again
            outcome.import_id = import_jobs.keep_check(prepared, data, upload.filename, on_duplicate, outcome,
                                                       principal)
        return outcome
    finally:
        release()


TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on", "y"), ("", "0", "false", "no", "off", "n")


def _flag(value, name="dry_run"):
    """A multipart field's yes or no; anything else is a 422 naming it (``maybe`` was read as no: a check the
    client asked for imported the file)."""
    word = str(value or "").strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise Invalid({name: [_("Give true or false.")]})
    return word in TRUE_WORDS


def register(resource, pages, api):
    """``/<name>/import`` and ``/<name>/import/template`` on the pages and in the API, under ``<module>.import``."""
    from .import_views import ImportSchema

    r = resource
    permission = f"{r.module}.{r.permission('import')}"

    def api_view():
        outcome = run(r, request.files.get("file"), request.form.get("on_duplicate") or "skip",
                      _flag(request.form.get("dry_run")))
        if isinstance(outcome, Outcome):
            return outcome.as_json()
        return outcome, 202  # a background import: its progress at GET /imports/<id>

    def page_view():
        form = ImportForm()
        columns = form_columns(r, r.import_spec)
        outcome, error, status = None, None, 200
        if request.method == "POST":
            if form.validate_on_submit():
                try:
                    outcome = run(r, form.file.data, form.on_duplicate.data, form.dry_run.data, columns)
                    if not isinstance(outcome, Outcome):  # a background import: its own page shows it
                        return redirect(url_for("tenant.import_page", import_id=outcome.id))
                except ApiError as exc:
                    current_tenant.session.rollback()
                    error, status = exc, exc.status
            else:
                status = 422
        also_label = r.import_spec.companion.resource().label_plural if r.import_spec.companion else ""
        from .import_views import STATUS_LABELS, recent

        imports = recent(g.tenant_user.id, 5, r.name)
        return render_template("tenant/io/import.html", resource=r, form=form, columns=columns, outcome=outcome,
                               error=error, describe=describe, labels={c.name: c.label for c in columns},
                               also_label=also_label, imports=imports, import_status_labels=STATUS_LABELS,
                               inline_rows=current_app.config["CRM_IMPORT_INLINE_ROWS"],
                               max_rows=current_app.config["CRM_IMPORT_MAX_ROWS"]), status

    def template_view():
        fmt = request.args.get("format") or "xlsx"
        if fmt not in CONTENT_TYPES:
            raise Invalid({"format": [_("Choose csv or xlsx.")]})
        return template_response(r, fmt)

    name, template_name = f"{r.slug}_import", f"{r.slug}_import_template"
    declared = endpoint(
        f"Import {str(r.label_plural).lower()} from an Excel (.xlsx) or CSV file, each row validated and created as "
        "the create endpoint does: all in one transaction, or, a large file, by a background job", upload="file", upload_fields=ImportForm,
        response=OUTCOME_SCHEMA, also=((202, ImportSchema),),
        errors=(413, 422, 429, 503),
        description="Multipart fields: file; on_duplicate (skip, the default: a row whose phone, credit code or "
                    "name is already in the CRM, or repeats an earlier row, is skipped and reported; error: such a "
                    "row is invalid); dry_run (true: check only, write nothing). Any invalid row: 422 "
                    "import_invalid, nothing written, `rows` lists each invalid row's number (as the spreadsheet "
                    "numbers it) and fields. Another import of the company in progress: 429 import_busy. A file of "
                    "more rows than one request imports (CRM_IMPORT_INLINE_ROWS, 2,000; at most "
                    "CRM_IMPORT_MAX_ROWS, 50,000) is imported in the background: 202 with the import, whose "
                    "progress and outcome GET /imports/{import_id} gives (the same promise: any invalid row and "
                    "nothing is written); 503 queue_unavailable when the job queue does not take it.",
    )(api_view)
    api.add_url_rule(f"/{r.name}/import", endpoint=name, view_func=declared, methods=["POST"])
    pages.add_url_rule(f"/{r.name}/import", endpoint=name, view_func=page_view, methods=["GET", "POST"])
    declared_template = endpoint(f"An empty {str(r.label_plural).lower()} import file to fill (Excel with a sheet of "
                                 "notes, or CSV)", files=(CONTENT_TYPES["xlsx"], CONTENT_TYPES["csv"]),
                                 query=TemplateQuery)(template_view)
    api.add_url_rule(f"/{r.name}/import/template", endpoint=template_name, view_func=declared_template)
    pages.add_url_rule(f"/{r.name}/import/template", endpoint=template_name, view_func=template_view)
    for blueprint in (pages, api):
        requires(f"{blueprint.name}.{name}", permission)
        requires(f"{blueprint.name}.{template_name}", permission)


class TemplateQuery(FlaskForm):
    format = RadioField("format", choices=[("xlsx", "xlsx"), ("csv", "csv")], validators=[Optional()])


ROW_ENTRY = {"type": "object", "required": ["row", "fields"], "properties": {
    "row": {"type": "integer", "description": "the row's number in the spreadsheet (the header is row 1)"},
    "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    "duplicate_of_row": {"type": "integer", "nullable": True},
    "matches": {"type": "array", "items": {"type": "object"}}}}
OUTCOME_SCHEMA = {"type": "object", "required": ["dry_run", "rows", "created", "ids", "skipped", "skipped_rows"],
                  "properties": {
                      "dry_run": {"type": "boolean"},
                      "rows": {"type": "integer", "description": "data rows read"},
                      "created": {"type": "integer", "description": "records created (dry run: that would be)"},
                      "ids": {"type": "array", "items": {"type": "string"}},
                      "skipped": {"type": "integer"},
                      "skipped_rows": {"type": "array", "items": ROW_ENTRY},
                      "ignored_columns": {"type": "array", "items": {"type": "string"}},
                      "columns": {"type": "object", "additionalProperties": {"type": "string"},
                                  "description": "field -> the file's header for it"},
                      "also_created": {"type": "object", "additionalProperties": {"type": "integer"},
                                       "description": "records made beside the rows' own, by kind (a customer "
                                                      "row's 联系人 columns make its first contact: contacts)"},
                      "import_id": {"type": "string", "nullable": True, "pattern": "^[0-9]+$",
                                    "description": "a dry run that found rows to import: its check, kept with the "
                                                   "file (GET /imports/{id}); POST /imports/{id}/confirm imports "
                                                   "the file without sending it again"}}}
