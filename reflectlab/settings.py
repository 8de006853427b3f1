"""Settings, read from environment variables only (see README "Configuration").

Defaults run everything embedded: SQLite and Celery's filesystem broker under
``var/``. Production (``DEBUG`` off) refuses to start without a real
``SECRET_KEY``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("REFLECTLAB_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
_INSECURE_KEY = "django-insecure-reflectlab-development-only"
SECRET_KEY = env_str("SECRET_KEY") or (_INSECURE_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is required when DEBUG is off. Set SECRET_KEY, or DEBUG=1 for development."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "reflectlab.core",
    "reflectlab.projects",
    "reflectlab.prompts",
    "reflectlab.providers",
    "reflectlab.runs",
    "reflectlab.traces",
    "reflectlab.annotations",
    "reflectlab.review",
    "reflectlab.exports",
    "reflectlab.bulk",
    "reflectlab.dashboards",
    "reflectlab.judges",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "reflectlab.core.middleware.NoStoreMiddleware",
    "reflectlab.core.middleware.DatabaseErrorMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "reflectlab.urls"
WSGI_APPLICATION = "reflectlab.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
            "builtins": ["django.templatetags.static"],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'reflectlab.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets readers run beside the writer; IMMEDIATE makes every write
    # transaction take the lock up front, so concurrent claims serialise
    # instead of failing with "database is locked" on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a real Celery worker process sees the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every sign-in (login page, admin, API token) passes the throttle in this backend.
AUTHENTICATION_BACKENDS = ["reflectlab.core.backends.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js from the installed plotly package, as vendor/plotly-<version>.min.js
    "reflectlab.dashboards.staticfiles.PlotlyFinder",
]
# With DEBUG off, WhiteNoise serves what ``manage.py collectstatic`` put here.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_ROOT.mkdir(parents=True, exist_ok=True)

# Uploads: large imports stream to a temporary file, never into memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
REFLECTLAB_MAX_UPLOAD_BYTES = env_int("REFLECTLAB_MAX_UPLOAD_MB", 1024) * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# TLS (README "Deploying"). Behind a proxy that terminates TLS, name the header
# it sets (e.g. X-Forwarded-Proto) so Django knows the request was https; only
# do so when the proxy overwrites that header from clients.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain http
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
_proxy_header = env_str("SECURE_PROXY_SSL_HEADER")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")

# Sign-in throttling (reflectlab.core.throttle), counted in the database so it
# holds across every process: attempts per username and per client address in
# the current and previous window.
REFLECTLAB_LOGIN_MAX_FAILURES = env_int("REFLECTLAB_LOGIN_MAX_FAILURES", 10)
REFLECTLAB_LOGIN_MAX_FAILURES_PER_IP = env_int("REFLECTLAB_LOGIN_MAX_FAILURES_PER_IP", 50)
REFLECTLAB_LOGIN_WINDOW_SECONDS = env_int("REFLECTLAB_LOGIN_WINDOW_SECONDS", 900)
# Proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
REFLECTLAB_TRUSTED_PROXY_HOPS = env_int("REFLECTLAB_TRUSTED_PROXY_HOPS", 0)
# API tokens expire this many days after they were issued.
REFLECTLAB_TOKEN_TTL_DAYS = env_int("REFLECTLAB_TOKEN_TTL_DAYS", 30)
# A member invite's set-password link works once, for this long (projects/tokens.py).
REFLECTLAB_INVITE_TTL_SECONDS = env_int("REFLECTLAB_INVITE_TTL_SECONDS", 3 * 24 * 3600)
# Invite links are emailed through Django's default mailer (Django 6.1 MAILERS):
# in debug the console (the mail is printed in the web process's log), else SMTP
# with the EMAIL_* variables (check --deploy refuses the console); EMAIL_BACKEND
# picks one, or names any backend's dotted path. A failed send only warns: the
# manager still has the link on the page.
_email_backend = env_str("EMAIL_BACKEND", "console" if DEBUG else "smtp")
_mailer: dict = {
    "BACKEND": {
        name: f"django.core.mail.backends.{name}.EmailBackend"
        for name in ("console", "smtp", "locmem")
    }.get(_email_backend, _email_backend)
}
if _email_backend == "smtp":
    _mailer["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": env_bool("EMAIL_USE_TLS", False),
        "timeout": env_int("EMAIL_TIMEOUT", 10),
    }
MAILERS = {"default": _mailer}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "reflectlab@localhost")
for _name in (
    "REFLECTLAB_LOGIN_MAX_FAILURES",
    "REFLECTLAB_LOGIN_MAX_FAILURES_PER_IP",
    "REFLECTLAB_LOGIN_WINDOW_SECONDS",
    "REFLECTLAB_TOKEN_TTL_DAYS",
    "REFLECTLAB_INVITE_TTL_SECONDS",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")

# Content Security Policy: no inline script, no CDN. KaTeX needs inline styles.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "reflectlab.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "reflectlab.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "reflectlab.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "reflectlab API",
    "DESCRIPTION": "Annotation of LLM reasoning traces: projects, prompts, traces, runs, "
    "annotations, reviews, queues and trainer-ready exports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name get stable names (and check --deploy stays clean).
    "ENUM_NAME_OVERRIDES": {
        "JobStateEnum": "reflectlab.runs.models.Run.State",  # runs and exports alike
        "TraceStateEnum": "reflectlab.traces.models.Trace.State",
        "ExportKindEnum": "reflectlab.exports.models.Export.Kind",
        "ExportFormatEnum": "reflectlab.exports.models.Export.Format",
        "JudgeKindEnum": "reflectlab.judges.models.Judge.Kind",
        # Which items a run or a judge run covers.
        "CoverageEnum": ["all", "filter", "selection"],
    },
}

# Celery: the filesystem transport needs no server (make run); set
# CELERY_BROKER_URL to redis://… or amqp://… to scale out.
CELERY_DATA_DIR = VAR_DIR / "celery"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (CELERY_DATA_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
        # The transport polls its folder; 0.1 s (about ten listings a second per
        # worker) keeps task pick-up from dominating short model calls.
        "polling_interval": 0.1,
    }
else:
    # Redis/SQS redeliver an unacknowledged (acks_late) task after this long, even
    # to a second worker while the first still runs it: it must exceed the longest
    # task time limit (a run: 24 h + 5 min). A dead worker's work is resumed sooner,
    # when any worker starts (worker_ready hooks) — redelivery is the backstop.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 25 * 3600)
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3900)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"reflectlab.runs.tasks.*": {"queue": "models"}}
CELERY_TASK_ALWAYS_EAGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}},
}

REFLECTLAB_SHARED_DATA = Path(
    env_str("REFLECTLAB_SHARED_DATA", str(BASE_DIR.parent / "shared" / "data"))
)
# Imports above this many lines run on a worker with a progress bar.
REFLECTLAB_SYNC_IMPORT_MAX_BYTES = env_int("REFLECTLAB_SYNC_IMPORT_MAX_BYTES", 2 * 1024 * 1024)
# Lines per chunk of a JSONL trace import on the workers (prompts.chunks); 0: one worker.
REFLECTLAB_IMPORT_CHUNK_ROWS = env_int("REFLECTLAB_IMPORT_CHUNK_ROWS", 2000)
# Annotation claims are leases renewed by the page's heartbeat.
REFLECTLAB_CLAIM_TTL_SECONDS = env_int("REFLECTLAB_CLAIM_TTL_SECONDS", 600)
# Finished exports live here, outside MEDIA_ROOT: only a members-only view serves them.
REFLECTLAB_EXPORTS_DIR = Path(env_str("REFLECTLAB_EXPORTS_DIR", str(VAR_DIR / "exports")))
# Tokenizer folders (tokenizer.json [+ chat template]) an export may name for token length
# stats and for checking that the training chat template keeps the reasoning.
REFLECTLAB_TOKENIZERS_DIR = Path(env_str("REFLECTLAB_TOKENIZERS_DIR", str(VAR_DIR / "tokenizers")))
# Exports are built here on the worker, then moved (local) or uploaded (S3) into storage.
REFLECTLAB_WORK_DIR = Path(env_str("REFLECTLAB_WORK_DIR", str(VAR_DIR / "work")))


# Storage (README "Scale-out"): uploads (import files) and exports go through
# Django's storage API, named "uploads" and "exports". Local folders by default;
# REFLECTLAB_STORAGE=s3 puts both in one S3-compatible bucket (AWS, MinIO, Ceph…)
# so web and workers on different machines share them.
def storages_from(env: dict[str, str]) -> dict:
    """``STORAGES`` for an environment (a function so tests build the same thing)."""
    kind = env.get("REFLECTLAB_STORAGE", "local")
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    if kind == "local":
        uploads = {"BACKEND": "django.core.files.storage.FileSystemStorage"}  # MEDIA_ROOT
        exports = {
            "BACKEND": "reflectlab.core.storage.ExportsFileSystemStorage",  # EXPORTS_DIR
            "OPTIONS": {"file_permissions_mode": 0o444, "allow_overwrite": True},
        }
        return {"default": uploads, "uploads": uploads, "exports": exports, "staticfiles": static}
    if kind != "s3":
        raise ImproperlyConfigured(f"REFLECTLAB_STORAGE must be local or s3, got {kind!r}")
    if not env.get("REFLECTLAB_S3_BUCKET"):
        raise ImproperlyConfigured("REFLECTLAB_STORAGE=s3 needs REFLECTLAB_S3_BUCKET.")
    try:
        expire = int(env.get("REFLECTLAB_S3_PRESIGNED_SECONDS", "60"))
    except ValueError as exc:
        raise ImproperlyConfigured("REFLECTLAB_S3_PRESIGNED_SECONDS must be an integer") from exc
    common = {
        "bucket_name": env["REFLECTLAB_S3_BUCKET"],
        "endpoint_url": env.get("REFLECTLAB_S3_ENDPOINT_URL") or None,
        "region_name": env.get("REFLECTLAB_S3_REGION") or None,
        # Unset: boto3's own chain (AWS_ACCESS_KEY_ID…, instance roles).
        "access_key": env.get("REFLECTLAB_S3_ACCESS_KEY_ID") or None,
        "secret_key": env.get("REFLECTLAB_S3_SECRET_ACCESS_KEY") or None,
        "addressing_style": env.get("REFLECTLAB_S3_ADDRESSING_STYLE") or None,
        "default_acl": None,  # private objects; the bucket's policy decides
        "querystring_auth": True,
        "querystring_expire": expire,
        # Reading an object spools to disk beyond 8 MiB, never all of it in memory.
        "max_memory_size": 8 * 1024 * 1024,
    }
    prefix = env.get("REFLECTLAB_S3_PREFIX", "").strip("/")
    s3 = "storages.backends.s3.S3Storage"
    uploads = {
        "BACKEND": s3,
        # Two uploads with one name both survive (the second gets a suffix).
        "OPTIONS": {**common, "location": f"{prefix}/uploads".lstrip("/"), "file_overwrite": False},
    }
    exports = {
        "BACKEND": s3,
        "OPTIONS": {**common, "location": f"{prefix}/exports".lstrip("/"), "file_overwrite": True},
    }
    return {"default": uploads, "uploads": uploads, "exports": exports, "staticfiles": static}


STORAGES = storages_from(dict(os.environ))
REFLECTLAB_S3_PRESIGNED_DOWNLOADS = env_bool("REFLECTLAB_S3_PRESIGNED_DOWNLOADS", False)
