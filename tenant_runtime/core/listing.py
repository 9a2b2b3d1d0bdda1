"""Lists as data: filters, search, sort keys and keyset pagination, declared once per resource and used by
both the page and the API.

Keyset pagination orders by one sort key and the id as tie-breaker, and the cursor carries the last
row's (key, value, id): a deep page costs what the first page costs. NULLs sort last either way.

A search (``?q=``) looks in the list's own columns as typed, in the pinyin of its names when typed in letters
(hengtai, bjht: ``core.pinyin``), in its phones by their digits, and in the records of other tables linked to its
rows that the list shows beside them (``Linked``: a customer's contacts, a contact's customer, a follow-up's
customer or lead). The list's data scope applies to its own rows as always, so a link only adds matches among
rows the user may see.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    DateTime,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from werkzeug.datastructures import MultiDict

from common.errors import Invalid
from common.timeutil import end_of_local_day_utc, start_of_local_day_utc
from common.validators import to_e164

from ..context import current_tenant
from ..models import utcnow
from .pinyin import search_column, search_letters

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
COUNT_CAP = 10000  # lists say "10000+" instead of counting a million rows
SEARCH_COUNT_CAP = 1000  # and a search "1000+": its matches are read row by row (a LIKE), ten times fewer
PROBE_ROWS = 5000  # rows a search's first try in id order may examine (MariaDB's LIMIT ... ROWS EXAMINED)
COUNT_PROBE_ROWS = 200_000  # and a search's count in id order (tens of ms at a million customers)
LINKED_CAP = 2000  # linked records a search reads on their own at most; past it each row looks up its own


def _is_mariadb(session):
    """Whether the session's server is MariaDB: ``LIMIT … ROWS EXAMINED`` is its own, which MySQL refuses."""
    return getattr(session.get_bind().dialect, "is_mariadb", False)


def count_cap(params):
    """Where a list page's count stops (it then says "more than"): lower for a search, whose every match is a
    row read for its LIKE."""
    return SEARCH_COUNT_CAP if params is not None and params.search else COUNT_CAP


