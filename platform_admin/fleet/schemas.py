"""What the fleet-upgrade endpoints answer."""

from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, Derived, Id, Time, computed, nullable
from datasource_registry import fleet
from datasource_registry.models import FLEET_RUN_STATUSES


class FleetFailureSchema(Answer):
    tenant_id = Id()
    enterprise_no = nullable()
    enterprise_name = nullable()
    datasource_id = nullable(Id)
    datasource = nullable()
    job_id = fields.String()
    error_code = nullable()
    error = nullable()
    finished_at = nullable(Time)


class FleetRunSchema(Answer):
    id = Id()
    status = fields.String(validate=OneOf(list(FLEET_RUN_STATUSES)))
    target_revision = fields.String()
    canary = fields.Integer(attribute="canary_size")
    parallelism = fields.Integer()
    total = fields.Integer()
    succeeded = fields.Integer()
    failed = fields.Integer()
    pending = computed(lambda run: run.total - run.done, {"type": "integer"})
    progress = fields.Integer(attribute="percent")
    resumable = computed(fleet.resumable, {"type": "boolean"})
    started_by = nullable(attribute="started_by.username")
    created_at = Time()
    updated_at = Time()
    finished_at = nullable(Time)


class FleetRunDetailSchema(FleetRunSchema):
    failures = Derived(fleet.failures, FleetFailureSchema, many=True)
