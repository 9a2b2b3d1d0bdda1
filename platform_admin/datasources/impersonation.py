"""Support staff ask for a single-use pass to act as one tenant user (audited here, recorded there)."""

import hashlib
import secrets
from datetime import timedelta

from flask import g
from flask_babel import gettext as _

from common.apidoc import declared_body, endpoint
from common.db import commit, get_or_404
from common.errors import Conflict, Invalid
from common.timeutil import utcnow
from common.urls import public_url
from datasource_registry import tenant_users
from datasource_registry.models import ImpersonationGrant
from extensions import db
from platform_admin.common.api import api
from platform_admin.enterprises.forms import ImpersonateForm
from platform_admin.enterprises.models import Enterprise

from .schemas import SupportPassSchema

GRANT_TTL = timedelta(minutes=2)


def grant(enterprise, username, reason, by):
    """A pass only where it can work: an open tenant not in maintenance (the link would lead to the 503
    page), and an enabled user of its own database (else the staff member lands on a refusal)."""
    if not enterprise.is_open or enterprise.datasource is None:
        raise Conflict("tenant_not_open", _("Only an open tenant can be entered for support."))
    if enterprise.suspended_at is not None:
        raise Conflict("tenant_suspended", _("The company is in maintenance mode: end it before entering for support."))
    user = tenant_users.find_user(enterprise, username)
    if user is None or not user.enabled:
        raise Invalid({"username": [_("The company has no enabled user with this name.")]})
    raw = secrets.token_urlsafe(32)
    row = ImpersonationGrant(token_hash=hashlib.sha256(raw.encode()).hexdigest(), tenant_id=enterprise.id,
                             username=user.username, staff_id=by.id, staff_username=by.username,
                             staff_name=by.full_name or None, reason=reason, expires_at=utcnow() + GRANT_TTL)
    db.session.add(row)
    return raw, row


def support_url(enterprise, raw):
    return public_url("tenant.impersonate", tenant_code=enterprise.tenant_code, token=raw)


@api.post("/enterprises/<int:ent_id>/impersonations")
@endpoint("A single-use support sign-in link as one tenant user, valid for two minutes", status=201,
          body=ImpersonateForm, response=SupportPassSchema, errors=(409,))
def impersonation_create(ent_id):
    enterprise = get_or_404(Enterprise, ent_id)
    form = declared_body()
    raw, row = grant(enterprise, form.username.data, form.reason.data, g.staff)
    commit()
    return {"url": support_url(enterprise, raw), "expires_at": row.expires_at}
