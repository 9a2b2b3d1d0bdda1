"""Commit helpers that turn database uniqueness violations into clean 409s; the control engine's options."""

from flask import abort
from flask_babel import gettext as _
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from extensions import db

from .errors import Conflict

# constraint or column name fragment -> API field name
UNIQUE_FIELDS = {
    "license_no": "license_no",
    "username": "username",
    "enterprise_no": "enterprise_no",
    "contract_no": "contract_no",
}


def _raise_conflict(exc):
    text = str(exc.orig)
    for fragment, field in UNIQUE_FIELDS.items():
        if fragment in text:
            raise Conflict("duplicate", _("This value is already in use."), {field: [_("Already in use.")]}) from None
    raise Conflict("conflict", _("The change conflicts with existing data.")) from None


MAX_ID = 2**63 - 1


def get_or_404(model, ident):
    """``db.get_or_404`` for an id from the URL: one beyond a 64-bit key is a 404, not a driver overflow (500)."""
    if not 0 < ident <= MAX_ID:
        abort(404)
    return db.get_or_404(model, ident)


def commit():
    """Commit, or roll back and raise 409 ``duplicate`` naming the field a unique constraint guards."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        _raise_conflict(exc)


def flush():
    """Flush (e.g. to get a new row's id), with the same 409 as ``commit`` on a uniqueness violation."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        _raise_conflict(exc)


CONTROL_DB_TIMEOUTS = {"connect_timeout": "CONTROL_DB_CONNECT_TIMEOUT", "read_timeout": "CONTROL_DB_READ_TIMEOUT",
                       "write_timeout": "CONTROL_DB_WRITE_TIMEOUT"}


def control_engine_options(config):
    """``SQLALCHEMY_ENGINE_OPTIONS`` with the control database's timeouts: a MySQL server that is down or
    frozen then costs a request at most connect + read timeout and a 503, never a hung worker. SQLite has
    no network to wait on, so it keeps the options as they are. A timeout of 0 means none."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() not in ("mysql", "mariadb"):
        return options
    timeouts = {arg: config[key] for arg, key in CONTROL_DB_TIMEOUTS.items() if config.get(key)}
    options["connect_args"] = {**timeouts, **options.get("connect_args", {})}
    return options


def savepoint(session):
    """``session.begin_nested()``, with a real transaction under the savepoint on SQLite too.

    pysqlite opens a transaction by itself only before an INSERT, UPDATE or DELETE: when a SAVEPOINT is the
    first statement since the last commit, SQLite takes it for the outermost transaction, and its RELEASE commits
    for good what a later rollback of the session means to undo (an import that answered "nothing imported" kept
    its valid rows on the embedded default). MySQL and MariaDB are in a transaction from the first statement."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")
    return session.begin_nested()
