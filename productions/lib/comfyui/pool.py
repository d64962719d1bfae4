"""A pool of ComfyUI servers (one per GPU or machine), health-checked in the background.

Every server is checked at the same time, so one that hangs delays no other. Each job goes to the least-loaded
healthy server: load = jobs other clients have queued there (from /queue) + Tower's own jobs in flight there.
A job whose server fails in a retryable way (down, vanished, socket lost, out of memory) is retried on another
server (preferring ones it has not tried) with exponential backoff and a bounded number of attempts, all
inside the job's deadline. Every attempt is reported to a callback as a plain `Attempt` record, for the Django
side to store on the Segment. SwarmUI's multi-backend design is the model.

Configuration: TOWER_COMFYUI_URLS (comma-separated), TOWER_COMFYUI_HEALTH_INTERVAL_S (default 5),
TOWER_COMFYUI_MAX_ATTEMPTS (default 3), TOWER_COMFYUI_DEADLINE_S (default 600).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import requests

from ..backend import BackendError, CancelCheck, Cancelled, never_cancel
from .client import DEFAULT_DEADLINE_S, ClientTimeouts, ComfyUIClient, normalize_url
from .errors import (
    ComfyUIError,
    ConnectionLost,
    DeadlineExceeded,
    NoServerAvailable,
    ServerUnavailable,
    WorkflowInvalid,
)
from .workflows import lora_names

log = logging.getLogger(__name__)
T = TypeVar("T")
E = TypeVar("E", bound=BackendError)

OBJECT_INFO_TTL_S = 300.0


@dataclass
class Attempt:
    """One try of a job on one server. `outcome`: success | retry | failed | cancelled | unsuitable."""

    server: str
    started_at: float  # Unix time
    ended_at: float | None = None
    outcome: str = "running"
    error: str = ""
    prompt_id: str = ""
    number: int = 1
    peak_vram_bytes: int | None = None  # the most GPU memory in use on the server during the job (polled)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


AttemptCallback = Callable[[Attempt], None]


@dataclass
class ServerState:
    url: str
    healthy: bool = False
    checked_at: float | None = None  # Unix time of the last health check
    last_error: str = ""
    system: dict[str, Any] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    queue_running: int = 0
    queue_pending: int = 0
    foreign_jobs: int = 0  # queued or running there, not Tower's own
    inflight: int = 0  # Tower's jobs on it now
    tower_prompt_ids: set[str] = field(default_factory=set)
    jobs_done: int = 0
    jobs_failed: int = 0
    object_info: dict[str, Any] | None = None
    object_info_at: float = 0.0
    last_model: str | None = None  # the model of Tower's last job there (a change may call for /free)
    sends_previews: bool | None = None  # None until a job with sampler steps asked for previews there

    @property
    def load(self) -> int:
        return self.foreign_jobs + self.inflight

    @property
    def vram_total_bytes(self) -> int | None:
        """The largest GPU's memory; None for a server without a GPU (a CPU device reports RAM) or unknown."""
        sizes = [int(d.get("vram_total") or 0) for d in self.devices if str(d.get("type", "")).lower() != "cpu"]
        return max(sizes) if sizes and max(sizes) > 0 else None

    def snapshot(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "healthy": self.healthy,
            "checked_at": self.checked_at,
            "last_error": self.last_error,
            "load": self.load,
            "inflight": self.inflight,
            "queue_running": self.queue_running,
            "queue_pending": self.queue_pending,
            "foreign_jobs": self.foreign_jobs,
            "jobs_done": self.jobs_done,
            "jobs_failed": self.jobs_failed,
            "comfyui_version": self.system.get("comfyui_version", ""),
            "pytorch_version": self.system.get("pytorch_version", ""),
            "ram_total": self.system.get("ram_total"),
            "ram_free": self.system.get("ram_free"),
            "devices": [dict(d) for d in self.devices],
            "sends_previews": self.sends_previews,
        }


