"""Redeeming a support pass: single use, short-lived, for this tenant only, recorded in the tenant's
own database (so its administrators see it) and in the control plane's audit log."""

from flask import g
from flask_babel import gettext as _
from sqlalchemy import select, update

from datasource_registry.models import ImpersonationGrant
from extensions import db

from .auth import hash_token
from .context import current_tenant
from .models import SysImpersonation, SysUser, utcnow
from .routing import TenantError


def redeem(raw, ip):
    now = utcnow()
    grant = db.session.scalar(select(ImpersonationGrant).where(ImpersonationGrant.token_hash == hash_token(raw or "")))
    if grant is None or grant.tenant_id != current_tenant.tenant_id or grant.expires_at <= now or grant.used_at:
        raise TenantError(403, "impersonation_refused", _("This support link is invalid, used or expired."))
    claimed = db.session.execute(
        update(ImpersonationGrant).where(ImpersonationGrant.id == grant.id, ImpersonationGrant.used_at.is_(None))
        .values(used_at=now, used_ip=ip).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise TenantError(403, "impersonation_refused", _("This support link is invalid, used or expired."))
    user = current_tenant.session.scalar(select(SysUser).where(SysUser.username == grant.username))
    if user is None or not user.is_enabled:
        db.session.rollback()
        raise TenantError(403, "impersonation_refused", _("This support link is invalid, used or expired."))
    current_tenant.session.add(SysImpersonation(staff_id=grant.staff_id, staff_username=grant.staff_username,
                                                user_id=user.id, reason=grant.reason, ip=ip))
    current_tenant.session.commit()
    # The same values again through the ORM, so the control plane's audit log records the use.
    g.audit_label = f"impersonation:{grant.staff_username}"
    grant.used_at, grant.used_ip = now, ip
    grant._audit_verb = "impersonation_used"
    db.session.commit()
    g.impersonator = f"{grant.staff_name} ({grant.staff_username})" if grant.staff_name else grant.staff_username
    return user
