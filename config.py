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
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "")  # empty: jobs run inline

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
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "pa")
    LOGIN_LIMIT_PER_USER = os.environ.get("LOGIN_LIMIT_PER_USER", "5 per 15 minutes")
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "30 per 15 minutes")
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
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")  # for QR codes; default: request host
    CONTRACT_EXPIRY_WARNING_DAYS = 30

    # Tenancy
    TENANT_DATABASE_PREFIX = os.environ.get("TENANT_DATABASE_PREFIX", "hgj_")
    TENANT_CONNECTION_BUDGET = _int("TENANT_CONNECTION_BUDGET", 60)  # connections one process may hold, all tenants
    TENANT_POOL_WAIT = float(os.environ.get("TENANT_POOL_WAIT", "2"))  # seconds to wait for room before a 503
    ALLOW_SQLITE_DATASOURCES = _bool("ALLOW_SQLITE_DATASOURCES", True)
    TENANT_CONNECT_TIMEOUT = _int("TENANT_CONNECT_TIMEOUT", 5)  # seconds before an unreachable tenant is a 503
    TENANT_CACHE_TTL = float(os.environ.get("TENANT_CACHE_TTL", "5"))  # seconds a tenant lookup is reused
    # A tenant pool keeps min connections when idle and opens up to max under load; connections idle this
    # many seconds are closed again down to min (HikariCP's idleTimeout; 0 keeps them until evicted).
    TENANT_POOL_IDLE_TIMEOUT = float(os.environ.get("TENANT_POOL_IDLE_TIMEOUT", "60"))
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

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)  # X-Forwarded-For hops to trust


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
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls):
        missing = [k for k in ("SECRET_KEY", "DATABASE_URL", "SECRET_MASTER_KEYS") if not os.environ.get(k)]
        if missing:
            raise RuntimeError(f"production config needs environment variables: {', '.join(missing)}")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env():
    return CONFIGS[os.environ.get("APP_ENV", "development")]
