from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import ForeignKey, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common import limits
from common.timeutil import utcnow
from extensions import db

STATUS_CLOSED, STATUS_OPEN = 0, 1
# The stored status is 0/1 (seed 004); what ops read also tells a never-opened profile from a closed one.
STATES = {"not_opened": lazy_pgettext("enterprise status", "Not opened"),
          "open": lazy_pgettext("enterprise status", "Open"),
          "closed": lazy_pgettext("enterprise status", "Closed")}

# What opening an enterprise and adding a contract first require (seed 004).
REQUIRED_FOR_ACTIVATION = {
    "license_no": _l("Business licence number"),
    "name": _l("Enterprise name"),
    "address": _l("Detailed address"),
    "contact_name": _l("Contact person"),
    "contact_phone": _l("Contact phone"),
}


class Enterprise(db.Model):
    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_no: Mapped[str | None] = mapped_column(String(limits.ENTERPRISE_NO), unique=True)
    license_no: Mapped[str | None] = mapped_column(String(18), unique=True)
    name: Mapped[str | None] = mapped_column(String(200), index=True)
    province_code: Mapped[str | None] = mapped_column(String(6))
    province: Mapped[str | None] = mapped_column(String(50))
    city_code: Mapped[str | None] = mapped_column(String(6))
    city: Mapped[str | None] = mapped_column(String(50))
    address: Mapped[str | None] = mapped_column(String(255))
    office_phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    license_scan_id: Mapped[str | None] = mapped_column(ForeignKey("stored_file.id"))
    introduction: Mapped[str | None] = mapped_column(Text)
    remarks: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int] = mapped_column(SmallInteger, default=STATUS_CLOSED, index=True)
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Maintenance mode: the tenant's users see the message instead of the CRM.
    suspended_at: Mapped[datetime | None]
    suspend_message: Mapped[str | None] = mapped_column(String(500))

    license_scan = relationship("StoredFile", foreign_keys=[license_scan_id])
    contracts = relationship("Contract", back_populates="enterprise", order_by="Contract.id.desc()")
    application = relationship("Application", primaryjoin="Application.enterprise_id == Enterprise.id",
                               uselist=False, viewonly=True)

    @property
    def state(self):
        """``open``, ``closed`` (opened once, closed since) or ``not_opened`` (never opened yet)."""
        if self.status == STATUS_OPEN:
            return "open"
        return "closed" if self.opened_at is not None else "not_opened"

    @property
    def status_label(self):
        return STATES[self.state]

    @property
    def is_open(self):
        return self.status == STATUS_OPEN

    def missing_fields(self):
        """The activation fields still empty, in a stable order."""
        return [name for name in REQUIRED_FOR_ACTIVATION if not (getattr(self, name) or "").strip()]

    @property
    def is_complete(self):
        return not self.missing_fields()

    @property
    def tenant_code(self):
        """The code tenant URLs carry: ``/t/<tenant_code>/``."""
        return (self.enterprise_no or "").lower()

    @property
    def display_name(self):
        return self.name or self.enterprise_no or f"#{self.id}"
