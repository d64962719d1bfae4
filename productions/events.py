"""Live events for the dashboard: what a render publishes as it goes.

Every event goes to the episode's group as {"type": "episode.event", "text": "<the JSON the browser gets>"},
serialised once here rather than once per socket. What the browser gets:
* progress: the renderer's payload ("segment", "step", "total", "progress", "preview") plus "episode", "ts"
  (publish time, Unix seconds), "eta_s" and "episode_eta_s" (productions.eta: the stitch included), and
  "preview_url" at most once per PREVIEW_MIN_INTERVAL_S per segment (the renderer may save a preview every few frames);
* a state change ("episode", "segment", "review" payloads): {"type": "snapshot", "state": ..., "cause": ...,
  "ts": ...} where state is the whole page state read from the database right after the change
  (productions.live), so a browser never has to guess the final state.

Sending happens on one event-loop thread per process, in order, without making the caller wait: a render never
slows down for the dashboard, and async_to_sync's loop per call (with channels_redis, a Redis connection per
call) is avoided. At most MAX_PENDING events wait; past that new ones are dropped (the database holds the truth
and the next snapshot carries it).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import threading
import time

from django.core.serializers.json import DjangoJSONEncoder

log = logging.getLogger(__name__)

MONITOR_GROUP = "monitor"
PREVIEW_MIN_INTERVAL_S = 1.0
STATE_EVENTS = {"episode", "segment", "review"}
MAX_PENDING = 1000
SEND_TIMEOUT_S = 10.0


class _Publisher:
    """The process's sending thread: one event loop, one FIFO queue, one send at a time (so order is kept)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue | None = None
        self.thread: threading.Thread | None = None
        self.pending = 0

    def _start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop, self.queue = loop, asyncio.Queue()
            ready.set()
            loop.run_until_complete(self._drain())

        self.thread = threading.Thread(target=run, name="tower-publisher", daemon=True)
        self.thread.start()
        ready.wait(5)

    async def _drain(self) -> None:
        from channels.layers import get_channel_layer

        assert self.queue is not None
        while True:
            group, message = await self.queue.get()
            try:
                layer = get_channel_layer()
                if layer is not None:
                    await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT_S)
            except Exception:  # live push is best effort: the database holds the truth
                log.warning("could not publish to %s", group, exc_info=True)
            finally:
                with self.lock:
                    self.pending -= 1

    def send(self, group: str, message: dict) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self._start()
            if self.pending >= MAX_PENDING:
                log.warning("live push is %s events behind; dropping one for %s", self.pending, group)
                return
            self.pending += 1
            loop, queue = self.loop, self.queue
        assert loop is not None and queue is not None
        loop.call_soon_threadsafe(queue.put_nowait, (group, message))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event went out (tests; process exit). False on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending > 0:
            if time.monotonic() > deadline or self.thread is None or not self.thread.is_alive():
                return False
            time.sleep(0.005)
        return True


_publisher = _Publisher()
atexit.register(_publisher.flush, 2.0)  # e.g. `manage.py render_episode` exits right after its last event


def flush(timeout: float = 5.0) -> bool:
    return _publisher.flush(timeout)


