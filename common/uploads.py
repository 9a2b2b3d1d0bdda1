"""Uploaded files: the type told by content (never by name), and a file name safe to store and send back."""

import os
import re
import unicodedata

# Magic numbers of the formats the platform accepts.
SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": ("png", "image/png"),
    b"\xff\xd8\xff": ("jpg", "image/jpeg"),
    b"GIF87a": ("gif", "image/gif"),
    b"GIF89a": ("gif", "image/gif"),
    b"%PDF-": ("pdf", "application/pdf"),
    b"PK\x03\x04": ("zip", "application/zip"),  # also docx, xlsx, pptx
}
OFFICE_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def sniff(head, filename=None):
    """``(extension, content type)`` from the first bytes, or None when the format is not accepted."""
    for magic, kind in SIGNATURES.items():
        if head.startswith(magic):
            if kind[0] == "zip":
                ext = os.path.splitext(filename or "")[1].lower()
                return (ext[1:], OFFICE_TYPES[ext]) if ext in OFFICE_TYPES else None
            return kind
    return None


def safe_filename(name, default="file"):
    """The name a user gave a file, without control characters, path parts or an excessive length;
    Chinese and other letters are kept."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        return default
    stem, ext = os.path.splitext(name)
    return stem[: 200 - len(ext[:20])] + ext[:20]