class ServerPool:
    """Servers, their health and load; `run()` executes a job with failover. Thread-safe."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        health_interval_s: float = 5.0,
        health_timeout_s: float = 3.0,
        max_attempts: int = 3,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        wait_for_server_s: float = 30.0,
        timeouts: ClientTimeouts | None = None,
        start: bool = True,
    ) -> None:
        self.servers: dict[str, ServerState] = {}
        for url in urls:
            url = normalize_url(url)
            if url:
                self.servers[url] = ServerState(url)
        self.health_interval_s = health_interval_s
        self.health_timeout_s = health_timeout_s
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.wait_for_server_s = wait_for_server_s
        self.timeouts = timeouts or ClientTimeouts()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._checkers: ThreadPoolExecutor | None = None
        self._local = threading.local()
        if start:
            self.start()

    @property
    def _session(self) -> requests.Session:
        """One HTTP session per thread (the health thread and job threads use the pool concurrently)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Check every server once now, then keep checking in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.check_all()
        self._thread = threading.Thread(target=self._loop, name="comfyui-health", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.health_timeout_s * 2 + 1)
            self._thread = None
        with self._lock:
            checkers, self._checkers = self._checkers, None
        if checkers is not None:
            checkers.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.health_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.check_all()
            except Exception:  # never let the monitor die
                log.exception("ComfyUI health check failed")

    # -- health ------------------------------------------------------------------------------------------

    def check_all(self) -> None:
        """Check every server at once: one that does not answer holds up no other (each waits its timeout)."""
        urls = list(self.servers)
        if len(urls) <= 1:
            for url in urls:
                self.check(url)
            return
        with self._lock:
            if self._checkers is None:
                self._checkers = ThreadPoolExecutor(min(len(urls), 16), thread_name_prefix="comfyui-check")
            checkers = self._checkers
        try:
            list(checkers.map(self.check, urls))  # the threads keep their HTTP sessions between rounds
        except (CancelledError, RuntimeError):  # close() shut the checkers down during this round
            if not self._stop.is_set():
                raise

    def check(self, url: str) -> bool:
        """One health check: /system_stats (devices, VRAM) and /queue (load). Returns healthy."""
        timeout = self.health_timeout_s
        try:
            stats = self._session.get(url + "/system_stats", timeout=timeout)
            stats.raise_for_status()
            stats_body = stats.json()
            queue = self._session.get(url + "/queue", timeout=timeout)
            queue.raise_for_status()
            queue_body = queue.json()
        except (requests.RequestException, ValueError) as exc:
            with self._lock:
                state = self.servers[url]
                if state.healthy:
                    log.warning("ComfyUI server %s is down: %s", url, exc)
                state.healthy = False
                state.checked_at = time.time()
                state.last_error = f"{type(exc).__name__}: {exc}"[:300]
            return False
        running = [i for i in queue_body.get("queue_running") or [] if isinstance(i, (list, tuple))]
        pending = [i for i in queue_body.get("queue_pending") or [] if isinstance(i, (list, tuple))]
        with self._lock:
            state = self.servers[url]
            if not state.healthy and state.checked_at is not None:
                log.info("ComfyUI server %s is up", url)
            state.healthy = True
            state.checked_at = time.time()
            state.last_error = ""
            state.system = dict(stats_body.get("system") or {})
            state.devices = [d for d in stats_body.get("devices") or [] if isinstance(d, dict)]
            state.queue_running, state.queue_pending = len(running), len(pending)
            state.foreign_jobs = sum(
                1 for item in running + pending if len(item) < 2 or item[1] not in state.tower_prompt_ids
            )
        return True

    def snapshot(self) -> list[dict[str, Any]]:
        """Per server: health, load, queue, devices with VRAM (bytes) — for a monitoring page."""
        with self._lock:
            return [s.snapshot() for s in self.servers.values()]

    def mark_down(self, url: str, reason: str) -> None:
        with self._lock:
            state = self.servers.get(url)
            if state is not None:
                state.healthy = False
                state.last_error = reason[:300]
        self._wake.set()  # the monitor re-checks soon and revives it if it answers

    # -- choosing a server -------------------------------------------------------------------------------

    def pick(self, exclude: Sequence[str] = (), suitable: Callable[[ServerState], bool] | None = None, *,
             acquire: bool = False) -> str | None:
        """The least-loaded healthy server not in `exclude` and `suitable` (ties: configuration order). With
        `acquire`, a job is counted on it in the same step (release with _release), so jobs starting at once
        on several threads spread over the servers instead of all seeing the same one idle."""
        with self._lock:
            candidates = [s for s in self.servers.values() if s.healthy and s.url not in exclude
                          and (suitable is None or suitable(s))]
            if not candidates:
                return None
            order = list(self.servers)
            best = min(candidates, key=lambda s: (s.load, order.index(s.url)))
            if acquire:
                best.inflight += 1
            return best.url

    def _release(self, url: str, prompt_id: str | None, ok: bool) -> None:
        with self._lock:
            state = self.servers[url]
            state.inflight = max(0, state.inflight - 1)
            if prompt_id:
                state.tower_prompt_ids.discard(prompt_id)
            if ok:
                state.jobs_done += 1
            else:
                state.jobs_failed += 1

    def _note_prompt(self, url: str, prompt_id: str) -> None:
        with self._lock:
            self.servers[url].tower_prompt_ids.add(prompt_id)

    def object_info(self, url: str) -> dict[str, Any]:
        """The server's /object_info, cached (it can be megabytes with many custom nodes)."""
        with self._lock:
            state = self.servers[url]
            cached, at = state.object_info, state.object_info_at
        if cached is not None and time.monotonic() - at < OBJECT_INFO_TTL_S:
            return cached
        info = ComfyUIClient(url, timeouts=self.timeouts, session=self._session).object_info()
        with self._lock:
            state.object_info, state.object_info_at = info, time.monotonic()
        return info

    def forget_object_info(self, url: str) -> None:
        with self._lock:
            self.servers[url].object_info = None

    # -- running a job with failover ---------------------------------------------------------------------

    def run(
        self,
        job: Callable[[JobContext], T],
        *,
        should_cancel: CancelCheck = never_cancel,
        on_attempt: AttemptCallback | None = None,
        deadline_s: float | None = None,
        max_attempts: int | None = None,
        description: str = "job",
        suitable: Callable[[ServerState], bool] | None = None,
    ) -> T:
        """Run `job(ctx)` on the best server; on a retryable ComfyUIError retry elsewhere.

        `on_attempt` gets a copy of the attempt's record when it starts (outcome "running") and again when it
        ends (same `number`, final outcome). Errors raised carry `.attempts` (a list of dicts). Permanent errors
        stop at once, except a WorkflowInvalid with `elsewhere=True` (this server lacks a node or model), which
        moves on to a server that has not refused it yet (outcome "unsuitable"). `suitable` (e.g. the model fits
        the server's VRAM) rules servers out before they are tried.
        """
        if not self.servers:
            raise NoServerAvailable(
                "No ComfyUI server is configured: set TOWER_COMFYUI_URLS (comma-separated URLs), or choose the "
                "built-in generator"
            )
        deadline_s = deadline_s if deadline_s is not None else DEFAULT_DEADLINE_S
        deadline_at = time.monotonic() + deadline_s
        limit = max_attempts or self.max_attempts
        attempts: list[Attempt] = []
        tried: list[str] = []
        unsuitable: set[str] = set()
        failures = 0
        last_error: ComfyUIError | None = None

        def report(attempt: Attempt) -> None:
            if on_attempt is not None:
                try:
                    on_attempt(dataclasses.replace(attempt))  # a copy: the record as it is now
                except Exception:
                    log.exception("on_attempt callback failed")

        def fail(error: E) -> E:
            error.attempts = [a.as_dict() for a in attempts]  # type: ignore[attr-defined]
            return error

        while True:
            if should_cancel():
                raise fail(Cancelled("Cancelled on request"))
            url = self._wait_for_server(tried, unsuitable, deadline_at, should_cancel, suitable)
            if url is None:
                if should_cancel():
                    continue  # raises Cancelled at the top of the loop
                if time.monotonic() >= deadline_at:
                    raise fail(DeadlineExceeded(
                        f"The {description} did not finish within its deadline of {deadline_s:.0f} s "
                        f"({len(attempts)} attempts)" + (f"; last error: {last_error}" if last_error else ""),
                    ))
                if last_error is not None:
                    raise fail(last_error)
                raise fail(NoServerAvailable(
                    f"No ComfyUI server answered within {self.wait_for_server_s:.0f} s "
                    f"(configured: {', '.join(self.servers)}). Start one, or check TOWER_COMFYUI_URLS.",
                ))
            attempt = Attempt(server=url, started_at=time.time(), number=len(attempts) + 1)
            attempts.append(attempt)
            report(attempt)
            ctx = JobContext(self, url, deadline_at, should_cancel, attempt)  # url was acquired when picked
            ok = False
            try:
                result = job(ctx)
                ok = True
                attempt.outcome = "success"
                return result
            except Cancelled as exc:
                attempt.outcome, attempt.error = "cancelled", str(exc)
                fail(exc)
                raise
            except ComfyUIError as exc:
                attempt.error = str(exc)
                if isinstance(exc, WorkflowInvalid):
                    self.forget_object_info(url)
                if isinstance(exc, WorkflowInvalid) and exc.elsewhere:
                    unsuitable.add(url)
                    if any(u not in unsuitable for u in self.servers):
                        attempt.outcome = "unsuitable"
                        last_error = exc
                        continue
                if not exc.retryable or isinstance(exc, DeadlineExceeded):
                    attempt.outcome = "failed"
                    raise fail(exc) from None
                attempt.outcome = "retry"
                failures += 1
                last_error = exc
                if isinstance(exc, (ServerUnavailable, ConnectionLost)):
                    self.mark_down(url, str(exc))
                tried.append(url)
                if failures >= limit:
                    attempt.outcome = "failed"
                    servers = ", ".join(dict.fromkeys(a.server for a in attempts))
                    exc.args = (f"Gave up on the {description} after {failures} failed attempts ({servers}). "
                                f"Last error: {exc}",)
                    raise fail(exc) from None
                delay = min(self.max_backoff_s, self.backoff_s * (2 ** (failures - 1)))
                self._sleep(delay, deadline_at, should_cancel)
            finally:
                attempt.ended_at = time.time()
                ctx.client.session.close()
                self._release(url, ctx.prompt_id, ok)
                report(attempt)

    def _sleep(self, delay: float, deadline_at: float, should_cancel: CancelCheck) -> None:
        end = min(time.monotonic() + delay, deadline_at)
        while time.monotonic() < end:
            if should_cancel():
                return
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))

    def _wait_for_server(self, tried: Sequence[str], unsuitable: set[str], deadline_at: float,
                         should_cancel: CancelCheck,
                         suitable: Callable[[ServerState], bool] | None = None) -> str | None:
        """Prefer a healthy server not tried yet, else any healthy one that did not refuse the workflow;
        wait (bounded) if none is healthy. The server returned has the job counted on it already."""
        end = min(deadline_at, time.monotonic() + self.wait_for_server_s)
        while True:
            url = (self.pick([*tried, *unsuitable], suitable, acquire=True)
                   or self.pick(list(unsuitable), suitable, acquire=True))
            if url is not None:
                return url
            if time.monotonic() >= end or should_cancel():
                return None
            time.sleep(min(0.2, self.health_interval_s))
            if time.monotonic() >= end - 0.01:
                return None
            self.check_all()


