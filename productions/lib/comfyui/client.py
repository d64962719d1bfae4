"""A client for one ComfyUI server, over its documented HTTP + WebSocket protocol.

One `ComfyUIClient` follows one job at a time (it owns one clientId and one progress socket). `run()` does a
whole job: open the socket with our clientId BEFORE `POST /prompt` (events for a client that is not connected
are dropped), queue the workflow under a prompt_id chosen here (a retried POST can never queue a duplicate:
we look the id up first), follow `progress` and preview frames, then read `/history/{id}`, download the
outputs through `/view` and delete the history entry.

Robustness: every socket read has a timeout; a dropped socket is reopened with the same clientId (the server
then resends the node it is executing); a silent socket or a lost one falls back to polling `/history/{id}`
and `/queue`; a server that stops answering, a job the server forgot, and the per-job deadline all end in a
`ComfyUIError` with plain words. Cancel = `POST /queue {"delete": [id]}` (pending) + `POST /interrupt`
(running). See ComfyUI's server.py / execution.py / main.py for the protocol.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import struct
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import requests
import websocket
from PIL import Image

from ..backend import CancelCheck, Cancelled, Frame, ProgressCallback, never_cancel, no_progress
from .errors import (
    ComfyUIError,
    ConnectionLost,
    DeadlineExceeded,
    ExecutionFailed,
    Interrupted,
    JobVanished,
    ServerUnavailable,
    WorkflowInvalid,
)
from .workflows import problems_message, prompt_error_problems

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_S = 600.0
PREVIEW_METHODS = ("auto", "latent2rgb", "taesd", "none")
MAX_IMAGE_BYTES = 256 * 1024 * 1024
MAX_IMAGE_PIXELS = 8192 * 8192
# Binary websocket frames: big-endian u32 event type first (ComfyUI server.py BinaryEventTypes).
PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.,+=@() -]{0,254}$")


def normalize_url(url: str) -> str:
    """A server URL without surrounding blanks or trailing "/", with "http://" when it names no scheme.

    A blank string stays "".
    """
    url = url.strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        url = "http://" + url
    return url


@dataclass(frozen=True)
class ClientTimeouts:
    """How long the client waits for things. Defaults suit real GPU servers; tests shorten them."""

    http_s: float = 10.0  # one HTTP request (connect + read)
    connect_s: float = 5.0  # opening the progress socket
    recv_tick_s: float = 0.5  # the wait loop wakes at least this often (cancel and deadline checks)
    silence_s: float = 20.0  # no socket event for this long: poll /history (model loads are silent)
    poll_interval_s: float = 2.0  # polling period while no socket is open
    reconnect_attempts: int = 5  # socket reopen attempts per job, with the same clientId
    reconnect_backoff_s: float = 0.5  # first wait between reopen attempts (doubles)
    max_http_failures: int = 3  # consecutive failed polls before the server counts as gone
    download_workers: int = min(4, os.cpu_count() or 1)  # parallel /view downloads + PNG decodes


@dataclass(frozen=True)
class FileRef:
    """A file on the server as `/history` names it. Untrusted: validated before use, never a local path."""

    filename: str
    subfolder: str = ""
    type: str = "output"

    @classmethod
    def from_ui(cls, item: Any, server: str) -> FileRef:
        if not isinstance(item, Mapping):
            raise ComfyUIError(f"The server at {server} described an output file oddly: {item!r:.200}",
                               server=server)
        ref = cls(str(item.get("filename", "")), str(item.get("subfolder", "") or ""),
                  str(item.get("type", "output") or "output"))
        ref.check(server)
        return ref

    def check(self, server: str = "") -> None:
        bad = None
        if not _SAFE_NAME.match(self.filename) or ".." in self.filename:
            bad = f"file name {self.filename!r}"
        elif self.subfolder and (
            self.subfolder.startswith("/") or "\\" in self.subfolder
            or any(part in ("", ".", "..") or not _SAFE_NAME.match(part) for part in self.subfolder.split("/"))
        ):
            bad = f"subfolder {self.subfolder!r}"
        elif self.type not in ("output", "temp", "input"):
            bad = f"file type {self.type!r}"
        if bad:
            raise ComfyUIError(f"The server at {server} returned an unsafe {bad}; refusing to download it",
                               server=server)

    def params(self) -> dict[str, str]:
        return {"filename": self.filename, "subfolder": self.subfolder, "type": self.type}


JOB_STATES = {"pending": "pending", "in_progress": "running"}  # /api/jobs statuses still on the queue
NO_PREVIEWS = ("the server sent no preview images: ComfyUI 0.3.64 and earlier send them only when started with "
               "--preview-method auto (a job's own preview_method is honoured from the Dec 2025 releases on)")


@dataclass
class JobResult:
    prompt_id: str
    server: str
    images: list[Frame]  # the output node's images, in the server's order
    outputs: dict[str, Any]  # node_id -> the node's ui output, from /history
    files: list[FileRef] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: queued, executing, downloading
    notes: list[str] = field(default_factory=list)  # recoveries along the way (reconnects, polling...)
    node_progress: dict[str, tuple[int, int]] = field(default_factory=dict)  # node -> last (value, max)
    previews: int = 0  # preview images received (0 with steps: the server sends none, see _Job)


try:  # FFmpeg's PNG decoder (PyAV, a Tower dependency) costs ~30 % less CPU than Pillow's, same pixels
    import av as _av
except Exception:  # pragma: no cover - optional speed-up
    _av = None

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decode_png_av(data: bytes) -> Frame | None:
    if _av is None:
        return None
    try:
        ctx = _av.CodecContext.create("png", "r")
        frames = ctx.decode(_av.Packet(data)) + ctx.decode(None)
        return frames[0].to_ndarray(format="rgb24") if frames else None
    except Exception:
        return None  # let Pillow try, and explain if it fails too


def decode_image(data: bytes, *, server: str = "") -> Frame:
    """PNG/JPEG/WEBP bytes -> (H, W, 3) uint8 RGB array, refusing absurd sizes."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ComfyUIError(f"The server at {server} sent an image of {len(data)} bytes; too large", server=server)
    if data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        if width * height > MAX_IMAGE_PIXELS:
            raise ComfyUIError(f"The server at {server} sent a {width}x{height} image; too large", server=server)
        frame = _decode_png_av(data)
        if frame is not None:
            return frame
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise ComfyUIError(f"The server at {server} sent a {img.width}x{img.height} image; too large",
                                   server=server)
            img.load()
            return np.asarray(img if img.mode == "RGB" else img.convert("RGB"), dtype=np.uint8)
    except ComfyUIError:
        raise
    except Exception as exc:  # PIL raises many types for broken data
        raise ComfyUIError(f"The server at {server} sent an image that cannot be read ({exc})",
                           server=server) from exc


