"""Segment clips and the one-pass episode render, on real ffmpeg with small frames (pure pipeline, no Django)."""

from pathlib import Path

import numpy as np
import pytest

from productions.lib.conformance import check_conformance, probe_video
from productions.lib.ffmpeg import read_frames
from productions.lib.files import atomic_path
from productions.lib.planning import CONTINUOUS, CUT, DISSOLVE, FADE, Join, clip_frames, timeline_frames
from productions.lib.post import Clip, SegmentClipWriter, SegmentFiles, episode_graph, render_episode_file
from productions.lib.spec import DeliverySpec

SPEC = DeliverySpec(width=320, height=180, min_duration_s=2, min_bitrate_bps=200_000)
UPSCALE = "scale=320:180:flags=lanczos"
W, H = 256, 144


def moving_frames(n: int, shade: int, start: int = 0) -> list[np.ndarray]:
    """Smooth colour waves drifting sideways, frame i at phase start + i; `shade` makes another picture."""
    x = np.arange(W)[None, :, None] / W
    y = np.arange(H)[:, None, None] / H
    phase = np.array([0.0, 2.0, 4.0]) + shade / 40
    return [
        (127 + 100 * np.sin(2 * np.pi * (x * 1.5 + 0.4 * y + (start + i) / 20) + phase)).astype(np.uint8)
        for i in range(n)
    ]


def write_clip(folder: Path, frames: list[np.ndarray], fps: float) -> SegmentFiles:
    files = SegmentFiles(folder)
    with SegmentClipWriter(files, W, H, fps) as writer:
        for frame in frames:
            writer.write(frame)
        writer.commit()
    return files


def decoded(path: Path) -> list[np.ndarray]:
    return [f.astype(np.float32) for f in read_frames(path, SPEC.width, SPEC.height)]


def diffs(frames: list[np.ndarray]) -> list[float]:
    return [float(np.abs(b - a).mean()) for a, b in zip(frames, frames[1:], strict=False)]


def test_the_clip_writer_makes_a_lossless_native_clip_and_a_small_proxy(tmp_path):
    frames = moving_frames(10, 0)
    files = write_clip(tmp_path / "seg", frames, 12)
    native, proxy = probe_video(files.native), probe_video(files.proxy)
    assert (native.codec, native.width, native.height, native.frame_count) == ("h264", W, H, 10)
    assert (proxy.codec, proxy.pix_fmt, proxy.frame_count, proxy.avg_frame_rate) == ("h264", "yuv420p", 10, 12)
    assert proxy.faststart
    got = list(read_frames(files.native, W, H))
    assert all(np.array_equal(a, b) for a, b in zip(got, frames, strict=True))  # bit-exact
    assert not list((tmp_path / "seg").glob(".*tmp*"))


def test_a_writer_left_without_commit_leaves_nothing(tmp_path):
    files = SegmentFiles(tmp_path / "seg")
    with SegmentClipWriter(files, W, H, 12) as writer:
        for frame in moving_frames(4, 0):
            writer.write(frame)
    assert list((tmp_path / "seg").iterdir()) == []
    with pytest.raises(RuntimeError, match="generation died"), SegmentClipWriter(files, W, H, 12) as writer:
        writer.write(moving_frames(1, 0)[0])
        raise RuntimeError("generation died")
    assert list((tmp_path / "seg").iterdir()) == []


def chain(tmp_path: Path, method: str, fps: int, joins: list[Join], n: int = 10) -> list[Clip]:
    """Three clips: 1 continues 0 (its first frame is 0's last), 2 is another picture."""
    seg0 = moving_frames(n, 0)
    seg1 = moving_frames(n, 0, start=n - 1)
    seg2 = moving_frames(n, 128)
    clips = []
    for k, frames in enumerate([seg0, seg1, seg2]):
        files = write_clip(tmp_path / f"{method}{k}", frames, fps)
        clips.append(Clip(files.native, fps, method, joins[k],
                          clip_frames(n, fps, SPEC.fps, method, chained=joins[k].chained)))
    return clips