class VramWatch:
    """Polls a server's /system_stats during a job and keeps the most GPU memory in use (bytes), so each
    attempt records its peak. A thread per job; `stop()` ends it."""

    def __init__(self, url: str, timeouts: ClientTimeouts, interval_s: float = 0.5) -> None:
        self.url, self.interval_s = url, interval_s
        self.client = ComfyUIClient(url, timeouts=timeouts)
        self.peak: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="comfyui-vram", daemon=True)
        self._thread.start()

    def sample(self) -> None:
        try:
            devices = self.client.system_stats().get("devices") or []
        except (ComfyUIError, requests.RequestException, ValueError, AttributeError):
            return
        used = [int(d.get("vram_total") or 0) - int(d.get("vram_free") or 0) for d in devices
                if isinstance(d, dict) and str(d.get("type", "")).lower() != "cpu"]
        if used:
            self.peak = max(self.peak or 0, max(used))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def stop(self) -> int | None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)
        self.client.session.close()
        return self.peak


class JobContext:
    """What a job function gets: the chosen server, a client for it, the deadline, the attempt record."""

    def __init__(self, pool: ServerPool, url: str, deadline_at: float, should_cancel: CancelCheck,
                 attempt: Attempt) -> None:
        self.pool = pool
        self.url = url
        self.deadline_at = deadline_at
        self.should_cancel = should_cancel
        self.attempt = attempt
        self.prompt_id: str | None = None
        self.client = ComfyUIClient(url, timeouts=pool.timeouts)

    def object_info(self) -> dict[str, Any]:
        return self.pool.object_info(self.url)

    @property
    def server(self) -> ServerState:
        return self.pool.servers[self.url]

    def queued(self, prompt_id: str) -> None:
        """Call when the server accepted the job (ComfyUIClient.run's on_queued)."""
        self.prompt_id = prompt_id
        self.attempt.prompt_id = prompt_id
        self.pool._note_prompt(self.url, prompt_id)


