"""The current tenant: resolved once per request, kept on ``g``; its session is bound to its own engine."""

from dataclasses import dataclass, field

from flask import g
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy

from .resolver import TenantInfo

_WROTE = "tenant_runtime.wrote"


class TenantSession(Session):
    """A request's session on its tenant's database. It notes whether it may have written (an ORM flush, or
    any statement that is not a SELECT), so that a request that changed nothing ends without a COMMIT;
    ``info["actor_id"]`` names the user its changes are recorded for (tenant_runtime/core/history.py).

    Statements are noted where they enter (``execute``, ``scalar``, ``scalars``: every ORM statement, lazy
    loads and ``get`` included, passes through one of them), not with a ``do_orm_execute`` listener: any
    listener for that event makes SQLAlchemy build an ORMExecuteState and prepare each statement twice."""

    def may_have_written(self) -> bool:
        # what flush() itself asks (any object added, deleted or touched), without building the new/dirty/deleted
        # sets that ``Session.dirty`` makes to drop touched objects whose values came back the same
        return bool(self.info.get(_WROTE)) or not self._is_clean()

    def _note(self, statement) -> None:
        if not getattr(statement, "is_select", False):  # DML, and text() of any kind: assume it wrote
            self.info[_WROTE] = True

    def execute(self, statement, *args, **kwargs):
        self._note(statement)
        return super().execute(statement, *args, **kwargs)

    def scalar(self, statement, *args, **kwargs):
        self._note(statement)
        return super().scalar(statement, *args, **kwargs)

    def scalars(self, statement, *args, **kwargs):
        self._note(statement)
        return super().scalars(statement, *args, **kwargs)


@event.listens_for(TenantSession, "after_flush")
def _flushed(session, flush_context):
    session.info[_WROTE] = True


@event.listens_for(TenantSession, "after_commit")
@event.listens_for(TenantSession, "after_rollback")
def _ended(session):
    session.info.pop(_WROTE, None)


@dataclass
class TenantContext:
    info: TenantInfo
    engine: object
    _session: TenantSession | None = field(default=None, repr=False)

    @property
    def tenant_id(self):
        return self.info.tenant_id

    @property
    def code(self):
        return self.info.code

    @property
    def session(self) -> TenantSession:
        if self._session is None:
            self._session = TenantSession(bind=self.engine, expire_on_commit=False)
        return self._session

    def commit_if_written(self) -> None:
        """Commit what the request changed; a request that changed nothing leaves its (read-only)
        transaction to the rollback in ``close()``, saving the COMMIT's round trip."""
        if self._session is not None and self._session.may_have_written():
            self._session.commit()

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
