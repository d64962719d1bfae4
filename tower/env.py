"""Reading configuration from environment variables (pure helpers, no Django)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlparse

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _improperly_configured(message: str) -> Exception:
    from django.core.exceptions import ImproperlyConfigured

    return ImproperlyConfigured(message)


def env_bool(name: str, default: bool = False) -> bool:
    """On/off from the environment; anything but the usual words stops start-up naming the variable."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise _improperly_configured(f"{name}={os.environ[name]!r} is not on or off: use one of "
                                 f"{', '.join(TRUE_WORDS)} or {', '.join(FALSE_WORDS)}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """A whole number from the environment; a malformed or too small one stops start-up naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _improperly_configured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise _improperly_configured(f"{name}={value!r} must be a whole number of at least {minimum}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None, positive: bool = False) -> float:
    """A number from the environment; a malformed, too small (or, with `positive`, zero or negative) one stops
    start-up naming the variable."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise _improperly_configured(f"{name}={value!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise _improperly_configured(f"{name}={value!r} is not a finite number")
    if minimum is not None and number < minimum:
        raise _improperly_configured(f"{name}={value!r} must be a number of at least {minimum:g}")
    if positive and number <= 0:
        raise _improperly_configured(f"{name}={value!r} must be a number above 0")
    return number


def env_str(name: str, default: str = "") -> str:
    """Text from the environment, trimmed; blank means the default."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return list(default or [])
    return [item.strip() for item in value.split(",") if item.strip()]


def sqlite_database(path: str) -> dict:
    # The web server and the worker write concurrently: WAL lets readers run beside a writer, and IMMEDIATE
    # transactions take the write lock up front so they wait for it instead of failing half-way.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def database_from_url(url: str, *, pool_max: int = 20, pool_timeout_s: float = 30.0) -> dict:
    """`postgres://user:pass@host:port/name` or `sqlite:///path` -> a Django DATABASES entry.

    PostgreSQL goes through psycopg's connection pool, one per process: under daphne every request runs in a
    thread of its own, and persistent connections (CONN_MAX_AGE) left one open per thread until the server ran
    out. A request borrows a connection and gives it back when it ends; past `pool_max` it waits up to
    `pool_timeout_s` for one. `pool_max=0`: no pool, a connection per request (behind PgBouncer)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        return sqlite_database(unquote(parsed.path) or ":memory:")
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        options: dict = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        if pool_max:
            options["pool"] = {"min_size": min(2, pool_max), "max_size": pool_max, "timeout": pool_timeout_s}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(parsed.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 0,  # the pool keeps connections; Django refuses both at once
            "CONN_HEALTH_CHECKS": True,
        }
    raise ValueError(f"unsupported database URL scheme {parsed.scheme!r} (use sqlite:/// or postgres://)")


def _option_value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_model_options(text: str) -> dict[str, dict[str, int | float | str]]:
    """`"svd_xt.ckpt_name=a.safetensors; wan22_ti2v_5b.steps=8"` -> {"svd_xt": {"ckpt_name": "a.safetensors"},
    "wan22_ti2v_5b": {"steps": 8}}. Numbers become numbers. A malformed entry raises ImproperlyConfigured."""
    from django.core.exceptions import ImproperlyConfigured

    options: dict[str, dict[str, int | float | str]] = {}
    for raw in text.replace("\n", ";").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        name, _, value = entry.partition("=")
        model, _, key = name.strip().partition(".")
        if not value.strip() or not model or not key:
            raise ImproperlyConfigured(f"TOWER_MODEL_OPTIONS: {entry!r} is not MODEL.KEY=VALUE (e.g. "
                                       "svd_xt.ckpt_name=svd_xt_1_1.safetensors)")
        options.setdefault(model.strip(), {})[key.strip()] = _option_value(value.strip())
    return options
