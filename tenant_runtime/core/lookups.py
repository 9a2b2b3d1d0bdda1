"""Small lookups many pages need: the names of a set of ids, in one query; related rows of a whole page."""

import functools

from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key


def names(session, id_column, name_column, ids):
    """``{id: name}`` for the given ids (an empty set costs no query)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row[0]: row[1] for row in session.execute(_names_statement(id_column, name_column), {"ids": list(ids)})}


@functools.lru_cache(maxsize=64)
def _names_statement(id_column, name_column):
    """One statement per pair of columns, the ids a parameter: SQLAlchemy keys a statement's compiled form by
    the whole statement once per statement object, which for a small statement costs more than its round trip."""
    return select(id_column, name_column).where(id_column.in_(bindparam("ids", expanding=True)))


def user_names(session, ids):
    from ..models import SysUser

    return names(session, SysUser.id, SysUser.full_name, ids)


def attach(session, rows, relation, model, foreign_key, *options):
    """Set ``relation`` (a many-to-one) on every row to the ``model`` row its ``foreign_key`` attribute names,
    read in one query for the whole page (rows the session holds already cost none; ``options`` shape the
    query). The relation is *set*, not just loaded beside it: the session holds objects weakly, so rows read
    and dropped would be gone again and each row would read its own."""
    ids = {getattr(row, foreign_key) for row in rows} - {None}
    found = {i: obj for i in ids if (obj := session.identity_map.get(identity_key(model, i))) is not None}
    if ids - found.keys():
        found.update((obj.id, obj) for obj in session.scalars(
            select(model).where(model.id.in_(ids - found.keys())).options(*options)))
    for row in rows:
        set_committed_value(row, relation, found.get(getattr(row, foreign_key)))
