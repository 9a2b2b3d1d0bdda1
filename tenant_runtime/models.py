"""The tenant schema: tables that live in every tenant's own database.

These models use their own declarative base and MetaData, never Flask-SQLAlchemy's ``db.Model``, so the
control database's ``flask db migrate`` never sees them. Their schema is versioned in
``migrations/tenant/`` and applied per tenant through ``datasource_registry.tenant_schema``; any change
here needs a new revision there (the tests compare the migrated database with these models).

Datetimes are naive UTC. Ids are BIGINT on MySQL and INTEGER on SQLite (only an INTEGER PRIMARY KEY
autoincrements there).
"""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from common import limits

from .core.pinyin import pinyin_column, refresh_on_rename

# Same convention as the control database (extensions.NAMING), copied rather than imported so the
# tenant schema does not depend on the Flask extensions module.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Table options for MySQL/MariaDB; ignored by SQLite. The migration passes the same options.
MYSQL_TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

# What does not count as business data is the delete guard's rule, so the registry owns it.
from datasource_registry.tenant_schema import BUSINESS_TABLE_EXCLUSIONS

# Primary keys and the foreign keys that point at them.
IdType = BigInteger().with_variant(Integer, "sqlite")

USER_STATUS_DISABLED = 0
USER_STATUS_ENABLED = 1


def utcnow():
    """Naive UTC now (the database columns are timezone-less DATETIME)."""
    return datetime.now(UTC).replace(tzinfo=None)


class TenantBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


# a renamed customer, contact, lead, pool or user gets its pinyin sort key in the same UPDATE (core/pinyin.py)
event.listen(TenantBase, "before_update", refresh_on_rename, propagate=True)


class TenantIdentity(TenantBase):
    """Single row naming the enterprise this database belongs to.

    The platform compares it with the datasource it followed, and refuses a connection that reached
    another tenant's database.
    """

    __tablename__ = "tenant_identity"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    tenant_id: Mapped[int] = mapped_column(Integer)
    enterprise_no: Mapped[str] = mapped_column(String(limits.ENTERPRISE_NO))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SysDept(TenantBase):
    __tablename__ = "sys_dept"
    # one name per parent: pickers, lists and exports name a department by it (0020)
    __table_args__ = (UniqueConstraint("parent_id", "dept_name", name="uq_sys_dept_parent_name"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    dept_name: Mapped[str] = mapped_column(String(limits.DEPT_NAME))
    parent_id: Mapped[int | None] = mapped_column(IdType, index=True)
    sort: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    users: Mapped[list["SysUser"]] = relationship(back_populates="dept")


class SysUser(TenantBase):
    __tablename__ = "sys_user"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # Lengths from common.limits: the control plane's forms accept no more than provisioning copies here.
    username: Mapped[str] = mapped_column(String(limits.USERNAME), unique=True)
    full_name: Mapped[str] = mapped_column(String(limits.PERSON_NAME))
    name_pinyin: Mapped[str | None] = pinyin_column("full_name", person=True)  # people lists and pickers sort by it (0010)
    dept_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_dept.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(limits.PHONE))
    email: Mapped[str | None] = mapped_column(String(limits.EMAIL))
    status: Mapped[int] = mapped_column(
        SmallInteger, default=USER_STATUS_ENABLED, server_default=text(str(USER_STATUS_ENABLED))
    )  # 0 disabled, 1 enabled
    password_hash: Mapped[str] = mapped_column(String(255))
    last_login_time: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    dept: Mapped[SysDept] = relationship(back_populates="users")
    # seed 002's comma-separated ``role_ids`` is the sys_user_role join table (tenant_runtime/people/models.py)
    roles: Mapped[list["SysRole"]] = relationship(secondary="sys_user_role", lazy="selectin",  # noqa: F821
                                                  order_by="SysRole.id")

    @property
    def is_enabled(self):
        return self.status == USER_STATUS_ENABLED

    @property
    def status_word(self):
        """The status as the API answers it and the users list filters by it: enabled or disabled."""
        return "enabled" if self.is_enabled else "disabled"

    @property
    def is_admin(self):
        """A tenant administrator: holds the built-in 管理员 role."""
        return any(role.code == "admin" for role in self.roles)


class SysToken(TenantBase):
    """A bearer token of a tenant user; only the SHA-256 hex digest of the token is stored."""

    __tablename__ = "sys_token"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[SysUser] = relationship()


class SysSession(TenantBase):
    """A signed-in browser of a tenant user. The cookie carries a random key and only its SHA-256 is
    stored, so sign-out or a password change ends the session for good, even for a copied cookie."""

    __tablename__ = "sys_session"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id", ondelete="CASCADE"), index=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class SysPasswordToken(TenantBase):
    """A single-use, expiring link to set a user's password (the first administrator's, later resets).
    Only the SHA-256 of the token is stored."""

    __tablename__ = "sys_password_token"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # first_login | reset
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[SysUser] = relationship()


class SysImpersonation(TenantBase):
    """Support staff acting as a tenant user, recorded in the tenant's own database so it can see it."""

    __tablename__ = "sys_impersonation"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    staff_id: Mapped[int] = mapped_column(Integer)  # control-plane staff_user.id (no FK: other database)
    staff_username: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id"), index=True)
    reason: Mapped[str] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    user: Mapped[SysUser] = relationship()


# Every module's tables belong to the same metadata (Alembic's env imports only this module).
from .contacts import models as _contacts  # noqa: E402,F401
from .core import models as _core  # noqa: E402,F401
from .customers import models as _customers  # noqa: E402,F401
from .followups import models as _followups  # noqa: E402,F401
from .handovers import models as _handovers  # noqa: E402,F401
from .io import models as _io  # noqa: E402,F401
from .leads import models as _leads  # noqa: E402,F401
from .notices import models as _notices  # noqa: E402,F401
from .people import models as _people  # noqa: E402,F401
from .pool import models as _pool  # noqa: E402,F401

__all__ = [
    "BUSINESS_TABLE_EXCLUSIONS",
    "USER_STATUS_DISABLED",
    "USER_STATUS_ENABLED",
    "SysDept",
    "SysImpersonation",
    "SysPasswordToken",
    "SysSession",
    "SysToken",
    "SysUser",
    "TenantBase",
    "TenantIdentity",
    "utcnow",
]
