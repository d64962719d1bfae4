"""Tower settings. Everything that differs between a laptop and a studio comes from environment variables.

Embedded default (no variables set): SQLite, a SQLite-backed Huey, a channel layer on a SQLite file beside
them, the built-in generator. Studio: TOWER_DATABASE_URL=postgres://..., TOWER_REDIS_URL=redis://...
(Huey on Redis + channels_redis), TOWER_BACKEND=comfyui with TOWER_COMFYUI_URLS.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from productions.lib.encoding import X264_PRESETS
from productions.lib.model_profiles import DEFAULT_KEYFRAME_MODEL
from tower.env import (
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    parse_model_options,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("TOWER_DATA_DIR", BASE_DIR / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """TOWER_SECRET_KEY, else one generated once and kept in the data folder (never committed)."""
    if os.environ.get("TOWER_SECRET_KEY"):
        return os.environ["TOWER_SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(50))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("TOWER_DEBUG", False)
ALLOWED_HOSTS = env_list("TOWER_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("TOWER_CSRF_TRUSTED_ORIGINS")

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

if os.environ.get("TOWER_DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["TOWER_DATABASE_URL"])}
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TOWER_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
# Rendered files. With workers on several hosts this must be storage they all share (e.g. an NFS mount).
MEDIA_ROOT = Path(os.environ.get("TOWER_MEDIA_ROOT", DATA_DIR / "media")).resolve()
MEDIA_URL = "media/"
TOWER_SERVE_STATIC = env_bool("TOWER_SERVE_STATIC", True)

# --- The worker (Huey) ---------------------------------------------------------------------------------
REDIS_URL = os.environ.get("TOWER_REDIS_URL", "")
HUEY_WORKERS = env_int("TOWER_HUEY_WORKERS", 1)
if REDIS_URL:
    HUEY = {
        "huey_class": "productions.stopping.PriorityRedisHuey",  # hands renders back on a stop
        "name": os.environ.get("TOWER_HUEY_NAME", "tower"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": HUEY_WORKERS, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "productions.stopping.SqliteHuey",  # hands renders back on a stop
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
CHANNELS_PREFIX = os.environ.get("TOWER_CHANNELS_PREFIX", "tower")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                    "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNELS_PREFIX}}
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "productions.channel_layer.SQLiteChannelLayer",
                                  "CONFIG": {"path": str(DATA_DIR / "channels.sqlite3")}}}
# How often a render worker reports itself and its GPUs to the monitor (seconds).
TOWER_HEARTBEAT_S = float(os.environ.get("TOWER_HEARTBEAT_S", "5"))

# --- Generation ----------------------------------------------------------------------------------------
TOWER_BACKEND = os.environ.get("TOWER_BACKEND", "builtin")  # builtin | comfyui
TOWER_COMFYUI_URLS = env_list("TOWER_COMFYUI_URLS")
# A worker that has not touched its episode for this long is presumed dead; another may take it over.
TOWER_LEASE_S = env_int("TOWER_LEASE_S", 120)
TOWER_UPSCALER = os.environ.get("TOWER_UPSCALER", "auto")  # auto | realesrgan | lanczos
# Real-ESRGAN's model: a catalogue name (realesr-animevideov3, RealESRGAN_x4plus_anime_6B, ...) or a weights file;
# official .pth files are looked for in TOWER_MODELS_DIR. Checked at start-up (productions/checks.py).
TOWER_UPSCALE_MODEL = os.environ.get("TOWER_UPSCALE_MODEL", "realesr-animevideov3")
# Where Real-ESRGAN runs: empty = CUDA when available, else the CPU; or e.g. "cuda:1" on a host with several GPUs.
TOWER_UPSCALE_DEVICE = os.environ.get("TOWER_UPSCALE_DEVICE", "")
# A segment failing a blocking QA check is regenerated with a new seed up to this many tries in all.
TOWER_QA_MAX_ATTEMPTS = env_int("TOWER_QA_MAX_ATTEMPTS", 3)
# x264 preset of the delivery encode (every preset stays High profile; slower ones cost CPU, not conformance).
TOWER_X264_PRESET = os.environ.get("TOWER_X264_PRESET", "veryfast").strip()
if TOWER_X264_PRESET not in X264_PRESETS:
    raise ImproperlyConfigured(f"TOWER_X264_PRESET={TOWER_X264_PRESET!r} is not an x264 preset: use one of "
                               f"{', '.join(X264_PRESETS)}")
# Workflows and model profiles an admin adds (beside the shipped ones in workflows/; same names replace them).
TOWER_WORKFLOWS_DIR = os.environ.get("TOWER_WORKFLOWS_DIR", "").strip()
# The video model episodes use unless they choose one (a profile name: workflows/NAME.profile.json, see
# `manage.py plan --list`); blank: the built-in generator's, or SVD-XT with TOWER_BACKEND=comfyui. Checked at
# start-up (productions/checks.py).
TOWER_VIDEO_MODEL = os.environ.get("TOWER_VIDEO_MODEL", "").strip()
# VRAM discipline on ComfyUI servers (the seed: under 10 GB on a 12 GB card): a model whose profile estimates
# more than min(budget, the server's GPU memory) is not sent there; a server with less GPU memory than
# TOWER_COMFYUI_FREE_BELOW_GB is asked to unload (POST /free) before a job of another model.
TOWER_VRAM_BUDGET_GB = env_float("TOWER_VRAM_BUDGET_GB", 10.0, minimum=1.0)
TOWER_COMFYUI_FREE_BELOW_GB = env_float("TOWER_COMFYUI_FREE_BELOW_GB", 16.0, minimum=0.0)
# The keyframe (txt2img) model: an image profile (sdxl, sd15, or an admin's own).
TOWER_KEYFRAME_MODEL = os.environ.get("TOWER_KEYFRAME_MODEL", DEFAULT_KEYFRAME_MODEL).strip()
# Per model: its files and settings, without editing or copying a workflow:
# "svd_xt.ckpt_name=svd_xt_1_1.safetensors; wan22_ti2v_5b.steps=8; sdxl.ckpt_name=animagine-xl.safetensors".
# A key that is one of the profile's files replaces that file; any other is a workflow parameter (steps, cfg,
# sampler_name, lora_name...). Names and keys are checked at start-up (productions/checks.py).
TOWER_MODEL_OPTIONS = parse_model_options(os.environ.get("TOWER_MODEL_OPTIONS", ""))
# Where generation happens is the model profile's native size; TOWER_NATIVE_SIZE=WxH overrides it for every
# model (small test runs). Upscaling takes it to the delivery size.
TOWER_NATIVE_SIZE = None
if os.environ.get("TOWER_NATIVE_SIZE", "").strip():
    try:
        TOWER_NATIVE_SIZE = tuple(int(v) for v in os.environ["TOWER_NATIVE_SIZE"].lower().split("x"))
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
    "root": {"handlers": ["console"], "level": os.environ.get("TOWER_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
