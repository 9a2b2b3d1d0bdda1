from datetime import date, datetime
from decimal import Decimal

from flask_babel import lazy_pgettext
from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.timeutil import utcnow
from extensions import db

# seed 004: 开通/关闭, read as states (已开通/已关闭), never as the verb on the enterprise's button
# a contract is in force or ended (生效中/已终止), not opened and closed as a tenant is (已开通/已关闭)
STATUSES = {"open": lazy_pgettext("contract status", "In force"), "closed": lazy_pgettext("contract status", "Ended")}


class Contract(db.Model):
    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_no: Mapped[str | None] = mapped_column(String(24), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"), index=True)
    bank_name: Mapped[str] = mapped_column(String(100))
    legal_representative: Mapped[str] = mapped_column(String(50))
    account_no: Mapped[str] = mapped_column(String(40))
    start_date: Mapped[date]
    end_date: Mapped[date] = mapped_column(index=True)
    community_count: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    scan_id: Mapped[str | None] = mapped_column(ForeignKey("stored_file.id"))
    party_a_contact: Mapped[str] = mapped_column(String(50))
    party_a_phone: Mapped[str] = mapped_column(String(20))
    party_b_contact: Mapped[str] = mapped_column(String(50))
    party_b_phone: Mapped[str] = mapped_column(String(20))
    introduction: Mapped[str | None] = mapped_column(Text)
    remarks: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    enterprise = relationship("Enterprise", back_populates="contracts")
    scan = relationship("StoredFile", foreign_keys=[scan_id])

    @property
    def status_label(self):
        return STATUSES.get(self.status, self.status)
