"""QA result dataclasses: one `CheckResult` per check, gathered in a `QAResult`.

Everything `as_dict()` returns is JSON-serialisable (plain str/int/float/bool/None, lists and dicts; JPEG
thumbnails as base64 text) so the Django side can store it in a JSONField as is.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
NOT_MEASURED = "not_measured"

# Bump when a check's meaning or threshold changes, so stored reports can be told apart.
# 2: the ghosting check; declared transitions; seams measured against the frames that change.
QA_VERSION = 2

# Plain-words names for the QA page, where a check's own name would not say what it looks for.
CHECK_LABELS = {
    "ghosting": "Ghosting (blended frames)",
}


def _clean(value: Any) -> Any:
    """numpy scalars -> Python numbers, NaN/inf -> None, recursively: what json.dumps accepts."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (bytes, bytearray)):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


@dataclass
class WorstFrame:
    """A frame that drove a check's value: its index in the checked sequence, its value, a small JPEG."""

    index: int
    value: float
    time_s: float | None = None
    thumbnail_jpeg: bytes | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": int(self.index),
            "value": _clean(float(self.value)),
            "time_s": None if self.time_s is None else round(float(self.time_s), 3),
            "thumbnail_jpeg_b64": (
                base64.b64encode(self.thumbnail_jpeg).decode("ascii") if self.thumbnail_jpeg else None
            ),
        }


@dataclass
class CheckResult:
    """One check's outcome.

    `passed` is False only for a measured failure. `status` tells a measured pass from a check that could not
    be measured (then `value` is None and `message` says why: never an invented number). `comparison` says how
    `value` relates to `threshold` for a pass ("<=" or ">=" or "=="), so a dashboard can draw it without
    knowing the check.
    """

    name: str
    passed: bool
    blocking: bool
    value: float | None
    threshold: float | None
    comparison: str = "<="
    unit: str = ""
    message: str = ""
    status: str = ""
    worst_frames: list[WorstFrame] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = PASSED if self.passed else FAILED
        if self.status == NOT_MEASURED:
            self.passed = True
            self.value = None

    @property
    def measured(self) -> bool:
        return self.status != NOT_MEASURED

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": CHECK_LABELS.get(self.name, self.name),
            "status": self.status,
            "passed": bool(self.passed),
            "blocking": bool(self.blocking),
            "value": _clean(self.value),
            "threshold": _clean(self.threshold),
            "comparison": self.comparison,
            "unit": self.unit,
            "message": self.message,
            "worst_frames": [w.as_dict() for w in self.worst_frames],
            "details": _clean(self.details),
        }


@dataclass
class QAResult:
    """All checks run on one segment or episode.

    `passed` means "no blocking failure": that is what the pipeline acts on. Non-blocking failures are
    `warnings`; checks that could not run are `not_measured`.
    """

    checks: list[CheckResult]
    frames: int
    fps: float | None
    width: int | None
    height: int | None
    analysis_size: tuple[int, int] | None
    elapsed_s: float
    source: str = "frames"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.blocking_failures

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAILED and c.blocking]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAILED and not c.blocking]

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAILED]

    @property
    def not_measured(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == NOT_MEASURED]

    def check(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no QA check named {name!r}; have {[c.name for c in self.checks]}")

    def summary(self) -> str:
        """One line in plain words, e.g. for a log or a producer notification."""
        if not self.checks:
            return "QA ran no checks"
        if self.passed and not self.warnings:
            return f"QA passed ({len(self.checks)} checks)"
        parts = [f"{c.name}: {c.message}" for c in self.failures]
        head = "QA failed" if not self.passed else "QA passed with warnings"
        return f"{head}: " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": QA_VERSION,
            "passed": self.passed,
            "summary": self.summary(),
            "blocking_failures": [c.name for c in self.blocking_failures],
            "warnings": [c.name for c in self.warnings],
            "not_measured": [c.name for c in self.not_measured],
            "frames": int(self.frames),
            "fps": _clean(self.fps),
            "width": self.width,
            "height": self.height,
            "analysis_size": list(self.analysis_size) if self.analysis_size else None,
            "elapsed_s": round(float(self.elapsed_s), 4),
            "source": self.source,
            "info": _clean(self.info),
            "checks": [c.as_dict() for c in self.checks],
        }
