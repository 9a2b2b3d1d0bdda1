from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from common.timeutil import utcnow
from extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(80))  # username, "public", "cli:<user>"
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40), index=True)  # create | update | delete | a verb
    record_type: Mapped[str] = mapped_column(String(40), index=True)
    record_id: Mapped[str | None] = mapped_column(String(40), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)

    @property
    def before_shown(self):
        from .recorder import with_offsets

        return with_offsets(self.record_type, self.before)

    @property
    def after_shown(self):
        from .recorder import with_offsets

        return with_offsets(self.record_type, self.after)
