"""Signals across packages without imports across them: the control plane announces tenant changes,
the tenant runtime drops what it cached.

The announcement is made by the ORM, not by each service: any committed change to an enterprise, its
datasource or a tenant job sends ``tenant_changed`` once per tenant, after the commit (never for a
rolled-back change), so no code path can change a tenant and forget to say so.
"""

from blinker import Namespace
from sqlalchemy import event
from sqlalchemy.orm import Session

_signals = Namespace()

# sender: None; kwargs: tenant_id. Sent after a tenant is opened, closed, suspended, resumed, or its
# datasource is configured, advanced, provisioned or deleted.
tenant_changed = _signals.signal("tenant-changed")

_PENDING = "tenant_changed_ids"


def _tenant_id_of(obj):
    name = type(obj).__name__
    if name == "Enterprise":
        return obj.id
    if name in ("Datasource", "TenantJob"):
        return getattr(obj, "enterprise_id", None) or getattr(obj, "tenant_id", None)
    return None


@event.listens_for(Session, "after_flush")
def _collect(session, flush_context):
    for obj in (*session.new, *session.dirty, *session.deleted):
        tenant_id = _tenant_id_of(obj)
        if tenant_id is not None:
            session.info.setdefault(_PENDING, set()).add(tenant_id)


@event.listens_for(Session, "after_commit")
def _announce(session):
    for tenant_id in session.info.pop(_PENDING, ()):
        tenant_changed.send(None, tenant_id=tenant_id)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session, previous_transaction):
    if not session.in_transaction():
        session.info.pop(_PENDING, None)
