"""``customer_pool`` exactly as seed 000 defines it (string ids of 32 characters, its defaults and its five
indexes), plus the pool's rules and settings.

One row per customer (its unique index): recycling the customer again updates the row, so the row always
tells the customer's latest stay in the pool; each move is also in the customer's change history.
"""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow

POOL_STATUSES = ("available", "assigned", "claimed")
RECYCLE_REASONS = ("inactive_days", "manual")


class CustomerPool(TenantBase):
    __tablename__ = "customer_pool"
    __table_args__ = (
        Index("idx_pool_customer", "customer_id", unique=True),
        Index("idx_pool_original_owner", "original_owner_id"),
        Index("idx_pool_assigned_to", "assigned_to"),
        Index("idx_pool_status", "pool_status"),
        Index("idx_pool_recycled", "recycled_at"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # UUID, hex
    customer_id: Mapped[str] = mapped_column(String(32))
    original_owner_id: Mapped[str] = mapped_column(String(32))
    recycle_reason: Mapped[str] = mapped_column(String(100))  # inactive_days | manual (+ the rule's name)
    inactive_days: Mapped[int | None] = mapped_column(BigInteger)
    recycled_at: Mapped[datetime] = mapped_column(DateTime)
    assigned_to: Mapped[str | None] = mapped_column(String(32))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    pool_status: Mapped[str] = mapped_column(String(20), default="available", server_default=text("'available'"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CrmPoolRule(TenantBase):
    """One recycling rule: conditions combined with AND or OR (``conditions`` is
    ``{"match": "all"|"any", "items": [{"field", "op", "value"}]}``; the inactivity condition's value is
    days per customer level)."""

    __tablename__ = "crm_pool_rule"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    rule_name: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("1"))
    conditions: Mapped[dict] = mapped_column(JSON)
    sort: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class CrmPoolSetting(TenantBase):
    """The pool's settings (one row): reminders, caps, the previous owner's cool-down, exemptions."""

    __tablename__ = "crm_pool_setting"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    remind_days_before: Mapped[int] = mapped_column(Integer, default=3, server_default=text("3"))
    daily_claim_cap: Mapped[int] = mapped_column(Integer, default=10, server_default=text("10"))
    holding_cap: Mapped[int] = mapped_column(Integer, default=200, server_default=text("200"))
    reclaim_cooldown_days: Mapped[int] = mapped_column(Integer, default=7, server_default=text("7"))
    exempt_open_opportunities: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("1"))
    exempt_signed_contracts: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("1"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
