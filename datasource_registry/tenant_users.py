"""What the control plane may ask a tenant's database about one of its users, without knowing the
tenant schema: support sign-in checks that the user exists and is enabled before it hands out a pass.
The tenant runtime registers how a user is looked up; the registry supplies the connection."""

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from common.errors import ApiError

from .pool import CapacityExceeded, IdentityMismatch
from .registry import TenantUnavailable, engine_for

# Callables (connection, username) -> TenantUser | None; the tenant runtime registers its lookup.
USER_FINDERS = []


@dataclass(frozen=True)
class TenantUser:
    username: str  # as stored: the lookup may have matched another spelling
    full_name: str
    enabled: bool


def find_user(enterprise, username):
    """The user ``username`` names in the enterprise's own database, or None; 503 when it does not answer."""
    try:
        with engine_for(enterprise).connect() as conn:
            for finder in USER_FINDERS:
                found = finder(conn, username)
                if found is not None:
                    return found
    except (SQLAlchemyError, IdentityMismatch, CapacityExceeded, TenantUnavailable):
        raise ApiError(503, "tenant_unavailable", _("The company's database does not answer right now.")) from None
    return None
