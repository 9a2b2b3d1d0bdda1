"""The pool's scheduled work for each tenant: recycling, then reminders (tenant_runtime/core/tasks.py)."""

from flask_babel import lazy_gettext as _l

from ..core.tasks import tenant_task
from . import services


@tenant_task("pool.recycle", _l("Recycle customers to the public pool"), order=10)
def recycle(session, now):
    summary = services.recycle(session, now)
    session.commit()
    return summary


@tenant_task("pool.remind", _l("Remind owners of customers about to be recycled"), order=20)
def remind(session, now):
    from ..context import current_tenant

    return services.remind(session, now, tenant_id=current_tenant.tenant_id)
