"""Prompt Portal settings: every value comes from the environment (see .env.example and docs/operations.md)."""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is a convenience for developers; real deployments set the environment directly.
# ENV_FILE names another file to read, or none at all when empty; real environment variables always win.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-debug"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "portal.apps.PortalConfig",
    "accounts",
    "prompts",
    "chatbot",
    "maze",
    "health",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.BearerTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    # Last, so it sees the lockout flag AxesBackend set while the login view authenticated.
    "axes.middleware.AxesMiddleware",
]

# --- Deployment security (see docs/deployment.md, "Production settings") -----------------------------------------
CONTENT_SECURITY_POLICY = env.str(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
)
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=False)  # true behind HTTPS
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Ask browsers' preload lists to hard-code HTTPS for the domain (a commitment: only once HTTPS is permanent).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
if env.bool("BEHIND_TLS_PROXY", default=False):
    # nginx terminates TLS and says so in X-Forwarded-Proto (deploy/nginx/prompt-portal.conf).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "portal.api.csrf_failure"

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # daphne and the worker write from two processes: WAL lets readers run beside the writer, and
    # IMMEDIATE transactions plus a busy timeout make writers queue instead of failing "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Django's advice under ASGI: no persistent connections (per-request threads would strand them). Raise it only
# for a process whose database work runs on long-lived threads.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=0))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes refuses a locked-out username/address pair before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Sessions that logged in while this project had a backend of its own name it; it is Django's, unchanged.
    "accounts.backends.PooledModelBackend",
]
# Login throttling (django-axes): this many failed logins for one username from one address lock that pair
# out (HTTP 429) for the cool-off. Pairing the two keeps one attacker from locking a victim out everywhere.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Axes would log every attempt at INFO with the address; failures alone are worth keeping.
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_DISABLE_ACCESS_LOG = True

# Password reset mails: files in var/mail/ in development (never the console: a reset link in the web log is a
# login for whoever reads the log), SMTP in production (e.g. smtp+tls://user:pass@host:587).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="filemail:///var/mail")
if EMAIL_CONFIG.get("EMAIL_FILE_PATH") and not Path(EMAIL_CONFIG["EMAIL_FILE_PATH"]).is_absolute():
    EMAIL_CONFIG["EMAIL_FILE_PATH"] = str(BASE_DIR / EMAIL_CONFIG["EMAIL_FILE_PATH"])  # relative to the project
vars().update(EMAIL_CONFIG)
# Password reset requests (count/seconds) per e-mail address and per client address; past them 429, no mail.
PASSWORD_RESET_LIMIT_PER_ADDRESS = env.str("PASSWORD_RESET_LIMIT_PER_ADDRESS", default="3/3600")
PASSWORD_RESET_LIMIT_PER_CLIENT = env.str("PASSWORD_RESET_LIMIT_PER_CLIENT", default="10/3600")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Prompt Portal <noreply@localhost>")
# Seconds between two polls of /api/announcements by every open page (the server tells the pages, so it applies
# without a reload); each poll is one small query, or a 304.
ANNOUNCEMENT_POLL_INTERVAL = env.float("ANNOUNCEMENT_POLL_INTERVAL", default=30.0)

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/chat/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# daphne serves /static/ itself unless a reverse proxy does (set SERVE_STATIC=false behind nginx).
SERVE_STATIC = env.bool("SERVE_STATIC", default=True)

# --- Channel layer: the only path between daphne and the MQTT worker -------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis's pub/sub layer: a send is one PUBLISH and a receive is pushed to the subscriber,
            # against four to six round trips per message for its sorted-set layer (a chat turn crosses the layer
            # three times). Nothing is queued for a channel nobody reads, which every sender here expects: chat
            # requests go to a live worker and are answered 503 if it does not acknowledge within
            # CHAT_ACCEPT_TIMEOUT; replies and hints are stored before they are sent.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                # Several URLs shard the layer: each channel and group lives on one server, by a consistent hash
                # of its name. Shared worker state and rate limits stay on REDIS_URL.
                "hosts": [
                    {"address": url, "socket_timeout": 15, "socket_connect_timeout": 3}
                    for url in [u for u in env.list("CHANNEL_LAYER_REDIS_URLS", default=[]) if u] or [REDIS_URL]
                ],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="portal"),
            },
        }
    }