_shared: dict[tuple, ServerPool] = {}
_shared_lock = threading.Lock()


def shared_pool(urls: Sequence[str], **options: Any) -> ServerPool:
    """One pool per process, URL list and options (one health thread), created on first use. `options` are
    ServerPool's (health_interval_s, max_attempts, ...)."""
    normalized = tuple(u for u in (normalize_url(url) for url in urls) if u)
    key = (normalized, tuple(sorted(options.items())))
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None:
            pool = _shared[key] = ServerPool(list(normalized), **options)
        return pool


__all__ = ["Attempt", "AttemptCallback", "JobContext", "ServerPool", "ServerState", "VramWatch", "shared_pool"]


# -- the LoRA files the servers list -----------------------------------------------------------------------


@dataclass(frozen=True)
class LoraListing:
    """What the configured servers said about their LoRA files (GET /object_info/LoraLoader on each)."""

    servers: tuple[str, ...]  # every configured server
    by_server: dict[str, tuple[str, ...]]  # the servers that answered, with the files each lists
    unreachable: dict[str, str]  # the servers that did not answer, with why

    @property
    def loras(self) -> list[str]:
        """Every file any answering server lists, sorted."""
        return sorted({name for names in self.by_server.values() for name in names})

    def servers_with(self, name: str) -> list[str]:
        return [url for url, names in self.by_server.items() if name in names]


