"""A word index for searching names by a Chinese word: customers' names, contacts' names, leads' names and companies.

A search is ``LIKE '%…%'``, which no index can serve: to find a word that few names hold, MariaDB reads every
name (seconds at a million customers). Chinese names have no spaces to split words at, so the index holds every
pair of adjacent Han characters of a name (上海明德物业 → 上海, 海明, 明德, 德物, 物业), one row per pair and
record in a table of its own (``crm_customer_word``, ``crm_contact_word``, ``crm_lead_word``). Any name that contains a
searched word contains each of the word's pairs. A search over several columns (a lead's name and company) indexes
the pairs of all of them under the record: whichever column holds the word, the record holds its pairs.

A search for a word with such pairs first counts, capped at ``CAP``, the records of each pair (one statement).
When the rarest pair has fewer, the list reads only its records (``id IN (…)``, at most ``CAP`` rows by primary
key) and the name's ``LIKE`` still decides. When every pair is common (物业, 有限公司), matches are dense and the
plain plan, which stops at the first page of them, is the faster one, so the index is not used.

The pairs are taken from the name's NFKC form (full-width and compatibility forms folded), on both sides. A
``WordIndex`` keeps its table with the names: every insert or rename through the ORM rewrites the record's rows;
bulk inserts (the volume fill) write ``rows()`` themselves, and a tenant migration fills it for rows already there.
"""

import unicodedata
from itertools import pairwise

from sqlalchemy import bindparam, delete, event, func, insert, inspect, literal, select, union_all

from ..context import current_tenant

CAP = 2000  # records read at most through the index; at or above it for every pair, the plain plan serves
MAX_PAIRS = 8  # a long word is narrowed by its first pairs' rarest (the LIKE checks the rest)


def _han(ch):
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3134F
            or 0xF900 <= code <= 0xFAFF)


def pair_code(a, b):
    """Two characters as one number (the index's key): the first's code point times 0x110000 plus the second's."""
    return ord(a) * 0x110000 + ord(b)


def pairs(*texts):
    """The codes of the pairs of adjacent Han characters in ``texts`` (NFKC; no pair across two texts), in order
    of appearance, each once."""
    found = {}
    for text in texts:
        for a, b in pairwise(unicodedata.normalize("NFKC", text or "")):
            if _han(a) and _han(b):
                found.setdefault(pair_code(a, b), None)
    return list(found)


class WordIndex:
    """The word index of one model's names: ``table`` (``word``, and ``key``: the record's id) kept by the ORM
    whenever one of the model's ``names`` attributes is written."""

    def __init__(self, table, key, model, *names):
        self.table, self.key, self.model, self.names = table, table.c[key], model, names
        self._counts = {n: union_all(*(self._capped_count(i) for i in range(n))) if n > 1 else self._capped_count(0)
                        for n in range(1, MAX_PAIRS + 1)}  # built once: SQLAlchemy keys its compiled form by object
        event.listen(model, "after_insert", self._inserted)
        event.listen(model, "after_update", self._updated)

    def rows(self, record_id, *names):
        """The index's rows for a record with these ``names`` (the values of ``self.names``; for bulk inserts)."""
        return [{"word": code, self.key.key: record_id} for code in pairs(*names)]

    def reindex(self, connection, record_id, *names, new=False):
        """Make the index hold ``names``' pairs for this record (its old names' are removed). A ``new`` record has
        none to remove: no DELETE, whose gap lock on the empty range of ids would deadlock concurrent creates."""
        if not new:
            connection.execute(delete(self.table).where(self.key == record_id))
        rows = self.rows(record_id, *names)
        if rows:
            connection.execute(insert(self.table), rows)

    def _inserted(self, mapper, connection, record):
        self.reindex(connection, record.id, *(getattr(record, name) for name in self.names), new=True)

    def _updated(self, mapper, connection, record):
        state = inspect(record).attrs
        if any(state[name].history.has_changes() for name in self.names):
            self.reindex(connection, record.id, *(getattr(record, name) for name in self.names))

    def _capped_count(self, i):
        code = bindparam(f"w{i}")
        capped = (select(literal(1).label("one")).select_from(self.table).where(self.table.c.word == code)
                  .limit(CAP).subquery())
        return select(code.label("word"), select(func.count()).select_from(capped).scalar_subquery().label("n"))

    def rarest(self, session, q):
        """The code of ``q``'s rarest pair when fewer than ``CAP`` records have it, else None (no pair in ``q``, or
        every pair common: the plain plan is then the faster)."""
        codes = pairs(q)[:MAX_PAIRS]
        if not codes:
            return None
        rows = session.execute(self._counts[len(codes)], {f"w{i}": code for i, code in enumerate(codes)}).all()
        word, n = min(rows, key=lambda row: row[1])
        return int(word) if n < CAP else None

    def narrowed(self, session, q):
        """The condition that keeps a search for ``q`` to the records of its rarest pair, or None (``rarest``)."""
        word = self.rarest(session, q)
        if word is None:
            return None
        return self.model.id.in_(select(self.key).where(self.table.c.word == word))

    def narrow(self, q):
        """``narrowed`` on the request's tenant: a list's ``ListSpec.narrow``."""
        return self.narrowed(current_tenant.session, q)
