"""What the datasource, job, pool and support-pass endpoints answer. No schema here has a password
field, so no answer can carry one."""

from marshmallow import fields
from marshmallow.validate import OneOf

from common.schemas import Answer, EpochTime, Id, Time, nullable
from datasource_registry.models import IMPLEMENTATION_STATUSES

JOB_STATUSES = ("queued", "running", "finished", "failed")


class DatasourceSchema(Answer):
    id = Id()
    enterprise_id = Id()
    name = fields.String()
    database = fields.String()
    type = fields.String(validate=OneOf(["mysql", "sqlite"]))
    host = fields.String()
    port = fields.Integer()
    connection = fields.String(metadata={"description": "host:port (the folder for sqlite)"})
    username = fields.String()
    max_connections = fields.Integer()
    min_connections = fields.Integer()
    remark = nullable()
    implementation_status = fields.String(validate=OneOf(list(IMPLEMENTATION_STATUSES)))
    implementing_at = nullable(Time)
    implementing_by = nullable(attribute="implementing_by.username")
    live_at = nullable(Time)
    live_by = nullable(attribute="live_by.username")
    created_at = Time()
    created_by = nullable(attribute="created_by.username")


class JobStartedSchema(Answer):
    job_id = fields.String(metadata={"description": "follow it with GET /api/v1/jobs/{job_id}"})


class JobSchema(Answer):
    id = fields.String()
    kind = fields.String()
    tenant_id = Id()
    datasource_id = nullable(Id)
    status = fields.String(validate=OneOf(JOB_STATUSES))
    progress = fields.Integer(metadata={"minimum": 0, "maximum": 100})
    message = nullable()
    result = nullable(fields.Dict)
    error = nullable()
    error_code = nullable(metadata={"description": "provision_failed, upgrade_failed, queue_unavailable, ..."})
    created_at = Time()
    started_at = nullable(Time)
    finished_at = nullable(Time)


class ProbeSchema(Answer):
    reachable = fields.Boolean()
    latency_ms = fields.Float()
    server_version = fields.String()
    schema_version = nullable(metadata={"description": "the tenant schema revision the database is at"})
    schema_head = fields.String()
    schema_current = fields.Boolean()
    identity_tenant_id = nullable(Id, metadata={"description": "the tenant the database's identity marker names"})
    identity_ok = fields.Boolean()


class ConnectionTestSchema(Answer):
    reachable = fields.Boolean()
    latency_ms = fields.Float()
    server_version = fields.String()
    database = fields.String(metadata={"description": "the database name the datasource will use"})
    database_exists = fields.Boolean(metadata={"description": "false until provisioning creates it"})


class PoolEngineSchema(Answer):
    tenant_id = Id()
    datasource_id = Id()
    pool_size = fields.Integer()
    max_connections = fields.Integer()
    checked_out = fields.Integer()
    idle = fields.Integer()
    last_used = nullable(EpochTime)


class PoolStatsSchema(Answer):
    """This process's pool registry (each web and worker process has its own)."""

    budget = fields.Integer()
    reserved = fields.Integer()
    max_reserved = fields.Integer()
    checked_out = fields.Integer()
    evictions = fields.Integer()
    created = fields.Integer()
    capacity_waits = fields.Integer()
    capacity_errors = fields.Integer()
    draining = fields.Integer()
    parked = fields.Integer()
    engines = fields.Nested(PoolEngineSchema, many=True)


class SupportPassSchema(Answer):
    url = fields.String(metadata={"description": "single use, for that tenant only"})
    expires_at = Time()
