"""The control-plane JSON API blueprint; capability modules add their routes to it."""

from flask import Blueprint

api = Blueprint("api", __name__, url_prefix="/api/v1")


def sid(value):
    """Ids are strings in the API."""
    return None if value is None else str(value)
