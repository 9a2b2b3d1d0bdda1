"""``crm_follow_up`` as seed 002 defines it (``relation_type`` customer or lead, ``relation_id``), plus the
contact spoken to; attachments live in ``crm_attachment``."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow

METHODS = ("phone", "visit", "wechat", "email", "other")
RELATION_TYPES = ("customer", "lead")


class CrmFollowUp(TenantBase):
    __tablename__ = "crm_follow_up"
    __table_args__ = (
        Index("ix_crm_follow_up_relation", "relation_type", "relation_id", "id"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    relation_type: Mapped[str] = mapped_column(String(20))
    relation_id: Mapped[int] = mapped_column(IdType)
    contact_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("crm_contact.id"))
    follow_type: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    next_follow_time: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    next_content: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
