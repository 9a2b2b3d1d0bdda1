"""Saving uploads: type checked by content (not by name), size limited, path outside the web root."""

import hashlib
import os
import secrets

from flask import current_app, g
from flask_babel import lazy_gettext as _l

from common.errors import Invalid
from common.uploads import read_upload, safe_name, sniff
from extensions import db

from .models import StoredFile

# The scan formats accepted (common.uploads knows them by their content).
SCAN_FORMATS = ("png", "jpg", "pdf")


def save_upload(file_storage, field_name, uploaded_by=None):
    """Validate and store an uploaded file; raise 422 naming ``field_name`` if it is not acceptable."""
    data = read_upload(file_storage, field_name, current_app.config["MAX_UPLOAD_BYTES"])
    kind = sniff(data[:8], allowed=SCAN_FORMATS)
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
        original_name=safe_name(file_storage.filename, content_type),
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
