"""``crm_lead`` and ``crm_lead_pool`` as seed 002 defines them (its columns, codes and indexes), plus what the
CRM needs beside them: the owner's department (data scope), follow-up times, the customer a lead became."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.pinyin import pinyin_column, pinyin_search_column
from ..core.words import WordIndex
from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow

# seed 002's codes
INTENT_LEVELS = {1: "low", 2: "medium", 3: "high"}
STATUS_NEW, STATUS_FOLLOWING, STATUS_CONVERTED, STATUS_INVALID = 1, 2, 3, 4


class CrmLeadPool(TenantBase):
    __tablename__ = "crm_lead_pool"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    pool_name: Mapped[str] = mapped_column(String(100), unique=True)
    name_pinyin: Mapped[str | None] = pinyin_column("pool_name")  # the pools' list sorts names by it (0010)
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("1"))
    dept_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_dept.id"))  # a department's own pool
    # leads owned but not followed up for this many days go back to this pool (NULL: never)
    recycle_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    dept = relationship("SysDept", foreign_keys=[dept_id])


class CrmLead(TenantBase):
    __tablename__ = "crm_lead"
    __table_args__ = (
        Index("ix_crm_lead_pool_status", "pool_id", "status"),
        Index("ix_crm_lead_owner_list", "owner_id", "status", "id"),
        Index("ix_crm_lead_name_sort", "deleted_at", "name_pinyin", "id"),  # every live lead by name (0010)
        MYSQL_TABLE_OPTIONS,
    )
    __history__ = True

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    lead_name: Mapped[str] = mapped_column(String(100))
    # the list sorts names by it (0010); a lead is named for a person or a company (seed: 个人/企业名)
    name_pinyin: Mapped[str | None] = pinyin_column("lead_name", person="maybe")
    name_search: Mapped[str | None] = pinyin_search_column("lead_name", person="maybe")  # found in pinyin (0017)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # seed: uk_phone, no duplicate leads
    company: Mapped[str | None] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(50), index=True)
    intent_product: Mapped[str | None] = mapped_column(String(200))
    intent_level: Mapped[int | None] = mapped_column(SmallInteger)  # 1 low, 2 medium, 3 high
    status: Mapped[int] = mapped_column(SmallInteger, default=STATUS_NEW, server_default=text("1"))
    remark: Mapped[str | None] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_user.id"))  # NULL: in its pool
    dept_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_dept.id"), index=True)
    pool_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_lead_pool.id"))
    last_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    converted_customer_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("crm_customer.id"))
    converted_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # soft delete (revision 0006): the row, its follow-ups and its phone stay until an administrator purges it
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_by: Mapped[int | None] = mapped_column(IdType)

    owner = relationship("SysUser", foreign_keys=[owner_id])
    dept = relationship("SysDept", foreign_keys=[dept_id])
    pool = relationship(CrmLeadPool, foreign_keys=[pool_id])


class CrmLeadWord(TenantBase):
    """The word index of leads (``tenant_runtime.core.words``) over both columns the lead list searches, the
    name and the company: a search for a rare word (沈慕白, 龙腾物业) reads its few leads instead of every lead's
    name and company. Kept by the ORM with both, filled for existing leads by 0012."""

    __tablename__ = "crm_lead_word"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    word: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lead_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_lead.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


# kept with the name and the company by the ORM; the lead list searches through it
LEAD_WORDS = WordIndex(CrmLeadWord.__table__, "lead_id", CrmLead, "lead_name", "company", phone="phone")
