"""A real daphne server process for tests, on the test database (the pattern of tests/worker.py), and small
helpers for talking to it as a signed-in user: session cookies, CSRF, WebSockets."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.test import Client

from tests.fake_comfyui import free_port  # also re-exported from here, next to the other live-server helpers
from tests.worker import ManagedProcess

REDIS_URL = os.environ.get("TOWER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


# The two live-push shapes, for pytest.mark.parametrize(..., SHAPES, indirect=True): the Redis one is skipped
# where no Redis answers.
SHAPES = ["embedded", pytest.param("redis", marks=pytest.mark.skipif(
    not redis_available(), reason="no Redis at TOWER_TEST_REDIS_URL (default redis://127.0.0.1:6379/0)"))]


def shape_env(shape: str) -> dict[str, str]:
    """Environment for the web and worker processes of one deployment shape. Redis keys get a prefix of
    their own so concurrent test runs sharing the server never see each other's messages or tasks."""
    if shape == "embedded":
        return {"TOWER_REDIS_URL": ""}
    tag = f"towertest{uuid.uuid4().hex[:10]}"  # no dashes: Huey drops them from its key names
    return {"TOWER_REDIS_URL": REDIS_URL, "TOWER_CHANNELS_PREFIX": tag, "TOWER_HUEY_NAME": tag}


def forget_redis_keys(env: dict[str, str]) -> None:
    """Remove what one test's Redis shape left behind (only keys with its own prefix)."""
    tag = env.get("TOWER_CHANNELS_PREFIX")
    if not tag:
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in list(client.scan_iter(match=f"*{tag}*", count=500)):
        client.delete(key)


class DaphneServer(ManagedProcess):
    def __init__(self, log_path: Path, **env: str):
        super().__init__(log_path, **env)
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> DaphneServer:
        self.spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "tower.asgi:application"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daphne exited ({self.proc.returncode}):\n{self.log()[-4000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + "/login/", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"daphne did not answer within {timeout} s:\n{self.log()[-4000:]}")


def session_cookie(user) -> str:
    """A real session in the test database: daphne, on the same database and secret key, accepts it."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def open_socket(server: DaphneServer, path: str, sessionid: str | None, timeout: float = 10):
    """A websocket-client connection, signed in with `sessionid` (None: anonymous), from our own origin."""
    import websocket

    headers = [f"Cookie: sessionid={sessionid}"] if sessionid else []
    return websocket.create_connection(server.ws_url + path, timeout=timeout, header=headers,
                                       origin=server.url)


def close_code(ws, timeout: float = 10) -> int | None:
    """Wait for the server to close the socket; returns the close code it sent (before any data frame)."""
    import struct

    from websocket import ABNF

    ws.settimeout(timeout)
    opcode, frame = ws.recv_data_frame(True)
    if opcode != ABNF.OPCODE_CLOSE:
        raise AssertionError(f"expected the server to close the socket, got opcode {opcode}: {frame!r}")
    return struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None


def receive_until(ws, predicate, timeout: float, seen: list | None = None) -> dict:
    """Read JSON frames until one matches; every frame read is appended to `seen`, stamped with its receipt
    time (`_rx`, Unix seconds)."""
    import websocket

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching message within {timeout} s; last: {(seen or [])[-3:]}")
        # Short waits: websocket-client answers daphne's pings (every 20 s) inside recv() and then waits the
        # whole timeout again, so one long recv() could outlive the deadline forever.
        ws.settimeout(min(left, 1.0))
        try:
            frame = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        if not frame:
            raise AssertionError(f"the server closed the socket; last: {(seen or [])[-3:]}")
        message = json.loads(frame)
        message["_rx"] = time.time()
        if seen is not None:
            seen.append(message)
        if predicate(message):
            return message


class ApiSession:
    """requests against the live server as a signed-in user, with Django's CSRF protection satisfied."""

    def __init__(self, server: DaphneServer, sessionid: str):
        self.server = server
        self.http = requests.Session()
        self.http.cookies.set("sessionid", sessionid, domain="127.0.0.1")
        self.http.get(server.url + "/login/", timeout=10)  # sets the csrftoken cookie

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        token = self.http.cookies.get("csrftoken", "")
        return self.http.post(self.server.url + path, json=body or {}, timeout=30,
                              headers={"X-CSRFToken": token, "Origin": self.server.url})

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.server.url + path, timeout=30)
