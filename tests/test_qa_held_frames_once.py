"""QA measures a held drawing once (issue 10 item 6: the episode QA runs beside the encoder and takes CPU from
it). A frame that repeats the previous one pixel for pixel (every other frame of an episode raised from 12 fps
by holds) takes the previous frame's own measurements; only those that involve its neighbours are made again.
The verdicts and values must be those of measuring every frame."""

from __future__ import annotations

import numpy as np
import pytest

from productions.lib.qa import analysis, check_frames
from productions.lib.qa.analysis import FrameAnalyzer
from tests import qa_corpus as corpus


def on_twos(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [f for f in frames for _ in range(2)]


def features(frames, fps: float = 24.0):
    analyzer = FrameAnalyzer(fps)
    for f in frames:
        analyzer.add(f)
    return analyzer.finish()


def test_a_held_frame_is_measured_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = analysis.edge_sharpness
    monkeypatch.setattr(analysis, "edge_sharpness", lambda full: calls.append(1) or real(full))
    drawings = corpus.render_landscape(3, 6, 256, 144)
    f = features(on_twos(drawings))
    assert len(calls) == len(drawings)
    assert f.n == 2 * len(drawings)
    # the repeats carry their drawing's measurements, and no change from it
    assert np.array_equal(f.sharpness[1::2], f.sharpness[0::2])
    assert np.array_equal(f.blockiness[1::2], f.blockiness[0::2])
    assert not f.mad[1::2].any() and not f.shift[1::2].any()
    assert f.mad[2::2].all()  # each new drawing is a change


def test_a_held_episode_gets_the_verdicts_and_values_of_measuring_every_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    frames = on_twos(corpus.render_landscape(5, 30, 256, 144, pan_px=3.0))
    held = check_frames(frames, 24, boundaries=[1.0], thumbnails=False)
    monkeypatch.setattr(FrameAnalyzer, "_repeats", lambda self, small, full: False)
    every = check_frames(frames, 24, boundaries=[1.0], thumbnails=False)
    assert [(c.name, c.status, c.message) for c in held.checks] == \
        [(c.name, c.status, c.message) for c in every.checks]


def test_a_caller_that_reuses_its_frame_buffer_is_not_mistaken_for_a_hold() -> None:
    """Decoders often hand out one buffer, rewritten per frame: the analyser compares with its own copy."""
    drawings = corpus.render_landscape(7, 6, 256, 144)
    buffer = np.empty_like(drawings[0])

    def through_one_buffer():
        for d in drawings:
            buffer[...] = d
            yield buffer

    reused, copied = features(through_one_buffer()), features(drawings)
    assert np.array_equal(reused.sharpness, copied.sharpness)
    assert np.array_equal(reused.mad, copied.mad) and reused.mad[1:].all()
