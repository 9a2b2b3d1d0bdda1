"""``crm_contact`` as seed 002 defines it, plus the primary flag, WeChat, an owner (handover moves it with
the customer) and do-not-contact with who set it and when (seed 003's ``doNotContact`` /
``doNotContactUpdatedBy``)."""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.pinyin import pinyin_column, pinyin_search_column
from ..core.words import WordIndex
from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow


class CrmContact(TenantBase):
    __tablename__ = "crm_contact"
    __table_args__ = (
        UniqueConstraint("customer_id", "phone", name="uq_crm_contact_customer_phone"),  # seed 002 uk_customer_phone
        # 1 on the primary contact, NULL on the others: the database allows one primary per customer
        UniqueConstraint("customer_id", "primary_marker", name="uq_crm_contact_primary"),
        Index("ix_crm_contact_name_sort", "deleted_at", "name_pinyin", "id"),  # every live contact by name (0010)
        Index("ix_crm_contact_phone", "phone"),  # a whole number searched, whoever's contact it is (0010)
        MYSQL_TABLE_OPTIONS,
    )
    __history__ = True

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_customer.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(100))
    name_pinyin: Mapped[str | None] = pinyin_column("contact_name", person=True)  # the list sorts names by it (0010)
    name_search: Mapped[str | None] = pinyin_search_column("contact_name", person=True)  # wanghua, wh find 王华 (0017)
    position: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(100))
    wechat: Mapped[str | None] = mapped_column(String(64))
    is_key: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"), index=True)
    communication_preference: Mapped[str | None] = mapped_column(String(50))
    birthday: Mapped[date | None] = mapped_column(Date)
    remark: Mapped[str | None] = mapped_column(Text)
    primary_marker: Mapped[int | None] = mapped_column(SmallInteger)
    do_not_contact: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    dnc_set_by: Mapped[int | None] = mapped_column(IdType)
    dnc_set_at: Mapped[datetime | None] = mapped_column(DateTime)
    owner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_user.id"), index=True)
    created_by: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_by: Mapped[int | None] = mapped_column(IdType)

    customer = relationship("CrmCustomer")

    @property
    def is_primary(self):
        return self.primary_marker == 1


class CrmContactWord(TenantBase):
    """The word index of contacts' names (``tenant_runtime.core.words``), as customers have theirs: a search of
    every contact for a rare name (沈慕白) reads its few contacts instead of every name. It holds the pairs of the
    email too, which the list searches beside the name (an address may be written in Chinese: 王@例子.中国).
    Filled by 0011."""

    __tablename__ = "crm_contact_word"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    word: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contact_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_contact.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)


CONTACT_WORDS = WordIndex(CrmContactWord.__table__, "contact_id", CrmContact, "contact_name", "email",
                          phone="phone")
