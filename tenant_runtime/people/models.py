"""Roles and their departments (seed 002's ``sys_user.role_ids`` becomes the ``sys_user_role`` join table,
so "who holds this role" is an indexed query rather than a string search)."""

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow

# Data scope as Chinese admin systems define it (RuoYi, WukongCRM): which owners' records a role sees.
SCOPE_ALL = "all"
SCOPE_CUSTOM = "custom"  # the role's own list of departments
SCOPE_DEPT = "dept"  # the user's own department
SCOPE_DEPT_TREE = "dept_tree"  # the user's department and every department below it
SCOPE_SELF = "self"  # only records the user owns
DATA_SCOPES = (SCOPE_ALL, SCOPE_CUSTOM, SCOPE_DEPT, SCOPE_DEPT_TREE, SCOPE_SELF)


class SysRole(TenantBase):
    __tablename__ = "sys_role"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # built-in roles carry a code (admin, sales_manager, sales, service); custom ones have none
    code: Mapped[str | None] = mapped_column(String(30), unique=True)
    role_name: Mapped[str] = mapped_column(String(50), unique=True)
    data_scope: Mapped[str] = mapped_column(String(20), default=SCOPE_SELF, server_default=text(f"'{SCOPE_SELF}'"))
    permissions: Mapped[str] = mapped_column(Text, default="")  # space separated, e.g. "customer.view customer.create"
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    remark: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    depts: Mapped[list["SysRoleDept"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def permission_set(self):
        return frozenset(p for p in (self.permissions or "").split() if p)

    @property
    def dept_ids(self):
        return {d.dept_id for d in self.depts}


class SysRoleDept(TenantBase):
    """The departments a role with the ``custom`` data scope may see."""

    __tablename__ = "sys_role_dept"
    __table_args__ = MYSQL_TABLE_OPTIONS

    role_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_role.id", ondelete="CASCADE"), primary_key=True)
    dept_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_dept.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


class SysUserRole(TenantBase):
    __tablename__ = "sys_user_role"
    __table_args__ = MYSQL_TABLE_OPTIONS

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_role.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