class _Clock:
    """Per (episode, segment) start times and preview throttling, in the publishing process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: dict[tuple[int, int], float] = {}
        self.last_preview: dict[tuple[int, int], float] = {}
        self.episode: dict[int, dict] = {}  # the latest state's waiting count and mean segment time


_clock = _Clock()


def episode_group(episode_id: int) -> str:
    return f"episode-{episode_id}"


def user_group(user_id: int) -> str:
    """Every socket of one user joins this group: how a logout or a change of access reaches them."""
    return f"user-{user_id}"


def publish_access_change(user_id: int, *, session_key: str = "", logout: bool = False) -> None:
    """Tell every socket of `user_id` (in any web process) that their access changed: each re-checks it in the
    database and closes if it is gone. `logout`: the sockets of that session close at once."""
    _publisher.send(user_group(user_id), {"type": "access.changed", "session": session_key or "", "logout": logout})


def send_to_group(group: str, kind: str, outgoing: dict) -> None:
    """Queue `outgoing` (what every socket of `group` sends its browser) for the publisher thread."""
    try:
        text = json.dumps(outgoing, cls=DjangoJSONEncoder, separators=(",", ":"))
        _publisher.send(group, {"type": kind, "text": text, "snapshot": outgoing.get("type") == "snapshot"})
    except Exception:  # pragma: no cover - never break the caller for the dashboard's sake
        log.warning("could not publish to %s", group, exc_info=True)


def progress_extras(episode_id: int, event: dict, now: float) -> dict:
    """ETA (segment and episode) and the throttled preview URL for a progress event."""
    from django.urls import reverse

    from productions.eta import StitchEstimate, episode_eta_s, segment_eta_s

    key = (episode_id, int(event.get("segment", -1)))
    with _clock.lock:
        started = _clock.started.setdefault(key, now)
        info = dict(_clock.episode.get(episode_id, {}))
        show_preview = bool(event.get("preview")) and now - _clock.last_preview.get(key, 0.0) >= \
            PREVIEW_MIN_INTERVAL_S
        if show_preview:
            _clock.last_preview[key] = now
    progress = float(event.get("progress") or 0.0)
    eta = segment_eta_s(now - started, progress, info.get("mean_post_s"))
    extras: dict = {"eta_s": eta, "preview": show_preview}
    if eta is not None:
        per_segment = info.get("mean_segment_s") or (now - started) / max(progress, 1e-3)
        stitch_s = info.get("stitch_s")
        extras["episode_eta_s"] = episode_eta_s(
            running_eta_s=eta, waiting=info.get("waiting_segments", 0), per_segment_s=per_segment,
            stitch=StitchEstimate(stitch_s, 0.0, "snapshot") if stitch_s is not None else None)
    if show_preview:
        extras["preview_url"] = reverse("segment-file", args=[episode_id, key[1], "preview"]) + \
            f"?v={int(now * 1000)}"
    return extras


def publish_episode_event(episode, payload: dict) -> None:
    """Send `payload` to every browser watching the episode. Never lets a push failure break a render."""
    try:
        now = time.time()
        event = {**payload, "episode": episode.pk, "ts": now}
        kind = payload.get("type")
        if kind == "segment" and payload.get("status") == "generating":
            with _clock.lock:
                _clock.started[(episode.pk, int(payload.get("segment", -1)))] = now
        if kind == "progress":
            event.update(progress_extras(episode.pk, payload, now))
        elif kind in STATE_EVENTS:
            from productions.live import episode_state_by_pk

            state = episode_state_by_pk(episode.pk)
            if state is not None:
                event["state"] = state
                with _clock.lock:
                    _clock.episode[episode.pk] = {k: state[k] for k in
                                                  ("waiting_segments", "mean_segment_s", "mean_post_s",
                                                                         "stitch_s")}
                    if not state["active"]:  # the render stopped: forget its clocks (a worker lives long)
                        for clocks in (_clock.started, _clock.last_preview):
                            for key in [k for k in clocks if k[0] == episode.pk]:
                                del clocks[key]
    except Exception:  # pragma: no cover - never break a render for the dashboard's sake
        log.warning("could not build an event for episode %s", episode.pk, exc_info=True)
        event = {**payload, "episode": episode.pk, "ts": time.time()}
    if "state" in event:
        outgoing = {"type": "snapshot", "state": event["state"], "cause": event.get("type"), "ts": event["ts"]}
    else:
        outgoing = event
    send_to_group(episode_group(episode.pk), "episode.event", outgoing)


def publish_monitor_event(payload: dict) -> None:
    send_to_group(MONITOR_GROUP, "monitor.event", {**payload, "ts": time.time()})
