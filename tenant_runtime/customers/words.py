"""A word index for searching customers by a Chinese word of their name.

A search is ``LIKE '%…%'``, which no index can serve: to find a word that few names hold, MariaDB reads every
name (seconds at a million customers). Chinese names have no spaces to split words at, so the index holds every
pair of adjacent Han characters of a name (上海明德物业 → 上海, 海明, 明德, 德物, 物业), one row per pair and
customer in ``crm_customer_word``. Any name that contains a searched word contains each of the word's pairs.

A search for a word with such pairs first counts, capped at ``CAP``, the customers of each pair (one statement).
When the rarest pair has fewer, the list reads only its customers (``CrmCustomer.id IN (…)``, at most ``CAP``
rows by primary key) and the name's ``LIKE`` still decides. When every pair is common (物业, 有限公司), matches are
dense and the plain plan, which stops at the first page of them, is the faster one, so the index is not used.

The pairs are taken from the name's NFKC form (full-width and compatibility forms folded), on both sides.
"""

import unicodedata
from itertools import pairwise

from sqlalchemy import bindparam, delete, func, insert, literal, select, union_all

from ..context import current_tenant
from .models import CrmCustomer, CrmCustomerWord

CAP = 2000  # customers read at most through the index; at or above it for every pair, the plain plan serves
MAX_PAIRS = 8  # a long word is narrowed by its first pairs' rarest (the LIKE checks the rest)
_W = CrmCustomerWord.__table__


def _han(ch):
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x3134F
            or 0xF900 <= code <= 0xFAFF)


def pair_code(a, b):
    """Two characters as one number (the index's key): the first's code point times 0x110000 plus the second's."""
    return ord(a) * 0x110000 + ord(b)


def pairs(text):
    """The codes of the pairs of adjacent Han characters in ``text`` (NFKC), in order of appearance, each once."""
    text = unicodedata.normalize("NFKC", text or "")
    found = {}
    for a, b in pairwise(text):
        if _han(a) and _han(b):
            found.setdefault(pair_code(a, b), None)
    return list(found)


def index_rows(customer_id, name):
    return [{"word": code, "customer_id": customer_id} for code in pairs(name)]


def reindex(connection, customer_id, name):
    """Make the index hold ``name``'s pairs for this customer (its old name's are removed)."""
    connection.execute(delete(_W).where(_W.c.customer_id == customer_id))
    rows = index_rows(customer_id, name)
    if rows:
        connection.execute(insert(_W), rows)


def _capped_count(i):
    code = bindparam(f"w{i}")
    capped = select(literal(1).label("one")).select_from(_W).where(_W.c.word == code).limit(CAP).subquery()
    return select(code.label("word"), select(func.count()).select_from(capped).scalar_subquery().label("n"))


_COUNTS = {n: union_all(*(_capped_count(i) for i in range(n))) if n > 1 else _capped_count(0)
           for n in range(1, MAX_PAIRS + 1)}


def rarest(session, q):
    """The code of ``q``'s rarest pair when fewer than ``CAP`` customers have it, else None (no pair in ``q``, or
    every pair common: the plain plan is then the faster)."""
    codes = pairs(q)[:MAX_PAIRS]
    if not codes:
        return None
    rows = session.execute(_COUNTS[len(codes)], {f"w{i}": code for i, code in enumerate(codes)}).all()
    word, n = min(rows, key=lambda row: row[1])
    return int(word) if n < CAP else None


def narrow(q):
    """``narrowed`` on the request's tenant: a customer list's ``ListSpec.narrow``."""
    return narrowed(current_tenant.session, q)


def narrowed(session, q):
    """The condition that keeps a search for ``q`` to the customers of its rarest pair, or None (see ``rarest``)."""
    word = rarest(session, q)
    if word is None:
        return None
    return CrmCustomer.id.in_(select(_W.c.customer_id).where(_W.c.word == word))
