"""Run `manage.py` (or a snippet) in a fresh process on the real settings, with a clean TOWER_* environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWER_")}
    env.update(DJANGO_SETTINGS_MODULE="tower.settings", TOWER_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def manage(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=clean_env(data_dir, **extra),
                          capture_output=True, text=True, timeout=120)


def python(data_dir: Path, code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(data_dir, **extra),
                          capture_output=True, text=True, timeout=120)
