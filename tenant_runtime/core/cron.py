"""rq's own scheduler runs the CRM's scheduled work: start one next to the workers with

    .venv/bin/rq cron tenant_runtime.core.cron --url "$REDIS_URL"

It enqueues ``schedule.tick`` on the ``crm`` queue every ``CRM_SCHEDULE_INTERVAL`` seconds (300), and once
as soon as it starts, so a restarted scheduler at once re-enqueues what is missing. The tick itself is
idempotent (see tenant_runtime/core/schedule.py): two schedulers, or a restart in the middle of a pass,
neither lose nor double a tenant's run. Workers must listen on ``crm``.
"""

import os

from rq import cron

from .schedule import tick

INTERVAL = int(os.environ.get("CRM_SCHEDULE_INTERVAL", "300"))

cron.register(tick, "crm", interval=INTERVAL, job_timeout=600, result_ttl=86400, failure_ttl=7 * 86400,
              name="crm-schedule-tick")
