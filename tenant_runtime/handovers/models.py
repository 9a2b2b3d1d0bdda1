"""Handovers: seed 001's ``customer_handover`` (from owner, to owner, reason, current stage) as one handover
of one or many customers of one owner, its customers, and seed 001's ``customer_handover_items`` (the
checklist, generated from each customer's real data, each item confirmed and annotated by the original
owner); every stage change is an event (who, when, what, a note)."""

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow

REASONS = ("resignation", "position_change", "manual")
STAGES = ("preparation", "review", "confirmation", "completed", "cancelled")
OPEN_STAGES = ("preparation", "review", "confirmation")
ITEM_TYPES = ("basic_info", "contacts", "follow_up_plans", "opportunities", "contracts", "service_tickets",
              "payment_issues")


class CrmHandover(TenantBase):
    __tablename__ = "crm_handover"
    __table_args__ = (Index("ix_crm_handover_stage", "current_stage", "id"), MYSQL_TABLE_OPTIONS)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    from_owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id"), index=True)
    to_owner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_user.id"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_user.id"), index=True)
    handover_reason: Mapped[str] = mapped_column(String(20))
    reason_note: Mapped[str | None] = mapped_column(String(500))
    current_stage: Mapped[str] = mapped_column(String(20), default="preparation",
                                               server_default=text("'preparation'"))
    started_automatically: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    created_by: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)

    customers: Mapped[list["CrmHandoverCustomer"]] = relationship(cascade="all, delete-orphan",
                                                                  order_by="CrmHandoverCustomer.customer_id")
    items: Mapped[list["CrmHandoverItem"]] = relationship(cascade="all, delete-orphan",
                                                          order_by="CrmHandoverItem.id")
    events: Mapped[list["CrmHandoverEvent"]] = relationship(cascade="all, delete-orphan",
                                                            order_by="CrmHandoverEvent.id")

    @property
    def is_open(self):
        return self.current_stage in OPEN_STAGES


class CrmHandoverCustomer(TenantBase):
    """A customer in a handover. ``open_marker`` is 1 while the handover is open and NULL after: the unique
    index lets a customer be in one open handover at a time."""

    __tablename__ = "crm_handover_customer"
    __table_args__ = (UniqueConstraint("customer_id", "open_marker", name="uq_crm_handover_customer_open"),
                      MYSQL_TABLE_OPTIONS)

    handover_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_handover.id", ondelete="CASCADE"),
                                             primary_key=True)
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_customer.id"), primary_key=True, index=True)
    open_marker: Mapped[int | None] = mapped_column(SmallInteger)


class CrmHandoverItem(TenantBase):
    """A checklist item (seed 001's ``customer_handover_items``): generated from the customer's data, then
    confirmed (``is_completed``) and annotated by the original owner."""

    __tablename__ = "crm_handover_item"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    handover_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_handover.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_customer.id"))
    item_type: Mapped[str] = mapped_column(String(30))
    item_description: Mapped[str] = mapped_column(Text)  # the record, written once in Simplified Chinese
    # the values it was written from (a source's ``describe`` words them in the reader's language); None on items
    # written before tenant revision 0019, or by a source that keeps text alone
    item_detail: Mapped[dict | None] = mapped_column(JSON)
    is_completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    owner_note: Mapped[str | None] = mapped_column(String(500))


class CrmHandoverEvent(TenantBase):
    """A stage change: who, when, what (start, prepare, approve, reject, confirm, cancel), a note."""

    __tablename__ = "crm_handover_event"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    handover_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_handover.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(20))  # the stage it led to
    note: Mapped[str | None] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(IdType)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
