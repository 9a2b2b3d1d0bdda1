"""Absolute links that leave the platform (SMS, e-mail, QR codes, support links), built from
``PUBLIC_BASE_URL`` only.

Never from the request's Host header: a client chooses that header, so ``Host: attacker.example``
would otherwise put a support sign-in link or a registration QR code on the attacker's host. Jobs and
CLI commands, which have no request at all, build the same links.
"""

from urllib.parse import urlsplit

from flask import current_app


def is_base_url(value):
    """Whether ``value`` can prefix links: http(s), a host, optionally a path; no query or fragment."""
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment


def public_url(endpoint, **values):
    """The absolute URL of ``endpoint`` under ``PUBLIC_BASE_URL``; extra ``values`` become the query."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if not is_base_url(base):
        raise RuntimeError(f"PUBLIC_BASE_URL must be an http(s) URL such as https://crm.example.com, not {base!r}")
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path.rstrip("/") or "/", url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def local_next(target, prefix="/"):
    """``target`` (a ``next=`` after signing in) when it is a path on this site under ``prefix``, else None.

    Refused: anything with a scheme or host, ``//host`` and ``/\\host`` (browsers read a backslash as a slash,
    so that is another site), control characters, and for a company's sign-in any path outside its own
    ``/t/<code>/``."""
    if not target or not isinstance(target, str) or not target.startswith(prefix):
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


__all__ = ["is_base_url", "local_next", "public_url"]
