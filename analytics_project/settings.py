"""The one settings module. Everything configurable comes from environment variables (README)."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from accounts.providers import social_providers
from analytics_project.env import env_bool, env_choice, env_email, env_int, env_list, env_networks, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# The embedded default is a development server that starts with no variables at all (healthchecks.io
# does the same); production sets DEBUG=false, and then a SECRET_KEY is required.
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"] if DEBUG else ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.openid_connect",
    "organisations",
    "accounts",
    "apikeys",
    "events",
    "persons",
    "reports",
    "clickhouse_store",
    "live",
    "console",
]

MIDDLEWARE = [
    "analytics_project.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "events.cors.IngestCorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "axes.middleware.AxesMiddleware",
    "analytics_project.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "analytics_project.urls"
WSGI_APPLICATION = "analytics_project.wsgi.application"
ASGI_APPLICATION = "analytics_project.asgi.application"

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
                "accounts.context_processors.signup",
            ],
        },
    },
]

# Database --------------------------------------------------------------------------------------
# No DATABASE_URL: the embedded SQLite file, so a new user can try the server in a minute.
DATABASE_URL = env_str("DATABASE_URL")
# Persistent connections: opening one per request cut a one-INSERT view from ~1,450 to ~200 req/s.
DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 300)
if DATABASE_URL:
    try:
        _database = dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if _database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// or postgresql:// URL, got engine {_database['ENGINE']}"
        )
    _database.setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)
else:
    _database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {
            # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at BEGIN
            # so concurrent writers queue on `timeout` instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache -----------------------------------------------------------------------------------------
# Reports and rate-limit counters live here. Redis in production; per-process memory otherwise.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"REDIS_URL must be a redis:// URL, got {REDIS_URL!r}")
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "uea",
            "OPTIONS": {
                # Short timeouts: a dead Redis must cost a request milliseconds, not the OS default.
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "uea-default",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# The live view's channel layer (live.publisher -> live.consumers). With Redis, publish/subscribe: a
# live message is for whoever listens now, kept nowhere, one PUBLISH whatever the number of listeners.
# Without it, in memory: the embedded default's one server process holds the sockets and ingestion alike.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "uea-live"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Auth, sessions, passwords -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard:app-list"

# Admin login lock-out (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords from one client IP,
# every login from it, the right password included, answers 429 until LOGIN_LOCKOUT_MINUTES have
# passed without another try; a successful login clears the count. Attempts are rows in the
# database, so every worker sees them on SQLite and PostgreSQL alike, and operators can review and
# clear them in the admin ("Access attempts") or with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
# The same address as rate limits and stored events: X-Forwarded-For only behind TRUSTED_PROXY_COUNT.
AXES_CLIENT_IP_CALLABLE = "analytics_project.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/login_locked.html"

# People sign up and in with allauth (accounts/, README "Accounts") --------------------------------
# open: anyone; invite: the addresses an organisation waits for (accounts.signup.signup_allowed), and the
# first account of an install that has none; closed: nobody (operators use createsuperuser or the admin).
SIGNUP_MODE = env_choice("SIGNUP_MODE", "invite", ("open", "invite", "closed"))
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# An organisation's pending owner is named by address alone, so no address counts before it is verified.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
# Wrong passwords, counted by allauth in the shared cache (Redis with REDIS_URL) per client IP and per
# address; its other limits (sign-ups, resets, verification mails) are its defaults. django-axes counts these
# failures per IP as well, as it does the admin's.
ACCOUNT_RATE_LIMITS = {"login_failed": env_str("SIGNIN_FAILURE_RATE", "10/m/ip,5/5m/key")}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Unified Event Analytics"
SOCIALACCOUNT_EMAIL_REQUIRED = True
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_STORE_TOKENS = False  # a sign-in is all the providers are for; no token is kept
SOCIALACCOUNT_PROVIDERS = social_providers()

# E-mail (sign-up verification, password reset): SMTP from EMAIL_URL, else printed to stdout, the log.
_email = env_email("EMAIL_URL", "console://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _email["EMAIL_TIMEOUT"]
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "analytics@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security (production defaults; `manage.py check --deploy` is clean with DEBUG off) ----------------
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe, and Prometheus scrapes, the app itself over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
X_FRAME_OPTIONS = "DENY"

# API -------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apikeys.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apikeys.permissions.IsSecretKey"],
    "DEFAULT_RENDERER_CLASSES": ["analytics_project.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["analytics_project.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "analytics_project.schema.ErrorDocumentingAutoSchema",
    "DEFAULT_METADATA_CLASS": "analytics_project.metadata.ViewOnlyMetadata",
    "EXCEPTION_HANDLER": "analytics_project.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Unified Event Analytics API",
    "DESCRIPTION": (
        "Send events with an API key, read reports with a secret key. "
        "Keys go in the `X-API-Key` header or `Authorization: Bearer <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Redoc's default fonts come from Google Fonts, which its page (templates/drf_spectacular) never loads.
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, sans-serif",
                "headings": {"fontFamily": "system-ui, sans-serif"},
            }
        }
    },
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {"ComponentHealthEnum": ["ok", "unavailable"]},
}

# Product settings (SPEC §3, §6) ------------------------------------------------------------------
API_KEY_TTL_DAYS = env_int("API_KEY_TTL_DAYS", 365)  # 0 = keys never expire
API_KEY_ROTATION_GRACE_SECONDS = env_int("API_KEY_ROTATION_GRACE_SECONDS", 24 * 3600)
# Working keys cached for this long (apikeys/key_cache.py). Off without Redis: a per-process cache
# could not learn of a revocation made by another worker.
API_KEY_CACHE_SECONDS = env_int("API_KEY_CACHE_SECONDS", 60 if REDIS_URL else 0)
# Open on a development server, closed on a public install unless asked for: anyone who can reach
# POST /api/auth/register could otherwise create apps and keys on it.
REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", DEBUG)
# How long an invitation's link works (organisations.invitations).
INVITATION_TTL_DAYS = env_int("INVITATION_TTL_DAYS", 7, minimum=1)
INGEST_RATE = env_rate("INGEST_RATE", "6000/m")
REPORT_RATE = env_rate("REPORT_RATE", "600/m")
REGISTRATION_RATE = env_rate("REGISTRATION_RATE", "20/h")
AUTH_FAILURE_RATE = env_rate("AUTH_FAILURE_RATE", "60/m")
SHARE_PASSWORD_RATE = env_rate("SHARE_PASSWORD_RATE", "10/m")  # wrong passwords of shared links, per client IP
INGEST_MAX_BATCH = env_int("INGEST_MAX_BATCH", 1000, minimum=1)
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
# Buffered ingestion (events/buffer.py, README "Buffered ingestion"): the API queues validated rows in
# a Redis Stream and answers 202; `manage.py ingest_worker` stores them in batches.
INGEST_MODE = env_choice("INGEST_MODE", "direct", ("direct", "buffered"))
if INGEST_MODE == "buffered" and not (REDIS_URL and DATABASE_URL):
    raise ImproperlyConfigured("INGEST_MODE=buffered needs REDIS_URL (the queue) and DATABASE_URL (PostgreSQL).")
INGEST_FLUSH_ROWS = env_int("INGEST_FLUSH_ROWS", 5000, minimum=1)  # rows a worker stores in one transaction
INGEST_FLUSH_MS = env_int("INGEST_FLUSH_MS", 200, minimum=1)  # longest a worker waits to fill a flush
INGEST_BUFFER_MAX = env_int("INGEST_BUFFER_MAX", 1_000_000, minimum=1)  # queued requests before 503
INGEST_CLAIM_IDLE_MS = env_int("INGEST_CLAIM_IDLE_MS", 60_000, minimum=1)  # a dead worker's entries, taken over
INGEST_MAX_DELIVERIES = env_int("INGEST_MAX_DELIVERIES", 5, minimum=1)  # then an entry is a dead letter
INGEST_LAG_DEGRADED_SECONDS = env_int("INGEST_LAG_DEGRADED_SECONDS", 30, minimum=1)  # /health degrades past it
# Where events are stored and reports read (README "ClickHouse"): the Django database, or ClickHouse,
# which the buffered worker alone writes to, a flush an insert; apps and keys stay in the Django database.
ANALYTICS_STORE = env_choice("ANALYTICS_STORE", "postgresql", ("postgresql", "clickhouse"))
# clickhouse://user:password@host:9000/database for a server, chdb:///absolute/dir for the engine in process.
CLICKHOUSE_URL = env_str("CLICKHOUSE_URL", "")
if ANALYTICS_STORE == "clickhouse":
    if not CLICKHOUSE_URL.startswith(("clickhouse://", "chdb://")):
        raise ImproperlyConfigured("ANALYTICS_STORE=clickhouse needs CLICKHOUSE_URL=clickhouse://... or chdb:///dir.")
    if INGEST_MODE != "buffered":
        raise ImproperlyConfigured(
            "ANALYTICS_STORE=clickhouse needs INGEST_MODE=buffered: only the worker writes to it."
        )
    if INGEST_MAX_BATCH > 4096:
        # The row's place in its request is 12 bits of the event's seq (events.sinks.entry_seq).
        raise ImproperlyConfigured(
            f"ANALYTICS_STORE=clickhouse allows INGEST_MAX_BATCH up to 4096, got {INGEST_MAX_BATCH}."
        )
# Days ClickHouse keeps an event (by its timestamp), set by clickhouse_migrate as the events table's TTL
# on servers that have TTL (19.6+); 0 keeps them forever and leaves the table as it is.
CLICKHOUSE_TTL_DAYS = env_int("CLICKHOUSE_TTL_DAYS", 0, minimum=0)
# A cluster of the server's remote_servers: clickhouse_migrate makes events a Distributed table over its
# shards (README "ClickHouse"). Empty: one node.
CLICKHOUSE_CLUSTER = env_str("CLICKHOUSE_CLUSTER", "")
# GET /metrics (Prometheus): allowed with `Authorization: Bearer <METRICS_TOKEN>`, or from these
# networks (the client address of analytics_project/client_ip.py); neither, a 403.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS", ["127.0.0.1/32", "::1/128"])
# Every other JSON body (registration, key management, funnels): the largest valid one, a register with
# 100 domains of 253 characters, is about 26 KiB.
JSON_MAX_BODY_BYTES = env_int("JSON_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
ANONYMIZE_IP = env_bool("ANONYMIZE_IP", False)
# Country from a header a trusted proxy sets (e.g. Cloudflare's CF-IPCountry); read only behind proxies.
COUNTRY_HEADER = env_str("COUNTRY_HEADER", "")
# A MaxMind GeoLite2/GeoIP2 (or DB-IP) country or city .mmdb file; without one, country is left empty.
GEOIP_DATABASE = env_str("GEOIP_DATABASE", "")
if GEOIP_DATABASE and not Path(GEOIP_DATABASE).is_file():
    raise ImproperlyConfigured(f"GEOIP_DATABASE {GEOIP_DATABASE!r} is not a readable file.")
REPORT_CACHE_TTL = env_int("REPORT_CACHE_TTL", 60)
RATELIMIT_USE_CACHE = "default"
# django-ratelimit refuses a per-process cache by default; the embedded default accepts that
# trade-off (README, "Rate limits"), and a deploy check warns when it reaches production.
SILENCED_SYSTEM_CHECKS = [
    "django_ratelimit.E003",
    "django_ratelimit.W001",
    "models.W040",  # SQLite ignores the covering index's INCLUDE columns; PostgreSQL uses them
]

# Logging: one JSON line per request on stdout (analytics_project.middleware) ---------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "analytics_project.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # The request log line replaces Django's own per-request warnings.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        # Failures and lock-outs are warnings; its INFO lines (a banner at every start) are noise.
        "axes": {"level": "WARNING"},
    },
}
