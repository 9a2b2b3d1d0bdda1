"""gunicorn settings: ./scripts/start.sh uses them, and so does any ``gunicorn wsgi:app`` started from the
repository root (gunicorn reads ./gunicorn.conf.py by default).

Throttles (sign-in, SMS codes per phone, registrations) count in the rate limiter's storage. On the
embedded default that storage is the process's own memory, so two worker processes would each keep their
own count and "1 SMS per phone per minute" would let one through per process. Without a shared storage
the app therefore runs as ONE process with threads, and refuses to start with more; with Redis
(REDIS_URL or RATELIMIT_STORAGE_URI) every process shares the count and WEB_WORKERS may be anything.
"""

import os

from config import config_from_env


def _storage_is_shared():
    return not config_from_env().RATELIMIT_STORAGE_URI.startswith("memory://")


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_WORKERS") or (2 if _storage_is_shared() else 1))
threads = int(os.environ.get("WEB_THREADS", "8"))
accesslog = "-"
# A list's address carries its filters and a search (a pasted paragraph of names): gunicorn's 4 KB default line
# answered such a URL with its own HTML 414 before the app could say anything; 8 KB is its largest.
limit_request_line = 8190


def on_starting(server):
    if server.cfg.workers > 1 and not _storage_is_shared():
        raise SystemExit(
            f"refusing to start {server.cfg.workers} worker processes with in-memory throttles: each would count "
            "sign-ins and SMS codes on its own. Set REDIS_URL (shared throttles) or run one worker (WEB_WORKERS=1).")


def post_worker_init(worker):
    """Before the worker's first request: the ORM mappers configured now rather than by whichever request comes
    first, then the app and everything it made, which live as long as the worker, moved out of the garbage
    collector's reach (``gc.freeze``), so the collections that requests trigger no longer walk them all again."""
    import gc

    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    gc.freeze()