else:
    # Single-process unit tests only: the in-memory layer cannot cross processes.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- MQTT link (portal/mqtt) ------------------------------------------------------------------------------
MQTT = {
    "BROKER_HOST": env.str("MQTT_BROKER_HOST", default="127.0.0.1"),
    "BROKER_PORT": env.int("MQTT_BROKER_PORT", default=1883),
    "USERNAME": env.str("MQTT_USERNAME", default=""),
    "PASSWORD": env.str("MQTT_PASSWORD", default=""),
    # TLS to the broker; the broker's certificate and host name are always verified (no switch to skip that).
    "TLS": env.bool("MQTT_TLS", default=False),
    "TLS_CA_FILE": env.str("MQTT_TLS_CA_FILE", default=""),  # empty: the system's CA bundle
    "TLS_CERT_FILE": env.str("MQTT_TLS_CERT_FILE", default=""),  # client certificate, if the broker wants one
    "TLS_KEY_FILE": env.str("MQTT_TLS_KEY_FILE", default=""),
    # Base of the worker's client id; each running worker claims "<base>_w<N>" (see portal/mqtt/identity.py).
    "CLIENT_ID": env.str("MQTT_CLIENT_ID", default="prompt_portal_backend"),
    "KEEPALIVE": env.int("MQTT_KEEPALIVE", default=10),
    # Reconnect every RECONNECT_INTERVAL s (jittered) through the first RECONNECT_FAST_PERIOD s of an outage, then
    # back off exponentially up to RECONNECT_MAX_DELAY (portal/mqtt/reconnect.py).
    "RECONNECT_INTERVAL": env.float("MQTT_RECONNECT_INTERVAL", default=0.5),
    "RECONNECT_FAST_PERIOD": env.float("MQTT_RECONNECT_FAST_PERIOD", default=60.0),
    "RECONNECT_MAX_DELAY": env.float("MQTT_RECONNECT_MAX_DELAY", default=30.0),
    "MAX_RECONNECT_ATTEMPTS": env.int("MQTT_MAX_RECONNECT_ATTEMPTS", default=0),
    "PROBE_INTERVAL": env.float("MQTT_PROBE_INTERVAL", default=5.0),
    "PROBE_TIMEOUT": env.float("MQTT_PROBE_TIMEOUT", default=5.0),
    "MAX_PAYLOAD_BYTES": env.int("MQTT_MAX_PAYLOAD_BYTES", default=262144),
    "TOPIC_USER_INPUT": env.str("MQTT_TOPIC_USER_INPUT", default="prompt_portal/user_input"),
    "TOPIC_ASSISTANT_RESPONSE": env.str("MQTT_TOPIC_ASSISTANT_RESPONSE", default="prompt_portal/assistant_response"),
    "TOPIC_STATE": env.str("MQTT_TOPIC_STATE", default="maze/state"),
    "TOPIC_HINT": env.str("MQTT_TOPIC_HINT", default="maze/hint/+"),
    "TOPIC_TEMPLATE": env.str("MQTT_TOPIC_TEMPLATE", default="maze/template"),
    "TOPIC_LLM_STATUS": env.list("MQTT_TOPIC_LLM_STATUS", default=["maze/status", "prompt_portal/status"]),
    "TOPIC_PROBE": env.str("MQTT_TOPIC_PROBE", default="prompt_portal/probe"),
    # "Stop this answer" (docs/protocol.md "Cancel"); a service that does not know it finishes the answer anyway.
    "TOPIC_CANCEL": env.str("MQTT_TOPIC_CANCEL", default="prompt_portal/cancel"),
}

