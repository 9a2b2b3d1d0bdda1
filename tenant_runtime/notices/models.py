"""In-app notifications of users, and the record of every notice sent to a customer's contact."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow


class CrmNotification(TenantBase):
    """Something a user should see on their workspace (a customer about to be recycled, a handover task)."""

    __tablename__ = "crm_notification"
    __table_args__ = (Index("ix_crm_notification_user", "user_id", "read_at", "id"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # recycle_soon, handover_task...
    title: Mapped[str] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(300))
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)  # one reminder per thing and day
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class CrmNotice(TenantBase):
    """A message sent (or tried) to a customer's contact, e.g. the new owner after a handover."""

    __tablename__ = "crm_notice"
    __table_args__ = (Index("ix_crm_notice_customer", "customer_id", "id"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_customer.id"))
    contact_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("crm_contact.id"))
    purpose: Mapped[str] = mapped_column(String(30))  # handover
    reference_id: Mapped[int | None] = mapped_column(IdType)  # the handover's id
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    to_address: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued sent failed skipped
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)  # a job run twice sends once
    error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
