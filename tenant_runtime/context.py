"""The current tenant: resolved once per request, kept on ``g``; its session is bound to its own engine."""

from dataclasses import dataclass, field

from flask import g
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from .resolver import TenantInfo


class TenantSession(Session):
    """A session on one tenant's database; ``info["actor_id"]`` names the user its changes are recorded for."""


@dataclass
class TenantContext:
    info: TenantInfo
    engine: object
    _session: Session | None = field(default=None, repr=False)

    @property
    def tenant_id(self):
        return self.info.tenant_id

    @property
    def code(self):
        return self.info.code

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = TenantSession(bind=self.engine, expire_on_commit=False)
        return self._session

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None


def _current():
    tenant = g.get("tenant")
    if tenant is None:
        raise RuntimeError("no tenant resolved for this request")  # fail closed: never a default database
    return tenant


current_tenant = LocalProxy(_current)
