"""Saving uploads: type checked by content (not by name), size limited, path outside the web root."""

import hashlib
import os
import re
import secrets
import unicodedata

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from pathvalidate import sanitize_filename

from common.errors import Invalid
from extensions import db

from .models import StoredFile

# Magic numbers of the accepted scan formats.
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"%PDF-": ("pdf", "application/pdf"),
}


# UTF-8 bytes of an uploaded file's name that are kept, its extension included: within the 255 bytes
# file systems allow for a name (so the download saves as sent), about 66 Chinese characters.
NAME_MAX_BYTES = 200
EXTENSIONS = {content_type: ext for ext, content_type in SIGNATURES.values()}


def safe_name(name, content_type=None):
    """An uploaded file's name fit to store, show and send back in a Content-Disposition header.

    The last path component only; no control or invisible formatting characters (a CR/LF breaks the
    response header, a right-to-left override disguises the extension); none of the characters a
    desktop cannot save (pathvalidate, for every platform); at most NAME_MAX_BYTES, the extension
    kept. Chinese and other letters stay. Nothing left: ``upload.<ext>``.
    """
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = sanitize_filename(_shortened(name), platform="universal").strip(" .")
    return name or f"upload.{EXTENSIONS.get(content_type, 'bin')}"


def _shortened(name):
    """At most NAME_MAX_BYTES of UTF-8, cut from the stem so that a short extension survives."""
    if len(name.encode()) <= NAME_MAX_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    keep = dot + ext if dot and len(ext) <= 10 else ""
    room = NAME_MAX_BYTES - len(keep.encode())
    return (stem if keep else name).encode()[:room].decode(errors="ignore").rstrip(" .") + keep


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
