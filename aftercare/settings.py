"""Aftercare settings: one module, configured by the environment (see .env.example)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from aftercare.env import env_bool, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
DATA_DIR = Path(env_str("AFTERCARE_DATA_DIR", str(PROJECT_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)  # before anything opens a file in it

# "development" (default, for `make run` on a laptop) or "production".
MODE = env_str("AFTERCARE_MODE", "development").strip().lower()
if MODE not in {"development", "production"}:
    raise ImproperlyConfigured("AFTERCARE_MODE must be 'development' or 'production'")
PRODUCTION = MODE == "production"

DEFAULT_SECRET_KEY = "aftercare-insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_secret("SECRET_KEY", DEFAULT_SECRET_KEY)
if PRODUCTION and (SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "Refusing to start in production mode with the default or a short SECRET_KEY: "
        "set SECRET_KEY (or SECRET_KEY_FILE) to a random string of at least 32 characters."
    )

DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production mode.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django_scopes",
    "huey.contrib.djhuey",
    "aftercare.accounts",
    "aftercare.tenancy",
    "aftercare.desk",
    "aftercare.sla",
    "aftercare.console",
    "aftercare.portal",
    "aftercare.mail",
    "aftercare.api",
    "aftercare.imports",
    "aftercare.webhooks",
    "aftercare.search",
    "aftercare.notifications",
    "aftercare.timetracking",
]

MIDDLEWARE = [
    "aftercare.monitoring.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "aftercare.accounts.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "aftercare.accounts.middleware.UserPreferencesMiddleware",
    "aftercare.accounts.twofactor.TwoFactorMiddleware",
    "aftercare.tenancy.middleware.OrganisationScopeMiddleware",
    "aftercare.ops.middleware.MaintenanceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aftercare.urls"
# Django's form renderer, with select boxes made without a template per option.
FORM_RENDERER = "aftercare.lib.widgets.FormRenderer"
WSGI_APPLICATION = "aftercare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aftercare.accounts.context_processors.permset",
                "aftercare.ops.context_processors.maintenance_state",
                "aftercare.notifications.context_processors.bell",
            ],
        },
    },
]

# Database: embedded SQLite by default, PostgreSQL (or any URL) via DATABASE_URL.
_default_sqlite = f"sqlite:///{DATA_DIR / 'aftercare.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_sqlite), conn_max_age=env_int("DB_CONN_MAX_AGE", 60)
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock at BEGIN, so two writers queue on the
    # busy timeout instead of one failing with "database is locked" half-way through.
    # Connections are kept between requests as on PostgreSQL (``DB_CONN_MAX_AGE``):
    # opening one (the file, the PRAGMAs, Django's SQL functions) cost a request ~2 ms.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
elif DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # No JIT compilation: a desk runs short queries, and on a history of a million
    # requests the planner's cost passed JIT's threshold for the queue's counts, which
    # then spent 40-100 ms compiling for a 300 ms query (docs/benchmarks.md, issue 17).
    # A ``?options=`` in DATABASE_URL still wins.
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options["options"] = " ".join(["-c jit=off", _pg_options.get("options", "")]).strip()
# Test databases are per process, so parallel test runs on one machine never collide.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"aftercare-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_aftercare_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # Without Redis: files that every process of this machine shares (gunicorn workers,
    # the Huey worker), so login throttling and rate limits count once per machine.
    _cache_dir = env_str("AFTERCARE_CACHE_DIR", "")
    if not _cache_dir and "pytest" in sys.modules:
        # A test run gets a cache of its own (parallel runs and xdist workers each clear
        # theirs before every test), as it gets a database of its own below.
        _cache_dir = tempfile.mkdtemp(prefix=f"aftercare-test-cache-{os.getpid()}-")
        atexit.register(shutil.rmtree, _cache_dir, True)
    CACHES = {
        "default": {
            "BACKEND": "aftercare.accounts.filecache.SharedFileCache",
            "LOCATION": _cache_dir or str(DATA_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 50000},
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["aftercare.accounts.backends.EmailOrUsernameBackend"]
# The test suite (conftest.py sets this, and its server processes inherit it) hashes
# passwords with a fast hasher: thousands of test users would otherwise spend most of the
# suite's time in PBKDF2. Ignored in production mode.
if env_bool("AFTERCARE_TEST_FAST_PASSWORDS", False) and not PRODUCTION:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Login throttling: after this many failures for one account or address, wait.
AFTERCARE_LOGIN_MAX_FAILURES = env_int("AFTERCARE_LOGIN_MAX_FAILURES", 5, minimum=1)
AFTERCARE_LOGIN_LOCKOUT_SECONDS = env_int("AFTERCARE_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Reverse proxies whose X-Forwarded-For is believed (comma list of addresses or networks,
# e.g. 127.0.0.1,10.0.0.0/8). Empty: the client is the TCP peer (REMOTE_ADDR).
AFTERCARE_TRUSTED_PROXIES = env_list("AFTERCARE_TRUSTED_PROXIES", [])
from aftercare.accounts.network import parse_networks as _parse_networks  # noqa: E402

_parse_networks(tuple(AFTERCARE_TRUSTED_PROXIES))  # a typo fails at start, not per request
# Password reset links (seconds) and e-mail change confirmation links (seconds).
PASSWORD_RESET_TIMEOUT = env_int("AFTERCARE_PASSWORD_RESET_SECONDS", 3600, minimum=60)
AFTERCARE_EMAIL_CHANGE_SECONDS = env_int("AFTERCARE_EMAIL_CHANGE_SECONDS", 86400, minimum=60)

# Background jobs: Huey on SQLite (no extra server) or on Redis when REDIS_URL is set.
HUEY_NAME = env_str("AFTERCARE_HUEY_NAME", "aftercare")
HUEY_IMMEDIATE = env_bool("AFTERCARE_HUEY_IMMEDIATE", False)
if REDIS_URL:
    from huey import RedisHuey

    HUEY = RedisHuey(HUEY_NAME, url=REDIS_URL, immediate=HUEY_IMMEDIATE)
else:
    from huey import SqliteHuey

    from aftercare.lib.hueystore import SqliteStorageNormalSync

    HUEY = SqliteHuey(
        HUEY_NAME,
        filename=env_str("AFTERCARE_HUEY_FILE", str(DATA_DIR / "huey.sqlite3")),
        immediate=HUEY_IMMEDIATE,
        storage_class=SqliteStorageNormalSync,
    )
# Schedules (crontab: minute hour day month weekday).
AFTERCARE_SLA_CHECK_CRON = env_str("AFTERCARE_SLA_CHECK_CRON", "* * * * *")
# What a change owes others (mails, notices, webhooks, chats, the search index) is done
# after its commit (desk/followups.py): "worker" (the background job), "commit" (the same
# process right after the commit) or "inline" (in the change's transaction).
AFTERCARE_FOLLOWUPS = env_str("AFTERCARE_FOLLOWUPS", "worker")
if AFTERCARE_FOLLOWUPS not in ("worker", "commit", "inline"):
    raise ImproperlyConfigured("AFTERCARE_FOLLOWUPS must be worker, commit or inline")
AFTERCARE_FOLLOWUPS_CRON = env_str("AFTERCARE_FOLLOWUPS_CRON", "* * * * *")
AFTERCARE_ARCHIVE_CRON = env_str("AFTERCARE_ARCHIVE_CRON", "15 2 * * *")
# Remind coordinators of contact persons who left without a named replacement.
AFTERCARE_CONTACT_REMINDER_CRON = env_str("AFTERCARE_CONTACT_REMINDER_CRON", "0 8 * * 1-5")

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ro", _("Romanian")),
    ("fr", _("French")),
    ("uk", _("Ukrainian")),
    ("ru", _("Russian")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("AFTERCARE_TIME_ZONE", "Europe/Bucharest")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("AFTERCARE_STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("AFTERCARE_MEDIA_ROOT", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = env_bool("AFTERCARE_STATIC_FINDERS", True)

# Attachments.
AFTERCARE_MAX_ATTACHMENT_BYTES = env_int("AFTERCARE_MAX_ATTACHMENT_MB", 20, minimum=1) * 1024 * 1024
AFTERCARE_MAX_ATTACHMENTS_PER_MESSAGE = env_int("AFTERCARE_MAX_ATTACHMENTS", 10, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Workflow.
AFTERCARE_TICKET_PREFIX = env_str("AFTERCARE_TICKET_PREFIX", "AC")
AFTERCARE_ARCHIVE_AFTER_DAYS = env_int("AFTERCARE_ARCHIVE_AFTER_DAYS", 10, minimum=0)
AFTERCARE_QUEUE_PAGE_SIZE = env_int("AFTERCARE_QUEUE_PAGE_SIZE", 50, minimum=5)

# E-mail.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Aftercare <support@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
# The public address of this instance, for links in e-mails.
AFTERCARE_BASE_URL = env_str("AFTERCARE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Domain of our Message-IDs; replies referencing them are threaded to their request.
AFTERCARE_MAIL_DOMAIN = env_str("AFTERCARE_MAIL_DOMAIN", "aftercare.invalid")
# Limits for inbound mail; a message over one is kept as rejected with the reason.
AFTERCARE_MAIL_MAX_BYTES = env_int("AFTERCARE_MAIL_MAX_MB", 25, minimum=1) * 1024 * 1024
AFTERCARE_MAIL_MAX_PARTS = env_int("AFTERCARE_MAIL_MAX_PARTS", 100, minimum=1)
AFTERCARE_MAIL_MAX_DEPTH = env_int("AFTERCARE_MAIL_MAX_DEPTH", 10, minimum=1)
# Per sender and day: messages accepted, and automatic answers we send (Znuny uses 40).
AFTERCARE_MAIL_SENDER_DAILY_CAP = env_int("AFTERCARE_MAIL_SENDER_DAILY_CAP", 100, minimum=1)
AFTERCARE_MAIL_AUTOREPLY_DAILY_CAP = env_int("AFTERCARE_MAIL_AUTOREPLY_DAILY_CAP", 40, minimum=1)
AFTERCARE_MAIL_SEND_ATTEMPTS = env_int("AFTERCARE_MAIL_SEND_ATTEMPTS", 8, minimum=1)
AFTERCARE_MAIL_FETCH_CRON = env_str("AFTERCARE_MAIL_FETCH_CRON", "* * * * *")
AFTERCARE_MAIL_OUTBOX_CRON = env_str("AFTERCARE_MAIL_OUTBOX_CRON", "* * * * *")
# Days an approval link stays valid.
AFTERCARE_APPROVAL_DAYS = env_int("AFTERCARE_APPROVAL_DAYS", 7, minimum=1)

# Security.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("AFTERCARE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_SSL_REDIRECT = env_bool("AFTERCARE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("AFTERCARE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint and its font library narrate every step of every PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# REST API
# django-ninja ships Swagger UI; as an installed app its templates and static files are
# served from here, so /api/docs works without reaching a CDN.
INSTALLED_APPS = [*INSTALLED_APPS, "ninja"]
# Requests per window per token (or per signed-in user for browser sessions).
AFTERCARE_API_RATE_LIMIT = env_int("AFTERCARE_API_RATE_LIMIT", 600, minimum=1)
AFTERCARE_API_RATE_WINDOW = env_int("AFTERCARE_API_RATE_WINDOW_SECONDS", 60, minimum=1)
AFTERCARE_API_PAGE_SIZE = env_int("AFTERCARE_API_PAGE_SIZE", 50, minimum=1)
AFTERCARE_API_MAX_PAGE_SIZE = env_int("AFTERCARE_API_MAX_PAGE_SIZE", 200, minimum=1)
# How stale a token's "last used" may get before a request writes it again.
AFTERCARE_API_TOKEN_TOUCH_SECONDS = env_int("AFTERCARE_API_TOKEN_TOUCH_SECONDS", 60, minimum=0)

# Webhooks
# Targets must be https on a public address; see docs/webhooks.md. Plain http:// only if
# allowed, and loopback/private/link-local targets only with ALLOW_PRIVATE (test set-ups,
# a receiver on the vendor's own LAN): it lets whoever manages webhooks reach internal
# services (SSRF), so never turn it on where that matters.
AFTERCARE_WEBHOOKS_ALLOW_HTTP = env_bool("AFTERCARE_WEBHOOKS_ALLOW_HTTP", False)
AFTERCARE_WEBHOOKS_ALLOW_PRIVATE = env_bool("AFTERCARE_WEBHOOKS_ALLOW_PRIVATE", False)
# Ports a target may use (comma-separated).
try:
    AFTERCARE_WEBHOOKS_PORTS = sorted(
        {int(p) for p in env_str("AFTERCARE_WEBHOOKS_PORTS", "80,443").split(",") if p.strip()}
    )
except ValueError:
    raise ImproperlyConfigured(
        "AFTERCARE_WEBHOOKS_PORTS must be comma-separated port numbers, e.g. 443,8443"
    ) from None
# Seconds to connect and to wait for each read; a whole exchange is cut at twice this.
AFTERCARE_WEBHOOKS_TIMEOUT = env_int("AFTERCARE_WEBHOOKS_TIMEOUT", 10, minimum=1)
# Attempts per delivery; the wait doubles after each failure (1, 2, 4 … minutes) up to
# the cap.
AFTERCARE_WEBHOOKS_ATTEMPTS = env_int("AFTERCARE_WEBHOOKS_ATTEMPTS", 8, minimum=1)
AFTERCARE_WEBHOOKS_MAX_BACKOFF_MINUTES = env_int(
    "AFTERCARE_WEBHOOKS_MAX_BACKOFF_MINUTES", 60, minimum=1
)
# A subscription is disabled after this many deliveries in a row failed for good.
AFTERCARE_WEBHOOKS_DISABLE_AFTER = env_int("AFTERCARE_WEBHOOKS_DISABLE_AFTER", 10, minimum=1)
# Days the delivery log keeps delivered and failed deliveries.
AFTERCARE_WEBHOOKS_KEEP_DAYS = env_int("AFTERCARE_WEBHOOKS_KEEP_DAYS", 30, minimum=1)
# The sweep that posts due deliveries and retries (besides the kick after each change).
AFTERCARE_WEBHOOKS_CRON = env_str("AFTERCARE_WEBHOOKS_CRON", "* * * * *")

# Scale-out (deploy/README.md, docs/faults.md)
# Attachments on shared storage: the local/NFS filesystem (MEDIA_ROOT, default) or an
# S3-compatible bucket through django-storages (pip install 'aftercare[s3]').
AFTERCARE_STORAGE = env_str("AFTERCARE_STORAGE", "filesystem").strip().lower()
if AFTERCARE_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AFTERCARE_S3_BUCKET"),
            "endpoint_url": env_str("AFTERCARE_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AFTERCARE_S3_REGION") or None,
            "access_key": env_secret("AFTERCARE_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_secret("AFTERCARE_S3_SECRET_ACCESS_KEY") or None,
            "location": env_str("AFTERCARE_S3_PREFIX", ""),
            # Attachments are served by desk:attachment after a permission check, never
            # by a public or pre-signed bucket URL; names never overwrite each other.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    if not STORAGES["default"]["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured("AFTERCARE_STORAGE=s3 needs AFTERCARE_S3_BUCKET.")
elif AFTERCARE_STORAGE != "filesystem":
    raise ImproperlyConfigured("AFTERCARE_STORAGE must be 'filesystem' or 's3'")
# A connection that died with the database (restart, fail-over) is replaced at the start
# of the next request instead of failing it; while the database is away requests get a
# 503 with Retry-After (aftercare/lib/database.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", True)
AFTERCARE_DB_RETRY_AFTER = env_int("AFTERCARE_DB_RETRY_AFTER", 30, minimum=1)
MIDDLEWARE = [*MIDDLEWARE, "aftercare.lib.database.DatabaseUnavailableMiddleware"]

# Projects: go-live plans and snag lists (docs/projects.md)
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.projects"]
# The plan warns when the end users were told about the go-live fewer days ahead.
AFTERCARE_GOLIVE_NOTICE_DAYS = env_int("AFTERCARE_GOLIVE_NOTICE_DAYS", 30, minimum=0)

# Lifecycle: environments, releases, deployments (docs/lifecycle.md).
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.lifecycle"]

# Knowledge base: articles per product and version (docs/knowledge-base.md).
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.kb"]

# Operations: backups and read-only maintenance mode (docs/operations.md).
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.ops"]
AFTERCARE_BACKUP_DIR = Path(env_str("AFTERCARE_BACKUP_DIR", str(DATA_DIR / "backups")))
AFTERCARE_BACKUP_CRON = env_str("AFTERCARE_BACKUP_CRON", "30 2 * * *")
# Retention: the newest archive of each of the last N days and M ISO weeks.
AFTERCARE_BACKUP_KEEP_DAILY = env_int("AFTERCARE_BACKUP_KEEP_DAILY", 7, minimum=0)
AFTERCARE_BACKUP_KEEP_WEEKLY = env_int("AFTERCARE_BACKUP_KEEP_WEEKLY", 4, minimum=0)
# Each process re-reads the maintenance flag at most this often (seconds).
AFTERCARE_MAINTENANCE_CACHE_SECONDS = env_int("AFTERCARE_MAINTENANCE_CACHE_SECONDS", 2, minimum=0)
# Retry-After (seconds) on the 503 answers while maintenance mode is on.
AFTERCARE_MAINTENANCE_RETRY_AFTER = env_int("AFTERCARE_MAINTENANCE_RETRY_AFTER", 300, minimum=1)

# Monitoring: /healthz, /readyz, request ids, JSON logs, failed jobs (docs/monitoring.md).
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.monitoring"]
# "json": one JSON object per log line (for log shippers); "text" (default): plain lines.
AFTERCARE_LOG_FORMAT = env_str("AFTERCARE_LOG_FORMAT", "text").strip().lower()
if AFTERCARE_LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured("AFTERCARE_LOG_FORMAT must be 'text' or 'json'")
from aftercare.monitoring.logs import logging_config  # noqa: E402 - needs nothing but logging

LOGGING = logging_config(LOGGING, fmt=AFTERCARE_LOG_FORMAT)
# If set, /readyz shows its checks only to callers sending this token (header
# "Authorization: Bearer <token>" or "X-Health-Token") or signed-in staff; others get
# only the overall status and the HTTP code.
AFTERCARE_HEALTH_TOKEN = env_secret("AFTERCARE_HEALTH_TOKEN", "")
# /readyz fails when no worker heartbeat is newer than this (seconds; 0: not checked).
AFTERCARE_HEALTH_WORKER_STALE_SECONDS = env_int(
    "AFTERCARE_HEALTH_WORKER_STALE_SECONDS", 180, minimum=0
)
# /readyz is degraded when an active mailbox was not read successfully for this long
# (minutes; 0: not checked), or outgoing mail has waited this long (minutes; 0: not checked).
AFTERCARE_HEALTH_MAILBOX_STALE_MINUTES = env_int(
    "AFTERCARE_HEALTH_MAILBOX_STALE_MINUTES", 15, minimum=0
)
AFTERCARE_HEALTH_OUTBOX_STALE_MINUTES = env_int(
    "AFTERCARE_HEALTH_OUTBOX_STALE_MINUTES", 30, minimum=0
)
# The database probe's statement timeout (PostgreSQL), in milliseconds.
AFTERCARE_HEALTH_DB_TIMEOUT_MS = env_int("AFTERCARE_HEALTH_DB_TIMEOUT_MS", 2000, minimum=100)
# How often each worker writes its heartbeat (crontab).
AFTERCARE_HEARTBEAT_CRON = env_str("AFTERCARE_HEARTBEAT_CRON", "* * * * *")

# Accounts: two-factor authentication, security headers (docs/security.md)
# Roles that must use 2FA (comma list of admin, manager, consultant, operator, developer,
# coordinator, customer); in production at least "admin", better all staff roles.
# Default: "admin" in production mode, nobody in development; set it empty to require
# it of nobody.
AFTERCARE_2FA_REQUIRED_FOR = env_list("AFTERCARE_2FA_REQUIRED_FOR", ["admin"] if PRODUCTION else [])
AFTERCARE_2FA_ISSUER = env_str("AFTERCARE_2FA_ISSUER", "Aftercare")
# Seconds between the password step and the code step before signing in starts over.
AFTERCARE_2FA_PENDING_SECONDS = env_int("AFTERCARE_2FA_PENDING_SECONDS", 300, minimum=30)
from aftercare.accounts.security import DEFAULT_POLICY as _DEFAULT_CSP  # noqa: E402

AFTERCARE_CSP = env_str("AFTERCARE_CSP", _DEFAULT_CSP)
AFTERCARE_CSP_REPORT_ONLY = env_bool("AFTERCARE_CSP_REPORT_ONLY", False)
AFTERCARE_CSP_RELAXED_PATHS = env_list("AFTERCARE_CSP_RELAXED_PATHS", [])
AFTERCARE_CSP_RELAXED = env_str(
    "AFTERCARE_CSP_RELAXED",
    _DEFAULT_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"),
)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (production default: on).
if env_bool("AFTERCARE_BEHIND_PROXY", PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
elif PRODUCTION:
    SECURE_PROXY_SSL_HEADER = None

# SaaS migrations (docs/saas-migrations.md) and PDF documents.
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.documents", "aftercare.saas"]
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.artefacts"]
# Currency of new offers, and the vendor's name printed on offers and statements.
AFTERCARE_SAAS_CURRENCY = env_str("AFTERCARE_SAAS_CURRENCY", "EUR")
AFTERCARE_SAAS_VENDOR = env_str("AFTERCARE_SAAS_VENDOR", "Aftercare")
# The vendor's legal details printed on final statements (invoices), and payment terms.
AFTERCARE_VENDOR_NAME = env_str("AFTERCARE_VENDOR_NAME", "Aftercare Software SRL")
AFTERCARE_VENDOR_ADDRESS = env_str(
    "AFTERCARE_VENDOR_ADDRESS", "Strada Exemplu 1, 010101 București, Romania"
)
AFTERCARE_VENDOR_TAX_ID = env_str("AFTERCARE_VENDOR_TAX_ID", "RO00000000")
AFTERCARE_VENDOR_BANK_ACCOUNT = env_str(
    "AFTERCARE_VENDOR_BANK_ACCOUNT", "RO49 AAAA 1B31 0075 9384 0000 (Demo Bank)"
)
AFTERCARE_PAYMENT_TERMS_DAYS = env_int("AFTERCARE_PAYMENT_TERMS_DAYS", 30, minimum=0)
# Public quote form: a submission sooner than this after the form was shown is a bot's;
# per client address at most RATE_LIMIT submissions per RATE_WINDOW seconds.
AFTERCARE_QUOTE_MIN_SECONDS = env_int("AFTERCARE_QUOTE_MIN_SECONDS", 3, minimum=0)
AFTERCARE_QUOTE_RATE_LIMIT = env_int("AFTERCARE_QUOTE_RATE_LIMIT", 5, minimum=1)
AFTERCARE_QUOTE_RATE_WINDOW = env_int("AFTERCARE_QUOTE_RATE_WINDOW_SECONDS", 3600, minimum=1)
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.alerts"]
# Customers' monitoring alerts (docs/monitoring.md): the largest accepted body, how much
# of a body the received-log keeps, requests per integration and minute, the flap window
# and the least time between two "fired again" notes on one request.
AFTERCARE_ALERTS_MAX_BYTES = env_int("AFTERCARE_ALERTS_MAX_BYTES", 256 * 1024, minimum=1024)
AFTERCARE_ALERTS_KEEP_BYTES = env_int("AFTERCARE_ALERTS_KEEP_BYTES", 64 * 1024, minimum=1024)
AFTERCARE_ALERTS_RATE_PER_MINUTE = env_int("AFTERCARE_ALERTS_RATE_PER_MINUTE", 6000, minimum=1)
AFTERCARE_ALERTS_FLAP_MINUTES = env_int("AFTERCARE_ALERTS_FLAP_MINUTES", 30, minimum=0)
AFTERCARE_ALERTS_NOTE_MINUTES = env_int("AFTERCARE_ALERTS_NOTE_MINUTES", 15, minimum=0)
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.availability"]
# Messengers (docs/messengers.md): Telegram is off while no bot token is set.
INSTALLED_APPS = [*INSTALLED_APPS, "aftercare.channels"]
AFTERCARE_TELEGRAM_TOKEN = env_secret("AFTERCARE_TELEGRAM_TOKEN", "")
AFTERCARE_TELEGRAM_API_URL = env_str("AFTERCARE_TELEGRAM_API_URL", "https://api.telegram.org")
AFTERCARE_TELEGRAM_WEBHOOK_SECRET = env_secret("AFTERCARE_TELEGRAM_WEBHOOK_SECRET", "")
AFTERCARE_CHANNELS_OUTBOX_CRON = env_str("AFTERCARE_CHANNELS_OUTBOX_CRON", "* * * * *")
