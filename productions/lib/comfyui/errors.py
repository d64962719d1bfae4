"""Errors raised by the ComfyUI backend.

Every error is a `BackendError` whose message is written for a producer: what failed, where, what to do.
`retryable` tells the pool whether running the same job again (on another server) may succeed: a server that
is down, vanished or dropped its socket is retryable; a workflow the server refuses is not.
"""

from __future__ import annotations

from ..backend import BackendError


class ComfyUIError(BackendError):
    """Base class. `server` is the URL that failed (if any); `attempts` is filled in by the pool."""

    retryable: bool = False

    def __init__(self, message: str, *, server: str | None = None, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.server = server
        if retryable is not None:
            self.retryable = retryable
        self.attempts: list[dict] = []


class ServerUnavailable(ComfyUIError):
    """The server could not be reached or answered garbage (connection refused, timeouts, 5xx)."""

    retryable = True


class ConnectionLost(ComfyUIError):
    """The job's progress socket dropped and neither reconnecting nor polling could follow the job."""

    retryable = True


class JobVanished(ComfyUIError):
    """The server no longer knows the job: neither queued, running nor in its history (it restarted?)."""

    retryable = True


class WorkflowInvalid(ComfyUIError):
    """The server refused the workflow (missing node type, model file or input). Not retryable on that server.

    `problems` lists the individual findings (node id, class, input, message). `elsewhere` is True when
    another server with different nodes or models might accept the same workflow.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        server: str | None = None,
        problems: list | None = None,
        elsewhere: bool = True,
    ) -> None:
        super().__init__(message, server=server)
        self.problems = list(problems or [])
        self.elsewhere = elsewhere


class ExecutionFailed(ComfyUIError):
    """A node raised while the job ran (`execution_error`). Out-of-memory errors are retryable."""

    def __init__(
        self,
        message: str,
        *,
        server: str | None = None,
        node_id: str | None = None,
        node_type: str | None = None,
        exception_type: str = "",
        retryable: bool | None = None,
    ) -> None:
        if retryable is None:
            retryable = "outofmemory" in exception_type.lower().replace(" ", "") or (
                "out of memory" in message.lower()
            )
        super().__init__(message, server=server, retryable=retryable)
        self.node_id = node_id
        self.node_type = node_type
        self.exception_type = exception_type


class Interrupted(ComfyUIError):
    """The job was interrupted on the server by someone other than Tower (e.g. Cancel in ComfyUI's UI)."""

    retryable = False


class DeadlineExceeded(ComfyUIError):
    """The job did not finish within its deadline (TOWER_COMFYUI_DEADLINE_S)."""

    retryable = False


class NoServerAvailable(ComfyUIError):
    """No configured server is healthy (or none is configured)."""

    retryable = False
