"""The generation backend interface shared by the built-in generator and the ComfyUI backend.

A backend turns a prompt into frames: a keyframe (txt2img) and then, per segment, a short clip that starts
from an init image (img2vid). It reports progress as (step, total, optional preview image) and stops when
asked to cancel. Frames are numpy arrays of shape (height, width, 3), dtype uint8, RGB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .prompts import CharacterSpec, LoraUse

Frame = np.ndarray
# progress(step, total, preview): step counts from 1; preview is a small RGB frame or None.
ProgressCallback = Callable[[int, int, "Frame | None"], None]
# should_cancel() is polled between steps; a True answer makes the backend raise Cancelled.
CancelCheck = Callable[[], bool]


class BackendError(Exception):
    """Generation failed; the message is meant for a producer (plain words, what to do)."""


class Cancelled(BackendError):
    """Generation was cancelled on request."""


@dataclass(frozen=True)
class KeyframeRequest:
    prompt: str
    seed: int
    width: int
    height: int
    negative_prompt: str = ""
    style: str = ""
    model: str = ""  # the keyframe (image) model's profile name; "": the backend's default
    # The storyboard shot behind the prompt (the prompt is already composed from them, lib/prompts.py): what
    # happens, the characters in it (a backend that draws them itself, or a workflow taking a reference image,
    # uses these), their LoRAs (the same stack in every shot a character is in) and the motion strength (0..1).
    action: str = ""
    characters: tuple[CharacterSpec, ...] = ()
    loras: tuple[LoraUse, ...] = ()
    motion: float = 0.5


@dataclass(frozen=True)
class SegmentRequest:
    prompt: str
    seed: int
    init_image: Frame  # the first frame of the clip: the keyframe, or the previous segment's last frame
    width: int
    height: int
    num_frames: int
    fps: int  # native frame rate of the generated clip (interpolated to the delivery rate later)
    index: int = 0
    negative_prompt: str = ""
    style: str = ""
    # May the server interpolate (e.g. a RIFE workflow)? False when the episode's interpolation is Tower's own
    # (hold, mci, blend): the frames must then come back at `fps`.
    server_interpolation: bool = True
    # The video model (its profile name, model_profiles.py): a backend runs only that model's workflows.
    model: str = ""
    # Anchored generation (a first-and-last-frame model): the clip must end exactly on this frame.
    end_image: Frame | None = None
    # The delivery rate a server-side interpolation should reach (fps x an integer multiplier); 0: unknown.
    delivery_fps: int = 0
    # The storyboard shot, as in KeyframeRequest.
    action: str = ""
    characters: tuple[CharacterSpec, ...] = ()
    loras: tuple[LoraUse, ...] = ()
    motion: float = 0.5
    # What the backend reported (`SegmentResult.info`) of the segment whose last frame `init_image` is, at a
    # continuous join; {} when the segment starts from a keyframe. The built-in generator reads where that
    # segment left its characters, so a continuing shot starts them there (an AI model sees them in the image).
    init_info: dict = field(default_factory=dict)


@dataclass
class SegmentResult:
    # The frames, in order. A backend may produce them lazily while they are iterated (`stream_segment`):
    # iterate once. Errors (BackendError, Cancelled) can then surface during the iteration.
    frames: Iterable[Frame]
    fps: int
    info: dict = field(default_factory=dict)  # what produced it: backend, server, model, prompt_id...


class Backend(Protocol):
    name: str
    is_ai: bool  # False for the built-in generator: its output must never be passed off as AI output

    def generate_keyframe(
        self, request: KeyframeRequest, progress: ProgressCallback, should_cancel: CancelCheck
    ) -> Frame: ...

    def generate_segment(
        self, request: SegmentRequest, progress: ProgressCallback, should_cancel: CancelCheck
    ) -> SegmentResult: ...

    # Optional: `stream_segment(request, progress, should_cancel)`, the same with frames produced as they are
    # iterated, so a long segment is never held whole in memory. The renderer uses it where a backend has it.


def no_progress(step: int, total: int, preview: Frame | None) -> None:
    return None


def never_cancel() -> bool:
    return False
