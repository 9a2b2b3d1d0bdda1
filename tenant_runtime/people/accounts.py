"""Accounts of a tenant's users: a new user and a password reset both get a single-use set-password link
(never a password) by SMS and e-mail, and disabling a user or resetting a password ends every session and
token of that user at once."""

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from common import messaging
from common.timeutil import to_local
from common.urls import public_url

from .. import password_links
from ..auth import NO_PASSWORD, sign_out_everywhere
from ..context import current_tenant
from ..models import utcnow


def mask(value):
    """13800138000 -> 138****8000, lina@example.com -> l***@example.com."""
    if not value:
        return value
    if "@" in value:
        name, _at, domain = value.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = value.removeprefix("+86")
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


def send_link(user, purpose):
    """Issue a set-password link for ``user`` and send it to their mobile and e-mail. Returns where it went,
    and the link itself only when there was nowhere to send it (the administrator hands it over)."""
    ttl = current_app.config["SET_PASSWORD_LINK_TTL"]
    token = password_links.issue(current_tenant.session, user.id, purpose, ttl)
    url = public_url("tenant.set_password", tenant_code=current_tenant.code, token=token)
    expires = utcnow() + ttl
    with force_locale("zh_CN"):
        body = _("%(company)s: your user name is %(user)s. Choose your password at %(url)s (the link works once, "
                 "until %(until)s).", company=current_tenant.info.name, user=user.username, url=url,
                 until=to_local(expires).strftime("%Y-%m-%d %H:%M"))
        subject = _("Choose your password")
    sent = []
    if user.phone:
        messaging.send("sms", user.phone, body, purpose="tenant_password_link", secrets=[token])
        sent.append(mask(user.phone))
    if user.email:
        messaging.send("email", user.email, body, subject=subject, purpose="tenant_password_link", secrets=[token])
        sent.append(mask(user.email))
    return {"sent_to": sent, "link": None if sent else url, "expires_at": expires}


def reset_password(user):
    """The old password stops working at once, every session and token ends, and a link to choose a new
    one goes out."""
    user.password_hash = NO_PASSWORD
    sign_out_everywhere(user)
    return send_link(user, "reset")


def disable(user):
    sign_out_everywhere(user)
