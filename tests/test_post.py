"""Segment masters and stitching, on real ffmpeg with small frames (pure pipeline, no Django)."""

from pathlib import Path

import numpy as np
import pytest

from productions.lib.conformance import check_conformance, probe_video
from productions.lib.ffmpeg import read_frames
from productions.lib.files import atomic_path
from productions.lib.post import SegmentFiles, crossfade_graph, stitch_episode, write_segment_files
from productions.lib.spec import DeliverySpec
from productions.lib.upscale import LanczosUpscaler

SPEC = DeliverySpec(width=320, height=180, min_duration_s=2, min_bitrate_bps=200_000)


def moving_frames(n: int, shade: int, size=(256, 144)) -> list[np.ndarray]:
    """Smooth colour waves drifting sideways; `shade` makes a clearly different picture."""
    w, h = size
    x = np.arange(w)[None, :, None] / w
    y = np.arange(h)[:, None, None] / h
    phase = np.array([0.0, 2.0, 4.0]) + shade / 40
    return [
        (127 + 100 * np.sin(2 * np.pi * (x * 1.5 + 0.4 * y + i / 20) + phase)).astype(np.uint8)
        for i in range(n)
    ]


@pytest.fixture
def masters(tmp_path) -> list[Path]:
    paths = []
    for k, shade in enumerate([0, 128]):
        files = SegmentFiles(tmp_path / f"n{k}.mkv", tmp_path / f"m{k}.mp4")
        write_segment_files(moving_frames(10, shade), native_fps=8, delivered_frames=27, spec=SPEC,
                            upscaler=LanczosUpscaler(), files=files)
        paths.append(files.master)
    return paths


def test_segment_files_have_exact_sizes_rates_and_counts(tmp_path):
    files = SegmentFiles(tmp_path / "native.mkv", tmp_path / "master.mp4")
    frames = moving_frames(10, 0)
    write_segment_files(frames, native_fps=8, delivered_frames=27, spec=SPEC, upscaler=LanczosUpscaler(),
                        files=files)
    native, master = probe_video(files.native), probe_video(files.master)
    assert (native.codec, native.width, native.height, native.frame_count) == ("h264", 256, 144, 10)
    assert (master.codec, master.width, master.height, master.frame_count) == ("h264", 320, 180, 27)
    assert master.avg_frame_rate == 24 and master.constant_frame_rate
    # The native clip is lossless: decoding gives back exactly the frames that went in.
    decoded = list(read_frames(files.native, 256, 144))
    assert all(np.array_equal(a, b) for a, b in zip(decoded, frames, strict=True))
    assert not list(tmp_path.glob(".*tmp*"))


def test_stitch_has_exact_frame_count_and_meets_the_spec(tmp_path, masters):
    out = tmp_path / "final.mp4"
    total, nothing = stitch_episode(masters, [27, 27], crossfade_frames=6, spec=SPEC, out_path=out,
                                    preset="ultrafast")
    assert total == 48 and nothing is None
    report = check_conformance(out, SPEC)
    assert report.passed, report.summary()
    assert report.probe.frame_count == 48


def test_crossfade_blends_the_overlap(tmp_path, masters):
    out = tmp_path / "final.mp4"
    stitch_episode(masters, [27, 27], crossfade_frames=6, spec=SPEC, out_path=out, preset="ultrafast")
    frames = [f.astype(int) for f in read_frames(out, 320, 180)]
    first = [f.astype(int) for f in read_frames(masters[0], 320, 180)]
    second = [f.astype(int) for f in read_frames(masters[1], 320, 180)]
    # Before the fade: segment 0; after it: segment 1 (frame 27 - 6 + 6 = 27 is segment 1's frame 6).
    assert np.abs(frames[10] - first[10]).mean() < 4
    assert np.abs(frames[30] - second[9]).mean() < 4
    # Mid-fade the picture is between the two.
    mid = frames[24]
    assert np.abs(mid - first[24]).mean() > 10 and np.abs(mid - second[3]).mean() > 10


def test_crossfade_graph_offsets_are_whole_frames():
    graph = crossfade_graph([130, 130, 130], 12, 24)
    assert "offset=4.916667" in graph and "offset=9.833333" in graph  # (130-12)/24, (248-12)/24
    assert graph.endswith("[out]")
    assert crossfade_graph([10], 0, 24) == "[0:v]settb=1/24,setpts=N,setsar=1[s0];[s0]null[out]"


def test_a_failed_write_leaves_no_file_under_the_final_name(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_stitch_streams_the_frames_it_encodes_for_analysis(tmp_path, masters):
    out = tmp_path / "final.mp4"
    total, streamed = stitch_episode(masters, [27, 27], crossfade_frames=6, spec=SPEC, out_path=out,
                                     preset="ultrafast", analyse=lambda frames: [f.copy() for f in frames],
                                     analysis_size=(160, 90))
    assert total == len(streamed) == 48 and streamed[0].shape == (90, 160, 3)
    decoded = list(read_frames(out, 160, 90))
    # The streamed frames are the encoder's input; the file is the same picture after compression.
    assert np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(streamed, decoded, strict=True)]) < 3
    assert check_conformance(out, SPEC).passed


def test_an_analysis_that_stops_early_still_gets_a_complete_file(tmp_path, masters):
    out = tmp_path / "final.mp4"
    _, first = stitch_episode(masters, [27, 27], crossfade_frames=6, spec=SPEC, out_path=out, preset="ultrafast",
                              analyse=lambda frames: next(frames).shape)
    assert first == (144, 256, 3)
    assert probe_video(out).frame_count == 48
