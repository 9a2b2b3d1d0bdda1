"""The security headers every answer carries, added where the answer leaves the app: in WSGI.

Set there, they reach every response, whoever built it (a view, an error handler, werkzeug's own routing
errors, static files, streamed exports), and they cost one pass over a plain list of pairs. Added in an
``after_request`` hook through werkzeug's ``Headers``, the same four headers were validated one by one on
every request and cost a tenant API read about a fifth of what it costs more than a plain Flask app
(``bench/bench_routed_read.py``). A header the response already has is left as the view set it.
"""

from __future__ import annotations

SECURITY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                    ("Referrer-Policy", "same-origin"))
NO_STORE = ("Cache-Control", "no-store")
_BY_NAME = tuple((name.lower(), (name, value)) for name, value in SECURITY_HEADERS)


def is_api_path(path):
    """The control plane's API (``/api/...``) or a tenant's (``/t/<code>/api/v1/...``); as ``wants_json``."""
    return path.startswith("/api/") or "/api/v1/" in path


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` to every response that lacks them, and ``Cache-Control: no-store`` to every
    API answer that sets no caching of its own (API answers carry one company's data: never cached). A 204 has no
    body, so it names no type (Flask's default ``text/html`` told an API client one was HTML)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        api = is_api_path(environ.get("PATH_INFO", ""))

        def start(status, headers, exc_info=None):
            if status.startswith("204"):
                headers = [(name, value) for name, value in headers if name.lower() != "content-type"]
            present = {name.lower() for name, _value in headers}
            for lower, header in _BY_NAME:
                if lower not in present:
                    headers.append(header)
            if api and "cache-control" not in present:
                headers.append(NO_STORE)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.wsgi_app(environ, start)
