from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from common.timeutil import utcnow
from extensions import db

CHANNELS = {
    "web": _l("Web"),
    "wechat": _l("WeChat"),
    "qrcode": _l("QR code"),
    "offline": _l("Offline (ops)"),
}
PUBLIC_CHANNELS = ("web", "wechat", "qrcode")

STATUSES = {
    "new": _l("New"),
    "contacted": _l("Contacted"),
    "intent_confirmed": _l("Intent confirmed"),
    "converted": _l("Converted"),
    "rejected": _l("Rejected"),
}
# The application pipeline; "converted" is reached only through conversion.
TRANSITIONS = {
    "new": {"contacted", "intent_confirmed", "rejected"},
    "contacted": {"intent_confirmed", "rejected"},
    "intent_confirmed": {"rejected"},
    "rejected": {"new"},
    "converted": set(),
}

INTENT_LEVELS = {
    "high": _l("High"),
    "medium": _l("Medium"),
    "low": _l("Low"),
    "none": _l("No intent"),
}


class Application(db.Model):
    """A company's request to use the product (客户申请)."""

    __tablename__ = "application"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    company_name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(10), index=True)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    phone_verified: Mapped[bool] = mapped_column(default=False)
    next_follow_up_at: Mapped[datetime | None] = mapped_column(index=True)
    last_intent_level: Mapped[str | None] = mapped_column(String(10))
    remarks: Mapped[str | None] = mapped_column(Text)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner = relationship("StaffUser", foreign_keys=[owner_id])
    follow_ups = relationship("FollowUp", back_populates="application", order_by="FollowUp.id.desc()",
                              cascade="all, delete-orphan")
    enterprise = relationship("Enterprise", foreign_keys=[enterprise_id])

    @property
    def channel_label(self):
        return CHANNELS.get(self.channel, self.channel)

    @property
    def status_label(self):
        return STATUSES.get(self.status, self.status)

    def can_move_to(self, status):
        return status in TRANSITIONS.get(self.status, set())


class FollowUp(db.Model):
    """A return visit (回访) to an applicant."""

    __tablename__ = "follow_up"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("application.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    content: Mapped[str] = mapped_column(Text)
    intent_level: Mapped[str] = mapped_column(String(10))
    next_follow_up_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    application = relationship("Application", back_populates="follow_ups")
    staff = relationship("StaffUser")

    @property
    def intent_label(self):
        return INTENT_LEVELS.get(self.intent_level, self.intent_level)


class SmsCode(db.Model):
    """A registration verification code. Only an HMAC of the code is stored."""

    __tablename__ = "sms_code"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    purpose: Mapped[str] = mapped_column(String(20), default="register")
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
