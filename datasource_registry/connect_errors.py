"""Why a datasource connection failed, in words that are safe to show anyone who may see the datasource.

The driver's own text and exception class tell a closed port from a filtered one, an HTTP server
from a MySQL one, a wrong password from an unknown user: with them the connection check becomes a
network and credential probe. Every failure of a connection the platform makes from a datasource is
reported as one of four codes with a plain, translated message, in API answers, pages, stored job
errors and logs alike.
"""

from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from .hostpolicy import HostNotAllowed

UNREACHABLE = "unreachable"
ACCESS_DENIED = "access_denied"
DATABASE_MISSING = "database_missing"
HOST_NOT_ALLOWED = "host_not_allowed"

# MySQL/MariaDB error numbers, server ER_* and client CR_* alike, which pymysql puts in args[0].
_BY_ERRNO = {
    1044: ACCESS_DENIED,  # ER_DBACCESS_DENIED_ERROR: no privilege on that database (or to create it)
    1045: ACCESS_DENIED,  # ER_ACCESS_DENIED_ERROR: wrong user or password
    1130: ACCESS_DENIED,  # ER_HOST_NOT_PRIVILEGED: the account may not connect from our address
    1142: ACCESS_DENIED,  # ER_TABLEACCESS_DENIED_ERROR: a privilege the schema needs is missing
    1698: ACCESS_DENIED,  # ER_ACCESS_DENIED_NO_PASSWORD_ERROR
    1049: DATABASE_MISSING,  # ER_BAD_DB_ERROR: the tenant database was never created
    1040: UNREACHABLE,  # ER_CON_COUNT_ERROR: too many connections
    1129: UNREACHABLE,  # ER_HOST_IS_BLOCKED
    2002: UNREACHABLE,  # CR_CONNECTION_ERROR
    2003: UNREACHABLE,  # CR_CONN_HOST_ERROR: closed, filtered or timed out
    2005: UNREACHABLE,  # CR_UNKNOWN_HOST
    2006: UNREACHABLE,  # CR_SERVER_GONE_ERROR
    2013: UNREACHABLE,  # CR_SERVER_LOST: also what a non-MySQL port (HTTP, SSH) ends in
    2026: UNREACHABLE,  # CR_SSL_CONNECTION_ERROR
    2055: UNREACHABLE,  # CR_SERVER_LOST_EXTENDED
}


def message(code):
    """The plain message for a failure code, in the reader's language."""
    messages = {
        UNREACHABLE: _("The tenant database server cannot be reached."),
        ACCESS_DENIED: _("The database server refused the account: wrong password or missing privileges."),
        DATABASE_MISSING: _("The tenant database has not been created yet; provision it first."),
        HOST_NOT_ALLOWED: _("This host is not in the allowed datasource hosts."),
    }
    return messages[code]


class DatasourceConnectError(Exception):
    """A connection made from a datasource failed; ``code`` says why. Its text is the code alone, so
    logging it never logs the driver's message."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code

    @property
    def message(self):
        return message(self.code)


def _chain(exc):
    """The exception, what SQLAlchemy wrapped (``orig``) and what it was raised from."""
    seen, todo = set(), [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [getattr(current, "orig", None), current.__cause__, current.__context__]


def failure_code(exc):
    """The failure code of an exception from a datasource connection, or None when it is not one we
    recognise as a connection failure (a bug, a schema error: left as it is)."""
    for current in _chain(exc):
        if isinstance(current, DatasourceConnectError):
            return current.code
        if isinstance(current, HostNotAllowed):
            return HOST_NOT_ALLOWED
        errno = current.args[0] if current.args else None
        if isinstance(errno, int) and type(current).__module__.startswith("pymysql") and errno in _BY_ERRNO:
            return _BY_ERRNO[errno]
        if isinstance(current, OSError):  # socket errors and timeouts raised before the driver wraps them
            return UNREACHABLE
    return None


# What connecting to a datasource can raise (anything else, such as a job's time limit, is not about the
# connection and is left to propagate as it is).
CONNECTING_ERRORS = (SQLAlchemyError, OSError, HostNotAllowed, DatasourceConnectError)


def connect_failure(exc):
    """A ``DatasourceConnectError`` for anything raised while connecting: what is not recognised is
    reported as unreachable (a server that does not speak MySQL fails in many driver-specific ways)."""
    return DatasourceConnectError(failure_code(exc) or UNREACHABLE)


def describe(exc):
    """One line for a stored job error or a log: the code and its message for a connection failure."""
    code = failure_code(exc)
    if code is not None:
        return f"{code}: {message(code)}"
    return f"{type(exc).__name__}: {exc}"
