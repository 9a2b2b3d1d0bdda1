"""What the scheduled-run endpoints answer."""

from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, Derived, Id, Time, nullable
from datasource_registry.models import SCHEDULED_RUN_STATUSES


def task_outcomes(run):
    """Each task's outcome in the order it ran: ``{"name", "status", "summary", "error_code", "error"}``."""
    tasks = (run.result or {}).get("tasks") or {}
    return [{"name": name, "status": outcome.get("status"), "summary": outcome.get("summary"),
             "error_code": outcome.get("error_code"), "error": outcome.get("error")}
            for name, outcome in tasks.items()]


class TaskOutcomeSchema(Answer):
    name = fields.String()
    status = fields.String(validate=OneOf(["finished", "failed"]))
    summary = fields.Dict(allow_none=True, metadata={"nullable": True,
                                                     "description": "what the task did: counts, never personal data"})
    error_code = nullable()
    error = nullable()


class ScheduledRunSchema(Answer):
    id = Id()
    tenant_id = Id()
    enterprise_no = nullable(attribute="enterprise.enterprise_no")
    enterprise_name = nullable(attribute="enterprise.name")
    day = fields.Date(attribute="run_date")
    status = fields.String(validate=OneOf(list(SCHEDULED_RUN_STATUSES)))
    attempts = fields.Integer()
    tasks_failed = fields.Integer()
    tasks = Derived(task_outcomes, TaskOutcomeSchema, many=True)
    error_code = nullable()
    error = nullable()
    created_at = Time()
    queued_at = nullable(Time)
    started_at = nullable(Time)
    finished_at = nullable(Time)
