"""Tables every CRM module shares: per-record change history, attachments and saved list views."""

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow


class CrmChangeLog(TenantBase):
    """Who changed which fields of one record from what to what, and when (one row per change)."""

    __tablename__ = "crm_change_log"
    __table_args__ = (Index("ix_crm_change_log_record", "entity_type", "entity_id", "id"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(IdType)
    action: Mapped[str] = mapped_column(String(20))  # create update delete restore (and later: transfer, recycle...)
    changes: Mapped[list] = mapped_column(JSON)  # [{"field", "old", "new"}]
    user_id: Mapped[int | None] = mapped_column(IdType, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class CrmAttachment(TenantBase):
    """A file attached to a record (a follow-up today); the bytes live under UPLOAD_DIR, per tenant."""

    __tablename__ = "crm_attachment"
    __table_args__ = (Index("ix_crm_attachment_owner", "owner_type", "owner_id"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    owner_type: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(IdType)
    file_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CrmSavedView(TenantBase):
    """A list's filters saved under a name by one user (the built-in views need no row)."""

    __tablename__ = "crm_saved_view"
    __table_args__ = (Index("ix_crm_saved_view_user", "user_id", "resource"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(30))
    view_name: Mapped[str] = mapped_column(String(50))
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
