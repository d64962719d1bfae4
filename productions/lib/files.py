"""Atomic file writes and image files (pure helpers)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


def host_key(host: str) -> str:
    """A short, file-name-safe tag for a host name (temporaries say which host wrote them)."""
    return hashlib.blake2s(host.encode(), digest_size=4).hexdigest()


def temporary_path(final: Path) -> Path:
    """The hidden temporary name a write goes to before it is renamed into place. It names its writer
    (process id and host tag) so a cleanup can tell a live writer's file from one a crash left behind."""
    writer = f"{os.getpid()}-{host_key(socket.gethostname())}"
    return final.with_name(f".{final.stem}.tmp-{uuid.uuid4().hex[:8]}-{writer}{final.suffix}")


@dataclass(frozen=True)
class TemporaryWriter:
    """Who wrote a temporary file: a process id on the host whose host_key() is `host`."""

    pid: int
    host: str

    def is_this_host(self) -> bool:
        return self.host == host_key(socket.gethostname())


_WRITER = re.compile(r"\.tmp-[0-9a-f]{8}-(\d+)-([0-9a-f]{8})")


def temporary_writer(path: str | os.PathLike) -> TemporaryWriter | None:
    """The writer a temporary's name records; None for a name without one (written by an older version)."""
    found = _WRITER.search(Path(path).name)
    return TemporaryWriter(int(found.group(1)), found.group(2)) if found else None


@contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it over `final` only if the block succeeds.

    The temporary name keeps the extension so ffmpeg picks the right muxer. A crash (even SIGKILL) leaves at
    worst a stray `.tmp-*` file, never a truncated file under the final name.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp} was not written")
        os.replace(tmp, final)
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()


def remove_stale_temporaries(folder: str | os.PathLike, abandoned: Callable[[Path], bool]) -> int:
    """Delete the `.tmp-*` leftovers that `abandoned` says a crash left behind (a live writer's file is
    another worker's write in progress: never touch it). Returns how many were removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob(".*.tmp-*"):
        if abandoned(path):
            if path.is_dir() and not path.is_symlink():  # a staging folder (render.py's final video)
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


def save_image(frame: np.ndarray, path: str | os.PathLike, *, quality: int = 90) -> None:
    """Write an RGB frame as PNG or JPEG (by extension), atomically."""
    with atomic_path(path) as tmp:
        image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), "RGB")
        if tmp.suffix.lower() in {".jpg", ".jpeg"}:
            image.save(tmp, format="JPEG", quality=quality)
        else:
            image.save(tmp, format="PNG")


def load_image(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image as an RGB uint8 array, resized to (width, height) if given."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        if size and image.size != size:
            image = image.resize(size, Image.Resampling.LANCZOS)
        return np.asarray(image, dtype=np.uint8).copy()


def thumbnail(frame: np.ndarray, width: int = 320) -> np.ndarray:
    h, w = frame.shape[:2]
    height = max(2, round(h * width / w))
    image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), "RGB")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
