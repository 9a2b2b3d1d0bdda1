"""One error shape for the API (shared/API.md) and friendly pages for the UI."""

import math
import time

import sqlalchemy.exc
from flask import current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from common.headers import is_api_path
from extensions import db

DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_fields",
    429: "throttled",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raised by services and views; rendered as JSON for the API and as a page or flash for HTML."""

    def __init__(self, status, code=None, message=None, fields=None, extra=None):
        super().__init__(message or code)
        self.status = status
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.message = message or self.code
        self.fields = fields
        self.extra = extra or {}


class Conflict(ApiError):
    def __init__(self, code, message, fields=None, **extra):
        super().__init__(409, code, message, fields, extra)


class Invalid(ApiError):
    def __init__(self, fields, message=None):
        super().__init__(422, "invalid_fields", message or _("Some fields are invalid."), fields)


# The database did not answer: down, frozen past the engine's timeouts, or every pooled connection stuck.
DATABASE_UNAVAILABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)


# MySQL/MariaDB ended this transaction to let a simultaneous one through (deadlock, lock wait timeout):
# the database answers and nothing of this request was kept, so it is the losing side of a race, not an outage.
DEADLOCK = 1213
LOST_RACE_ERRORS = (1205, DEADLOCK)
# A deadlock inside a savepoint (``begin_nested``) ends the whole transaction, savepoint included: SQLAlchemy's
# ROLLBACK TO SAVEPOINT then fails with "SAVEPOINT ... does not exist", and that is the error raised, the
# deadlock its context.
SAVEPOINT_GONE = 1305


def driver_error_number(exc):
    """The MySQL/MariaDB error number a SQLAlchemy error wraps (PyMySQL's ``args[0]``), or None: safe to log,
    unlike the driver's message, which may quote the statement."""
    args = getattr(getattr(exc, "orig", None), "args", ())
    return args[0] if args else None


def lost_race(exc):
    if not isinstance(exc, sqlalchemy.exc.OperationalError):
        return False
    number = driver_error_number(exc)
    if number == SAVEPOINT_GONE:
        return lost_race(exc.__context__)
    return number in LOST_RACE_ERRORS


def deadlocked(exc):
    """The database chose this transaction as a deadlock's victim and rolled all of it back: running it again
    is safe and what MySQL advises. (A lock wait timeout is not: it has already cost the configured wait.)"""
    if not isinstance(exc, sqlalchemy.exc.OperationalError):
        return False
    number = driver_error_number(exc)
    if number == SAVEPOINT_GONE:
        return deadlocked(exc.__context__)
    return number == DEADLOCK


def log_database_unavailable(exc, what="control database"):
    """One warning line: the driver's reason only, never the statement or its parameters."""
    current_app.logger.warning("%s unavailable on %s %s: %s", what, request.method, request.path,
                               getattr(exc, "orig", None) or exc)


def wants_json():
    return is_api_path(request.path)


def error_body(status, code, message, fields=None, extra=None):
    body = {"code": code, "message": str(message)}
    if fields:
        body["fields"] = {k: [str(m) for m in v] for k, v in fields.items()}
    body.update(extra or {})
    return {"error": body}


def error_response(status, code=None, message=None, fields=None, extra=None, headers=None):
    code = code or DEFAULT_CODES.get(status, "error")
    resp = jsonify(error_body(status, code, message or code, fields, extra))
    resp.status_code = status
    if headers:
        resp.headers.extend(headers)
    return resp


# Error pages of the packages that serve another audience, by path prefix: the tenant CRM registers its own
# for "/t/", so a tenant's users never see the back office's page or its staff sign-in.
PAGE_RENDERERS = {}


def _page(status, title, message):
    for prefix, render in PAGE_RENDERERS.items():
        if request.path.startswith(prefix):
            return render(status, title, message)
    return render_template("errors/error.html", status=status, title=title, message=message), status


FRIENDLY = {
    400: lambda: (_("Bad request"), _("The request could not be understood.")),
    403: lambda: (_("Not allowed"), _("Your account does not have permission to open this page.")),
    404: lambda: (_("Not found"), _("The page or record you asked for does not exist.")),
    405: lambda: (_("Not allowed"), _("This action is not allowed here.")),
    409: lambda: (_("Conflict"), _("The record changed or the action is not allowed in its state.")),
    413: lambda: (_("File too large"), _("The uploaded file is larger than allowed.")),
    429: lambda: (_("Too many attempts"), _("Too many attempts. Please wait a while and try again.")),
    500: lambda: (_("Something went wrong"), _("An unexpected error occurred. It has been logged.")),
    503: lambda: (_("Temporarily unavailable"), _("The service is temporarily unavailable.")),
}


def _throttled_message():
    """A throttled page's sentence saying how long to wait: the breached limit's reset, as its Retry-After says
    (the sign-in's 5 per 15 minutes: "请在 12 分钟后再试"); None when no limit of this request is known."""
    from extensions import limiter

    current = limiter.current_limit
    if current is None:
        return None
    try:
        reset_at = current.reset_at  # read from the limiter's store
    except Exception:  # noqa: BLE001 - the store failing now must not fail the page; it says "a while" instead
        return None
    seconds = max(1, int(reset_at - time.time()))  # as Retry-After counts them
    if seconds < 60:
        return ngettext("Too many attempts. Please try again in %(num)d second.",
                        "Too many attempts. Please try again in %(num)d seconds.", seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext("Too many attempts. Please try again in %(num)d minute.",
                    "Too many attempts. Please try again in %(num)d minutes.", minutes)


def register_error_handlers(app):
    @app.errorhandler(ApiError)
    def handle_api_error(exc):
        db.session.rollback()
        if wants_json():
            return error_response(exc.status, exc.code, exc.message, exc.fields, exc.extra)
        title, _msg = FRIENDLY.get(exc.status, FRIENDLY[400])()
        return _page(exc.status, title, exc.message)

    @app.errorhandler(CSRFError)
    def handle_csrf(exc):
        if wants_json():
            return error_response(400, "csrf_failed", exc.description)
        return _page(400, _("Form expired"), _("The form expired or was sent from elsewhere. Go back, reload and try again."))

    @app.errorhandler(HTTPException)
    def handle_http(exc):
        status = exc.code or 500
        if status == 429:
            g.throttled = True
        if exc.response is not None:  # an answer built for this case (a throttled form shown again, filled in)
            return exc.response
        if wants_json():
            if status == 429:
                message = _("Too many attempts. Please wait and try again.")
            elif exc.description == type(exc).description and status in FRIENDLY:
                # werkzeug's own English sentence (no such URL, wrong method...): the reader's language instead
                message = FRIENDLY[status]()[1]
            else:
                message = exc.description
            # keep Allow / Retry-After, but not the HTML error page's own Content-Type and Content-Length
            headers = None
            if status in (405, 429):
                headers = [(k, v) for k, v in exc.get_response().headers.items()
                           if k.lower() not in ("content-type", "content-length")]
            return error_response(status, message=message, headers=headers)
        title, msg = FRIENDLY.get(status, FRIENDLY[400])()
        if status == 429:
            msg = _throttled_message() or msg
        return _page(status, title, msg)

    def handle_database_unavailable(exc):
        if lost_race(exc):
            db.session.rollback()
            current_app.logger.info("lost a race on %s %s: %s", request.method, request.path, exc.orig)
            message = _("Someone else changed this at the same moment, so nothing was saved. Reload and try again.")
            if wants_json():
                return error_response(409, "concurrent_change", message)
            return _page(409, _("Changed at the same moment"), message)
        log_database_unavailable(exc)
        try:
            db.session.rollback()
        except sqlalchemy.exc.SQLAlchemyError:  # the connection is gone; the session is discarded at teardown
            pass
        # The staff row this request loaded is expired now: the page's user menu or language would read it
        # back from the database that just failed. The page is the anonymous one, which needs no database.
        g.staff = None
        message = _("The platform database is not answering right now. Please try again in a moment.")
        if wants_json():
            return error_response(503, "database_unavailable", message)
        return _page(503, _("Temporarily unavailable"), message)

    for exc_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(exc_class, handle_database_unavailable)

    @app.errorhandler(Exception)
    def handle_unexpected(exc):
        db.session.rollback()
        current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return error_response(500, message=FRIENDLY[500]()[1])
        title, msg = FRIENDLY[500]()
        return _page(500, title, msg)