def escape_like(text):
    """``text`` matched literally in a LIKE pattern with ``ESCAPE '\\'``: its backslashes, % and _ escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_PHONE_PUNCTUATION = re.compile(r"[\s\-()（）]")


def phone_digits(q):
    """What of a typed number is in a stored E.164 phone (``+8613759684922``, ``+861085888888``): the digits,
    without a leading 0 (010-85888888) or the country code (+86 137 5968 4922); None when ``q`` is not (part of)
    a number of at least 3 digits."""
    digits = _PHONE_PUNCTUATION.sub("", q).removeprefix("+86").lstrip("0")
    return digits if len(digits) >= 3 and digits.isdigit() else None


_NUMBER_TYPED = re.compile(r"\+?[\d\s\-()（）]+")


@lru_cache(maxsize=256)
def exact_phone(q):
    """The E.164 of ``q`` when it is a whole valid mainland number however typed (``137 5968 4922``,
    ``(010) 8588-8888``), else None."""
    return to_e164(q) if _NUMBER_TYPED.fullmatch(q) else None


def search_clause(q, columns, phones=()):
    """The condition of a search for ``q``: contained in one of ``columns`` (typed in ASCII letters alone, in the
    pinyin kept beside a name among them: ``pinyin.search_letters``), or, when ``q`` is (part of) a phone number
    however it was typed (``010-85888888``, ``137 5968 4922``), its digits contained in one of the E.164 ``phones``.
    A whole number (a caller's, pasted) is looked up as it is stored, through the phone's unique index: no name
    holds one, and its digits' LIKE read every row (1.4 s at a million customers)."""
    exact = exact_phone(q) if phones else None
    if exact:
        return or_(*(col == exact for col in phones))
    pattern, letters = "%" + escape_like(q) + "%", search_letters(q)
    conditions = []
    for col in columns:
        spelt = search_column(col) if letters else None
        # letters alone: the name's pinyin holds its own letters too (IBM中国: ibmzg ibmzhongguo), one LIKE a row
        # (only a-z: nothing to escape), as cheap as the name's own
        conditions.append(spelt.like(f"%{letters}%") if spelt is not None else col.like(pattern, escape="\\"))
    if phones and any(ch.isdigit() for ch in q):  # a name never matches a phone column
        digits = phone_digits(q)
        conditions += [col.like(f"%{digits}%") if digits else col.like(pattern, escape="\\") for col in phones]
    return or_(*conditions)


@dataclass(frozen=True)
class Linked:
    """Records of another table that a list's search also looks in, by the column linking them to the list's rows
    (``link`` == ``to``): a customer found by one of its contacts' names or phones, a contact by its customer's
    name, a follow-up by its customer's or lead's. ``only``: which of those records count (a contact not
    deleted); ``when``: which of the list's rows the link is for (a follow-up on a customer, not on a lead);
    ``words``: the other table's word index (``core.words``): a word few of those records hold is looked up there
    once, and the list tests its rows' link against those few values (and narrows by its own index and theirs);
    otherwise each row looks for its linked records (``clause``). The list's data scope is applied to its own rows,
    never through the link: a link only adds matches among the rows the user may see."""

    link: object  # the other table's column
    to: object  # the list's column holding the same value
    columns: tuple  # the other table's columns searched as typed (and a name's pinyin)
    phones: tuple = ()
    only: tuple = ()
    when: object = None
    words: object = None

    def clause(self, q):
        """The row has a linked record matching ``q``, looked up per row through the link's index as the list reads
        its rows. A scalar subquery, not ``EXISTS``: MariaDB turns that into ``IN`` and first reads every match in
        the linked table (every contact, for a customer search that stops at its first page), spending a search's
        first try's ``ROWS EXAMINED`` before it reads a customer."""
        found = select(literal(1)).where(self.link == self.to, *self.only, search_clause(q, self.columns, self.phones))
        found = found.correlate_except(self.link.class_.__table__).limit(1).scalar_subquery().is_not(None)
        return found if self.when is None else and_(self.when, found)

    def among(self, values):
        """The list's rows linked to one of these values of ``link``."""
        return self.to.in_(sorted(values)) if self.when is None else and_(self.when, self.to.in_(sorted(values)))

    def holding_phone(self, session, exact):
        """The values of ``link`` of the records with the whole phone ``exact``, read through the phone's index
        (so that the list's statement keeps its own phone's index and a few ids), or None without phones."""
        if not self.phones:
            return None
        return set(session.scalars(select(self.link).where(or_(*(col == exact for col in self.phones)), *self.only)
                                   .distinct()))

    def matching(self, session, q, within):
        """The values of ``link`` of the records matching ``q`` and linked to a row of ``within`` (the list's query
        before its search: its data scope, view and filters), read on their own, stopping at ``LINKED_CAP`` + 1 of
        them; None when there are more. MariaDB reads the few rows of a narrow scope and their linked records
        through the link's index, and for a wide one the linked table once; told to use no other index of it (it
        took a contact's name index for ``deleted_at IS NULL`` and read every contact in name order: 3 times
        as long as reading the table)."""
        rows = within.with_only_columns(self.to).order_by(None)
        found = select(self.link).where(*self.only, search_clause(q, self.columns, self.phones),
                                        self.link.in_(rows)).limit(LINKED_CAP + 1)
        if self._link_index:
            found = found.with_hint(self.link.class_.__table__, f"USE INDEX ({self._link_index})", dialect_name="mysql")
        found = session.scalars(found).all()
        return set(found) if len(found) <= LINKED_CAP else None

    @property
    def _link_index(self):
        """The name of the index that starts with ``link`` (PRIMARY for a primary key), or None."""
        column = self.link.property.columns[0]
        if column.primary_key:
            return "PRIMARY"
        return next((index.name for index in column.table.indexes if next(iter(index.columns)) is column), None)

    def narrowed(self, session, q):
        """The values of ``link`` of the records holding ``q``'s rarest word (``words.rarest``), or None when it
        cannot narrow (no index, no word, or a common one)."""
        word = self.words.rarest(session, q) if self.words is not None else None
        if word is None:
            return None
        holding = self.words.model.id.in_(select(self.words.key).where(self.words.table.c.word == word))
        return set(session.scalars(select(self.link).where(holding, *self.only).distinct()))

    def describe(self):
        return ", ".join(f"{self.link.class_.__tablename__}.{col.key}" for col in self.columns + self.phones)


@dataclass(frozen=True)
class Branches:
    """The data scope as disjoint conditions whose union it is (``Principal.scope_branches``), with the list's
    query *without* the scope, which each condition is applied to. A branch implies the scope; the scope's
    OR beside it would only keep the branch's (department or owner, deleted_at, level, id) index from
    covering the read: a capped count of 10,001 rows of one department then reads every row (0.3 s at a
    million customers instead of 9 ms)."""

    query: object  # a Select
    conditions: list


class Filter:
    """One query parameter that narrows a list. ``parse`` turns the raw values into a value (or raises
    ValueError with a message); ``clause`` turns that value into a WHERE condition."""

    kind = "text"

    def __init__(self, label, column=None, advanced=False):
        self.label, self.column = label, column
        self.advanced = advanced  # shown under "more filters" on the page
        self.name = None  # set by ListSpec

    def params(self):
        return [self.name]

    def openapi(self):
        """The query parameters this filter reads, as OpenAPI parameter objects."""
        return [{"name": self.name, "in": "query", "required": False, "schema": self.schema(),
                 "description": str(self.label)}]

    def schema(self):
        return {"type": "string"}

    def parse(self, args):
        raw = [v for v in args.getlist(self.name) if v != ""]
        return raw[0].strip() if raw else None

    def clause(self, value):
        return self.column == value


class Choice(Filter):
    """One or several values of a fixed set (``?level=important&level=normal``)."""

    kind = "choice"

    def __init__(self, label, column, choices, **kw):
        super().__init__(label, column, **kw)
        self.choices = choices  # {value: label}

    def openapi(self):
        return [{"name": self.name, "in": "query", "required": False, "style": "form", "explode": True,
                 "description": f"{self.label} (repeat for several)",
                 "schema": {"type": "array", "items": {"type": "string", "enum": list(self.choices)}}}]

    def chosen(self, args):
        """The values of ``args`` the page's select shows chosen."""
        return args.getlist(self.name)

    def parse(self, args):
        values = [v for v in args.getlist(self.name) if v != ""]
        bad = [v for v in values if v not in self.choices]
        if bad:
            raise ValueError(_l("Not a valid choice."))
        return values or None

    def clause(self, value):
        return self.column.in_(value) if len(value) > 1 else self.column == value[0]


class Coded(Choice):
    """A choice answered as a word and stored as a code (seed 002's tinyints: a lead's status, a user's). ``aliases``
    maps words a list once took (``?status=1``, kept in bookmarks) to today's."""

    def __init__(self, label, column, labels, codes, aliases=None, **kw):
        super().__init__(label, column, labels, **kw)
        self.codes, self.aliases = codes, aliases or {}

    def chosen(self, args):
        return [self.aliases.get(v, v) for v in args.getlist(self.name)]

    def parse(self, args):
        if self.aliases and any(v in self.aliases for v in args.getlist(self.name)):
            args = MultiDict([(k, self.aliases.get(v, v) if k == self.name else v) for k, v in args.items(multi=True)])
        return super().parse(args)

    def clause(self, value):
        return super().clause([self.codes[v] for v in value])


class Ref(Filter):
    """An id of a related row (owner, department)."""

    kind = "ref"

    def __init__(self, label, column, options=None, **kw):
        super().__init__(label, column, **kw)
        self.options = options  # callable(session, principal) -> [(id, label)] for the page's select

    def schema(self):
        return {"type": "string", "pattern": r"^[0-9]+$"}

    def parse(self, args):
        return _an_id(super().parse(args))


def _an_id(raw):
    """A filter's text as a row id (None when not given); ValueError when it is none."""
    if raw is None:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise ValueError(_l("Not a valid id."))
    return int(raw)


class DateRange(Filter):
    """``<name>_from`` and ``<name>_to``: local dates, both ends inclusive."""

    kind = "date_range"

    def params(self):
        return [f"{self.name}_from", f"{self.name}_to"]

    def openapi(self):
        return [{"name": param, "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
                 "description": f"{self.label}, {end} (a local date, inclusive)"}
                for param, end in zip(self.params(), ("from", "to"), strict=True)]

    def parse(self, args):
        ends = []
        for param in self.params():
            raw = (args.get(param) or "").strip()
            try:
                ends.append(date.fromisoformat(raw) if raw else None)
            except ValueError:
                raise ParamError(param, _l("Enter a date as YYYY-MM-DD.")) from None
        if ends[0] and ends[1] and ends[0] > ends[1]:
            raise ValueError(_l("The start date is after the end date."))
        return tuple(ends) if any(ends) else None

    def clause(self, value):
        start, end = value
        start = _bound(start_of_local_day_utc, start) if start else None
        end = _bound(end_of_local_day_utc, end) if end else None
        conditions = ([self.column >= start] if start else []) + ([self.column < end] if end else [])
        return and_(true(), *conditions)


def _bound(convert, day):
    """``convert(day)``, the UTC time a local day starts or ends at; None for a day at an end of the calendar
    (0001-01-01, 9999-12-31: what clients send to mean "no bound"), whose bound no row is beyond."""
    try:
        return convert(day)
    except OverflowError:
        return None


class ParamError(ValueError):
    """A filter's parameter that is invalid, named (a range's second end)."""

    def __init__(self, param, message):
        super().__init__(message)
        self.param = param


class InactiveDays(Filter):
    """"No follow-up for N days": the last follow-up (or, never followed up, the creation) is older."""

    kind = "int"

    def __init__(self, label, column, created_column, **kw):
        super().__init__(label, column, **kw)
        self.created_column = created_column

    def schema(self):
        return {"type": "string", "pattern": r"^[0-9]+$", "description": "1 to 3650"}

    def parse(self, args):
        raw = super().parse(args)
        if raw is None:
            return None
        if not raw.isdigit() or not 0 < int(raw) <= 3650:
            raise ValueError(_l("Enter a number of days between 1 and 3650."))
        return int(raw)

    def clause(self, value):
        cutoff = utcnow() - timedelta(days=value)
        return or_(self.column < cutoff, and_(self.column.is_(None), self.created_column < cutoff))


class Exists(Filter):
    """A value in a child table (tags): ``EXISTS (SELECT 1 FROM child WHERE child.fk = id AND child.col = v)``."""

    def __init__(self, label, child_fk, child_column, parent_id, **kw):
        super().__init__(label, child_column, **kw)
        self.child_fk, self.parent_id = child_fk, parent_id

    def clause(self, value):
        return exists().where(self.child_fk == self.parent_id, self.column == value)


class ExistsRef(Exists):
    """An id in a child table chosen from a list (a user's roles): a select on the page, as a Ref is, where a text
    box took only the role's internal id and a typed name (销售) silently found nobody."""

    kind = "ref"

    def __init__(self, label, child_fk, child_column, parent_id, options, **kw):
        super().__init__(label, child_fk, child_column, parent_id, **kw)
        self.options = options  # callable(session, principal) -> [(id, label)] for the page's select

    def schema(self):
        return Ref.schema(self)

    def parse(self, args):
        return _an_id(Filter.parse(self, args))


@dataclass
class SortKey:
    column: object
    label: object
    nullable: bool = False
    # the direction of a column header's first click: latest first for times and the order of creation, A to Z
    # (or 重要 first) for the rest; None: so decided by the column (a next follow-up says False: soonest first)
    descending_first: bool | None = None

    def __post_init__(self):
        if self.descending_first is None:
            column = getattr(self.column, "expression", self.column)
            self.descending_first = bool(getattr(column, "primary_key", False)) or isinstance(
                getattr(column, "type", None), DateTime)


@dataclass
class ListParams:
    filters: dict
    search: str | None
    sort: str
    descending: bool
    cursor: tuple | None
    limit: int
    active: dict = field(default_factory=dict)  # the raw parameters in effect, for links and saved views
    narrowing: tuple | None = None  # (the search's narrowing condition or None,) once ListSpec.narrow has run
    probe: object = None  # a search's first try at the page, in id order, examining few rows (ListSpec.page)
    by_id: object = None  # a search's query read in primary-key order, for its count (ListSpec.count)
    probe_filled: bool = False  # the first try filled the page: the scope is wide (ListSpec.count)
    # what the search found in the ``Linked`` records through their indexes, once per request (ListSpec._linked)
    linked: tuple | None = None


@dataclass
class ListSpec:
    model: object
    filters: dict
    search: tuple  # columns a search (?q=) looks in, and the ``Linked`` records of other tables it looks in
    sorts: dict  # name -> SortKey
    default_sort: str  # "-created"
    views: tuple = ()  # the built-in views a user may pick with ?view= (which ones depends on their scope)
    view_default: str = ""  # which view a list without ?view= shows, as the API document says it
    phones: tuple = ()  # E.164 phone columns a search also looks in, by the digits typed (search_clause)
    # narrow(q): a condition that keeps a search to the few rows that may match (an index of words), or None
    narrow: object = None

    def __post_init__(self):
        for name, flt in self.filters.items():
            flt.name = name

    @property
    def columns(self):
        """The list's own columns a search looks in."""
        return tuple(col for col in self.search if not isinstance(col, Linked))

    @property
    def linked(self):
        return tuple(link for link in self.search if isinstance(link, Linked))

    def openapi_parameters(self):
        """Every query parameter this list reads (the API document's), beside ``limit`` and ``cursor``."""
        described = "search: contained in " + ", ".join(col.key for col in self.columns)
        spelt = [col.key for col in self.columns if search_column(col) is not None]
        if spelt:
            described += "; ASCII letters alone also in the pinyin of " + ", ".join(spelt) + \
                " (whole, hengtai, or initials, bjht)"
        if self.phones:
            described += "; or a phone number however typed (010-85888888, +86 137 5968 4922) in " + ", ".join(
                col.key for col in self.phones)
        for link in self.linked:
            described += "; or the same in the linked " + link.describe()
        params = [{"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
                   "description": described + "; text past its first 100 characters is not searched"}]
        for flt in self.filters.values():
            params += flt.openapi()
        keys = [f"{sign}{name}" for name in self.sorts for sign in ("", "-")]
        params.append({"name": "sort", "in": "query", "required": False, "description": "- for descending",
                       "schema": {"type": "string", "enum": keys, "default": self.default_sort}})
        if self.views:
            described = "a built-in view" + (f"; without it, {self.view_default}" if self.view_default else "")
            params.append({"name": "view", "in": "query", "required": False, "description": described,
                           "schema": {"type": "string", "enum": list(self.views)}})
        return params

    def advanced_active(self, args):
        """Whether a filter shown under "more filters" is in use (the page then shows them open)."""
        return any(args.get(param) for f in self.filters.values() if f.advanced for param in f.params())

    @property
    def id_column(self):
        return self.model.id

    def header_sort(self, name, params):
        """The ``sort`` a column header links to: the other direction when the list is sorted by it, else the
        key's natural first direction (names A to Z, next follow-up soonest first, times latest first)."""
        if params is not None and params.sort == name:
            descending = not params.descending
        else:
            descending = self.sorts[name].descending_first
        return ("-" if descending else "") + name

    # ------------------------------------------------------------------ parsing

    def parse(self, args, default_limit=DEFAULT_LIMIT):
        errors, values, active = {}, {}, {}
        for name, flt in self.filters.items():
            try:
                value = flt.parse(args)
            except ValueError as exc:
                errors[getattr(exc, "param", None) or flt.params()[0]] = [str(exc)]
                continue
            if value is not None:
                values[name] = value
                for param in flt.params():
                    for raw in args.getlist(param):
                        if raw != "":
                            active.setdefault(param, []).append(raw)
        search = (args.get("q") or "").strip()[:100] or None
        if search:
            active["q"] = [search]
        sort = args.get("sort") or self.default_sort
        name = sort.removeprefix("-")  # one minus: "--created" is no sort key
        if name not in self.sorts:
            errors["sort"] = [str(_l("Not a valid sort key."))]
            name, sort = self.default_sort.lstrip("-"), self.default_sort
        elif sort != self.default_sort:
            active["sort"] = [sort]
        limit = self._limit(args, default_limit, errors)
        cursor = None
        if args.get("cursor"):
            cursor = self._decode(args["cursor"], name)
            if cursor is None:
                errors["cursor"] = [str(_l("Invalid cursor."))]
        if errors:
            raise Invalid(errors)
        return ListParams(values, search, name, sort.startswith("-"), cursor, limit, active)

    @staticmethod
    def _limit(args, default, errors):
        raw = args.get("limit")
        if raw is None:
            return default
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            errors["limit"] = [str(_l("Must be between 1 and 200."))]
            return default
        return int(raw)

    # ------------------------------------------------------------------ querying

    def where(self, query, params):
        for name, value in params.filters.items():
            query = query.where(self.filters[name].clause(value))
        if params.search:
            query = query.where(self._searched(params, query))
            # a whole phone number is compared as stored, through the phone's own index: nothing to narrow
            if self.narrow is not None and not self.whole_phone(params.search):
                if params.narrowing is None:  # asked once per request: the list and its branches share it
                    params.narrowing = (self._narrowing(params),)
                if params.narrowing[0] is not None:
                    query = query.where(params.narrowing[0])
        return query

    def _searched(self, params, query):
        """The condition of the list's search of ``query``: ``search_clause`` of its own columns, and each ``Linked``
        record's either as the few values of the link found first (``_linked``) or looked up per row."""
        q = params.search
        conditions = [search_clause(q, self.columns, self.phones)]
        for link, found in zip(self.linked, self._linked(params, query), strict=True):
            if found is None:
                if not self.whole_phone(q):  # no name holds a whole number
                    conditions.append(link.clause(q))
            elif found:
                conditions.append(link.among(found))
        return or_(*conditions)

    def _linked(self, params, query=None):
        """For each ``Linked``, the values of its link whose records hold ``params.search``, or None where they are
        many; asked once per request (with the list's query, scope and all: ``where`` runs on it first), shared by
        its branches and its narrowing. A whole number is read through the phone's index, a rare word through the
        record's word index (``Linked.narrowed``), anything else (a name in pinyin, one character, a common word)
        among the linked records of the list's rows, stopping when they are many (``Linked.matching``). A search
        found in few names reads every row of the list: looking up each row's contacts as it goes added 150 ms to
        a director's at 100,000 customers, reading the matching contacts first a tenth of that."""
        if params.linked is None:
            session, q = current_tenant.session, params.search
            exact = exact_phone(q) if self.whole_phone(q) else None
            found = []
            for link in self.linked:
                values = link.holding_phone(session, exact) if exact else link.narrowed(session, q)
                if values is None and not exact and query is not None:
                    values = link.matching(session, q, query)
                found.append(values)
            params.linked = tuple(found)
        return params.linked

    def _narrowing(self, params):
        """``narrow(q)``; with linked records, the list's rows holding ``q``'s rarest word in its own index or
        linked to a record holding it in theirs (``_linked``), as ids read here (``id IN (…) OR customer_id IN
        (…)`` reads both through their indexes, where an OR of two subqueries would test every row), or None when
        either index cannot narrow."""
        q = params.search
        index = getattr(self.narrow, "__self__", None)  # a WordIndex's own ``narrow``
        if not self.linked or not hasattr(index, "rarest"):
            return self.narrow(q)
        session = current_tenant.session
        word = index.rarest(session, q)
        found = self._linked(params)
        if word is None or any(values is None for values in found):
            return None
        own = select(index.key).where(index.table.c.word == word)
        if not any(found):  # nothing linked holds it: the list's own index alone, as a subquery
            return self.id_column.in_(own)
        own = session.scalars(own).all()
        return or_(*([self.id_column.in_(sorted(own))] if own else []),
                   *(link.among(values) for link, values in zip(self.linked, found, strict=True) if values))

    def indexed(self, params):
        """Whether ``params``' search reads through an index of its own: the word index narrowed it (``where``
        has run), or it is a whole phone number, compared as stored (``search_clause``)."""
        return bool(params.narrowing and params.narrowing[0] is not None) or self.whole_phone(params.search)

    def whole_phone(self, q):
        """Whether a search for ``q`` is a whole phone number, compared as stored (``search_clause``)."""
        return bool(self.phones and exact_phone(q))

    def page(self, session, query, params, branches=None):
        """One page of rows and the cursor of the next page (None on the last one).

        ``branches`` (a ``Branches``: the data scope as disjoint conditions, one per visible department and
        the user's own records elsewhere, ``Principal.scope_branches``) read the page as the union of each
        branch's own first page, each through its own index in key order, then the rows of the merged page
        by id (``query``, scope and all, so a row outside the scope could never come back).
        Same rows, same order; without them an OR of owner and departments reads every visible row and
        sorts them, which at a million customers is the difference between milliseconds and seconds."""
        key = self.sorts[params.sort]
        col, id_col = key.column, self.id_column
        after = self._after(key, params.descending, params.cursor) if params.cursor is not None else None
        if after is not None:
            query = query.where(after)
        order = self._order(key, col, id_col, params.descending)
        if params.probe is not None and col is id_col and _is_mariadb(session):
            # A search within a scope (see core.resource.filtered_query) first reads in id order, as an unlimited
            # list does, examining at most PROBE_ROWS rows: a common word in a wide scope (a director's 物业) fills
            # the page at once, where the scope's own indexes read each department's rows until each has a page.
            # Only a full page is taken: when MariaDB stops at the limit it answers with what it found so far.
            probe = params.probe if after is None else params.probe.where(after)
            rows = session.scalars(probe.order_by(*order).limit(params.limit + 1)
                                   .suffix_with(f"ROWS EXAMINED {PROBE_ROWS}", dialect="mysql")).all()
            if len(rows) > params.limit:
                params.probe_filled = True
                rows = rows[: params.limit]
                return rows, self._encode(params.sort, getattr(rows[-1], col.key), rows[-1].id)
        if branches:
            base = branches.query if after is None else branches.query.where(after)
            query = self._merged(query, base, branches.conditions, key, col, id_col, params)
        rows = session.scalars(query.order_by(*order).limit(params.limit + 1)).all()
        more = len(rows) > params.limit
        rows = rows[: params.limit]
        next_cursor = self._encode(params.sort, getattr(rows[-1], col.key), rows[-1].id) if more and rows else None
        return rows, next_cursor

    @staticmethod
    def _order(key, col, id_col, descending):
        order = []
        if key.nullable:
            order.append(col.is_(None))
        if col is not id_col:
            order.append(col.desc() if descending else col.asc())
        order.append(id_col.desc() if descending else id_col.asc())
        return order

    def _merged(self, query, base, branches, key, col, id_col, params):
        """``query`` narrowed to the ids of the page: the first ``limit + 1`` of the union of every branch's
        first ``limit + 1`` read from ``base`` (a derived table; the branches are disjoint, so UNION ALL)."""
        limit = params.limit + 1
        columns = [id_col.label("id")] + ([col.label("k")] if col is not id_col else [])
        # what every branch shares, built once (a manager's list has a branch per department)
        shaped = base.with_only_columns(*columns).order_by(*self._order(key, col, id_col, params.descending)) \
            .limit(limit)
        merged = union_all(*(select(shaped.where(branch).subquery()) for branch in branches)).subquery()
        ids = select(merged.c.id).order_by(*self._order(key, merged.c.k if col is not id_col else merged.c.id,
                                                        merged.c.id, params.descending)).limit(limit).subquery()
        return query.join(ids, ids.c.id == id_col)

    def count(self, session, query, branches=None, cap=None, params=None):
        """How many rows match, counted up to ``cap`` + 1 (default ``count_cap``: the page shows "10000+", a
        search "1000+"). With
        ``branches`` (a ``Branches``, see ``page``) the capped counts of one branch after the other, each
        through its own index, until they pass the cap.

        A search (``params.by_id``, see core.resource.filtered_query) of every row, or of a wide scope (its page
        came from ``page``'s first try), is first counted in primary-key order, examining at most
        COUNT_PROBE_ROWS rows: MariaDB answers no row at all when it stops there, and the
        count is then made as above. Without it a common word cost seconds at a million customers: the
        scope's indexes read every match's row at random (a region manager's 物业: 1.6 s), and an unlimited
        list's count chose the name index (3 s; a word no name holds, 34 s), where reading by id takes 30 ms."""
        cap = count_cap(params) if cap is None else cap
        # within a scope only when its page came from the first try in id order (a wide scope): a narrow one
        # (a sales user's) would examine the budget's rows in vain before its own index answers
        if params is not None and params.by_id is not None and (params.probe is None or params.probe_filled) and \
                _is_mariadb(session):
            ids = self._ids_up_to(params.by_id, cap)
            counted = session.scalar(select(func.count()).select_from(ids.subquery())
                                     .suffix_with(f"LIMIT ROWS EXAMINED {COUNT_PROBE_ROWS}", dialect="mysql"))
            if counted is not None:
                return counted
            if params.probe is None:  # an unlimited list: reading by id is still its best plan
                return self._capped_count(session, ids)
        if not branches:
            return self._capped_count(session, self._ids_up_to(query, cap))
        shaped, total = self._ids_up_to(branches.query, cap), 0  # shared by every branch, built once
        for branch in branches.conditions:
            total += self._capped_count(session, shaped.where(branch))
            if total > cap:
                return cap + 1
        return total

    def _ids_up_to(self, query, cap):
        return query.with_only_columns(self.id_column).order_by(None).limit(cap + 1)

    @staticmethod
    def _capped_count(session, ids):
        return session.scalar(select(func.count()).select_from(ids.subquery()))

    def chunks(self, session, query, params, branches=None, size=1000):
        """Every row of ``query`` in the list's order, ``size`` rows at a time: keyset pages read one after
        the other (as ``page`` reads them), so an export of a million rows holds one chunk at a time."""
        key = self.sorts[params.sort]
        params = replace(params, cursor=None, limit=size)
        while True:
            rows, more = self.page(session, query, params, branches=branches)
            if rows:
                yield rows
            if not more:
                return
            params = replace(params, cursor=(getattr(rows[-1], key.column.key), rows[-1].id))

    def _after(self, key, descending, cursor):
        value, last_id = cursor
        col, id_col = key.column, self.id_column
        beyond_id = id_col < last_id if descending else id_col > last_id
        if col is id_col:
            return beyond_id
        if value is None:  # NULLs come last: only NULL rows with a further id remain
            return and_(col.is_(None), beyond_id)
        beyond = col < value if descending else col > value
        condition = or_(beyond, and_(col == value, beyond_id))
        return or_(condition, col.is_(None)) if key.nullable else condition

    # ------------------------------------------------------------------ cursors

    @staticmethod
    def _encode(sort, value, last_id):
        if isinstance(value, datetime):
            value = {"t": value.isoformat()}
        payload = json.dumps([sort, value, last_id], separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def _decode(self, raw, sort):
        try:
            name, value, last_id = json.loads(base64.urlsafe_b64decode(raw.encode() + b"==").decode())
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            return None
        if name != sort or not isinstance(last_id, int) or not 0 < last_id < 2**63:
            return None
        if isinstance(value, dict):
            try:
                value = datetime.fromisoformat(value.get("t", ""))
            except (TypeError, ValueError):
                return None
        elif value is not None and not isinstance(value, (str, int)) or isinstance(value, int) and not -(2**63) < value < 2**63:
            return None
        return value, last_id


# ---------------------------------------------------------------------- the pages' pager

TRAIL_FIRST = "~"  # the first page in a trail (no cursor); "." separates a trail's cursors (base64url has neither)
TRAIL_MAX = 30


def pager_args(args, next_cursor):
    """The query strings of a list page's "first", "previous" and "next" links, as ``(first, previous, next)``
    (None where there is no such page). A keyset list cannot step back by itself, so the links carry the
    cursors of the pages that led here (``trail``, at most TRAIL_MAX): "previous" is the last of them. Only the
    pages use it; the API's lists go forward with ``next_cursor`` as shared/API.md fixes."""
    query = args.to_dict(flat=False)
    here = args.get("cursor") or None
    raw = args.get("trail") or ""
    trail = [c for c in raw.split(".") if c and (c == TRAIL_FIRST or _CURSOR_TEXT.fullmatch(c))][-TRAIL_MAX:]

    def page(cursor, trail_items):
        out = {k: v for k, v in query.items() if k not in ("cursor", "trail")}
        if cursor:
            out["cursor"] = cursor
        if trail_items:
            out["trail"] = ".".join(trail_items)
        return out

    first = page(None, None) if here else None
    previous = None
    if here:
        back = trail[-1] if trail else TRAIL_FIRST
        previous = page(None if back == TRAIL_FIRST else back, trail[:-1])
    following = page(next_cursor, (trail + [here or TRAIL_FIRST])[-TRAIL_MAX:]) if next_cursor else None
    return first, previous, following


PAGE_SIZES = (20, 50, 100)


def page_size_args(args, default=20):
    """The page's "per page" choices as ``[(size, query or None)]``: None for the size shown, else the query of
    the list from its first page at that size (its filters, search and sort kept)."""
    query = {k: v for k, v in args.to_dict(flat=False).items() if k not in ("cursor", "trail", "limit")}
    current = args.get("limit") or str(default)
    return [(size, None if current == str(size) else {**query, "limit": str(size)}) for size in PAGE_SIZES]


_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]{1,400}")
