"""Django settings, all taken from the environment.

The defaults are safe for a single workstation: an SQLite file under ``data/``,
DEBUG off, a secret key generated once and kept in the data folder.  Production
sets ``DATABASE_URL`` (PostgreSQL), ``SECRET_KEY``, ``ALLOWED_HOSTS`` and
optionally ``REDIS_URL`` (shared cache for several web processes).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _isolate_test_worker() -> None:
    """Give each parallel test worker its own data folder and Redis database.

    ``./scripts/test`` runs the suite in several pytest-xdist processes (``PYTEST_XDIST_WORKER``
    is ``gw0``, ``gw1``, ...).  They must not share what one test empties or locks: the data
    folder also names the test database (below), and the RQ queue and shared cache live in Redis.
    The environment is rewritten, not only these settings, so servers and commands the tests
    start in subprocesses see the same worker's folder and Redis database.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or os.environ.get("CMDB_TEST_WORKER") == worker:
        return
    index = int(worker[2:] or 0)
    base = Path(os.environ.get("CMDB_DATA_DIR", BASE_DIR / "data"))
    os.environ["CMDB_DATA_DIR"] = str(base / worker)
    url = os.environ.get("REDIS_URL", "")
    if url:
        head, _, db = url.rpartition("/")
        number = int(db) if db.isdigit() else 0
        os.environ["REDIS_URL"] = f"{head}/{(number + index) % 16}" if db.isdigit() else f"{url.rstrip('/')}/{index}"
    os.environ["CMDB_TEST_WORKER"] = worker


_isolate_test_worker()
DATA_DIR = Path(os.environ.get("CMDB_DATA_DIR", BASE_DIR / "data"))


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _env_size(name: str, default: str) -> int:
    """A size in bytes from the environment: ``1048576``, ``512K``, ``8M`` or ``1G`` (binary multiples)."""
    value = os.environ.get(name, default).strip().upper().removesuffix("B")
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(value[-1:], 1)
    number = value[:-1] if factor > 1 else value
    try:
        size = int(number) * factor
    except ValueError:
        raise ValueError(f"{name}: a size such as 1048576, 512K, 8M or 1G, not {value!r}") from None
    if size <= 0:
        raise ValueError(f"{name} must be positive")
    return size


def _secret_key() -> str:
    """Use SECRET_KEY if given; otherwise a random key persisted in the data folder.

    Persisting it keeps sessions valid across restarts without ever shipping a
    key in the repository.
    """
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DEBUG")
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files (cmdb/api/docs.py)
    "cmdb.core",
    "cmdb.extras",
    "cmdb.users",
    "cmdb.tenancy",
    "cmdb.dcim",
    "cmdb.ipam",
    "cmdb.virtualization",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "cmdb.jobs",
    "cmdb.reconcile",
    "playbooks",
    "monitoring",
    "k8s",
    "backup",
    "cmdb.software",
    "discovery",
    "vdi",
    "cmdb.services",
    "cmdb.changes",
    "cmdb.graphql",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "cmdb.ui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "monitoring.middleware.RequestMetricsMiddleware",
    "cmdb.core.middleware.RequestIdMiddleware",
    "cmdb.core.bodylimit.RequestBodyLimitMiddleware",  # before CsrfViewMiddleware, which parses forms
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "cmdb.core.middleware.ChangeLoggingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "cmdb.ui.middleware.SessionSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cmdb.urls"
WSGI_APPLICATION = "cmdb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cmdb.ui.context_processors.ui",
            ],
        },
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'cmdb.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db), conn_max_age=600)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE transactions take the write lock up front, so two writers never
    # deadlock on a lock upgrade; WAL lets readers proceed during a write.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that needs no round trip on a sound connection.
        DATABASES["default"]["ENGINE"] = "cmdb.core.pgbackend"
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # One test database per data folder, so test runs from several checkouts or
    # CI jobs on one PostgreSQL server never drop each other's database.
    _tag = hashlib.sha1(str(DATA_DIR.resolve()).encode(), usedforsecurity=False).hexdigest()[:10]
    DATABASES["default"]["TEST"].setdefault("NAME", f"test_cmdb_{_tag}")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# "default" may be per process (it only saves work); "shared" is what every web process must agree on
# (login throttling): Redis when configured, else a table in the database (cmdb.core.cache).
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL},
        "shared": {"BACKEND": "cmdb.core.cache.SharedRedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "shared"},
    }
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # The database cache culls entries beyond MAX_ENTRIES; flooding it must not wipe live counters.
        "shared": {"BACKEND": "cmdb.core.cache.SharedDatabaseCache", "LOCATION": "cmdb_cache",
                   "OPTIONS": {"MAX_ENTRIES": 1_000_000}},
    }