@pytest.mark.parametrize("method,fps", [("hold", 12), ("hold", 8), ("mci", 8), ("blend", 12), ("none", 24),
                                        ("rife", 24), ("rife", 12)])
def test_one_pass_gives_exact_frame_counts_and_conforms(tmp_path, method, fps):
    joins = [Join(CUT), Join(CONTINUOUS), Join(DISSOLVE, 4)]
    clips = chain(tmp_path, method, fps, joins, n=10 * fps // 8)
    out = tmp_path / "final.mp4"
    total, nothing = render_episode_file(clips, spec=SPEC, upscale=UPSCALE, out_path=out, preset="ultrafast")
    assert total == timeline_frames([c.frames for c in clips], joins) and nothing is None
    report = check_conformance(out, SPEC)
    assert report.passed, report.summary()
    assert report.probe.frame_count == total


def test_hold_repeats_drawings_and_a_continuous_join_has_no_duplicate(tmp_path):
    joins = [Join(CUT), Join(CONTINUOUS), Join(CUT)]
    clips = chain(tmp_path, "hold", 12, joins)
    out = tmp_path / "final.mp4"
    render_episode_file(clips, spec=SPEC, upscale=UPSCALE, out_path=out, preset="ultrafast")
    d = diffs(decoded(out))
    # On twos: every other frame repeats the one before; the others move one drawing on. No blends.
    held, moved = d[0::2], d[1::2]
    assert max(held) < 1.5, held
    # Through the continuous join (frames 19 -> 20) motion goes on by exactly one drawing, as inside a clip:
    # the duplicated first drawing of clip 1 was dropped (a duplicate would hold it 4 frames: diff ~0 at 19).
    inside = np.median(moved[:9])
    assert abs(d[19] - inside) < 0.15 * inside and d[18] < 1.5
    # The cut into clip 2 (another picture) is a single jump.
    assert d[20 + 18 - 1] > 3 * inside


def square_frames(n: int, step: int) -> list[np.ndarray]:
    """A bright square moving right `step` px a frame over a still ground."""
    ground = np.broadcast_to((40 + 60 * np.arange(H) / H)[:, None, None], (H, W, 3)).astype(np.uint8)
    frames = []
    for i in range(n):
        f = ground.copy()
        f[50:90, 20 + i * step:60 + i * step] = (240, 200, 80)
        frames.append(f)
    return frames


def test_mci_makes_in_betweens_not_blends(tmp_path):
    """Motion-compensated: the in-between shows one square half way; a blend shows two half-bright ones."""
    step = 12
    files = write_clip(tmp_path / "sq", square_frames(8, step), 8)
    results = {}
    for method in ("mci", "blend"):
        out = tmp_path / f"{method}.mp4"
        render_episode_file([Clip(files.native, 8, method, Join(CUT), 22)], spec=SPEC, upscale=None,
                            out_path=out, preset="ultrafast")
        frames = [f.astype(np.float32) for f in read_frames(out, W, H)]
        truth = square_frames(8 * 3, step // 3)  # where the square is at 24 fps
        band = slice(40, 100)  # the rows the square moves along
        results[method] = np.mean([np.abs(frames[i][band] - truth[i][band]).mean() for i in range(3, 18) if i % 3])
    assert results["mci"] < 0.5 * results["blend"], results


def test_dissolve_and_fade_through_black_overlap_by_their_length(tmp_path):
    for kind in (DISSOLVE, FADE):
        joins = [Join(CUT), Join(CONTINUOUS), Join(kind, 6)]
        clips = chain(tmp_path / kind, "hold", 12, joins)
        out = tmp_path / f"{kind}.mp4"
        total, _ = render_episode_file(clips, spec=SPEC, upscale=UPSCALE, out_path=out, preset="ultrafast")
        frames = decoded(out)
        assert len(frames) == total == 20 + 18 + 20 - 6
        mid = frames[20 + 18 - 3]
        if kind == FADE:
            assert mid.mean() < 40  # through black
        else:
            assert mid.mean() > 80  # a dissolve stays lit


def test_a_fade_through_black_never_shows_both_pictures(tmp_path):
    """Out to black, then in from black: the incoming shot (a white square on black) never shows while the
    outgoing one (waves) is on screen, and the waves are gone once the square fades in."""
    overlap, n = 8, 10
    square = np.zeros((H, W, 3), np.uint8)
    square[40:100, 100:160] = 255
    inside = (slice(None), slice(40 * 180 // H + 2, 100 * 180 // H - 2), slice(100 * 320 // W + 2, 160 * 320 // W - 2))
    outside = (slice(None), slice(0, 30), slice(None))  # rows the square never reaches
    a = write_clip(tmp_path / "a", moving_frames(n, 0), 12)
    b = write_clip(tmp_path / "b", [square] * n, 12)
    clips = [Clip(a.native, 12, "hold", Join(CUT), 20), Clip(b.native, 12, "hold", Join(FADE, overlap), 20)]
    out = tmp_path / "fade.mp4"
    render_episode_file(clips, spec=SPEC, upscale=UPSCALE, out_path=out, preset="ultrafast")
    frames = [f.transpose(2, 0, 1) for f in decoded(out)]
    waves = [f.transpose(2, 0, 1) for f in decoded(a.native)]  # the outgoing shot alone
    start = 20 - overlap
    for k in range(overlap):
        frame = frames[start + k]
        if k < overlap // 2:  # the waves fading out: the square region is the waves dimmed alike, nothing more
            shown = waves[(start + k) // 2]
            factor = frame[outside].mean() / shown[outside].mean()
            assert abs(frame[inside].mean() - factor * shown[inside].mean()) < 4, k
        else:  # the square fading in: no waves left around it
            assert frame[outside].mean() < 3, k
    lit = frames[start - 1].mean()  # the waves just before the fade
    assert frames[start + overlap // 2 - 1].mean() < 0.3 * lit and frames[start + overlap // 2].mean() < 0.3 * lit


def test_graph_uses_concat_for_cuts_and_continuous_joins_and_xfade_for_transitions():
    clips = [Clip(Path(f"{i}.mkv"), 12, "hold", j, 24)
             for i, j in enumerate([Join(CUT), Join(CONTINUOUS), Join(CUT), Join(DISSOLVE, 12), Join(FADE, 6)])]
    graph = episode_graph(clips, SPEC, UPSCALE)
    assert graph.count("concat=n=2") == 2
    assert "xfade=transition=fade:duration=0.500000:offset=2.500000" in graph  # (3 * 24 - 12) / 24
    assert "xfade=transition=custom:expr='if(gt(P,0.5)" in graph  # a dip to black, not ffmpeg's fadeblack
    assert "duration=0.250000:offset=3.250000" in graph  # (72 + 24 - 12 - 6) / 24
    assert "[1:v]setpts=N/(12*TB),trim=start_frame=1" in graph  # the chained clip drops its first drawing
    assert "[3:v]setpts=N/(12*TB),scale" in graph  # a new shot keeps it
    assert graph.endswith("[out]")


def test_a_failed_write_leaves_no_file_under_the_final_name(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a file")
        raise RuntimeError("crash mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_render_streams_the_frames_it_encodes_for_analysis(tmp_path):
    clips = chain(tmp_path, "hold", 12, [Join(CUT), Join(CONTINUOUS), Join(CUT)])
    out = tmp_path / "final.mp4"
    total, streamed = render_episode_file(clips, spec=SPEC, upscale=UPSCALE, out_path=out, preset="ultrafast",
                                          analyse=lambda frames: [f.copy() for f in frames],
                                          analysis_size=(160, 90))
    assert total == len(streamed) == 58 and streamed[0].shape == (90, 160, 3)
    back = list(read_frames(out, 160, 90))
    # The streamed frames are the encoder's input; the file is the same picture after compression.
    assert np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(streamed, back, strict=True)]) < 3
    assert check_conformance(out, SPEC).passed


@pytest.mark.parametrize("method,fps,joins", [
    ("hold", 12, [Join(CUT), Join(CONTINUOUS), Join(DISSOLVE, 6)]),
    ("hold", 8, [Join(CUT), Join(CONTINUOUS), Join(FADE, 6)]),
    ("mci", 8, [Join(CUT), Join(CONTINUOUS), Join(DISSOLVE, 4)]),
])
def test_the_analysis_output_is_the_delivered_edit_frame_for_frame(tmp_path, method, fps, joins):
    """QA's frames are made beside the picture (split before the upscale), not scaled back down from it: each
    must still be the delivered frame at that position, through holds, in-betweens, dissolves and fades."""
    clips = chain(tmp_path, method, fps, joins, n=10 * fps // 8)
    out = tmp_path / "final.mp4"
    total, streamed = render_episode_file(clips, spec=SPEC, upscale=UPSCALE, out_path=out, preset="ultrafast",
                                          analyse=lambda frames: [f.astype(np.float32) for f in frames],
                                          analysis_size=(160, 90))
    back = [f.astype(np.float32) for f in read_frames(out, 160, 90)]
    assert total == len(streamed) == len(back)
    same = [float(np.abs(a - b).mean()) for a, b in zip(streamed, back, strict=True)]
    shifted = [float(np.abs(a - b).mean()) for a, b in zip(streamed[1:], back, strict=False)]
    assert max(same) < 4, same  # the same picture, give or take the delivery encode and the two scalings
    assert np.mean(shifted) > 2 * np.mean(same)  # a frame out of step would not pass (holds repeat some)


def test_clips_an_outside_upscaler_made_are_analysed_from_their_own_frames(tmp_path):
    """Clips already at the delivery size (Real-ESRGAN's, cached): the picture is not resized, and QA's branch
    scales those very frames down."""
    big = [np.ascontiguousarray(np.repeat(np.repeat(f, 5, axis=0), 5, axis=1)[:SPEC.height, :SPEC.width])
           for f in moving_frames(12, 0)]
    clips = []
    for k, join in enumerate([Join(CUT), Join(CONTINUOUS)]):
        files = SegmentFiles(tmp_path / f"up{k}")
        with SegmentClipWriter(files, SPEC.width, SPEC.height, 12) as writer:
            for frame in big[k * 6:k * 6 + 7]:  # segment 1 starts on segment 0's last frame
                writer.write(frame)
            writer.commit()
        clips.append(Clip(files.native, 12, "hold", join, clip_frames(7, 12, SPEC.fps, "hold", chained=bool(k)),
                          upscaled=True))
    out = tmp_path / "final.mp4"
    total, streamed = render_episode_file(clips, spec=SPEC, upscale=None, out_path=out, preset="ultrafast",
                                          analyse=lambda frames: [f.astype(np.float32) for f in frames],
                                          analysis_size=(160, 90))
    back = [f.astype(np.float32) for f in read_frames(out, 160, 90)]
    assert total == len(streamed) == len(back) == 26
    assert max(float(np.abs(a - b).mean()) for a, b in zip(streamed, back, strict=True)) < 4


def test_an_analysis_that_stops_early_still_gets_a_complete_file(tmp_path):
    clips = chain(tmp_path, "hold", 12, [Join(CUT), Join(CONTINUOUS), Join(CUT)])
    out = tmp_path / "final.mp4"
    _, first = render_episode_file(clips, spec=SPEC, upscale=UPSCALE, out_path=out, preset="ultrafast",
                                   analyse=lambda frames: next(frames).shape)
    assert first == (144, 256, 3)
    assert probe_video(out).frame_count == 58
