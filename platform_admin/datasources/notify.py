"""Delivering a new tenant's first login to the enterprise contact, through the outbox senders."""

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from platform_admin.messaging.senders import email_sender, sms_sender


def send_first_login(enterprise, results):
    username, password = results["admin_username"], results["secret"]
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    code = enterprise.enterprise_no.lower() if enterprise.enterprise_no else str(enterprise.id)
    login_url = f"{base.rstrip('/')}/t/{code}/login"
    with force_locale("zh_CN"):
        body = _("Your HuiGuanjia account is ready. Sign in at %(url)s as %(user)s with the initial password %(pw)s, "
                 "then change it.", url=login_url, user=username, pw=password)
        subject = _("Your HuiGuanjia account is ready")
    if enterprise.contact_phone:
        sms_sender().send(enterprise.contact_phone, body, purpose="tenant_first_login", secrets=[password])
    if enterprise.email:
        email_sender().send(enterprise.email, body, subject=subject, purpose="tenant_first_login", secrets=[password])
