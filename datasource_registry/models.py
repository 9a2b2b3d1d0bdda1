"""Datasource records (control database). Immutable once saved, except their implementation status
(with who and when) and the re-encryption of the secret when master keys rotate: enforced here, at
the ORM level, so no code path can change one."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.session import Session as ControlSession
from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from common.timeutil import utcnow
from extensions import db

IMPLEMENTATION_STATUSES = {
    "not_implemented": _l("Not implemented"),
    "implementing": _l("Implementing"),
    "live": _l("Live"),
}
NEXT_STATUS = {"not_implemented": "implementing", "implementing": "live"}
TYPE_LABELS = {"mysql": "MySQL", "sqlite": _l("SQLite (development only)")}

# Columns that may change after creation; everything else is frozen.
MUTABLE_COLUMNS = frozenset({"implementation_status", "implementing_at", "implementing_by_id", "live_at",
                             "live_by_id", "password_encrypted"})


class DatasourceImmutable(Exception):
    """An attempt to change a frozen datasource column."""

    def __init__(self, columns):
        super().__init__(f"datasource is immutable; refused change to: {', '.join(sorted(columns))}")
        self.columns = sorted(columns)


class Datasource(db.Model):
    __tablename__ = "datasource"
    __table_args__ = (UniqueConstraint("host", "port", "database", name="uq_datasource_location"),)
    __audit_exclude__ = ("password_encrypted",)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    database: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(10), default="mysql")
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    username: Mapped[str] = mapped_column(String(32))
    password_encrypted: Mapped[str] = mapped_column(Text)
    max_connections: Mapped[int]
    min_connections: Mapped[int]
    remark: Mapped[str | None] = mapped_column(String(500))
    implementation_status: Mapped[str] = mapped_column(String(20), default="not_implemented", index=True)
    implementing_at: Mapped[datetime | None]
    implementing_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    live_at: Mapped[datetime | None]
    live_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))

    enterprise = relationship("Enterprise", backref=db.backref("datasource", uselist=False))
    created_by = relationship("StaffUser", foreign_keys=[created_by_id])
    implementing_by = relationship("StaffUser", foreign_keys=[implementing_by_id])
    live_by = relationship("StaffUser", foreign_keys=[live_by_id])

    @property
    def status_label(self):
        return IMPLEMENTATION_STATUSES.get(self.implementation_status, self.implementation_status)

    @property
    def type_label(self):
        return TYPE_LABELS.get(self.type, self.type)

    @property
    def connection(self):
        """数据库连接: internal host and port."""
        return f"{self.host}:{self.port}" if self.type == "mysql" else self.host


class TenantJob(db.Model):
    """A tracked background job on one tenant (provisioning, schema upgrade)."""

    __tablename__ = "tenant_job"
    __audit__ = False

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    # Kept as history when a datasource is deleted (before any data existed).
    datasource_id: Mapped[int | None] = mapped_column(ForeignKey("datasource.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)  # queued running finished failed
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[dict | None] = mapped_column(JSON)
    # A failure as staff see it: a code and a plain message (never a driver's text, which can quote values).
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    fleet_run_id: Mapped[int | None] = mapped_column(ForeignKey("fleet_run.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]



FLEET_RUN_STATUSES = {
    "running": _l("Running"),
    "finished": _l("Finished"),
    "halted": _l("Halted: the canary wave failed"),
    "interrupted": _l("Interrupted: the job queue did not answer"),
    "finished_with_failures": _l("Finished with failures"),
}


class FleetRun(db.Model):
    """One upgrade of every provisioned tenant database to the tenant schema's head; each tenant is a
    ``TenantJob`` (kind ``upgrade``) pointing here. Rules live in ``datasource_registry.fleet``."""

    __tablename__ = "fleet_run"
    __audit__ = False  # counters move with every tenant; the tenant jobs are the record

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(30), default="running", index=True)
    # 1 while running, NULL otherwise: the unique index lets the database itself refuse a second run.
    running_slot: Mapped[int | None] = mapped_column(unique=True)
    target_revision: Mapped[str] = mapped_column(String(64))
    canary_size: Mapped[int]
    parallelism: Mapped[int]
    total: Mapped[int] = mapped_column(default=0)
    succeeded: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)  # heartbeat: moves with every tenant done
    finished_at: Mapped[datetime | None]

    started_by = relationship("StaffUser", foreign_keys=[started_by_id])

    @property
    def status_label(self):
        return FLEET_RUN_STATUSES.get(self.status, self.status)

    @property
    def done(self):
        return self.succeeded + self.failed

    @property
    def percent(self):
        if not self.total:  # nothing counted yet (running) or nothing to do (ended)
            return 0 if self.status == "running" else 100
        return min(100, round(100 * self.done / self.total))

SCHEDULED_RUN_STATUSES = {
    "pending": _l("Waiting for its turn"),
    "queued": _l("Queued"),
    "running": _l("Running"),
    "finished": _l("Finished"),
    "failed": _l("Failed"),
    "skipped": _l("Skipped: tenant not available"),
}


class ScheduledRun(db.Model):
    """The CRM's scheduled tasks for one tenant on one day (``datasource_registry.schedule``): one row per
    tenant and local day, claimed idempotently (the unique key), so a restarted or second scheduler neither
    loses nor doubles a run. ``result`` holds each task's summary or its failure code, never a driver's text."""

    __tablename__ = "scheduled_run"
    __audit__ = False  # moves with every run; the rows are the record devops read
    __table_args__ = (UniqueConstraint("tenant_id", "run_date", name="uq_scheduled_run_tenant_day"),
                      Index("ix_scheduled_run_day_status", "run_date", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    run_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict | None] = mapped_column(JSON)
    tasks_failed: Mapped[int] = mapped_column(default=0)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    enterprise = relationship("Enterprise")

    @property
    def status_label(self):
        return SCHEDULED_RUN_STATUSES.get(self.status, self.status)


def _password_unchanged(old_token, new_token):
    from .secrets import SecretUnreadable, decrypt

    try:
        return decrypt(old_token) == decrypt(new_token)
    except SecretUnreadable:
        return False


def _check_datasource_change(obj):
    state = inspect(obj)
    changed = {attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes()}
    frozen = changed - MUTABLE_COLUMNS
    if frozen:
        raise DatasourceImmutable(frozen)
    if "password_encrypted" in changed:
        hist = state.attrs["password_encrypted"].history
        if not hist.deleted or not _password_unchanged(hist.deleted[0], hist.added[0]):
            raise DatasourceImmutable({"password"})  # only re-encryption of the same secret is allowed


@event.listens_for(Session, "before_flush")
def _guard_datasources(session, flush_context, instances):
    for obj in session.dirty:
        if isinstance(obj, Datasource):
            _check_datasource_change(obj)


# On the control plane's session class (every ``db.session``): a listener for this event on SQLAlchemy's base
# Session would also make every statement of every tenant session build an ORMExecuteState and prepare the
# statement twice (bench/bench_routed_read.py), for a table that only the control database has.
@event.listens_for(ControlSession, "do_orm_execute")
def _guard_bulk_updates(orm_execute_state):
    """Bulk ``update(Datasource)`` statements bypass the unit of work; refuse frozen columns there too."""
    if not orm_execute_state.is_update:
        return
    mapper = orm_execute_state.bind_mapper
    if mapper is None or mapper.class_ is not Datasource:
        return
    params = orm_execute_state.statement._values or {}
    columns = {getattr(k, "key", str(k)) for k in params}
    frozen = columns - MUTABLE_COLUMNS
    if frozen or "password_encrypted" in columns:
        raise DatasourceImmutable(frozen or {"password"})


class ImpersonationGrant(db.Model):
    """A single-use, short-lived pass for support staff to act as one tenant user. Only its hash is stored."""

    __tablename__ = "impersonation_grant"
    __audit_exclude__ = ("token_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    username: Mapped[str] = mapped_column(String(50))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    staff_username: Mapped[str] = mapped_column(String(80))
    staff_name: Mapped[str | None] = mapped_column(String(64))  # for the banner the tenant's user sees
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_ip: Mapped[str | None] = mapped_column(String(64))
