"""Automatic QA of generated segments and episodes (no Django imports).

    from productions.lib.qa import check_segment_frames, check_video_file
    result = check_segment_frames(frames, fps=8, expected_frames=41)
    if not result.passed: ...  # result.blocking_failures, result.as_dict() for a JSONField

Checks: frame_format, frame_count, fps, black_frames, frozen, flicker, grid (tiles / multi-panel frames),
ghosting (frames that are a mix of two pictures: blended in-betweens, dissolves; see ghost.py), blockiness,
blur (quality dips), seams (at known segment boundaries), prompt_compliance (CLIP, only with local weights).
Thresholds live in productions/lib/qa/checks.py (and prompt.py), each with its reason.

Transitions the producer chose (a dissolve or a fade through black between two shots) are passed as
`transitions=[(start, end), ...]` frame ranges to check_frames / check_episode_frames / check_video_file: they
are left out of the ghosting, black-frame, flicker and blur checks (a frame either side too). `boundaries`
(seconds) are the continuous joins, where the seam check looks for a jump.
"""

from .api import (
    check_episode_frames,
    check_frames,
    check_segment_frames,
    check_video_file,
)
from .prompt import CLIP_ENV, check_prompt_compliance
from .results import FAILED, NOT_MEASURED, PASSED, CheckResult, QAResult, WorstFrame

__all__ = [
    "CLIP_ENV",
    "FAILED",
    "NOT_MEASURED",
    "PASSED",
    "CheckResult",
    "QAResult",
    "WorstFrame",
    "check_episode_frames",
    "check_frames",
    "check_prompt_compliance",
    "check_segment_frames",
    "check_video_file",
]
