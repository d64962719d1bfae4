"""Helpers for download tests: an episode whose final video is a given file, and one way to GET/HEAD it as
the producer through a real daphne process (the asynchronous path) or Django's test client (the synchronous
path), with the same answer shape."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings

from tests.conftest import client_for, small_episode
from tests.live import DaphneServer, session_cookie

WAYS = ["daphne", "test-client"]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class Fetcher:
    def __init__(self, client=None, server: DaphneServer | None = None, sessionid: str = ""):
        self.client, self.server = client, server
        self.http = requests.Session()
        self.http.cookies.set("sessionid", sessionid, domain="127.0.0.1")

    def __call__(self, path: str, method: str = "GET", **headers: str) -> Answer:
        """`If_Range="..."` sends If-Range."""
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        if self.server:
            response = self.http.request(method, self.server.url + path, headers=headers, timeout=60)
            return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()},
                          response.content)
        response = (self.client.head if method == "HEAD" else self.client.get)(path, headers=headers)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body)


def fetcher(way: str, log_dir: Path, producer, **env: str) -> Iterator[Fetcher]:
    """For a fixture: `yield from fetcher(...)`. daphne runs on the test database and media folder."""
    if way == "test-client":
        yield Fetcher(client=client_for(producer))
        return
    web = DaphneServer(log_dir / "daphne.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT), **env)
    try:
        web.start()
        yield Fetcher(server=web, sessionid=session_cookie(producer))
    finally:
        web.stop()


def episode_with_final(project, data: bytes, **fields):
    """An episode whose final video (episodes/ID/final.mp4 in the media folder) holds `data`."""
    episode = small_episode(project, **fields)
    relative = f"episodes/{episode.pk}/final.mp4"
    path = Path(settings.MEDIA_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    episode.final_path = relative
    episode.save(update_fields=["final_path"])
    return episode
