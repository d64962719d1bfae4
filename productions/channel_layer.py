"""A Channels layer on a SQLite file: live push across processes in the embedded shape (no Redis).

Why our own: Channels' InMemoryChannelLayer lives in one process, and the render worker is another process,
so its events could never reach a browser. Two designs were weighed:

* The worker POSTs each event to the web process over loopback HTTP with a shared secret. It ties the worker
  to one web address (and to that process being up and listening), and needs a second authentication path.
* A layer on a file both processes can open. SQLite is already how the embedded shape keeps its database and
  its Huey queue, so it needs nothing new, works with any number of web and worker processes on the host, and
  keeps working while the web server restarts (rows wait up to `expiry` seconds). Chosen.

A maintained package exists (`channels-lite` 0.4.0, alpha). Reading its code: it stores one row per recipient
(a `group_send` to 50 sockets writes 50 rows after 50 COUNT queries for capacity), its poller fetches one
message per two queries, and group memberships live in the database for 24 hours, outliving crashed web
processes. This layer is smaller and does less work per event:

* One append-only table. `group_send` writes ONE row however many sockets listen; `send` writes one row.
* Each receiving process runs one poller thread. Every `poll_interval` seconds it reads `PRAGMA data_version`
  (a counter SQLite keeps in shared memory that changes when another connection commits: no disk read) and,
  only when it changed, reads the rows with id > its cursor. AUTOINCREMENT ids are never reused and SQLite
  has a single writer, so a reader that sees row N has seen every row below it: the cursor skips nothing.
* Rows are fanned out to the process's own channels: group members (a group's members are kept by the process
  that owns each channel, the only one that can receive on it) and process-specific channels with this
  process's prefix. `group_add` of another process's channel is written as a control row its owner applies.
* Normal channels (no "!") are competing consumers: `receive` claims the oldest live row with one
  DELETE ... RETURNING, so each message goes to exactly one receiver.
* Expiry: rows older than `expiry` seconds are deleted by whichever process gets there (every few seconds).
* Capacity: a process-local box holds at most `capacity` messages per channel; past that a group message is
  dropped (the spec's rule for groups) and so is a direct one to another process's channel, whose box the
  sender cannot see; `send` to a normal channel raises ChannelFull when `capacity` rows wait unclaimed.
* Not supported (raises): normal channels as group members; receiving on a process-specific channel name
  that another process created.

Writes are single-row inserts done inline (about a millisecond, WAL mode, synchronous=NORMAL); reads never
block the event loop (they happen on the poller thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import msgpack
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,           -- 'group' | 'channel' | 'group_add' | 'group_discard'
    target TEXT NOT NULL,         -- a group or channel name
    member TEXT NOT NULL DEFAULT '',  -- for group_add / group_discard: the channel
    body BLOB,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS message_target ON message(kind, target, id);
CREATE INDEX IF NOT EXISTS message_created ON message(created);
"""

