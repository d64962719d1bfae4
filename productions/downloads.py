"""Serving rendered files to signed-in users.

A file is streamed in chunks of CHUNK bytes, so serving it costs the same memory whatever its size: under
ASGI (daphne) through an asynchronous iterator that reads each chunk in a thread (Django 5.2 would read a
synchronous iterator whole into memory first), under WSGI (the test client) through an ordinary one.
Browsers seek with HTTP Range requests: one range ("bytes=A-B", "bytes=A-", "bytes=-N") is answered 206 with
Content-Range, one that starts past the end 416 with "bytes */SIZE". A request for several ranges, or a
malformed Range, is answered with the whole file (200), as RFC 9110 allows a server to ignore Range; so is a
Range whose If-Range no longer matches the file. HEAD answers the headers without reading the file.

With TOWER_SENDFILE set (the studio shape behind nginx, Apache or lighttpd) the app only checks access and
answers an empty response naming the file (X-Accel-Redirect or X-Sendfile); the web server sends it and
handles Range itself.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

CHUNK = 256 * 1024
# One range only; at most 30 digits per bound (more is no file of ours, and would only cost int()).
RANGE_RE = re.compile(r"^bytes=[ \t]*(\d{0,30})[ \t]*-[ \t]*(\d{0,30})[ \t]*$", re.IGNORECASE)
NAME_MAX = 150  # characters of the title kept in a download's file name


def download_name(episode, suffix: str) -> str:
    """The file name a download of `episode` is offered as: its title, then `suffix` (e.g. "-segment-03.mp4").
    Line breaks, tabs and other control or invisible characters become spaces, path separators dashes, runs of
    spaces one; an empty result falls back to "episode-ID". The header itself is encoded by Django
    (content_disposition_header), so quotes and non-ASCII letters survive."""
    title = "".join(" " if _unprintable(ch) else ch for ch in episode.title)
    title = " ".join(title.replace("/", "-").replace("\\", "-").split())[:NAME_MAX].strip(" .")
    return f"{title or f'episode-{episode.pk}'}{suffix}"


def _unprintable(ch: str) -> bool:
    """Control, format (bidi overrides...), surrogate, private-use, unassigned and separator characters; the
    zero-width joiner stays, emoji sequences need it."""
    return unicodedata.category(ch)[0] in "CZ" and ch != "\u200d"


def serve_file(request: HttpRequest, path: Path, filename: str) -> HttpResponse:
    """Answer a GET or HEAD for `path` (a file under MEDIA_ROOT), offered to the browser as `filename`."""
    stat = path.stat()
    size = stat.st_size
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    handoff = _handoff_header(path)
    if handoff:
        response = HttpResponse(content_type=content_type)
        response[handoff[0]] = handoff[1]
        return _common_headers(response, filename, stat)

    etag = f'"{stat.st_mtime_ns:x}-{size:x}"'
    byte_range = None
    if _if_range_holds(request, etag, int(stat.st_mtime)):
        byte_range = _requested_range(request.headers.get("Range", ""), size)
    if byte_range == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = byte_range or (0, size - 1)
    length = max(0, end - start + 1)
    status = 206 if byte_range else 200
    if request.method == "HEAD" or length == 0:
        response = HttpResponse(status=status, content_type=content_type)
    elif isinstance(request, ASGIRequest):
        response = StreamingHttpResponse(_chunks_async(path, start, length), status=status,
                                         content_type=content_type)
    else:
        response = StreamingHttpResponse(_chunks(path, start, length), status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    if byte_range:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["ETag"] = etag
    return _common_headers(response, filename, stat)


def _common_headers(response: HttpResponse, filename: str, stat) -> HttpResponse:
    response["Accept-Ranges"] = "bytes"
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Content-Disposition"] = content_disposition_header(False, filename)
    return response


def _handoff_header(path: Path) -> tuple[str, str] | None:
    """(header, value) that hands `path` to the front web server, or None to stream it from here."""
    mode = settings.TOWER_SENDFILE
    if not mode:
        return None
    # Absolute but not resolved: a symlinked folder under MEDIA_ROOT stays under the web server's mapping.
    absolute = Path(os.path.abspath(path))
    if mode == "x-sendfile":
        return "X-Sendfile", quote(str(absolute), safe="/")
    relative = absolute.relative_to(os.path.abspath(settings.MEDIA_ROOT))
    return "X-Accel-Redirect", settings.TOWER_SENDFILE_PREFIX.rstrip("/") + "/" + quote(relative.as_posix())


def _if_range_holds(request: HttpRequest, etag: str, mtime: int) -> bool:
    """False when the client sent If-Range for another version of the file: then it gets the whole file."""
    validator = request.headers.get("If-Range", "").strip()
    if not validator:
        return True
    if validator.startswith(('"', "W/")):
        return validator == etag  # a strong comparison: a weak tag never matches
    return parse_http_date_safe(validator) == mtime


def _requested_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(first, last) byte positions, both inclusive; "unsatisfiable"; or None to send the whole file."""
    match = RANGE_RE.match(header.strip())
    if not match or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:  # "bytes=-N": the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # not a valid range at all: ignored
    if start >= size:
        return "unsatisfiable"
    return start, min(int(last), size - 1) if last else size - 1


def _chunks(path: Path, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


async def _chunks_async(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    """The same chunks, read in a worker thread so the event loop serving every other request never waits
    on the disk. Closed (the file too) when the client goes away mid-download."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(handle.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()