# --- Long-running processes -----------------------------------------------------------------------------
# uvloop or asyncio: the event loop of daphne (started by portal/serve_web.py) and the worker (portal/event_loop.py).
EVENT_LOOP = env.str("EVENT_LOOP", default="uvloop")
if EVENT_LOOP not in ("uvloop", "asyncio"):
    raise ImproperlyConfigured(f"EVENT_LOOP must be uvloop or asyncio, not {EVENT_LOOP!r}.")

# --- Worker and requests ----------------------------------------------------------------------------------
CHAT_REPLY_TIMEOUT = env.float("CHAT_REPLY_TIMEOUT", default=45.0)
CHAT_MAX_MESSAGE_CHARS = env.int("CHAT_MAX_MESSAGE_CHARS", default=8000)
# Streamed answers (docs/protocol.md "Streamed answers"): ask the LLM service to stream; relay the text at most
# once per FLUSH_INTERVAL s per request (the first words at once); while chunks come, a request ends only after
# IDLE_TIMEOUT s without one (or at CHAT_REPLY_TIMEOUT, whichever is later; WORKER_PENDING_MAX_AGE in all).
CHAT_STREAM = env.bool("CHAT_STREAM", default=True)
CHAT_STREAM_FLUSH_INTERVAL = env.float("CHAT_STREAM_FLUSH_INTERVAL", default=0.04)
CHAT_STREAM_IDLE_TIMEOUT = env.float("CHAT_STREAM_IDLE_TIMEOUT", default=15.0)
WORKER = {
    "HEARTBEAT_INTERVAL": env.float("WORKER_HEARTBEAT_INTERVAL", default=2.0),
    "PENDING_MAX": env.int("WORKER_PENDING_MAX", default=2000),
    # The longest any request may wait for its answer, streamed or not (a long answer that keeps streaming).
    "PENDING_MAX_AGE": env.float("WORKER_PENDING_MAX_AGE", default=300.0),
    # Circuit breaker: after this many consecutive timeouts refuse chat at once for the cool-down.
    "BREAKER_THRESHOLD": env.int("LLM_BREAKER_THRESHOLD", default=5),
    "BREAKER_COOLDOWN": env.float("LLM_BREAKER_COOLDOWN", default=30.0),
    "LLM_STATUS_TIMEOUT": env.float("LLM_STATUS_TIMEOUT", default=90.0),
    # At most one request per chat session is in flight to the LLM; this many more may wait their turn (then 429).
    "SESSION_QUEUE_MAX": env.int("CHAT_SESSION_QUEUE_MAX", default=5),
    # Feature apps plug their database work into the worker here (portal.mqtt.engine.EngineHooks), so portal/mqtt
    # imports no feature app.
    "HOOKS": {
        "begin_chat_turn": "chatbot.replies.begin_chat_turn",
        "cancel_chat_turn": "chatbot.replies.cancel_chat_turn",
        "store_chat_reply": "chatbot.replies.store_chat_reply",
        "store_hint": "maze.hints.store_hint",
    },
    # Coroutines the worker runs beside the MQTT link, each `run(stop, *, worker_id)` (stop: an asyncio.Event).
    "BACKGROUND": ["maze.evaluation_runner.run"],
}

