"""Small lookups many pages need: the names of a set of ids, in one query."""

from sqlalchemy import select


def names(session, id_column, name_column, ids):
    """``{id: name}`` for the given ids (an empty set costs no query)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row[0]: row[1] for row in session.execute(select(id_column, name_column).where(id_column.in_(ids)))}


def user_names(session, ids):
    from ..models import SysUser

    return names(session, SysUser.id, SysUser.full_name, ids)
