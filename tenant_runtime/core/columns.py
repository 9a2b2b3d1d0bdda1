"""Columns of an HTML list, declared with the resource: what to show and how (the list template renders
each kind one way, so every CRM list looks and reads the same)."""

from dataclasses import dataclass, field

from flask import g, get_flashed_messages, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from common.timeutil import to_local
from common.validators import display_phone


@dataclass(frozen=True)
class Column:
    key: str  # attribute of the row (dotted for a relation: "owner.full_name")
    label: object
    kind: str = "text"  # text link ref badge time date phone tags bool
    labels: dict = field(default_factory=dict)  # value -> label for badges
    badge_kinds: dict = field(default_factory=dict)  # value -> badge colour
    sort: str | None = None  # the listing's sort key, when the header may sort by it
    # kind "ref": the record the value names, another resource's, as ``target(row) -> (endpoint, record id)``
    # (the page of that record is linked), or None where it names none (shown as text)
    target: object = None
    # a narrow list leaves it out (crm.css: a card under 760 px, a phone or a small tablet), so the name, the key
    # value and the row's action fit without scrolling sideways
    secondary: bool = False
    # long text (a follow-up's content): cut to the table's width with an ellipsis, never widening the table
    clip: bool = False

    @property
    def cell_class(self):
        """The class of the column's cells, where crm.css places them."""
        return " ".join(name for name, on in (("secondary", self.secondary), ("clip", self.clip)) if on)

    def value(self, row):
        value = row
        for part in self.key.split("."):
            value = getattr(value, part, None) if value is not None else None
        return value


DASH = "—"


class Cells:
    """A list's cells, written in Python, one renderer per table (``crm_cells(resource)`` in templates): each
    kind of column one way, the same HTML the list template's macro wrote. A Jinja macro call per cell (twenty
    rows of ten columns) and a translation lookup per badge cost a third of the customer list page's CPU; here
    a badge's label is translated once per value and table."""

    def __init__(self, resource):
        self.resource = resource
        self._labels = {}  # column key -> {value: escaped label}
        self._detail = None

    def __call__(self, col, row):
        value, kind = col.value(row), col.kind
        if kind == "link":
            if self._detail is None:
                self._detail = self.resource.endpoint("detail")
            return _link(self._detail, row.id, str(value)[:60] if value else DASH)
        if kind == "ref":
            target = col.target(row) if value else None
            if target is None:
                return escape(value) if value else Markup(DASH)
            endpoint, record_id = target
            return _link(endpoint, record_id, str(value)[:60])
        if kind == "badge":
            if not value:
                return Markup("")
            return Markup('<span class="badge badge-%s">%s</span>') % (col.badge_kinds.get(value, "default"),
                                                                        self._label(col, value))
        if kind == "time":
            return Markup('<span class="nowrap">%s</span>') % (
                to_local(value).strftime("%Y-%m-%d %H:%M") if value else DASH)
        if kind == "date":
            return Markup('<span class="nowrap">%s</span>') % (value.isoformat() if value else DASH)
        if kind == "phone":  # a tap calls it on a phone (E.164 in the link, as people write it in the text)
            return Markup('<a class="nowrap" href="tel:%s">%s</a>') % (value, display_phone(value))
        if kind == "tags":
            return Markup("").join(Markup('<span class="tag">%s</span>') % tag for tag in value or ())
        if kind == "bool":
            return Markup("✓" if value else "")
        return escape(value) if value is not None else Markup(DASH)

    def _label(self, col, value):
        labels = self._labels.get(col.key)
        if labels is None:
            labels = self._labels[col.key] = {}
        label = labels.get(value)
        if label is None:
            label = labels[value] = escape(col.labels.get(value, value))
        return label

    def body(self, columns, rows, pick=None):
        """Every row's ``<tr>`` of cells, for the list's ``<tbody>``; ``pick``: the id of the batch actions' form
        (core/batch.py), each row's first cell then starting with a box that ticks the row there."""
        tds = [Markup('<td class="%s">') % col.cell_class + Markup("%s</td>") if col.cell_class
               else Markup("<td>%s</td>") for col in columns]
        if not pick:
            return Markup("").join(Markup("<tr>%s</tr>") % Markup("").join(td % self(col, row)
                                                                            for col, td in zip(columns, tds))
                                   for row in rows)
        label, first = _("Tick"), columns[0]
        return Markup("").join(Markup("<tr>%s%s</tr>") % (
            tds[0] % (pick_box(row.id, pick, label) + self(first, row)),
            Markup("").join(td % self(col, row) for col, td in zip(columns[1:], tds[1:]))) for row in rows)


TICKED = "batch-ticked"  # the flash category carrying the rows a refused batch shows ticked again (core/batch.py)


def ticked():
    """The ids a refused batch sent back to the list ticked, as a set: read once a request, from the flashed
    messages the page shows (the base page does not show ``TICKED`` as a message)."""
    found = g.get("_batch_ticked")
    if found is None:
        found = g._batch_ticked = {int(i) for ids in get_flashed_messages(category_filter=[TICKED])
                                   for i in ids.split(",") if i.isdigit()}
    return found


def pick_box(record_id, form="batch-form", label=None):
    """A row's box that ticks it for the batch actions' ``form`` (core/batch.py), ticked already when a refused
    batch sent the user back to the list (``ticked``)."""
    return Markup('<input type="checkbox" class="batch-pick" name="ids" value="%s" form="%s" aria-label="%s"%s>') % (
        record_id, form, label if label is not None else _("Tick"), Markup(" checked") if record_id in ticked() else "")


def _link(endpoint, record_id, text):
    return Markup('<a href="%s">%s</a>') % (url_for(endpoint, record_id=record_id), text)
