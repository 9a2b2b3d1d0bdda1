"""Scheduled tasks declared for the scheduler tests only (named in ``CRM_TASKS`` and imported through
``CRM_TASK_MODULES``), so the tests depend on no module's real task."""

import sqlalchemy as sa

from tenant_runtime.core.tasks import tenant_task

RAN = "sched-ran"  # one department per execution: the tests count executions, so a doubled run shows
FAIL_HERE = "sched-fail-here"  # a tenant holding a department of this name fails its second task


def _count(session, name):
    return session.execute(sa.text("SELECT COUNT(*) FROM sys_dept WHERE dept_name = :n"), {"n": name}).scalar()


@tenant_task("sched_probe", "Scheduler test: count this execution", order=10)
def probe(session, now):
    from datasource_registry.schedule import in_flight

    session.execute(sa.text("INSERT INTO sys_dept (dept_name, parent_id, sort, created_at) VALUES (:n, NULL, 0, :t)"),
                    {"n": RAN, "t": now})
    session.commit()
    return {"executions": _count(session, RAN), "in_flight": in_flight()}


@tenant_task("sched_boom", "Scheduler test: fail where told to", order=20)
def boom(session, now):
    if _count(session, FAIL_HERE):
        raise RuntimeError("(pymysql.err.OperationalError) [SQL: UPDATE x SET secret=%(s)s] [parameters: hunter2]")
    return {"checked": 1}


SLEEP_HERE = "sched-sleep-here"  # a tenant holding a department of this name sleeps past any job time limit


@tenant_task("sched_sleep", "Scheduler test: hang where told to", order=30)
def sleep(session, now):
    import time

    if _count(session, SLEEP_HERE):
        time.sleep(60)
    return {"slept": 0}
