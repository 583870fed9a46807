"""fermonitor settings: one file, driven by environment variables (see .env.example).

With no variables set the app runs on SQLite and the in-memory channel layer, so a fresh clone works at once.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-dev-key-only-for-local-use"  # noqa: S105 - development default only

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "classes",
    "analytics",
    "analytics.live",
    "analytics.lms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language cookie, then the browser's Accept-Language; UserLanguageMiddleware below then applies the
    # user's own choice or their school's default.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After XFrameOptionsMiddleware: pages of a session started by an LTI launch may be framed by that LMS.
    "analytics.lms.lti.framing.LtiFrameMiddleware",
    "classes.middleware.SchoolScopeMiddleware",
    "classes.middleware.UserLanguageMiddleware",
    # Last, as django-axes asks, so it sees the final response of a login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fermonitor.urls"
ASGI_APPLICATION = "fermonitor.asgi.application"
WSGI_APPLICATION = None

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
                "classes.context_processors.school",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # An unreachable server (a network fault rather than a stopped one) fails a connect after this many
        # seconds instead of the operating system's minutes, so the sample writer backs off and /readyz answers.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5)
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Several Daphne workers and the sample writer share the file: wait for locks instead of failing,
            # and write-ahead logging so that pages and stream opens read while the sample writer writes (with
            # the rollback journal every read waited for each one-second batch and its roll-ups).
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_channel_layer(url: str, prefix: str = "asgi") -> dict:
    """CHANNEL_LAYERS for a Redis at `url` (also what the fault tests point at their throwaway Redis)."""
    import redis.exceptions

    return {
        "default": {
            "BACKEND": "analytics.live.layers.RedisChannelLayer",
            "CONFIG": {
                # `socket_timeout` None (redis-py 8 defaults to 5 s): with one set, redis-py sends every command
                # through `asyncio.wait_for`, which on Python 3.11 swallows a cancellation that arrives just as
                # the send finishes (CPython gh-86296). A live hub's receive loop cancelled at that moment ran on
                # for ever, and so did the test loop or Daphne shutdown waiting for it. Our own layer calls are
                # bounded with `asyncio.timeout` instead (hub, receivers, /readyz); a connect fails after 3 s, and
                # TCP keepalive probes find a Redis host that vanished without closing its connections in ~25 s.
                # After a Redis restart every pooled connection is dead: a call that meets one is retried once
                # on a fresh connection instead of failing.
                "hosts": [
                    {
                        "address": url,
                        "socket_timeout": None,
                        "socket_connect_timeout": 3,
                        "socket_keepalive": True,
                        "socket_keepalive_options": _keepalive_options(),
                        "retry_on_error": [redis.exceptions.ConnectionError],
                    }
                ],
                "capacity": 1500,
                "expiry": 10,
                "prefix": prefix,
            },
        }
    }


def _keepalive_options() -> dict:
    """First probe after 10 s idle, then every 5 s; 3 unanswered probes close the connection (Linux names)."""
    import socket

    wanted = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}
    return {getattr(socket, name): value for name, value in wanted.items() if hasattr(socket, name)}


REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # Processes that must not hear each other on one Redis (parallel test workers) differ in the prefix.
    CHANNEL_LAYERS = redis_channel_layer(REDIS_URL, os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"))
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_USER_MODEL = "classes.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Brute-force lockout (django-axes): lock the username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "en"
# Every page, form, message and script string is translated (locale/<code>/LC_MESSAGES; `make messages`).
LANGUAGES = [("en", "English"), ("hi", "Hindi")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end packages come from npm (package.json); node_modules is served as a static source.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", BASE_DIR / "node_modules")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "fermonitor API",
    "DESCRIPTION": "REST API for LMS integration: classes, rosters, sessions and emotion summaries.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Inference and live streaming
FERMONITOR_MODELS_DIR = Path(os.environ.get("FERMONITOR_MODELS_DIR", str(BASE_DIR / "models")))
FERMONITOR_EMOTION_MODEL = os.environ.get("FERMONITOR_EMOTION_MODEL", "")
# Flip test-time augmentation: each face is classified with its mirror image (about +2 points of accuracy for
# twice the classifier's cost). Unset: the model card decides (on for every model fermonitor serves); 0 turns it off.
FERMONITOR_FLIP_TTA = (
    env_bool("FERMONITOR_FLIP_TTA") if os.environ.get("FERMONITOR_FLIP_TTA", "").strip() else None
)
FERMONITOR_MAX_FRAME_BYTES = env_int("FERMONITOR_MAX_FRAME_BYTES", 256 * 1024)
FERMONITOR_INFERENCE_WORKERS = env_int("FERMONITOR_INFERENCE_WORKERS", os.cpu_count() or 1)
# The teacher's capture of a video call: frames at most this large (a 1920x1080 gallery JPEG is ~200-500 KB) and
# this wide/high; a capture socket that comes back within the resume period keeps its participants' numbers.
FERMONITOR_MAX_CAPTURE_BYTES = env_int("FERMONITOR_MAX_CAPTURE_BYTES", 1024 * 1024)
FERMONITOR_CAPTURE_MAX_SIDE = env_int("FERMONITOR_CAPTURE_MAX_SIDE", 1920)
FERMONITOR_CAPTURE_RESUME_SECONDS = env_int("FERMONITOR_CAPTURE_RESUME_SECONDS", 60)

# Recorded lessons: uploads wait here (outside the repository and static files, never served) until analysed, then
# are deleted. The analysis runs as a durable background task (django-tasks, database backend: `manage.py
# db_worker`); a job whose worker stopped sending heartbeats for FERMONITOR_RECORDING_STALE_SECONDS is re-queued.
FERMONITOR_RECORDINGS_DIR = Path(
    os.environ.get("FERMONITOR_RECORDINGS_DIR")
    or Path.home() / ".local" / "share" / "fermonitor" / "recordings"
)
FERMONITOR_RECORDING_MAX_BYTES = env_int("FERMONITOR_RECORDING_MAX_BYTES", 4 * 1024**3)
FERMONITOR_RECORDING_FPS = float(os.environ.get("FERMONITOR_RECORDING_FPS", "1"))
FERMONITOR_RECORDING_STALE_SECONDS = env_int("FERMONITOR_RECORDING_STALE_SECONDS", 60)
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Samples held in memory while the database is away; when full, frames get `storage_unavailable` (docs/operations.md).
FERMONITOR_SAMPLE_BUFFER_ROWS = env_int("FERMONITOR_SAMPLE_BUFFER_ROWS", 50_000)

# The address schools' systems reach this server at (e.g. https://fermonitor.school.org): the base of the LTI
# URLs given to LMSs (docs/lti.md) and the default base of xAPI activity ids and accounts (docs/xapi.md).
FERMONITOR_PUBLIC_URL = os.environ.get("FERMONITOR_PUBLIC_URL", "").rstrip("/")
# How the outbox (webhooks, xAPI) makes first attempts: thread (after the commit, in the background), sync (at
# once, in the request) or queue (only `manage.py deliver_outbox` sends).
FERMONITOR_WEBHOOK_DELIVERY = os.environ.get("FERMONITOR_WEBHOOK_DELIVERY", "thread")
if FERMONITOR_WEBHOOK_DELIVERY not in ("thread", "sync", "queue"):
    raise RuntimeError("FERMONITOR_WEBHOOK_DELIVERY must be thread, sync or queue")
# The first pause before retrying a failed webhook or statement (then doubling).
FERMONITOR_OUTBOX_BACKOFF_SECONDS = env_int("FERMONITOR_OUTBOX_BACKOFF_SECONDS", 30)
FERMONITOR_XAPI_BATCH_SIZE = env_int("FERMONITOR_XAPI_BATCH_SIZE", 50)
FERMONITOR_XAPI_SETTLE_SECONDS = env_int("FERMONITOR_XAPI_SETTLE_SECONDS", 15)
FERMONITOR_XAPI_REJOIN_GAP_SECONDS = env_int("FERMONITOR_XAPI_REJOIN_GAP_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    # LTI launches open fermonitor inside the LMS's iframe, a cross-site context where browsers send only
    # SameSite=None cookies (and accept those only with Secure, i.e. over HTTPS). Without them a launch still
    # works, in a new window. CSRF tokens keep protecting every form.
    if SESSION_COOKIE_SECURE and env_bool("LTI_IFRAME_COOKIES", True):
        SESSION_COOKIE_SAMESITE = "None"
        CSRF_COOKIE_SAMESITE = "None"

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (see README), so request.is_secure() is true and the
# LTI URLs shown to the LMS are https.
if env_bool("BEHIND_HTTPS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# LTI (docs/lti.md): the URLs given to LMSs are built from FERMONITOR_PUBLIC_URL (empty: each request's host).
# LTI roster syncs after teacher launches and attendance after lessons: "thread" (default), "sync" or "off".
FERMONITOR_LTI_BACKGROUND = os.environ.get("FERMONITOR_LTI_BACKGROUND", "thread")

# Test runs (and the live servers they start) hash passwords cheaply; never set this in production.
if env_bool("FERMONITOR_FAST_HASHER"):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