# --- Logging ----------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"deliberate_unavailable": {"()": "portal.logfilters.DeliberateUnavailableFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"filters": ["deliberate_unavailable"]},
        # daphne's access log: one line per request is noise at INFO under load.
        "django.channels.server": {"level": "WARNING"},
        # django-axes logs every successful login at INFO; the lockouts it logs at WARNING are what matter.
        "axes": {"level": "WARNING"},
    },
}
# Per-user rate limits ("count/seconds", "0" = off): chat messages and maze hint requests answer 429 past them.
CHAT_RATE_LIMIT = env.str("CHAT_RATE_LIMIT", default="30/60")
HINT_RATE_LIMIT = env.str("HINT_RATE_LIMIT", default="120/60")
# Maze: at most one state message per game this often (a hint request is sent at once).
MAZE_STATE_MIN_INTERVAL = env.float("MAZE_STATE_MIN_INTERVAL", default=0.5)
# A template try (POST /api/templates/<id>/try) waits this long for the hint before 504.
MAZE_TRY_TIMEOUT = env.float("MAZE_TRY_TIMEOUT", default=30)
# Template evaluations (maze/evaluation_runner.py): seeded autopilot games a worker plays with the live LLM.
MAZE_EVALUATION = {
    "MAX_GAMES": env.int("EVALUATION_MAX_GAMES", default=20),  # games one evaluation may ask for
    # Evaluations playing at once over all workers; each holds at most one hint request in flight.
    "MAX_RUNNING": env.int("EVALUATION_MAX_RUNNING", default=2),
    "MAX_PER_USER": env.int("EVALUATION_MAX_PER_USER", default=2),  # queued or running, per user (then 429)
    "MAX_HINTS_PER_GAME": env.int("EVALUATION_MAX_HINTS_PER_GAME", default=30),  # then the game counts as lost
    "HINT_TIMEOUT": env.float("EVALUATION_HINT_TIMEOUT", default=30.0),  # one hint's wait
    # Seconds at least between two hint requests of one evaluation: the LLM service is shared with the players.
    "HINT_INTERVAL": env.float("EVALUATION_HINT_INTERVAL", default=0.5),
    # A running evaluation whose worker has not said it is alive for this long was interrupted: it is resumed
    # (the unfinished game played again) up to MAX_ATTEMPTS claims, then marked failed.
    "STALE_AFTER": env.float("EVALUATION_STALE_AFTER", default=30.0),
    "MAX_ATTEMPTS": env.int("EVALUATION_MAX_ATTEMPTS", default=3),
    "POLL_INTERVAL": env.float("EVALUATION_POLL_INTERVAL", default=1.0),  # how often a worker looks for work
}
# Frames one WebSocket may send per second on average, and in one burst (portal/throttle.py); 0 = no limit.
# Generous for people (a held arrow key repeats about 30 times a second), fatal for a loop flooding frames.
WS_FRAME_RATE = env.float("WS_FRAME_RATE", default=30)
WS_FRAME_BURST = env.int("WS_FRAME_BURST", default=60)
# Open WebSockets one user may have over all web processes (portal/socket_cap.py); past it closed with 4430. 0 = no cap.
WS_MAX_SOCKETS_PER_USER = env.int("WS_MAX_SOCKETS_PER_USER", default=20)
# How long a web process waits for a worker to acknowledge a chat request before answering 503.
# Long enough for a worker to acknowledge when web and worker are saturated (at 100 concurrent chats on two
# cores a 1 s limit turned some into 503s); short enough that a worker killed -9 costs a request 2 s, not 45.
# A worker that stopped is found by its shared state within a second (or three missed heartbeats if killed
# outright); this bounds only a live worker's acknowledgement, so a burst that keeps it busy is answered, not refused.
CHAT_ACCEPT_TIMEOUT = env.float("CHAT_ACCEPT_TIMEOUT", default=10.0)

# --- Health thresholds (health app) ------------------------------------------------------------------------
HEALTH = {
    "PENDING_DEGRADED": env.int("HEALTH_PENDING_DEGRADED", default=50),
    "INACTIVITY_DEGRADED": env.float("HEALTH_INACTIVITY_DEGRADED", default=300.0),
    "PROBE_SLOW_MS": env.float("HEALTH_PROBE_SLOW_MS", default=1000.0),
    # Bearer token for monitoring systems on /api/health/mqtt and /metrics (empty: staff sessions only).
    "TOKEN": env.str("HEALTH_TOKEN", default=""),
}
