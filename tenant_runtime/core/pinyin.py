"""Names in the order a Chinese reader expects: by their pinyin (北京… before 上海… before 武汉…).

MariaDB's collations (and SQLite's) order Han characters by code point, which puts 上海 before 北京 and
龙 near the end. A table whose list sorts by a name keeps the name's pinyin beside it in a column declared
with ``pinyin_column("<the name's column>")``, and sorts by that column:

* every INSERT, the ORM's or a Core bulk insert (the volume fill, provisioning), fills it from the row's name
  (a column default, so no path that writes rows can forget it);
* a rename through the ORM refreshes it (``refresh_on_rename``, listening to every tenant model's updates:
  ``tenant_runtime.models``);
* a tenant migration fills it for rows already there (0008 customers; 0010 contacts, leads, lead pools, users).

The key is the pinyin, case folded, then the name itself, so that names reading the same stay apart and in a
stable order (重庆 reads chongqing; letters and digits stay as they are).
"""

import unicodedata

from sqlalchemy import String, inspect
from sqlalchemy.orm import mapped_column

KEY_LENGTH = 400
_SOURCE = "pinyin_of"  # the key column's info: the name's column it follows


def pinyin_key(name):
    """How a name sorts for a Chinese reader (see the module's text)."""
    from pypinyin import lazy_pinyin

    text = unicodedata.normalize("NFKC", name or "")
    return ("".join(lazy_pinyin(text)).casefold() + " " + text)[:KEY_LENGTH]


def pinyin_column(source):
    """A nullable column holding the pinyin sort key of the column named ``source`` (its attribute and column
    name are the same in every model that uses this)."""

    def default(context):
        return pinyin_key(context.get_current_parameters().get(source))

    return mapped_column(String(KEY_LENGTH), default=default, info={_SOURCE: source})


_KEYS_OF = {}  # mapper -> its (key attribute, name attribute) pairs


def _key_columns(mapper):
    """(key attribute, name attribute) pairs of a mapper, found once per mapper."""
    found = _KEYS_OF.get(mapper)
    if found is None:
        found = _KEYS_OF[mapper] = tuple(
            (prop.key, prop.columns[0].info[_SOURCE]) for prop in mapper.column_attrs
            if _SOURCE in prop.columns[0].info)
    return found


def refresh_on_rename(mapper, connection, target):
    """``before_update``: a changed name gets its new sort key in the same UPDATE."""
    pairs = _key_columns(mapper)
    if not pairs:
        return
    attrs = inspect(target).attrs
    for key, source in pairs:
        if attrs[source].history.has_changes():
            setattr(target, key, pinyin_key(getattr(target, source)))
