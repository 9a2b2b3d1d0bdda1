"""The tenant schema's version on one tenant database: the only API the rest of the app uses.

The schema itself is the Alembic environment in ``migrations/tenant/`` (its env.py imports the tenant
models; this module deliberately does not, so the registry never depends on ``tenant_runtime``).

Every function takes an open SQLAlchemy ``Connection`` to the tenant database, which the caller owns
(nothing here closes it) and which must be a plain ``engine.connect()`` connection, not one in an
``engine.begin()`` block or a Session's connection:

* ``current_revision`` / ``is_current`` only read. They leave the connection's transaction state as they
  found it: a transaction they had to start is rolled back, one already in progress is left alone.
* ``upgrade`` commits its own work. It requires that no transaction is in progress on the connection
  (commit or roll back first; it raises ``TenantSchemaError`` otherwise, because on MySQL the DDL would
  silently commit the caller's pending work anyway, and on SQLite an uncommitted schema would vanish
  when the connection closes). When it returns, every applied migration and its ``alembic_version``
  row are committed and no transaction is open: **the caller does not need to commit**. On failure
  whatever was not committed is rolled back (on MySQL, DDL that already ran stays: MySQL cannot roll
  back DDL) and the exception propagates.

Concurrency: Alembic's ``context``/``op`` are process-global proxies, so upgrades within one process are
serialized by a lock. On MySQL/MariaDB an upgrade also holds a server-side named lock (``GET_LOCK``) per
database, so two processes provisioning the same tenant at once run one after the other and the second
finds the database already at head.
"""

import hashlib
import logging
import os
import threading
from functools import lru_cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

# Tenant tables that do not count as business data when the delete guard asks whether a tenant
# database is still empty.
BUSINESS_TABLE_EXCLUSIONS = frozenset({"tenant_identity", "alembic_version", "sys_token", "sys_impersonation",
                                       "sys_session", "sys_password_token",
                                       # configuration every tenant starts with (revision 0005)
                                       "crm_pool_setting", "crm_lead_pool"})

SCRIPT_LOCATION = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations", "tenant")

# Seconds an upgrade waits for another process's upgrade of the same MySQL database.
DEFAULT_LOCK_TIMEOUT = 120

_process_lock = threading.Lock()
log = logging.getLogger(__name__)


class TenantSchemaError(RuntimeError):
    """The tenant schema could not be checked or upgraded as asked."""


def alembic_config(connection=None):
    """An Alembic Config for the tenant environment, built in code (there is no alembic.ini).

    With a connection, env.py runs against it (``config.attributes["connection"]``).
    """
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _script_directory():
    return ScriptDirectory(SCRIPT_LOCATION)


def head_revision() -> str:
    """The newest revision of the tenant schema (the code's, not any database's)."""
    head = _script_directory().get_current_head()
    if head is None:  # pragma: no cover - there is always at least the initial revision
        raise TenantSchemaError(f"no tenant schema revisions in {SCRIPT_LOCATION}")
    return head


@lru_cache(maxsize=1)
def _older_revisions():
    head = head_revision()
    return frozenset(script.revision for script in _script_directory().walk_revisions() if script.revision != head)


def is_behind(revision) -> bool:
    """Whether a database at ``revision`` lacks some of this code's schema: at an older revision of this code's,
    or never migrated. A revision this code does not know is newer (a code rollback after an upgrade: revisions
    only add, so the older code still works on it) and is not behind."""
    return revision is None or revision in _older_revisions()


def current_revision(connection) -> str | None:
    """The revision the database is at, or None when it has never been migrated (empty database)."""
    was_in_transaction = connection.in_transaction()
    try:
        return MigrationContext.configure(connection).get_current_revision()
    finally:
        if not was_in_transaction and connection.in_transaction():
            connection.rollback()


def is_current(connection) -> bool:
    """True when the database is at the head revision."""
    return current_revision(connection) == head_revision()


def upgrade(connection, revision="head", *, lock_timeout=DEFAULT_LOCK_TIMEOUT) -> str:
    """Migrate the database up to ``revision`` and return the revision it is then at.

    Idempotent: at the target already, nothing is changed. Everything is committed on return (see the
    module docstring: the connection must not be in a transaction when this is called).
    """
    if connection.in_transaction():
        raise TenantSchemaError(
            "tenant_schema.upgrade() needs a connection with no transaction in progress "
            "(commit or roll back first; use engine.connect(), not engine.begin() or a Session)"
        )
    with _process_lock:
        lock_name = _acquire_server_lock(connection, lock_timeout)
        try:
            command.upgrade(alembic_config(connection), revision)
            if connection.in_transaction():
                # Alembic commits each migration it applies; this ends the transaction its own
                # version-table reads started (and, with nothing to apply, a created version table).
                connection.commit()
        except BaseException:
            if connection.in_transaction():
                connection.rollback()
            raise
        finally:
            if lock_name is not None:
                _release_server_lock(connection, lock_name)
    return current_revision(connection)


def _lock_name(database):
    # MySQL lock names are limited to 64 characters; database names can be that long themselves.
    return "tenant_schema:" + hashlib.sha256(database.encode()).hexdigest()[:40]


def _acquire_server_lock(connection, timeout):
    """Take a MySQL/MariaDB named lock for this database; None on other backends.

    Named locks belong to the session, not to a transaction, so the transaction these statements start
    is ended straight away and Alembic starts from a connection with no transaction in progress.
    """
    if connection.dialect.name not in ("mysql", "mariadb"):
        return None
    try:
        database = connection.execute(text("SELECT DATABASE()")).scalar()
        if database is None:
            raise TenantSchemaError("the connection has no default database selected")
        name = _lock_name(database)
        got = connection.execute(text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": timeout}).scalar()
    finally:
        connection.rollback()
    if got != 1:
        raise TenantSchemaError(
            f"another tenant schema upgrade of database {database!r} still runs after {timeout}s"
        )
    return name


def _release_server_lock(connection, name):
    # A failure here must not hide the upgrade's own outcome; a lock that could not be released is
    # released by the server when the (then unusable) connection's session ends.
    try:
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})
        connection.rollback()
    except Exception:
        log.warning("could not release tenant schema lock %s", name, exc_info=True)
