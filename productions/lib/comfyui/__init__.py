"""The ComfyUI backend: workflow files, a protocol client, a pool of servers with failover, and
`ComfyUIBackend` (Tower's Backend protocol). No Django imports and no environment reads here: the app passes
its settings in (productions/media_config.py).

    from productions.lib.comfyui import ComfyUIBackend
    backend = ComfyUIBackend.shared(["http://gpu1:8188", "http://gpu2:8188"], deadline_s=600)
"""

from .backend import ComfyUIBackend
from .client import ClientTimeouts, ComfyUIClient, JobResult
from .errors import (
    ComfyUIError,
    ConnectionLost,
    DeadlineExceeded,
    ExecutionFailed,
    Interrupted,
    JobVanished,
    NoServerAvailable,
    ServerUnavailable,
    WorkflowInvalid,
)
from .pool import Attempt, LoraCheck, LoraListing, ServerPool, check_lora, list_loras, shared_pool
from .workflows import Workflow, WorkflowLibrary, validate_workflow, workflow_problems

__all__ = [
    "Attempt",
    "ClientTimeouts",
    "ComfyUIBackend",
    "ComfyUIClient",
    "ComfyUIError",
    "ConnectionLost",
    "DeadlineExceeded",
    "ExecutionFailed",
    "Interrupted",
    "JobResult",
    "JobVanished",
    "LoraCheck",
    "LoraListing",
    "NoServerAvailable",
    "ServerPool",
    "ServerUnavailable",
    "Workflow",
    "WorkflowInvalid",
    "WorkflowLibrary",
    "check_lora",
    "list_loras",
    "shared_pool",
    "validate_workflow",
    "workflow_problems",
]
