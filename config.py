"""Configuration read from the environment.

With nothing set, the app runs on the embedded default: SQLite under ``instance/``, jobs inline,
SMS and email recorded in the outbox. Production reads every secret from the environment and refuses
to start without them.
"""

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


def _int(name, default):
    return int(os.environ.get(name, default))


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-secret-key-change-me")
    # Comma-separated Fernet keys, newest first; used for datasource secrets.
    SECRET_MASTER_KEYS = os.environ.get("SECRET_MASTER_KEYS", "")

    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'control.sqlite3'}"
    )
    # hide_parameters: a database error's text (logged, or stored by a job) never quotes the values sent.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    # Seconds a control-database connect / read / write may take before the request answers 503
    # (MySQL only; 0 = no limit, e.g. for a long ``flask db upgrade``). Read + connect stays under
    # gunicorn's 30 s worker timeout, so a frozen server costs a 503, never a killed worker.
    CONTROL_DB_CONNECT_TIMEOUT = float(os.environ.get("CONTROL_DB_CONNECT_TIMEOUT", "5"))
    CONTROL_DB_READ_TIMEOUT = float(os.environ.get("CONTROL_DB_READ_TIMEOUT", "20"))
    CONTROL_DB_WRITE_TIMEOUT = float(os.environ.get("CONTROL_DB_WRITE_TIMEOUT", "20"))
    # TLS to the control database (MySQL): off | preferred | required, with an optional CA, as TENANT_DB_TLS below
    CONTROL_DB_TLS = os.environ.get("CONTROL_DB_TLS", "preferred")
    CONTROL_DB_TLS_CA = os.environ.get("CONTROL_DB_TLS_CA", "")
    CONTROL_DB_TLS_CHECK_HOSTNAME = _bool("CONTROL_DB_TLS_CHECK_HOSTNAME", True)
    REDIS_URL = os.environ.get("REDIS_URL", "")  # empty: jobs run inline
    # Connect and read timeout of every Redis client the app creates (throttle store, job queue): a
    # frozen Redis costs each request at most this, never a hung worker.
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "2"))

    INSTANCE_PATH = str(INSTANCE_DIR)
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    MAX_UPLOAD_BYTES = _int("MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
    MAX_CONTENT_LENGTH = MAX_UPLOAD_BYTES + 1024 * 1024

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("APP_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = ("zh_CN", "en")
    WTF_I18N_ENABLED = True

    # Throttles (Flask-Limiter syntax). Storage is Redis when REDIS_URL is set.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or (
        os.environ.get("REDIS_URL") or "memory://"
    )
    RATELIMIT_STORAGE_OPTIONS = (
        {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_SOCKET_TIMEOUT}
        if RATELIMIT_STORAGE_URI.startswith("redis") else {}
    )
    # When the store is unreachable every limit counts in this process's memory instead (sign-in and
    # registration stay possible, still throttled per process); SMS codes refuse to go out then
    # (platform_admin/onboarding/throttle.py). Errors after the check (the deduction of a failed
    # sign-in) are logged rather than turning a finished request into a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "pa")
    LOGIN_LIMIT_PER_USER = os.environ.get("LOGIN_LIMIT_PER_USER", "5 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "30 per 15 minutes")
    TENANT_LOGIN_LIMIT_PER_IP = os.environ.get("TENANT_LOGIN_LIMIT_PER_IP", "30 per 15 minutes")  # all tenants
    SMS_LIMIT_PER_PHONE = os.environ.get("SMS_LIMIT_PER_PHONE", "1 per minute;5 per hour")
    SMS_LIMIT_PER_IP = os.environ.get("SMS_LIMIT_PER_IP", "20 per hour")
    REGISTER_LIMIT_PER_IP = os.environ.get("REGISTER_LIMIT_PER_IP", "30 per hour")

    SMS_CODE_TTL = timedelta(minutes=5)
    SMS_CODE_MAX_ATTEMPTS = 5
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "outbox")  # outbox | http
    SMS_HTTP_URL = os.environ.get("SMS_HTTP_URL", "")
    SMS_HTTP_TOKEN = os.environ.get("SMS_HTTP_TOKEN", "")
    SMS_SIGNATURE = os.environ.get("SMS_SIGNATURE", "绘管家")
    EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "outbox")  # outbox | smtp
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _int("SMTP_PORT", 465)
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@example.com")

    PASSWORD_HASH_METHOD = "scrypt"
    API_TOKEN_TTL = timedelta(hours=_int("API_TOKEN_TTL_HOURS", 12))
    # Where links in SMS, e-mail, QR codes and support sign-ins point (never the request's Host header).
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000"  # start.sh's address
    SET_PASSWORD_LINK_TTL = timedelta(hours=_int("SET_PASSWORD_LINK_TTL_HOURS", 7 * 24))
    CONTRACT_EXPIRY_WARNING_DAYS = 30

    # Tenancy
    TENANT_DATABASE_PREFIX = os.environ.get("TENANT_DATABASE_PREFIX", "hgj_")
    TENANT_CONNECTION_BUDGET = _int("TENANT_CONNECTION_BUDGET", 60)  # connections one process may hold, all tenants
    TENANT_POOL_WAIT = float(os.environ.get("TENANT_POOL_WAIT", "2"))  # seconds to wait for room before a 503
    ALLOW_SQLITE_DATASOURCES = _bool("ALLOW_SQLITE_DATASOURCES", True)
    TENANT_CONNECT_TIMEOUT = _int("TENANT_CONNECT_TIMEOUT", 5)  # seconds before an unreachable tenant is a 503
    # Seconds a tenant database may take to answer (read) or accept (write) one packet. connect_timeout only covers
    # the TCP connect: a server that accepts and then says nothing would otherwise hold a thread for ever.
    TENANT_READ_TIMEOUT = _int("TENANT_READ_TIMEOUT", 30)
    TENANT_WRITE_TIMEOUT = _int("TENANT_WRITE_TIMEOUT", 30)
    # Read and write timeout of schema migrations (provisioning, fleet upgrades): longer than the 120 s a migration
    # may wait for another process's lock on the same database, and than slow DDL.
    TENANT_MIGRATION_TIMEOUT = _int("TENANT_MIGRATION_TIMEOUT", 180)
    TENANT_JOB_TIMEOUT = _int("TENANT_JOB_TIMEOUT", 300)  # rq time limit of one tenant job (provisioning)
    # Bulkhead: requests one tenant may have in progress in one process, beyond which it gets a fast 503, so a
    # tenant whose database hangs can hold at most this many of a process's threads. WEB_THREADS is what gunicorn
    # runs per process (--threads); by default one tenant may take half of them. A quarter (2 of 8) answered 503
    # to one company's third request at once, which a team of ten hits in normal use (a browser review saw 5 of 60
    # page loads refused with another client busy on the same company).
    WEB_THREADS = _int("WEB_THREADS", 8)
    TENANT_REQUEST_LIMIT = _int("TENANT_REQUEST_LIMIT", max(2, WEB_THREADS // 2))
    # A request finding all of its tenant's slots taken waits up to TENANT_SLOT_WAIT seconds for one while the
    # tenant moves (one of its requests began or ended within TENANT_SLOT_PROGRESS seconds: a burst); a tenant
    # whose requests all hang on its database has not, and its next request gets the 503 at once.
    TENANT_SLOT_WAIT = float(os.environ.get("TENANT_SLOT_WAIT", "2"))
    TENANT_SLOT_PROGRESS = float(os.environ.get("TENANT_SLOT_PROGRESS", "1"))
    # The CRM's scheduled tasks (tenant_runtime/core/tasks.py), run once per tenant and local day by `rq cron`
    # (tenant_runtime/core/cron.py): a tenant's run of day D is due from CRM_SCHEDULE_AT local time on D. At most
    # CRM_SCHEDULE_CONCURRENCY tenants' runs are queued or running at once across all workers (each holds one
    # tenant connection); a failed run is retried by later ticks until it has been tried CRM_SCHEDULE_ATTEMPTS times.
    CRM_SCHEDULE_AT = os.environ.get("CRM_SCHEDULE_AT", "02:00")
    CRM_SCHEDULE_CONCURRENCY = _int("CRM_SCHEDULE_CONCURRENCY", TENANT_CONNECTION_BUDGET)
    CRM_SCHEDULE_ATTEMPTS = _int("CRM_SCHEDULE_ATTEMPTS", 3)
    CRM_TASKS = os.environ.get("CRM_TASKS", "")  # comma-separated task names to run; empty: every declared task
    CRM_TASK_MODULES = os.environ.get("CRM_TASK_MODULES", "")  # extra modules declaring tasks, imported before a run
    # An export (tenant_runtime/io/export.py) of more rows than this is refused with 422 (narrow the filters): the
    # rows are counted up to this many plus one, never all of them.
    CRM_EXPORT_MAX_ROWS = _int("CRM_EXPORT_MAX_ROWS", 100000)
    # Exports one tenant may have in progress per process: an export holds a request thread (and one of the tenant's
    # TENANT_REQUEST_LIMIT slots) for as long as it reads; more are answered 429 export_busy, so a tenant's exports
    # never take all of its capacity from its other users.
    CRM_EXPORTS_PER_TENANT = _int("CRM_EXPORTS_PER_TENANT", 1)
    # An import (tenant_runtime/io/importing.py) takes a file of at most this many rows and bytes (the bytes are kept
    # in the tenant's database until a worker has imported them: below MariaDB's max_allowed_packet, 16 MB). A file
    # of up to CRM_IMPORT_INLINE_ROWS rows is imported within the request, in one transaction; a larger one by a job
    # (io/import_jobs.py) that may run CRM_IMPORT_JOB_TIMEOUT seconds and counts as stopped when its progress is
    # older than CRM_IMPORT_STALE_SECONDS. Imports one tenant may have running per process (more: 429 import_busy).
    CRM_IMPORT_MAX_ROWS = _int("CRM_IMPORT_MAX_ROWS", 50000)
    CRM_IMPORT_MAX_BYTES = _int("CRM_IMPORT_MAX_BYTES", 10 * 1024 * 1024)
    CRM_IMPORT_INLINE_ROWS = _int("CRM_IMPORT_INLINE_ROWS", 2000)
    CRM_IMPORT_JOB_TIMEOUT = _int("CRM_IMPORT_JOB_TIMEOUT", 3600)
    CRM_IMPORT_STALE_SECONDS = _int("CRM_IMPORT_STALE_SECONDS", 600)
    CRM_IMPORT_CHUNK_ROWS = _int("CRM_IMPORT_CHUNK_ROWS", 500)  # rows the job commits at a time
    CRM_IMPORT_KEEP_DAYS = _int("CRM_IMPORT_KEEP_DAYS", 7)  # a stopped import's file is kept this long for 继续导入
    CRM_IMPORTS_PER_TENANT = _int("CRM_IMPORTS_PER_TENANT", 1)
    TENANT_CACHE_TTL = float(os.environ.get("TENANT_CACHE_TTL", "5"))  # seconds a tenant lookup is reused
    # A tenant pool keeps min connections when idle and opens up to max under load; connections idle this
    # many seconds are closed again down to min (HikariCP's idleTimeout; 0 keeps them until evicted).
    TENANT_POOL_IDLE_TIMEOUT = float(os.environ.get("TENANT_POOL_IDLE_TIMEOUT", "60"))
    # An evicted tenant engine's idle connection serves the tenant admitted in its place when both use the same
    # server and account (switched to its database and identity-checked in one round trip, no new login)
    TENANT_POOL_REUSE_CONNECTIONS = os.environ.get("TENANT_POOL_REUSE_CONNECTIONS", "1") not in ("0", "false", "no")
    # TLS to tenant databases: off | preferred (TLS if the server offers it) | required (fails closed without).
    # With TENANT_DB_TLS_CA (PEM file, required only) the server's certificate and host name are verified.
    TENANT_DB_TLS = os.environ.get("TENANT_DB_TLS", "preferred")
    TENANT_DB_TLS_CA = os.environ.get("TENANT_DB_TLS_CA", "")
    TENANT_DB_TLS_CHECK_HOSTNAME = _bool("TENANT_DB_TLS_CHECK_HOSTNAME", True)
    # A tenant API token's last_used_at is written at most this often (seconds), so reads do not write.
    TENANT_TOKEN_TOUCH_INTERVAL = float(os.environ.get("TENANT_TOKEN_TOUCH_INTERVAL", "60"))
    # How a request names its tenant: any of path (/t/<code>/), subdomain (<code>.TENANT_BASE_DOMAIN), header
    TENANT_ROUTING = tuple(os.environ.get("TENANT_ROUTING", "path,header").split(","))
    TENANT_BASE_DOMAIN = os.environ.get("TENANT_BASE_DOMAIN", "")
    # Hosts a datasource may name: host names, IPs and CIDR networks, comma separated; empty allows any
    # (development only: production refuses to start without it). Checked on save and before every connection.
    DATASOURCE_ALLOWED_HOSTS = os.environ.get("DATASOURCE_ALLOWED_HOSTS", "")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)  # X-Forwarded-For hops to trust

    @classmethod
    def check(cls):
        from common.urls import is_base_url

        if not is_base_url(cls.PUBLIC_BASE_URL):
            raise RuntimeError(f"PUBLIC_BASE_URL must be an http(s) URL such as https://crm.example.com, "
                               f"not {cls.PUBLIC_BASE_URL!r}")


class DevelopmentConfig(Config):
    DEBUG = False


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    RATELIMIT_STORAGE_URI = "memory://"
    # Same hashing code path, a cheap work factor: scrypt would cost ~0.5 s per sign-in in every test.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


class ProductionConfig(Config):
    ALLOW_SQLITE_DATASOURCES = _bool("ALLOW_SQLITE_DATASOURCES", False)
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")  # required: no default host for real links
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls):
        required = ("SECRET_KEY", "DATABASE_URL", "SECRET_MASTER_KEYS", "DATASOURCE_ALLOWED_HOSTS", "PUBLIC_BASE_URL")
        missing = [k for k in required if not os.environ.get(k, "").strip()]
        if missing:
            raise RuntimeError(f"production config needs environment variables: {', '.join(missing)}")
        super().check()


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env():
    return CONFIGS[os.environ.get("APP_ENV", "development")]
