"""Sender interface. The default backend records messages in the outbox only; ``http`` (SMS) and
``smtp`` (email) deliver for real and record the outcome. Choose with SMS_BACKEND / EMAIL_BACKEND."""

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage

from flask import current_app

from extensions import db

from .models import OutboxMessage


class Sender:
    channel = ""
    backend = ""

    def deliver(self, to, subject, body):
        """Deliver for real; raise on failure. The outbox backend delivers nowhere."""

    def send(self, to, body, subject=None, purpose=None, secrets=()):
        """Deliver and record. ``secrets`` (codes, initial passwords) are masked in the record of a
        real delivery; the outbox-only backend keeps them, since the outbox is then the only way to
        read the message (development and demos)."""
        recorded = body
        if self.backend != "outbox":
            for secret in secrets:
                recorded = recorded.replace(secret, "*" * len(secret))
        message = OutboxMessage(channel=self.channel, to=to, subject=subject, body=recorded, purpose=purpose,
                                backend=self.backend)
        try:
            self.deliver(to, subject, body)
            message.status = "recorded" if self.backend == "outbox" else "sent"
        except Exception as exc:  # a provider failure must not break the caller's transaction
            message.status = "failed"
            message.error = f"{type(exc).__name__}: {exc}"[:500]
            current_app.logger.warning("%s delivery to %s failed: %s", self.channel, to, type(exc).__name__)
        db.session.add(message)
        return message


class OutboxSms(Sender):
    channel, backend = "sms", "outbox"


class HttpSms(Sender):
    """POSTs ``{"to", "sign", "content"}`` to SMS_HTTP_URL with a bearer token (a provider gateway)."""

    channel, backend = "sms", "http"

    def deliver(self, to, subject, body):
        cfg = current_app.config
        payload = json.dumps({"to": to, "sign": cfg["SMS_SIGNATURE"], "content": body}).encode()
        req = urllib.request.Request(
            cfg["SMS_HTTP_URL"],
            data=payload,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {cfg['SMS_HTTP_TOKEN']}"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            if resp.status >= 300:
                raise urllib.error.HTTPError(cfg["SMS_HTTP_URL"], resp.status, "provider refused", resp.headers, None)


class OutboxEmail(Sender):
    channel, backend = "email", "outbox"


class SmtpEmail(Sender):
    channel, backend = "email", "smtp"

    def deliver(self, to, subject, body):
        cfg = current_app.config
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = cfg["MAIL_FROM"], to, subject or ""
        msg.set_content(body)
        with smtplib.SMTP_SSL(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=10) as smtp:
            if cfg["SMTP_USER"]:
                smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
            smtp.send_message(msg)


SMS_BACKENDS = {"outbox": OutboxSms, "http": HttpSms}
EMAIL_BACKENDS = {"outbox": OutboxEmail, "smtp": SmtpEmail}


def sms_sender():
    return SMS_BACKENDS[current_app.config["SMS_BACKEND"]]()


def email_sender():
    return EMAIL_BACKENDS[current_app.config["EMAIL_BACKEND"]]()
