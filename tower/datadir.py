"""The data folder and the private files in it, made when first needed (never when the settings are imported).

`prepare_data_dir` runs when the app starts (ProductionsConfig.ready) and before the embedded Huey opens its
SQLite file; the generated secret key is read (or made once) the first time Django asks for SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path

import huey


def prepare_data_dir(path: str | os.PathLike[str]) -> Path:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_private_file(path: str | os.PathLike[str], text: str) -> bool:
    """Write `text` to a new file that only its owner can read, from the moment it exists (O_EXCL, mode 0600:
    never created readable and tightened afterwards). The file appears whole or not at all; another process
    that made it first wins. True when this call made it."""
    path = Path(path)
    prepare_data_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # atomic, and refuses to replace a file another process made first
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: create the file itself, private and exclusive
            return _write_exclusive(path, text)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _write_exclusive(path: Path, text: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return True


@cache
def generated_secret_key(data_dir: str) -> str:
    """The secret key kept in the data folder, made once (private) the first time any process needs it."""
    path = Path(data_dir) / "secret_key"
    if not path.exists():
        write_private_file(path, secrets.token_urlsafe(50))
    return path.read_text().strip()


class SqliteHuey(huey.SqliteHuey):
    """The embedded Huey: its SQLite file's folder is made when the queue opens, not when settings load."""

    def get_storage(self, **kwargs):
        filename = kwargs.get("filename")
        if filename:
            prepare_data_dir(Path(filename).parent)
        return super().get_storage(**kwargs)