def decode_preview(message: bytes, prompt_id: str | None = None) -> Frame | None:
    """A binary socket frame -> preview image, or None when it is not a preview (or not for prompt_id).

    Type 1: `[u32 1][u32 format: 1 JPEG, 2 PNG][image]`. Type 4 (sent to clients that announced
    `supports_preview_metadata`): `[u32 4][u32 json_len][json {prompt_id, node_id, ...}][image]`.
    """
    if len(message) < 8:
        return None
    (event,) = struct.unpack(">I", message[:4])
    try:
        if event == PREVIEW_IMAGE:
            return decode_image(bytes(message[8:]))
        if event == PREVIEW_IMAGE_WITH_METADATA:
            (length,) = struct.unpack(">I", message[4:8])
            meta = json.loads(bytes(message[8:8 + length]).decode("utf-8"))
            if prompt_id and isinstance(meta, dict) and meta.get("prompt_id") not in (None, prompt_id):
                return None
            return decode_image(bytes(message[8 + length:]))
    except (ComfyUIError, ValueError, struct.error):
        log.debug("unreadable preview frame ignored")
    return None


def encode_png(frame: Frame, compress_level: int = 1) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).save(buf, format="PNG",
                                                                     compress_level=compress_level)
    return buf.getvalue()


class ComfyUIClient:
    """HTTP + WebSocket access to one ComfyUI server. Not shared between threads: one per job."""

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: ClientTimeouts | None = None,
        client_id: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = normalize_url(base_url)
        self.timeouts = timeouts or ClientTimeouts()
        self.client_id = client_id or uuid.uuid4().hex
        self.session = session or requests.Session()
        self._jobs_api: bool | None = None  # whether the server answers /api/jobs (releases after 0.3.6x)

    # -- plain HTTP --------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeouts.http_s)
        try:
            response = self.session.request(method, self.url(path), **kwargs)
        except requests.RequestException as exc:
            raise ServerUnavailable(
                f"Cannot reach the ComfyUI server at {self.base_url} ({type(exc).__name__}); is it running?",
                server=self.base_url,
            ) from exc
        if response.status_code >= 500:
            raise ServerUnavailable(
                f"The ComfyUI server at {self.base_url} answered {response.status_code} to {path}: "
                f"{response.text[:200]}",
                server=self.base_url,
            )
        return response

    def _json(self, response: requests.Response, path: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ServerUnavailable(
                f"The ComfyUI server at {self.base_url} answered {path} with something that is not JSON "
                f"(HTTP {response.status_code}): {response.text[:200]}",
                server=self.base_url,
            ) from exc

    def get_json(self, path: str, **params: Any) -> Any:
        response = self._request("GET", path, params=params or None)
        if response.status_code != 200:
            raise ServerUnavailable(
                f"The ComfyUI server at {self.base_url} answered {response.status_code} to GET {path}",
                server=self.base_url,
            )
        return self._json(response, path)

    def post_json(self, path: str, body: Any) -> requests.Response:
        return self._request("POST", path, json=body)

    def system_stats(self) -> dict:
        return self.get_json("/system_stats")

    def free(self, *, unload_models: bool = True, free_memory: bool = True) -> None:
        """Ask the server to unload its models and free memory (applied between jobs, never mid-job)."""
        self.post_json("/free", {"unload_models": unload_models, "free_memory": free_memory})

    def object_info(self) -> dict:
        return self.get_json("/object_info")

    def queue(self) -> dict:
        return self.get_json("/queue")

    def history(self, prompt_id: str) -> dict | None:
        """The history entry of one job (never the whole /history), or None if the server has none."""
        data = self.get_json(f"/history/{prompt_id}")
        entry = data.get(prompt_id) if isinstance(data, dict) else None
        return entry if isinstance(entry, dict) else None

    def delete_history(self, prompt_id: str) -> None:
        self.post_json("/history", {"delete": [prompt_id]})

    def upload_image(self, image: Frame | bytes, name: str, *, subfolder: str = "tower") -> str:
        """Upload an init image to the server's input folder; returns the value for LoadImage's `image`."""
        data = image if isinstance(image, (bytes, bytearray)) else encode_png(image)
        response = self._request(
            "POST", "/upload/image",
            files={"image": (name, bytes(data), "image/png")},
            data={"type": "input", "subfolder": subfolder, "overwrite": "true"},
        )
        if response.status_code != 200:
            raise ComfyUIError(
                f"The ComfyUI server at {self.base_url} refused the init image upload "
                f"(HTTP {response.status_code}): {response.text[:200]}",
                server=self.base_url, retryable=True,
            )
        body = self._json(response, "/upload/image")
        ref = FileRef(str(body.get("name", "")), str(body.get("subfolder", "") or ""), "input")
        ref.check(self.base_url)
        return f"{ref.subfolder}/{ref.filename}" if ref.subfolder else ref.filename

    def download(self, ref: FileRef) -> bytes:
        ref.check(self.base_url)
        response = self._request("GET", "/view", params=ref.params())
        if response.status_code != 200:
            raise ServerUnavailable(
                f"The ComfyUI server at {self.base_url} could not serve output {ref.filename!r} "
                f"(HTTP {response.status_code})",
                server=self.base_url,
            )
        return response.content

    # -- queueing ----------------------------------------------------------------------------------------

    def submit(self, workflow: Mapping[str, Any], *, prompt_id: str | None = None,
               preview_method: str = "auto") -> str:
        """POST /prompt under a prompt_id chosen here; returns the id the server uses.

        A POST that fails in transit is retried once, but only after checking the id is not already queued.
        A 400 raises WorkflowInvalid with the server's node_errors in plain words.
        """
        # Newer servers refuse an id that is not a canonical lowercase UUID (400 invalid_prompt_id).
        prompt_id = str(uuid.UUID(prompt_id)) if prompt_id else str(uuid.uuid4())
        extra: dict[str, Any] = {}
        if preview_method and preview_method != "none":
            extra["preview_method"] = preview_method
        body = {"prompt": dict(workflow), "client_id": self.client_id, "prompt_id": prompt_id,
                "extra_data": extra}
        for attempt in (1, 2):
            try:
                response = self.post_json("/prompt", body)
                break
            except ServerUnavailable:
                if attempt == 2:
                    raise
                if self.locate(prompt_id)[0] != "vanished":
                    return prompt_id  # the first POST did land
        if response.status_code == 400:
            try:
                data = response.json()
            except ValueError:
                data = response.text
            problems = prompt_error_problems(data)
            raise WorkflowInvalid(problems_message(problems, server=self.base_url), server=self.base_url,
                                  problems=problems)
        if response.status_code != 200:
            raise ComfyUIError(
                f"The ComfyUI server at {self.base_url} answered {response.status_code} to POST /prompt: "
                f"{response.text[:200]}",
                server=self.base_url,
            )
        data = self._json(response, "/prompt")
        if data.get("node_errors"):
            log.warning("%s accepted prompt %s with node errors: %s", self.base_url, prompt_id,
                        data["node_errors"])
        # Servers older than client-chosen ids make their own: follow whichever id it reports.
        return str(data.get("prompt_id") or prompt_id)

    def has_jobs_api(self) -> bool:
        """Does the server offer GET /api/jobs (Dec 2025 and later)? Asked once; 0.3.64 answers 404."""
        if self._jobs_api is None:
            response = self._request("GET", "/api/jobs", params={"limit": 1})
            try:
                body = response.json() if response.status_code == 200 else None
            except ValueError:
                body = None
            self._jobs_api = isinstance(body, dict) and isinstance(body.get("jobs"), list)
        return self._jobs_api

    def job(self, prompt_id: str) -> dict | None:
        """GET /api/jobs/{id}: the job with its outputs and execution status; None when the server has none."""
        response = self._request("GET", f"/api/jobs/{prompt_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServerUnavailable(f"The ComfyUI server at {self.base_url} answered {response.status_code} to "
                                    f"GET /api/jobs/{prompt_id}", server=self.base_url)
        data = self._json(response, "/api/jobs")
        return data if isinstance(data, dict) else None

    def locate(self, prompt_id: str) -> tuple[str, dict | None]:
        """Where a job is: ("done", history entry) | ("running", None) | ("pending", None) | ("vanished", None).
        From GET /api/jobs/{id} where the server has it (one request), else from /history and /queue."""
        if self.has_jobs_api():
            job = self.job(prompt_id)
            status = job.get("status") if job else None
            if status in JOB_STATES:
                return JOB_STATES[status], None
            if status in ("completed", "failed"):
                assert job is not None
                execution = job.get("execution_status") or {
                    "status_str": "success" if status == "completed" else "error",
                    "completed": status == "completed", "messages": []}
                return "done", {"outputs": job.get("outputs") or {}, "status": execution}
            return "vanished", None
        entry = self.history(prompt_id)
        if entry is not None:
            return "done", entry
        queue = self.queue()
        for state, key in (("running", "queue_running"), ("pending", "queue_pending")):
            for item in queue.get(key) or []:
                if isinstance(item, (list, tuple)) and len(item) > 1 and item[1] == prompt_id:
                    return state, None
        entry = self.history(prompt_id)  # it may have finished between the two reads
        if entry is not None:
            return "done", entry
        return "vanished", None

    def cancel(self, prompt_id: str) -> str:
        """Remove a pending job and interrupt it if it is the running one. Returns what was done."""
        self.post_json("/queue", {"delete": [prompt_id]})
        state, _ = self.locate(prompt_id)
        if state == "running":
            # Only when ours is the running job: older servers interrupt whatever runs, ignoring the id.
            self.post_json("/interrupt", {"prompt_id": prompt_id})
            return "interrupted"
        if state == "pending":  # raced from pending: try once more
            self.post_json("/queue", {"delete": [prompt_id]})
        return "deleted" if state != "done" else "done"

    # -- the progress socket -----------------------------------------------------------------------------

    def ws_url(self) -> str:
        base = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/ws?clientId={self.client_id}"

    def open_socket(self) -> websocket.WebSocket:
        try:
            ws = websocket.create_connection(self.ws_url(), timeout=self.timeouts.connect_s,
                                             enable_multithread=False)
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerUnavailable(
                f"Cannot open the progress socket of ComfyUI at {self.base_url} ({type(exc).__name__})",
                server=self.base_url,
            ) from exc
        with contextlib.suppress(OSError, websocket.WebSocketException):
            ws.send(json.dumps({"type": "feature_flags", "data": {"supports_preview_metadata": True}}))
        return ws

    # -- a whole job -------------------------------------------------------------------------------------

    def run(
        self,
        workflow: Mapping[str, Any],
        *,
        output_node: str,
        progress: ProgressCallback = no_progress,
        should_cancel: CancelCheck = never_cancel,
        deadline_at: float | None = None,
        deadline_s: float | None = None,
        preview_method: str = "auto",
        progress_node: str | None = None,
        prompt_id: str | None = None,
        on_queued: Callable[[str], None] | None = None,
    ) -> JobResult:
        """Queue `workflow`, follow it to the end and return the images of `output_node`.

        `deadline_at` is a time.monotonic() value (the pool passes the job's overall deadline); else
        `deadline_s` from now (default DEFAULT_DEADLINE_S, 600 s).
        """
        started = time.monotonic()
        if deadline_at is None:
            deadline_at = started + (deadline_s if deadline_s is not None else DEFAULT_DEADLINE_S)
        job = _Job(self, prompt_id or str(uuid.uuid4()), output_node, progress, should_cancel, deadline_at,
                   progress_node)
        return job.run(workflow, preview_method, on_queued)


class _Job:
    """The state of one job being followed; see ComfyUIClient.run()."""

    def __init__(self, client: ComfyUIClient, prompt_id: str, output_node: str, progress: ProgressCallback,
                 should_cancel: CancelCheck, deadline_at: float, progress_node: str | None) -> None:
        self.c = client
        self.t = client.timeouts
        self.server = client.base_url
        self.prompt_id = prompt_id
        self.output_node = output_node
        self.progress = progress
        self.should_cancel = should_cancel
        self.deadline_at = deadline_at
        self.progress_node = progress_node
        self.ws: websocket.WebSocket | None = None
        self.step: tuple[int, int] | None = None
        self.node_progress: dict[str, tuple[int, int]] = {}
        self.finished = False  # saw `executing null` for our job
        self.cancelling = False
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self.pending_preview: Frame | None = None  # a step's preview waits for that step's progress message
        self.announced: tuple[int, int] | None = None  # a step progress_state announced, not reported yet
        self.previews = 0
        self.asked_previews = False

    # The job is "live" on the server from a successful POST until we saw it end.
    def run(self, workflow: Mapping[str, Any], preview_method: str,
            on_queued: Callable[[str], None] | None) -> JobResult:
        t0 = self.t0 = time.monotonic()
        self.asked_previews = preview_method not in ("", "none")
        try:
            self.ws = self.c.open_socket()
        except ServerUnavailable as exc:
            self.notes.append(f"no progress socket ({exc}); polling instead")
            self.ws = None
        live = False
        try:
            self._check_cancel_and_deadline(live=False)
            self.prompt_id = self.c.submit(workflow, prompt_id=self.prompt_id, preview_method=preview_method)
            live = True
            self.timings["submitted"] = time.monotonic() - t0
            if on_queued is not None:
                on_queued(self.prompt_id)
            entry = self._follow()
            self._flush()
            self.timings["executed"] = time.monotonic() - t0
            result = self._collect(entry)
            result.timings["downloaded"] = time.monotonic() - t0
            return result
        except BaseException as exc:
            gone = isinstance(exc, (ServerUnavailable, ConnectionLost, JobVanished))
            over = isinstance(exc, (ExecutionFailed, Interrupted, Cancelled)) or self.finished
            if live and not gone and not over:
                self._cancel_quietly()  # deadline, a failing callback, Ctrl-C...: free the GPU
            if gone:
                live = False
            raise
        finally:
            self._close_socket()
            if live:
                self._delete_history_quietly()

    # -- helpers -----------------------------------------------------------------------------------------

    def _close_socket(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.close(timeout=0.2)
            self.ws = None

    def _delete_history_quietly(self) -> None:
        with contextlib.suppress(ComfyUIError):
            self.c.delete_history(self.prompt_id)

    def _cancel_quietly(self) -> None:
        try:
            self.c.cancel(self.prompt_id)
        except ComfyUIError as exc:
            log.info("could not cancel %s on %s: %s", self.prompt_id, self.server, exc)

    def _check_cancel_and_deadline(self, *, live: bool) -> None:
        if self.should_cancel():
            if live:
                self._cancel_and_confirm()
            raise Cancelled("Cancelled on request" + (f" (job {self.prompt_id} on {self.server})" if live else ""))
        if time.monotonic() >= self.deadline_at:
            where = f"job {self.prompt_id}; it was cancelled there" if live else "the job before it was queued"
            raise DeadlineExceeded(
                f"ComfyUI at {self.server} did not finish {where} before the deadline. Check that server (its "
                f"console shows what it is doing) or raise TOWER_COMFYUI_DEADLINE_S.",
                server=self.server,
            )

    def _cancel_and_confirm(self) -> None:
        """Cancel, then wait (bounded by the deadline) until the server says the job is interrupted or gone,
        and only then delete its history: an interrupt takes effect at the end of the current sampler step
        (20-38 s on a CPU), and the server writes the job's history entry after that."""
        self.cancelling = True
        try:
            self.c.cancel(self.prompt_id)
            while time.monotonic() < self.deadline_at:
                state, _ = self.c.locate(self.prompt_id)
                if state not in ("running", "pending"):
                    break
                time.sleep(min(self.t.poll_interval_s, 0.5))
        except ComfyUIError as exc:
            log.info("cancel of %s on %s incomplete: %s", self.prompt_id, self.server, exc)
        self._delete_history_quietly()

    def _handle_text(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        kind, data = msg.get("type"), msg.get("data")
        if not isinstance(data, dict):
            return
        pid = data.get("prompt_id")
        if pid is not None and pid != self.prompt_id:
            return  # another job's event (prompts without client_id are broadcast)
        if kind == "executing":
            # `node: null` ends the job (after success or error). Old servers omit prompt_id there.
            if data.get("node") is None and (pid == self.prompt_id or (pid is None and "started" in self.timings)):
                self.finished = True
        elif kind == "progress":
            node = data.get("node")
            try:
                value, total = int(data.get("value", 0)), int(data.get("max", 0))
            except (TypeError, ValueError):
                return
            if node is not None:
                self.node_progress[str(node)] = (value, total)
            if self.progress_node is None or node is None or str(node) == self.progress_node:
                self._step(value, total, from_state=False)
        elif kind == "progress_state":
            self._progress_state(data)
        elif kind == "execution_start":
            self.timings.setdefault("started", time.monotonic() - self.t0)
        elif kind == "execution_error":
            raise _execution_failed(data, self.server)
        elif kind == "execution_interrupted" and not self.cancelling:
            raise Interrupted(
                f"The job was interrupted on the ComfyUI server at {self.server} (not by Tower; someone "
                f"pressed Cancel there?) in node {data.get('node_id')} {data.get('node_type', '')}".rstrip(),
                server=self.server,
            )

    def _step(self, value: int, total: int, *, from_state: bool) -> None:
        """One sampler step. A real 0.3.64 sends, per step, `progress_state`, then the preview image, then
        `progress`; an older one only the preview and `progress`. Each step is reported once, with its own
        preview: a step announced by `progress_state` waits for its preview or its `progress`."""
        if from_state:
            if (value, total) in (self.step, self.announced):
                self._flush()
                return
            self._flush()
            self.announced = (value, total)
            return
        if self.announced == (value, total):
            image, self.pending_preview = self.pending_preview, None
            self._flush(image)
            return
        self._flush()
        image, self.pending_preview = self.pending_preview, None
        if (value, total) != self.step or image is not None:
            self.step = (value, total)
            self.progress(value, total, image)

    def _flush(self, image: Frame | None = None) -> None:
        """Report the step `progress_state` announced, if any, with `image`."""
        if self.announced is not None:
            self.step, self.announced = self.announced, None
            self.progress(self.step[0], self.step[1], image)

    def _progress_state(self, data: dict) -> None:
        """`progress_state`: every active node's {value, max, state}; follow the progress node (else the
        running node with steps)."""
        nodes = data.get("nodes")
        if not isinstance(nodes, dict):
            return
        for node_id, state in nodes.items():
            if not isinstance(state, dict):
                continue
            try:
                value, total = int(float(state.get("value", 0))), int(float(state.get("max", 0)))
            except (TypeError, ValueError):
                continue
            if total <= 1:  # a node that only started or finished: no steps to show
                continue
            self.node_progress[str(node_id)] = (value, total)
            if (self.progress_node is None and state.get("state") == "running") or str(node_id) == self.progress_node:
                self._step(value, total, from_state=True)

    def _handle_binary(self, data: bytes) -> None:
        """A step's preview image: handed over with the step it belongs to, the first one included."""
        if not self.asked_previews:  # a server started with --preview-method sends them all the same
            return
        image = decode_preview(data, self.prompt_id)
        if image is None:
            return
        self.previews += 1
        if self.announced is not None:
            self._flush(image)
        else:
            self.pending_preview = image

    def _follow(self) -> dict:
        """Follow the job until it ends; return its history entry."""
        now = time.monotonic()
        last_event = now
        last_poll = now
        poll_now = False
        http_failures = 0
        reconnects = 0
        next_reconnect = now
        while True:
            self._check_cancel_and_deadline(live=True)
            now = time.monotonic()
            if self.ws is None and reconnects < self.t.reconnect_attempts and now >= next_reconnect:
                reconnects += 1
                try:
                    self.ws = self.c.open_socket()
                    self.notes.append(f"progress socket reopened (attempt {reconnects})")
                    last_event = time.monotonic()
                    poll_now = True  # events sent while we were away are lost: look at /history
                except ServerUnavailable:
                    next_reconnect = now + self.t.reconnect_backoff_s * (2 ** (reconnects - 1))
            if self.ws is not None:
                tick = max(0.01, min(self.t.recv_tick_s, self.deadline_at - time.monotonic()))
                try:
                    self.ws.settimeout(tick)
                    opcode, payload = self.ws.recv_data()
                    last_event = time.monotonic()
                    if opcode == websocket.ABNF.OPCODE_TEXT:
                        self._handle_text(payload.decode("utf-8", "replace"))
                    elif opcode == websocket.ABNF.OPCODE_BINARY:
                        self._handle_binary(payload)
                    elif opcode == websocket.ABNF.OPCODE_CLOSE:
                        raise websocket.WebSocketConnectionClosedException("closed by server")
                except websocket.WebSocketTimeoutException:
                    pass
                except (websocket.WebSocketException, OSError) as exc:
                    if isinstance(exc, TimeoutError):
                        pass
                    else:
                        self.notes.append(f"progress socket lost ({type(exc).__name__})")
                        self._close_socket()
                        poll_now = True
                        next_reconnect = time.monotonic()
            else:
                remaining = self.deadline_at - time.monotonic()
                time.sleep(max(0.0, min(self.t.recv_tick_s, self.t.poll_interval_s, remaining)))
            if self.finished:
                entry = self._history_after_finish()
                if entry is not None:
                    return entry
                poll_now = True
                self.finished = False
            now = time.monotonic()
            silent = now - last_event >= self.t.silence_s
            due = (
                poll_now
                or (self.ws is None and now - last_poll >= self.t.poll_interval_s)
                or (silent and now - last_poll >= self.t.silence_s)
            )
            if not due:
                continue
            poll_now = False
            last_poll = now
            if silent and self.ws is not None:
                self.notes.append(f"no event for {self.t.silence_s:.0f} s; polled /history")
            try:
                state, entry = self.c.locate(self.prompt_id)
                http_failures = 0
            except ServerUnavailable as exc:
                http_failures += 1
                if http_failures >= self.t.max_http_failures:
                    raise ConnectionLost(
                        f"Lost contact with the ComfyUI server at {self.server} while it ran job "
                        f"{self.prompt_id}: {exc}",
                        server=self.server,
                    ) from exc
                continue
            if state == "done" and entry is not None:
                return entry
            if state == "vanished":
                raise JobVanished(
                    f"The ComfyUI server at {self.server} no longer knows job {self.prompt_id} (not queued, not "
                    f"running, no history): it was probably restarted",
                    server=self.server,
                )

    def _history_after_finish(self) -> dict | None:
        # `executing null` is sent after the history entry is written (main.py prompt_worker), but allow a
        # brief race with proxies or older servers.
        for delay in (0.0, 0.05, 0.2):
            if delay:
                time.sleep(delay)
            try:
                entry = self.c.history(self.prompt_id)
            except ServerUnavailable:
                return None
            if entry is not None:
                return entry
        return None

    def _collect(self, entry: dict) -> JobResult:
        status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
        messages = status.get("messages") or []
        if status and (status.get("status_str") == "error" or status.get("completed") is False):
            for item in messages:
                if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], dict):
                    event, data = item
                    if event == "execution_error":
                        raise _execution_failed(data, self.server)
                    if event == "execution_interrupted":
                        if self.cancelling:
                            raise Cancelled(f"Cancelled on request (job {self.prompt_id} on {self.server})")
                        raise Interrupted(
                            f"The job was interrupted on the ComfyUI server at {self.server} (not by Tower)",
                            server=self.server,
                        )
            raise ComfyUIError(f"The ComfyUI server at {self.server} reports job {self.prompt_id} failed "
                               f"without saying why", server=self.server, retryable=True)
        outputs = entry.get("outputs") if isinstance(entry.get("outputs"), dict) else {}
        ui = outputs.get(self.output_node)
        if not isinstance(ui, dict) or not (ui.get("images") or ui.get("gifs")):
            raise ComfyUIError(
                f"The ComfyUI job {self.prompt_id} on {self.server} finished without images from node "
                f"{self.output_node} (outputs from nodes: {', '.join(outputs) or 'none'})",
                server=self.server,
            )
        refs = [FileRef.from_ui(item, self.server) for item in (ui.get("images") or ui.get("gifs"))]
        images = self._download_all(refs)
        if self.step is not None and self.step[0] > 0 and not self.previews and self.asked_previews:
            self.notes.append(NO_PREVIEWS)
        return JobResult(self.prompt_id, self.server, images, outputs, refs, dict(self.timings), self.notes,
                         dict(self.node_progress), self.previews)

    def _download_all(self, refs: list[FileRef]) -> list[Frame]:
        def fetch(ref: FileRef) -> Frame:
            return decode_image(self.c.download(ref), server=self.server)

        workers = max(1, min(self.t.download_workers, len(refs)))
        if workers == 1:
            return [fetch(r) for r in refs]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="comfyui-view") as pool:
            return list(pool.map(fetch, refs))


def _execution_failed(data: Mapping[str, Any], server: str) -> ExecutionFailed:
    node_id = data.get("node_id")
    node_type = data.get("node_type") or ""
    exc_type = str(data.get("exception_type") or "")
    exc_msg = str(data.get("exception_message") or "").strip()
    short_type = exc_type.rsplit(".", 1)[-1]
    return ExecutionFailed(
        f"ComfyUI at {server} failed in node {node_id} {node_type}: {short_type}: {exc_msg[:500]}".replace(
            " : ", ": "),
        server=server,
        node_id=str(node_id) if node_id is not None else None,
        node_type=node_type,
        exception_type=exc_type,
    )
