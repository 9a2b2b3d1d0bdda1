"""``crm_customer``: the union of seed 001's ``customers`` and seed 002's ``crm_customer``.

Seed 001 and seed 002 disagree on two codes; both meanings are kept, each in its own column:
``status`` is seed 001's lifecycle (active / inactive / in_pool, where in_pool is seed 002's
``is_in_sea``) and ``deal_status`` is seed 002's sales status (potential / won / lost). ``level`` is seed
001's (important / normal / potential).

Uniqueness is the database's: ``phone`` (E.164) is unique, and so is ``tax_id``, which only enterprises
carry. A soft-deleted customer keeps both, so a deleted record never frees its phone until it is purged.
"""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    bindparam,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.pinyin import PersonWhen, pinyin_column, pinyin_search_column
from ..core.words import WordIndex
from ..models import MYSQL_TABLE_OPTIONS, IdType, TenantBase, utcnow

CUSTOMER_TYPES = ("enterprise", "individual")
LEVELS = ("important", "normal", "potential")
STATUSES = ("active", "inactive", "in_pool")
DEAL_STATUSES = ("potential", "won", "lost")


class CrmCustomer(TenantBase):
    __tablename__ = "crm_customer"
    __table_args__ = (
        # the list's access paths, one per branch of the data scope (own, each department), live rows,
        # with and without a level filter, newest first; the capped count reads them alone (0006,
        # bench/bench_crm.py)
        Index("ix_crm_customer_owner_list", "owner_id", "deleted_at", "level", "id"),
        Index("ix_crm_customer_dept_list", "dept_id", "deleted_at", "level", "id"),
        Index("ix_crm_customer_owner_recent", "owner_id", "deleted_at", "id"),
        Index("ix_crm_customer_dept_recent", "dept_id", "deleted_at", "id"),
        Index("ix_crm_customer_owner_next", "owner_id", "next_follow_up_at"),
        Index("ix_crm_customer_last_follow", "last_follow_up_at"),
        # the public pool's list (owner NULL, live, in_pool), latest arrivals first, and its count (0007)
        Index("ix_crm_customer_pool_list", "owner_id", "deleted_at", "status", "sea_time", "id"),
        # every live customer by name, in pinyin order (0008)
        Index("ix_crm_customer_name_sort", "deleted_at", "name_pinyin", "id"),
        # every live customer by level (important < normal < potential as codes), for who sees them all (0015)
        Index("ix_crm_customer_level_sort", "deleted_at", "level", "id"),
        MYSQL_TABLE_OPTIONS,
    )
    __history__ = True  # every change is recorded in crm_change_log (tenant_runtime/core/history.py)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    # the name as the duplicate check compares it (no 有限公司, spaces or full-width letters)
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    # the name's sort key, its pinyin (北京… before 上海… before 武汉…): set with the name (core/pinyin.py)
    # an individual's name is a person's: its first character reads as a surname (曾华 under Z; 0010)
    name_pinyin: Mapped[str | None] = pinyin_column("customer_name", person=PersonWhen("customer_type", "individual"))
    # the name's initials and whole pinyin, which a search in letters finds it by (hengtai, bjht; 0017)
    name_search: Mapped[str | None] = pinyin_search_column("customer_name",
                                                           person=PersonWhen("customer_type", "individual"))
    customer_type: Mapped[str] = mapped_column(String(20), default="enterprise")
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    tax_id: Mapped[str | None] = mapped_column(String(18), unique=True)
    industry: Mapped[str | None] = mapped_column(String(50))
    scale: Mapped[str | None] = mapped_column(String(50))
    province_code: Mapped[str | None] = mapped_column(String(6))
    city_code: Mapped[str | None] = mapped_column(String(6))
    address: Mapped[str | None] = mapped_column(String(500))
    level: Mapped[str] = mapped_column(String(20), default="normal", server_default=text("'normal'"))
    status: Mapped[str] = mapped_column(String(20), default="active", server_default=text("'active'"))
    deal_status: Mapped[str] = mapped_column(String(20), default="potential", server_default=text("'potential'"))
    source: Mapped[str | None] = mapped_column(String(50), index=True)
    source_lead_id: Mapped[int | None] = mapped_column(IdType, index=True)
    owner_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_user.id"))
    dept_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("sys_dept.id"))
    last_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_follow_up_at: Mapped[datetime | None] = mapped_column(DateTime)
    sea_time: Mapped[datetime | None] = mapped_column(DateTime)  # entered the public pool (seed 002)
    # the pool clock: when the current owner got the customer (created, claimed, assigned, handed over);
    # recycling counts days without follow-up from the later of this and last_follow_up_at
    owned_since: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)
    remark: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(IdType, ForeignKey("sys_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted_by: Mapped[int | None] = mapped_column(IdType)

    owner = relationship("SysUser", foreign_keys=[owner_id])
    dept = relationship("SysDept", foreign_keys=[dept_id])
    tags: Mapped[list["CrmCustomerTag"]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                       order_by="CrmCustomerTag.tag")

    @property
    def tag_names(self):
        """The tags' names, in order: read with the whole page of customers (``preload_tag_names``) unless the
        ``tags`` collection itself is loaded (it is once anything reads or changes it, and then it is the truth)."""
        state = self.__dict__
        if "tags" not in state:
            preloaded = state.get(PRELOADED_TAGS)
            if preloaded is not None:
                return list(preloaded)
        return [t.tag for t in self.tags]


# where ``preload_tag_names`` keeps a customer's tag names, beside its mapped attributes in the instance's dict
PRELOADED_TAGS = "_preloaded_tag_names"


class CrmCustomerTag(TenantBase):
    """Tags of a customer, one row each, so a tag filter is an indexed lookup."""

    __tablename__ = "crm_customer_tag"
    __table_args__ = (Index("ix_crm_customer_tag_tag", "tag", "customer_id"), MYSQL_TABLE_OPTIONS)

    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_customer.id", ondelete="CASCADE"),
                                             primary_key=True)
    tag: Mapped[str] = mapped_column(String(30), primary_key=True)


class CrmCustomerWord(TenantBase):
    """The word index of customers' names (``tenant_runtime.core.words``): a row per pair of adjacent Han
    characters in a name and the customer, so that a search for a rare Chinese word reads its few customers
    instead of every name (``LIKE '%…%'`` can use no index). Kept by the ORM with the name, filled for existing
    customers by 0009."""

    __tablename__ = "crm_customer_word"
    __table_args__ = (MYSQL_TABLE_OPTIONS,)

    word: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # ``words.pair_code``: the pair as a number
    customer_id: Mapped[int] = mapped_column(IdType, ForeignKey("crm_customer.id", ondelete="CASCADE"),
                                             primary_key=True, index=True)


# kept with the name by the ORM; the customer list, 公海 and the customer picker search through it
CUSTOMER_WORDS = WordIndex(CrmCustomerWord.__table__, "customer_id", CrmCustomer, "customer_name", phone="phone")


# built once: SQLAlchemy keys a statement's compiled form by the whole statement, once per statement object
# (of the table's columns: a plain statement, which the session runs without the ORM's compile step)
_TAG_COLUMNS = CrmCustomerTag.__table__.c
_TAG_NAMES = (select(_TAG_COLUMNS.customer_id, _TAG_COLUMNS.tag)
              .where(_TAG_COLUMNS.customer_id.in_(bindparam("ids", expanding=True))).order_by(_TAG_COLUMNS.tag))


def preload_tag_names(session, customers):
    """The tag names of a page of customers, in one statement of plain rows: the ``tags`` collection loaded
    for every customer (``selectinload``) makes an ORM object per tag and a collection per customer, which
    cost more than the statement itself. ``tag_names`` reads them; the collection still loads on first use."""
    ids = {c.id for c in customers if "tags" not in c.__dict__}
    if not ids:
        return
    names = {i: [] for i in ids}
    for customer_id, tag in session.execute(_TAG_NAMES, {"ids": sorted(ids)}):
        names[customer_id].append(tag)
    for c in customers:
        if c.id in names:
            c.__dict__[PRELOADED_TAGS] = names[c.id]
