"""Keyset pagination for the API (cursor) and offset pages for the HTML lists."""

import base64
import binascii
import math

from flask import request
from flask_babel import lazy_gettext as _l

from .errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _decode_cursor(cursor):
    try:
        value = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = None
    if value is None or not 0 < value < 2**63:  # ids are positive 64-bit; SQLite overflows beyond
        raise ApiError(422, "invalid_fields", _l("Invalid cursor."), {"cursor": [_l("Invalid cursor.")]})
    return value


def _encode_cursor(value):
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def api_limit():
    raw = request.args.get("limit", DEFAULT_LIMIT)
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = -1
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(422, "invalid_fields", _l("Invalid limit."), {"limit": [_l("Must be between 1 and 200.")]})
    return limit


def page_args():
    """``(limit, before)`` of a list newest first by id: the request's ``?limit=`` and the id its ``?cursor=``
    names (the last of the previous page; None without one); 422 for either when bad. Read ``limit + 1`` rows
    older than ``before`` and hand them to ``newest_page``."""
    cursor = request.args.get("cursor")
    limit = api_limit()
    return limit, (_decode_cursor(cursor) if cursor else None)


def newest_page(rows, limit):
    """``(rows, next_cursor)`` of a page from the ``limit + 1`` rows read for it (``page_args``)."""
    more, rows = len(rows) > limit, rows[:limit]
    return rows, (_encode_cursor(rows[-1].id) if more and rows else None)


def cursor_page(query, id_column, serialize=None):
    """Newest first by id: ``{"items": [...], "next_cursor": ...}``; the items are the rows themselves
    unless ``serialize`` is given (an ``@endpoint(page=True)`` view dumps them with its schema)."""
    limit, before = page_args()
    if before is not None:
        query = query.where(id_column < before)
    from extensions import db

    rows, next_cursor = newest_page(db.session.scalars(query.order_by(id_column.desc()).limit(limit + 1)).all(), limit)
    return {"items": [serialize(r) for r in rows] if serialize else rows, "next_cursor": next_cursor}


def listed_page(items, id_of=lambda item: item.id):
    """A page of a short list read whole, in its order (a record's history, the recycling rules, saved views):
    ``(items, next_cursor)`` with ``?limit=`` and ``?cursor=`` checked as on every list. The cursor is the id of
    the last item given; one naming no item of the list (removed meanwhile, or made up) is 422, as any bad
    cursor."""
    limit, after = page_args()
    start = 0
    if after is not None:
        ids = [int(id_of(item)) for item in items]
        if after not in ids:
            raise ApiError(422, "invalid_fields", _l("Invalid cursor."), {"cursor": [_l("Invalid cursor.")]})
        start = ids.index(after) + 1
    page = items[start:start + limit]
    more = len(items) > start + limit
    return page, (_encode_cursor(id_of(page[-1])) if more and page else None)


class Page:
    def __init__(self, items, page, per_page, total):
        self.items, self.page, self.per_page, self.total = items, page, per_page, total
        self.pages = max(1, math.ceil(total / per_page))

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


def html_page(query, order_by, per_page=20):
    from sqlalchemy import func, select

    from extensions import db

    try:
        # capped: a huge ?page= would overflow the OFFSET (SQLite OverflowError, MariaDB syntax error) -> 500
        page = min(max(1, int(request.args.get("page", 1))), 10**6)
    except ValueError:
        page = 1
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = min(page, max(1, math.ceil(total / per_page)))  # past the end (an old link): the last page
    items = db.session.scalars(query.order_by(*order_by).limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items, page, per_page, total)
