"""Staff accounts, their signed-in browsers and their API tokens (control database)."""

import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from common.timeutil import utcnow
from extensions import db

ROLES = ("admin", "ops", "devops")


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_user"
    __audit_exclude__ = ("password_hash",)
    __audit_quiet__ = ("last_login_at",)  # the login event says when: not a 修改 of the account beside each one

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(120))
    roles_csv: Mapped[str] = mapped_column("roles", String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active_flag: Mapped[bool] = mapped_column("is_active", default=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    tokens = relationship("ApiToken", back_populates="staff", cascade="all, delete-orphan")
    sessions = relationship("StaffSession", back_populates="staff", cascade="all, delete-orphan")

    @property
    def roles(self):
        return sorted(r for r in self.roles_csv.split(",") if r)

    @roles.setter
    def roles(self, values):
        unknown = set(values) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles: {sorted(unknown)}")
        self.roles_csv = ",".join(sorted(set(values)))

    def has_role(self, *roles):
        return bool(set(self.roles) & set(roles))

    @property
    def is_active(self):
        return self.is_active_flag

    def set_password(self, password):
        from flask import current_app

        self.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def display_name(self):
        return self.full_name or self.username


def hash_token(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a database leak yields no usable token."""

    __tablename__ = "api_token"
    __audit_exclude__ = ("token_hash",)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    created_ip: Mapped[str | None] = mapped_column(String(64))

    staff = relationship("StaffUser", back_populates="tokens")

    @staticmethod
    def new_raw():
        return secrets.token_urlsafe(32)

    def usable(self, now=None):
        now = now or utcnow()
        return self.revoked_at is None and self.expires_at > now and self.staff.is_active


class StaffSession(db.Model):
    """One signed-in browser. The session cookie carries a random key and only its SHA-256 is stored, so
    sign-out, a password change or deactivation ends a session for good, even for a copied cookie."""

    __tablename__ = "staff_session"
    __audit__ = False  # sign-in and sign-out are recorded as audit events; the rows would only repeat them

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_ip: Mapped[str | None] = mapped_column(String(64))

    staff = relationship("StaffUser", back_populates="sessions")
