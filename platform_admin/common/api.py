"""The control-plane JSON API blueprint; capability modules add their routes to it."""

from flask import Blueprint

from common.forms import refuse_malformed_body

api = Blueprint("api", __name__, url_prefix="/api/v1")
api.before_request(refuse_malformed_body)  # after the app's own hooks, sign-in among them


def sid(value):
    """Ids are strings in the API."""
    return None if value is None else str(value)
