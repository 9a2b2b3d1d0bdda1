"""Delivering a new tenant's first login to the enterprise contact, through the outbox senders: the user
name and a single-use link to choose a password (never a password)."""

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from common.timeutil import to_local, utcnow
from common.urls import public_url
from platform_admin.messaging.senders import email_sender, sms_sender


def send_first_login(enterprise, results):
    username, token = results["admin_username"], results["secret"]
    url = public_url("tenant.set_password", tenant_code=enterprise.tenant_code, token=token)
    # The link's own expiry is set in the tenant database a moment earlier; this is the same to the minute.
    until = to_local(utcnow() + current_app.config["SET_PASSWORD_LINK_TTL"]).strftime("%Y-%m-%d %H:%M")
    with force_locale("zh_CN"):
        body = _("Your HuiGuanjia account is ready. Your user name is %(user)s. Choose your password at %(url)s "
                 "(the link works once, until %(until)s).", user=username, url=url, until=until)
        subject = _("Your HuiGuanjia account is ready")
    if enterprise.contact_phone:
        sms_sender().send(enterprise.contact_phone, body, purpose="tenant_first_login", secrets=[token])
    if enterprise.email:
        email_sender().send(enterprise.email, body, subject=subject, purpose="tenant_first_login", secrets=[token])
