"""The scheduled catch-up of handover notices: a confirmation queues its notices at once, and this task,
run per tenant by the scheduler (or ``flask crm run-tasks``), sends any that a lost job or an unreachable
Redis left unsent. Sending is idempotent (one ``crm_notice`` per contact, channel and handover), so a
second run sends nothing twice."""

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..core.tasks import tenant_task
from .models import CrmHandover

CATCH_UP_DAYS = 7


@tenant_task("handover_notices", _l("Handover notices to customers"), order=50)
def send_pending_notices(session, now):
    from .services import send_notices

    recent = session.scalars(select(CrmHandover.id).where(CrmHandover.current_stage == "completed",
                                                          CrmHandover.completed_at >= now - timedelta(days=CATCH_UP_DAYS))
                             .order_by(CrmHandover.id)).all()
    totals = {"handovers": len(recent), "sent": 0, "failed": 0}
    for handover_id in recent:
        counts = send_notices(handover_id)
        totals["sent"] += counts["sent"]
        totals["failed"] += counts["failed"]
    return totals