TRIM_EVERY_S = 5.0


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class SQLiteChannelLayer(BaseChannelLayer):
    """See the module docstring. CONFIG: path (required), expiry, capacity, channel_capacity, group_expiry,
    poll_interval (seconds between change checks, default 0.02)."""

    extensions = ["groups", "flush"]

    def __init__(self, path: str | os.PathLike, expiry: float = 60, capacity: int = 100,
                 channel_capacity: dict | None = None, group_expiry: float = 86400, poll_interval: float = 0.02):
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        self.channel_capacity = self.compile_capacities(channel_capacity or {})
        self.path = Path(path)
        self.group_expiry = group_expiry
        self.poll_interval = poll_interval
        self.client_prefix = uuid.uuid4().hex  # names this process's channels: "<prefix>.<client_prefix>!<id>"
        self._local = threading.local()
        self._schema_lock = threading.Lock()
        self._lock = threading.Lock()  # guards the fields below (the poller thread writes them too)
        self._boxes: dict[str, deque[dict]] = {}
        self._waiters: dict[str, asyncio.Future] = {}
        self._groups: dict[str, dict[str, float]] = {}  # group -> {local channel: expires at}
        self._cursor: int | None = None
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_trim = 0.0
        self._schema_ready = False

    # --- storage ------------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)  # autocommit
        conn.execute("PRAGMA synchronous=NORMAL")
        if not self._schema_ready:
            with self._schema_lock:
                if not self._schema_ready:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(SCHEMA)
                    self._schema_ready = True
        return conn

    def _conn(self) -> sqlite3.Connection:
        """One connection per thread (sqlite3 connections must stay on the thread that made them)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _insert(self, kind: str, target: str, body: dict | None, member: str = "") -> None:
        data = msgpack.packb(body, use_bin_type=True) if body is not None else None
        now = time.time()
        self._conn().execute("INSERT INTO message (kind, target, member, body, created) VALUES (?, ?, ?, ?, ?)",
                             (kind, target, member, data, now))
        if now - self._last_trim > TRIM_EVERY_S:
            self._trim(self._conn(), now)

    def _trim(self, conn: sqlite3.Connection, now: float) -> None:
        self._last_trim = now
        try:
            conn.execute("DELETE FROM message WHERE created < ?", (now - self.expiry,))
        except sqlite3.OperationalError:  # busy: someone else is writing; trim next time
            log.debug("channel layer trim skipped", exc_info=True)

    # --- channels -----------------------------------------------------------------------------------------
    def _is_local(self, channel: str) -> bool:
        head, bang, _ = channel.partition("!")
        return bool(bang) and head.endswith("." + self.client_prefix)

    async def new_channel(self, prefix: str = "specific") -> str:
        self._ensure_poller()
        return f"{prefix}.{self.client_prefix}!{uuid.uuid4().hex}"

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        if "!" not in channel:
            live = self._conn().execute(
                "SELECT COUNT(*) FROM message WHERE kind = 'channel' AND target = ? AND created >= ?",
                (channel, time.time() - self.expiry)).fetchone()[0]
            if live >= self.get_capacity(channel):
                raise ChannelFull(channel)
        self._insert("channel", channel, message)

    async def receive(self, channel: str) -> dict:
        self.require_valid_channel_name(channel)
        if "!" not in channel:
            return await self._receive_normal(channel)
        if not self._is_local(channel):
            raise ValueError(f"{channel} was not created by this process's layer: it cannot receive on it")
        self._ensure_poller()
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                box = self._boxes.get(channel)
                if box:
                    message = box.popleft()
                    if not box:
                        del self._boxes[channel]
                    return message
                future = loop.create_future()
                self._waiters[channel] = future
            try:
                await future
            finally:
                with self._lock:
                    if self._waiters.get(channel) is future:
                        del self._waiters[channel]

    async def _receive_normal(self, channel: str) -> dict:
        while True:
            conn = self._conn()
            row = conn.execute(
                "SELECT id FROM message WHERE kind = 'channel' AND target = ? AND created >= ? ORDER BY id LIMIT 1",
                (channel, time.time() - self.expiry)).fetchone()
            if row:
                claimed = conn.execute("DELETE FROM message WHERE id = ? RETURNING body", (row[0],)).fetchone()
                if claimed:  # else another receiver took it first
                    return msgpack.unpackb(claimed[0], raw=False)
                continue
            await asyncio.sleep(self.poll_interval)

    # --- groups -------------------------------------------------------------------------------------------
    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        if "!" not in channel:
            raise NotImplementedError("this layer supports process-specific channels only as group members")
        if self._is_local(channel):
            with self._lock:
                self._groups.setdefault(group, {})[channel] = time.time() + self.group_expiry
        else:
            self._insert("group_add", group, None, member=channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        if self._is_local(channel):
            with self._lock:
                members = self._groups.get(group)
                if members is not None:
                    members.pop(channel, None)
                    if not members:
                        del self._groups[group]
        elif "!" in channel:
            self._insert("group_discard", group, None, member=channel)

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._insert("group", group, message)

    async def flush(self) -> None:
        self._conn().execute("DELETE FROM message")
        with self._lock:
            self._boxes.clear()
            self._groups.clear()

    async def close(self) -> None:
        """Stop the poller thread (tests; a server just exits)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=2)
        self._poller = None

    # --- the poller ---------------------------------------------------------------------------------------
    def _ensure_poller(self) -> None:
        with self._lock:
            if self._poller is not None and self._poller.is_alive():
                return
            self._stop.clear()
            if self._cursor is None:  # from now on: the channels this process makes are all new
                self._cursor = self._conn().execute("SELECT COALESCE(MAX(id), 0) FROM message").fetchone()[0]
            self._poller = threading.Thread(target=self._poll, name="channel-layer-poller", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        conn = self._connect()
        version = None
        while not self._stop.is_set():
            try:
                now = time.time()
                current = conn.execute("PRAGMA data_version").fetchone()[0]
                if current != version:
                    version = current
                    rows = conn.execute(
                        "SELECT id, kind, target, member, body FROM message WHERE id > ? ORDER BY id",
                        (self._cursor,)).fetchall()
                    if rows:
                        self._cursor = rows[-1][0]
                        self._dispatch(rows, now)
                if now - self._last_trim > TRIM_EVERY_S:
                    self._trim(conn, now)
            except Exception:  # never let the poller die: live push would silently stop
                log.exception("channel layer poll failed")
                time.sleep(0.5)
            self._stop.wait(self.poll_interval)
        conn.close()

    def _dispatch(self, rows: list[tuple], now: float) -> None:
        wake: list[asyncio.Future] = []
        with self._lock:
            for _id, kind, target, member, body in rows:
                if kind == "group":
                    members = self._groups.get(target)
                    if not members:
                        continue
                    message = msgpack.unpackb(body, raw=False)
                    for channel, expires in list(members.items()):
                        if expires < now:
                            del members[channel]
                        else:
                            self._deliver(channel, dict(message), wake)
                elif kind == "channel":
                    if self._is_local(target):
                        self._deliver(target, msgpack.unpackb(body, raw=False), wake)
                elif kind == "group_add" and self._is_local(member):
                    self._groups.setdefault(target, {})[member] = now + self.group_expiry
                elif kind == "group_discard" and self._is_local(member):
                    self._groups.get(target, {}).pop(member, None)
        for future in wake:
            with contextlib.suppress(RuntimeError):  # its event loop is closed: nobody is waiting any more
                future.get_loop().call_soon_threadsafe(_wake, future)

    def _deliver(self, channel: str, message: dict[str, Any], wake: list[asyncio.Future]) -> None:
        box = self._boxes.setdefault(channel, deque())
        if len(box) >= self.get_capacity(channel):
            log.debug("channel %s is full; dropping a message", channel)
            return
        box.append(message)
        future = self._waiters.pop(channel, None)
        if future is not None:
            wake.append(future)
