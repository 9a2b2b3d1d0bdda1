"""Datasource secrets encrypted at rest with Fernet under rotating master keys.

``SECRET_MASTER_KEYS`` lists Fernet keys, newest first; anything encrypted under any of them decrypts,
new secrets use the newest, and ``flask secrets rotate`` re-encrypts every secret under the newest.
With no keys configured (the embedded default only; production refuses to start) a key is derived
from ``SECRET_KEY``.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from flask_babel import lazy_gettext as _l

from common.errors import ApiError


class SecretUnreadable(ApiError):
    """No configured master key decrypts this secret (keys rotated away or the value was tampered with): the
    platform's configuration, not the request, so a 503 that says what needs attention, never a 500."""

    def __init__(self, detail="no configured master key decrypts this secret"):
        super().__init__(503, "secret_unreadable", _l("The datasource's password cannot be read with the master "
                                                      "keys this server has (SECRET_MASTER_KEYS). An administrator "
                                                      "needs to check the platform's keys."))
        self.detail = detail

    def __str__(self):
        return self.detail


def _keys():
    configured = [k.strip() for k in current_app.config.get("SECRET_MASTER_KEYS", "").split(",") if k.strip()]
    if configured:
        return configured
    digest = hashlib.sha256(b"datasource-secrets:" + current_app.config["SECRET_KEY"].encode()).digest()
    return [base64.urlsafe_b64encode(digest).decode()]


def _fernet():
    return MultiFernet([Fernet(k) for k in _keys()])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured master key decrypts this secret") from None


def rotate(token: str) -> str:
    """The same secret encrypted under the newest key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no configured master key decrypts this secret") from None


def newest_key_id() -> str:
    """A short fingerprint of the newest key (never the key itself), for reports."""
    return hashlib.sha256(_keys()[0].encode()).hexdigest()[:8]