# Jobs (cmdb.jobs) through django-tasks: the database backend needs nothing but the database;
# with REDIS_URL the queue is RQ, so workers on any number of machines share it.
if REDIS_URL and os.environ.get("CMDB_TASK_BACKEND", "rq") == "rq":
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 6 * 3600}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0"}}
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# Finished job records (with their log lines) older than this many days are deleted by the scheduler's
# housekeeping (at most hourly) and by the jobs.purge job; 0 keeps them forever.
JOBS_RETENTION_DAYS = int(os.environ.get("JOBS_RETENTION_DAYS", 30))
# A running job's lease (seconds): its worker renews it every third of that; a job whose lease ran out
# has lost its worker and is failed ("worker lost") or retried by the scheduler's reaper (cmdb.jobs.reaper).
JOBS_HEARTBEAT_TTL = float(os.environ.get("JOBS_HEARTBEAT_TTL", 60))
# The Ansible reconciler gathers facts (setup + package_facts) in its check run and ingests them as
# discovery reports (source type "ansible"), when the discovery app is installed.
ANSIBLE_DISCOVERY_FACTS = _env_bool("CMDB_ANSIBLE_DISCOVERY_FACTS", True)
# Kubernetes discovery flags a node, namespace or workload stale once it has been missing from the cluster's
# listings for this long since it was last seen ("30m", "6h", "2d", or seconds); one missed listing never flags.
K8S_STALE_AFTER = os.environ.get("CMDB_K8S_STALE_AFTER", "6h")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Security: secure defaults, relaxed only through the environment.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", 8 * 3600))
SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Web UI (cmdb.ui): login, second factor, session lifetime, security headers.
LOGIN_URL = "ui:login"
LOGIN_REDIRECT_URL = "/"
SESSION_EXPIRE_AT_BROWSER_CLOSE = _env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", True)
SESSION_IDLE_TIMEOUT = int(os.environ.get("SESSION_IDLE_TIMEOUT", 3600))  # seconds without a request
MFA_REQUIRED_GROUPS = _env_list("MFA_REQUIRED_GROUPS", "")  # group names, or "@writers"
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "CMDB")
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", 5))  # per user name and client IP
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", 900))
# Campus logins (LDAP / Active Directory), off unless LDAP_SERVER_URI is set: local accounts first, then the
# directory; groups map to local groups through data (users.LDAPGroupMapping).  See cmdb/users/ldapconfig.py
# and docs/security.md for the LDAP_* variables.
from cmdb.users.ldapconfig import ldap_settings  # noqa: E402 - settings read in order

globals().update(ldap_settings(os.environ))
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_HSTS_SECONDS = 31536000 if _env_bool("SECURE_COOKIES") else 0
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT")
CSRF_COOKIE_HTTPONLY = True

