from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from common.timeutil import utcnow
from extensions import db

CHANNELS = {"sms": _l("SMS"), "email": lazy_pgettext("message channel", "Email")}
# "recorded": kept in the outbox only (the outbox backend, for development and demos), never delivered
DELIVERY_STATUSES = {"recorded": _l("Recorded, not delivered"), "sent": _l("Sent"), "failed": _l("Failed")}


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), index=True)  # sms | email
    to: Mapped[str] = mapped_column("recipient", String(255), index=True)
    subject: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str | None] = mapped_column(String(40))
    backend: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))  # recorded | sent | failed
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    @property
    def channel_label(self):
        return CHANNELS.get(self.channel, self.channel)

    @property
    def status_label(self):
        return DELIVERY_STATUSES.get(self.status, self.status)