def list_loras(urls: Sequence[str], *, timeouts: ClientTimeouts | None = None) -> LoraListing:
    """Ask every server in `urls` (in parallel) which LoRA files it has: LoraLoader's `lora_name` choices, in
    either /object_info style. The caller passes the configured URLs (the app: TOWER_COMFYUI_URLS)."""
    servers = tuple(u for u in dict.fromkeys(normalize_url(url) for url in urls) if u)
    timeouts = timeouts or ClientTimeouts(http_s=5.0)

    def ask(url: str) -> tuple[str, tuple[str, ...] | None, str]:
        try:
            info = ComfyUIClient(url, timeouts=timeouts).get_json("/object_info/LoraLoader")
        except (ComfyUIError, requests.RequestException, ValueError) as exc:
            return url, None, str(exc)
        names = lora_names(info) if isinstance(info, dict) else None
        if names is None:
            return url, None, f"{url} has no LoraLoader node in /object_info"
        return url, tuple(names), ""

    by_server: dict[str, tuple[str, ...]] = {}
    unreachable: dict[str, str] = {}
    if servers:
        with ThreadPoolExecutor(max_workers=min(8, len(servers))) as workers:
            for url, names, why in workers.map(ask, servers):
                if names is None:
                    unreachable[url] = why
                else:
                    by_server[url] = names
    return LoraListing(servers=servers, by_server=by_server, unreachable=unreachable)


NOT_CHECKED_NO_SERVER = "not checked: no ComfyUI server configured"


@dataclass(frozen=True)
class LoraCheck:
    """The verdict on one LoRA file name: `error` (refuse, naming why and close matches) or accepted, with a
    `note` when it could not be checked because the instance has no ComfyUI server (a LoRA only matters there)."""

    error: str = ""
    note: str = ""
    close_matches: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error


def check_lora(name: str, listing: LoraListing) -> LoraCheck:
    """Whether the servers of `listing` list the LoRA file `name` ("" is no LoRA: always fine)."""
    if not name:
        return LoraCheck()
    if not listing.servers:
        return LoraCheck(note=NOT_CHECKED_NO_SERVER)
    down = "; ".join(f"{url}: {why}" for url, why in listing.unreachable.items())
    if not listing.by_server:
        return LoraCheck(error=f"could not check: no ComfyUI server answered ({down}). Try again when one is up.")
    if listing.servers_with(name):
        return LoraCheck()
    known = listing.loras
    close = tuple(difflib.get_close_matches(name, known, n=5, cutoff=0.5))
    message = f"No ComfyUI server lists the LoRA file {name!r}"
    if close:
        message += f"; close matches: {', '.join(close)}"
    elif known:
        message += f"; the servers list: {', '.join(known[:10])}" + (", ..." if len(known) > 10 else "")
    else:
        message += "; the servers list no LoRA files"
    if down:
        message += f" (not asked, not answering: {down})"
    return LoraCheck(error=message + ".", close_matches=close)
