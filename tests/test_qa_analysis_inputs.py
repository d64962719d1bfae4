"""The streaming analysis keeps each frame's grey image as it was: OpenCV 5's phaseCorrelate multiplies its
inputs by the window in place, so a measurement that hands it the kept images (or views of them) would change
what every later measurement sees."""

from __future__ import annotations

import cv2
import numpy as np

from productions.lib.qa.analysis import FrameAnalyzer, analysis_size, downscale
from tests import qa_corpus as corpus


def test_kept_grey_frames_are_the_frames_grey() -> None:
    frames = corpus.render_camera_move(2, 30, move="shake")
    a = FrameAnalyzer(24)
    for frame in frames:
        a.add(frame)
    f = a.finish()
    size = analysis_size(frames[0].shape[1], frames[0].shape[0])
    for frame, kept in zip(frames, f.grays, strict=True):
        expected = cv2.cvtColor(downscale(np.ascontiguousarray(frame), size), cv2.COLOR_RGB2GRAY)
        assert np.array_equal(kept, expected)
    # every measurement saw those same images: the frame differences, and the brightness steps of a shot whose
    # light never changes (~0 with the shake undone)
    for i in range(1, len(frames)):
        diff = np.abs(f.grays[i].astype(np.float32) - f.grays[i - 1].astype(np.float32)).mean()
        assert abs(f.mad[i] - diff) < 1e-3
    assert np.abs(f.gain_step).max() < 0.5