# Request bodies (cmdb.core.bodylimit): the most bytes one request may send, by the kind of endpoint
# its view declares (``body_limit``); a larger body is refused with 413 before it is read.
REQUEST_BODY_LIMITS = {
    "default": _env_size("CMDB_BODY_LIMIT_DEFAULT", "1M"),  # forms, logins, single-object API views
    "bulk": _env_size("CMDB_BODY_LIMIT_BULK", "8M"),  # the REST API's object endpoints (lists of objects)
    "import": _env_size("CMDB_BODY_LIMIT_IMPORT", "8M"),  # the web UI's CSV/JSON/YAML import
    "discovery_report": _env_size("CMDB_BODY_LIMIT_DISCOVERY_REPORT", "8M"),
    "alertmanager": _env_size("CMDB_BODY_LIMIT_ALERTMANAGER", "8M"),
}
# Django's own check (request.body, form fields) must never be stricter than the view's limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(REQUEST_BODY_LIMITS.values())

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cmdb.users.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["cmdb.users.permissions.ObjectPermissionRequired"],
    "DEFAULT_PAGINATION_CLASS": "cmdb.api.pagination.LimitOffsetPagination",
    "DEFAULT_RENDERER_CLASSES": ["cmdb.api.renderers.FastJSONRenderer", "cmdb.api.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cmdb.api.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["cmdb.api.filters.CMDBFilterBackend", "cmdb.api.filters.StrictOrderingFilter"],
    "DEFAULT_SCHEMA_CLASS": "cmdb.api.schema.CMDBAutoSchema",
    "DEFAULT_METADATA_CLASS": "cmdb.api.metadata.ChoicesMetadata",
    "EXCEPTION_HANDLER": "cmdb.api.exceptions.exception_handler",
    "ORDERING_PARAM": "ordering",
    "PAGE_SIZE": int(os.environ.get("PAGINATE_COUNT", 50)),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
MAX_PAGE_SIZE = int(os.environ.get("MAX_PAGE_SIZE", 1000))
# Folders that ``file:`` secret references of records may point into (cmdb/core/secrets.py); empty: the
# defaults $CMDB_DATA_DIR/secrets, /run/secrets, /etc/cmdb/secrets.
CMDB_SECRET_DIRS = _env_list("CMDB_SECRET_DIRS", "")
# NetBox's PREFER_IPV4: which address a device's or VM's ``primary_ip`` shows when it has both.
PREFER_IPV4 = os.environ.get("PREFER_IPV4", "").lower() in ("1", "true", "yes")
# GraphQL (cmdb.graphql): lists are capped at MAX_PAGE_SIZE like REST pages; these bound a query's shape.
GRAPHQL_MAX_DEPTH = int(os.environ.get("GRAPHQL_MAX_DEPTH", 10))
GRAPHQL_MAX_FIELDS = int(os.environ.get("GRAPHQL_MAX_FIELDS", 500))
GRAPHQL_MAX_OBJECTS = int(os.environ.get("GRAPHQL_MAX_OBJECTS", 10 * MAX_PAGE_SIZE))

SPECTACULAR_SETTINGS = {
    "TITLE": "CMDB REST API",
    "DESCRIPTION": "NetBox-compatible REST API of the CMDB",
    "VERSION": "4.4.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "DISABLE_ERRORS_AND_WARNINGS": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# The change log's chain (cmdb.core.changelog): HMAC keys by version, never stored in the database; see
# cmdb/core/auditkeys.py and docs/security.md.  Checkpoints of the chain head go to every configured sink:
# an append-only file ("" turns it off), syslog ("udp://host:514", "tcp://host:601", "unix:/dev/log"; "" off),
# and sinks other apps register (cmdb.core.checkpoints.register_sink).  The scheduler writes one every
# CMDB_AUDIT_CHECKPOINT_INTERVAL seconds (0: never) when the chain has grown; `cmdb audit checkpoint` on demand.
try:
    from cmdb.core.auditkeys import AuditKeyError, load_keys

    AUDIT_KEYS, AUDIT_KEY_SOURCE = load_keys(os.environ, DATA_DIR)
except AuditKeyError as _exc:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(str(_exc)) from None
AUDIT_CHECKPOINT_FILE = os.environ.get("CMDB_AUDIT_CHECKPOINT_FILE", str(DATA_DIR / "audit-checkpoints.log"))
AUDIT_CHECKPOINT_SYSLOG = os.environ.get("CMDB_AUDIT_CHECKPOINT_SYSLOG", "")
AUDIT_CHECKPOINT_SYSLOG_FACILITY = os.environ.get("CMDB_AUDIT_CHECKPOINT_SYSLOG_FACILITY", "auth")
AUDIT_CHECKPOINT_INTERVAL = int(os.environ.get("CMDB_AUDIT_CHECKPOINT_INTERVAL", 600))

# Monitoring (the monitoring app, monitoring/): /metrics answers a valid API token, or without one any client whose
# address is in these comma-separated networks (e.g. the Prometheus server's, "10.0.5.0/24").
METRICS_ALLOWED_NETWORKS = _env_list("METRICS_ALLOWED_NETWORKS", "")

# The backup domain's built-in self-backup (backup/jobs.py, docs/backup.md): the name of the restic repository
# (a Repository in the CMDB) that receives the CMDB's own database; set, the schedule exists by default.
CMDB_SELF_BACKUP_REPOSITORY = os.environ.get("CMDB_SELF_BACKUP_REPOSITORY", "")
CMDB_SELF_BACKUP_CRON = os.environ.get("CMDB_SELF_BACKUP_CRON", "30 1 * * *")
# The container image of the backup CronJobs in Kubernetes namespaces (backup/kubernetes.py); "" is the pinned
# restic release backup.kubernetes.DEFAULT_IMAGE.
CMDB_BACKUP_RESTIC_IMAGE = os.environ.get("CMDB_BACKUP_RESTIC_IMAGE", "")
# The backup domain's audit checkpoint sink (backup/checkpoints.py): the name of an (append-only) archive
# repository that receives every checkpoint of the change log as a small restic snapshot; "" off.
CMDB_AUDIT_CHECKPOINT_ARCHIVE = os.environ.get("CMDB_AUDIT_CHECKPOINT_ARCHIVE", "")

# Change management (cmdb/changes/, docs/changes.md): the reconcile framework asks the gate before applying to
# CIs of at least this criticality ("low" every CI, "off" never; external automation may always ask it), and
# the risk score's weights as a JSON object of factor → weight (unknown factors are refused), "" the defaults.
CHANGES_GATE_MIN_CRITICALITY = os.environ.get("CMDB_CHANGES_GATE_MIN_CRITICALITY", "high")
CHANGES_RISK_WEIGHTS = json.loads(os.environ.get("CMDB_CHANGES_RISK_WEIGHTS") or "{}")
# Who is told of a change's submit, approval, start and end besides its people and contacts (comma lists), and
# the webhook signing key as a secret reference (env:NAME or file:PATH, the name containing WEBHOOK).
CHANGES_NOTIFY_EMAILS = _env_list("CMDB_CHANGES_NOTIFY_EMAILS", "")
CHANGES_WEBHOOK_URLS = _env_list("CMDB_CHANGES_WEBHOOK_URLS", "")
CHANGES_WEBHOOK_SECRET = os.environ.get("CMDB_CHANGES_WEBHOOK_SECRET", "")

# Outgoing e-mail (change notifications): an SMTP relay; the password is read from the environment only.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "cmdb@localhost")
