"""The scheduled task of bench_scheduler.py (named by ``CRM_TASKS`` and imported through ``CRM_TASK_MODULES`` in
the bench's workers): a small tenant's daily work, one read and one write on its own database."""

import sqlalchemy as sa

from tenant_runtime.core.tasks import tenant_task


@tenant_task("bench_touch", "Benchmark: read and write once", order=10)
def touch(session, now):
    tenant_id = session.execute(sa.text("SELECT tenant_id FROM tenant_identity WHERE id = 1")).scalar()
    session.execute(sa.text("INSERT INTO bench_run (tenant_id, ran_at) VALUES (:t, :at)"), {"t": tenant_id, "at": now})
    session.commit()
    return {"runs": session.execute(sa.text("SELECT COUNT(*) FROM bench_run")).scalar()}
