"""Work the CRM does for every tenant on a schedule: recycling to the public pool, reminders before it,
handover notices. Modules declare their tasks here; the scheduler runs every declared task once per tenant
and day, and ``flask crm run-tasks`` runs them inline where there is no Redis.

A task is ``run(session, now) -> dict``: ``session`` is a session on one tenant's database (the tenant is
also bound as ``current_tenant``, as in a request), ``now`` a naive UTC datetime. It commits its own work,
is idempotent (a second run on the same day changes nothing and sends nothing twice) and returns a small
JSON summary of what it did (counts, never personal data), which devops see per tenant.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    name: str
    label: object  # lazy text for devops pages
    run: Callable
    order: int = 100  # tasks of one tenant run in this order (recycling before reminders, say)


TASKS: dict[str, Task] = {}


def tenant_task(name, label, order=100):
    """Declare ``run`` as the scheduled task ``name``."""

    def declare(run):
        TASKS[name] = Task(name, label, run, order)
        return run

    return declare


def ordered():
    return sorted(TASKS.values(), key=lambda task: (task.order, task.name))
