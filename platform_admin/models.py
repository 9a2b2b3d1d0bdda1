"""Imports every control-plane model so Flask-Migrate and relationships see them all."""

from .audit.models import AuditEvent
from .auth.models import ApiToken, StaffSession, StaffUser
from .contracts.models import Contract
from .enterprises.models import Enterprise
from .files.models import StoredFile
from .messaging.models import OutboxMessage
from .onboarding.models import Application, FollowUp, SmsCode

__all__ = ["ApiToken", "Application", "AuditEvent", "Contract", "Enterprise", "FollowUp", "OutboxMessage",
           "SmsCode", "StaffSession", "StaffUser", "StoredFile"]
