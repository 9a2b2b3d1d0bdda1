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

Digits are words too: a search for part of a number (a phone's last digits, 尾号, as a caller gives them; a room
number in a name) is a ``LIKE`` that reads every row just the same (2.5 s at a million customers). The index also
holds every run of four adjacent digits (``DIGITS``) of the names and of the record's phone (``0099963`` → 0099,
0999, 9996, 9963), each as the number it spells (0-9999, below every pair's code). A search for digits narrows by
the rarest of its own runs of four that are also in the digits the phone's ``LIKE`` looks for
(``listing.phone_digits``), so that both a name holding the typed text and a phone holding those digits hold it.

The words are taken from the name's NFKC form (full-width and compatibility forms folded), on both sides. A
``WordIndex`` keeps its table with the names: every insert or rename through the ORM rewrites the record's rows;
bulk inserts (the volume fill) write ``rows()`` themselves, and tenant migrations fill it for rows already there
(0009, 0011, 0012 the pairs; 0013 the digits).
"""

import unicodedata
from itertools import pairwise

from sqlalchemy import bindparam, delete, event, func, insert, inspect, literal, select, union_all

from ..context import current_tenant

CAP = 2000  # records read at most through the index; at or above it for every word, the plain plan serves
MAX_PAIRS = 8  # a long word is narrowed by its first words' rarest (the LIKE checks the rest)
DIGITS = 4  # a run of this many digits is a word: 10,000 of them, about 10 held by each of a million phones


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


def digit_runs(*texts):
    """The codes of the runs of ``DIGITS`` adjacent digits in ``texts`` (NFKC; the decimal digits of any script,
    which the database's collation compares equal to 0-9): the numbers they spell, each once, in order of
    appearance."""
    found = {}
    for text in texts:
        text = unicodedata.normalize("NFKC", text or "")
        for i in range(len(text) - DIGITS + 1):
            run = text[i:i + DIGITS]
            if run.isdecimal():  # any script's digits: MariaDB's collation equates ١ and 1
                found.setdefault(int(run), None)
    return list(found)


def codes(*texts):
    """Every word of ``texts`` the index holds: the pairs of Han characters, then the runs of digits."""
    return pairs(*texts) + digit_runs(*texts)


def searched_codes(q, phones=False):
    """The words a search for ``q`` narrows by: every record it finds holds each of them. ``phones``: the search
    also looks for ``q``'s digits in a phone (``listing.search_clause``), so a run of digits counts only when it
    is in those digits too (``010-85888888`` looks for 1085888888 in a phone: its run 0108 is in no such phone)."""
    found = pairs(q)
    runs = digit_runs(q)
    if runs and phones:
        from .listing import phone_digits  # here: listing imports the models, which import this module

        digits = phone_digits(q)
        if digits is not None:
            digits = unicodedata.normalize("NFKC", digits)
            runs = [code for code in runs if f"{code:0{DIGITS}d}" in digits]
    return found + runs


class WordIndex:
    """The word index of one model's names: ``table`` (``word``, and ``key``: the record's id) kept by the ORM
    whenever one of the model's ``names`` attributes is written."""

    def __init__(self, table, key, model, *names, phone=None):
        """``names``: the columns a search looks in as typed; ``phone``: the E.164 phone it looks in for digits."""
        self.table, self.key, self.model, self.phone = table, table.c[key], model, phone
        self.names = names + ((phone,) if phone else ())
        self._counts = {n: union_all(*(self._capped_count(i) for i in range(n))) if n > 1 else self._capped_count(0)
                        for n in range(1, MAX_PAIRS + 1)}  # built once: SQLAlchemy keys its compiled form by object
        event.listen(model, "after_insert", self._inserted)
        event.listen(model, "after_update", self._updated)

    def rows(self, record_id, *names):
        """The index's rows for a record with these ``names`` (the values of ``self.names``, the phone last; for
        bulk inserts)."""
        return [{"word": code, self.key.key: record_id} for code in codes(*names)]

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
        """The code of ``q``'s rarest word when fewer than ``CAP`` records have it, else None (no word in ``q``, or
        every word common: the plain plan is then the faster)."""
        words = searched_codes(q, phones=self.phone is not None)[:MAX_PAIRS]
        if not words:
            return None
        rows = session.execute(self._counts[len(words)], {f"w{i}": code for i, code in enumerate(words)}).all()
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
