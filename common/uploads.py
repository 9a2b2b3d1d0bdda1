"""Uploaded files: read within the size limit, the type told by content (never by name), and a file name
safe to store and send back. Used by the control plane's scans and the CRM's attachments alike."""

import contextlib
import io
import re
import unicodedata

from flask_babel import lazy_gettext as _l
from pathvalidate import sanitize_filename

from .errors import Invalid

# Magic numbers of the formats the platform accepts anywhere; each caller narrows them (``allowed``).
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"GIF87a": ("gif", "image/gif"),
    b"GIF89a": ("gif", "image/gif"),
    b"%PDF-": ("pdf", "application/pdf"),
    b"PK\x03\x04": ("zip", "application/zip"),  # an Office document is a zip: told apart by its extension
}
OFFICE_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
EXTENSIONS = {content_type: ext for ext, content_type in [*SIGNATURES.values(), *OFFICE_TYPES.items()]}

# UTF-8 bytes of an uploaded file's name that are kept, its extension included: within the 255 bytes
# file systems allow for a name (so the download saves as sent), about 66 Chinese characters.
NAME_MAX_BYTES = 200


def read_upload(file_storage, field_name, limit):
    """The upload's bytes from its start (a create that runs again reads it again); 422 naming ``field_name``
    when it is empty or larger than ``limit`` bytes."""
    with contextlib.suppress(AttributeError, OSError, io.UnsupportedOperation):
        file_storage.stream.seek(0)
    data = file_storage.read(limit + 1)
    if not data:
        raise Invalid({field_name: [_l("The file is empty.")]})
    if len(data) > limit:
        raise Invalid({field_name: [_l("The file is larger than %(mb)s MB.", mb=limit // (1024 * 1024))
                                    if limit >= 1024 * 1024 else _l("The file is larger than %(kb)s KB.",
                                                                    kb=max(1, limit // 1024))]})
    return data


def sniff(head, filename=None, allowed=None):
    """``(extension, content type)`` from the first bytes, or None when the format is not one of
    ``allowed`` (extensions; None: any of the platform's)."""
    for magic, kind in SIGNATURES.items():
        if head.startswith(magic):
            if kind[0] == "zip":
                ext = (filename or "").rpartition(".")[2].lower()
                kind = (ext, OFFICE_TYPES[ext]) if ext in OFFICE_TYPES else None
            if kind is not None and (allowed is None or kind[0] in allowed):
                return kind
            return None
    return None


def safe_name(name, content_type=None):
    """An uploaded file's name fit to store, show and send back in a Content-Disposition header.

    The last path component only; no control or invisible formatting characters (a CR/LF breaks the
    response header, a right-to-left override disguises the extension); none of the characters a
    desktop cannot save (pathvalidate, for every platform); at most NAME_MAX_BYTES, the extension
    kept. Chinese and other letters stay. Nothing left, or only an extension: ``upload.<ext>``.
    """
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = sanitize_filename(_shortened(name), platform="universal")
    only_extension = re.fullmatch(r"[ .]*\.([^ .]+)", name)  # ".pdf", what is left of "../.pdf": no stem
    if only_extension:
        return f"upload.{only_extension.group(1)}"
    name = name.strip(" .")
    return name or f"upload.{EXTENSIONS.get(content_type, 'bin')}"


def _shortened(name):
    """At most NAME_MAX_BYTES of UTF-8, cut from the stem so that a short extension survives."""
    if len(name.encode()) <= NAME_MAX_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    keep = dot + ext if dot and len(ext) <= 10 else ""
    room = NAME_MAX_BYTES - len(keep.encode())
    return (stem if keep else name).encode()[:room].decode(errors="ignore").rstrip(" .") + keep
