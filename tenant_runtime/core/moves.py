"""Owner moves the database decides: claim, assign and return of customers (the public pool) and of leads.

A move is one conditional UPDATE that still requires the state its service just checked (in the pool, the
same owner): of concurrent moves of one row exactly one changes it, on MariaDB and on SQLite alike, and the
others learn it from the row count. The winner's move is one history entry in the same transaction.
"""

from sqlalchemy import update

from ..models import utcnow
from . import history


def move(session, obj, conditions, values, action, changes):
    """Set ``values`` (and ``updated_at``) on ``obj``'s row only while ``conditions`` hold, and record ``changes``
    as one history entry of ``action``. False, with nothing written, when someone else moved it first; ``obj``
    itself is not refreshed."""
    model = type(obj)
    result = session.execute(update(model).where(model.id == obj.id, *conditions)
                             .values(**values, updated_at=utcnow()).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    history.record(session, obj, action, changes)
    return True
