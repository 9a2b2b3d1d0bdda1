"""Saving uploads: type checked by content (not by name), size limited, path outside the web root."""

import hashlib
import os
import secrets

from flask import current_app, g
from flask_babel import lazy_gettext as _l

from common.errors import Invalid
from extensions import db

from .models import StoredFile

# Magic numbers of the accepted scan formats.
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"%PDF-": ("pdf", "application/pdf"),
}


def sniff(head):
    for magic, kind in SIGNATURES.items():
        if head.startswith(magic):
            return kind
    return None


def save_upload(file_storage, field_name, uploaded_by=None):
    """Validate and store an uploaded file; raise 422 naming ``field_name`` if it is not acceptable."""
    data = file_storage.read(current_app.config["MAX_UPLOAD_BYTES"] + 1)
    if not data:
        raise Invalid({field_name: [_l("The file is empty.")]})
    if len(data) > current_app.config["MAX_UPLOAD_BYTES"]:
        limit_mb = current_app.config["MAX_UPLOAD_BYTES"] // (1024 * 1024)
        raise Invalid({field_name: [_l("The file is larger than %(mb)s MB.", mb=limit_mb)]})
    kind = sniff(data[:8])
    if kind is None:
        raise Invalid({field_name: [_l("Upload a JPG, PNG or PDF file.")]})
    ext, content_type = kind
    file_id = secrets.token_hex(16)
    relative = os.path.join(file_id[:2], f"{file_id}.{ext}")
    target = os.path.join(current_app.config["UPLOAD_DIR"], relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as fh:
        fh.write(data)
    user = uploaded_by or getattr(g, "staff", None)
    stored = StoredFile(
        id=file_id,
        original_name=os.path.basename(file_storage.filename or f"upload.{ext}")[:255],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        relative_path=relative,
        uploaded_by_id=getattr(user, "id", None),
    )
    db.session.add(stored)
    return stored


def absolute_path(stored):
    return os.path.join(current_app.config["UPLOAD_DIR"], stored.relative_path)
