"""Delivery conformance checks, on real files made by ffmpeg.

One file is made at the real delivery spec (1080p, 24 fps, 30 s, ultrafast: about 8 s on 2 cores); every
other file is a 2-second 320x180 variant checked against SMALL, a DeliverySpec scaled down from the real one,
so each bad file differs from a passing one by exactly the defect under test. /usr/bin/ffprobe, when present,
is used as an independent cross-check of the PyAV measurements.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

from productions.lib.conformance import (
    ConformanceError,
    ConformanceReport,
    VideoProbe,
    check_conformance,
    probe_video,
    scan_top_level_boxes,
)
from productions.lib.encoding import DEFAULT_PRESET, delivery_encode_args
from productions.lib.ffmpeg import run_ffmpeg
from productions.lib.spec import DELIVERY_SPEC, DeliverySpec

FFPROBE = "/usr/bin/ffprobe"
needs_ffprobe = pytest.mark.skipif(not os.path.exists(FFPROBE), reason="no /usr/bin/ffprobe to compare with")

# The real spec scaled down: same codec, profile, pix_fmt and fps; tiny picture, 2 s, a floor CBR can hold.
SMALL = replace(DELIVERY_SPEC, width=320, height=180, min_duration_s=2.0, min_bitrate_bps=200_000)

ALL_CHECKS = [
    "codec", "profile", "pix_fmt", "width", "height", "frame_rate", "constant_frame_rate", "duration",
    "video_bitrate", "frame_count", "faststart", "intact",
]


# ----------------------------------------------------------------------------------------------------------
# Making test files


def lavfi(spec: DeliverySpec, *, source: str = "testsrc2", size: tuple[int, int] | None = None,
          fps: int | None = None, duration: float | None = None) -> list[str]:
    width, height = size or (spec.width, spec.height)
    seconds = spec.min_duration_s if duration is None else duration
    sep = ":" if "=" in source else "="
    return ["-f", "lavfi", "-i", f"{source}{sep}s={width}x{height}:r={fps or spec.fps}:d={seconds:g}"]


def set_option(args: list[str], option: str, value: str) -> list[str]:
    out = list(args)
    out[out.index(option) + 1] = value
    return out


def drop_options(args: list[str], *options: str) -> list[str]:
    out = list(args)
    for option in options:
        i = out.index(option)
        del out[i : i + 2]
    return out


def small_args(spec: DeliverySpec = SMALL) -> list[str]:
    """The product's delivery settings with its default preset (veryfast: B-frames, CABAC, 8x8dct)."""
    return delivery_encode_args(spec, preset=DEFAULT_PRESET)


def encode(out: Path, *args: str) -> Path:
    run_ffmpeg([*args, str(out)], f"making test file {out.name}")
    return out


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conformance")


@pytest.fixture(scope="session")
def delivery_file(media: Path) -> Path:
    """The real spec, with the product's exact delivery arguments at the ultrafast preset."""
    spec = DELIVERY_SPEC
    return encode(media / "delivery.mp4", *lavfi(spec), *delivery_encode_args(spec, preset="ultrafast"))


def _small_good(media: Path) -> Path:
    out = media / "small_good.mp4"  # also the source of the truncated test file: made once
    return out if out.exists() else encode(out, *lavfi(SMALL), *small_args())


@pytest.fixture(scope="session")
def small_good(media: Path) -> Path:
    return _small_good(media)


@pytest.fixture(scope="session")
def vfr_file(media: Path) -> Path:
    """A 24 fps and a 25 fps part, each encoded to spec, joined by the concat demuxer with -c copy: the
    real-world way Tower could produce VFR (it re-times the 25 fps part and leaves a gap at the join)."""
    parts = []
    for fps in (24, 25):
        spec = replace(SMALL, fps=fps)
        parts.append(encode(media / f"part{fps}.mp4", *lavfi(spec, duration=1), *small_args(spec)))
    listing = media / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    return encode(media / "vfr_concat.mp4", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                  "-movflags", "+faststart")


@pytest.fixture(scope="session")
def uneven_vfr_file(media: Path) -> Path:
    """Frames alternately 1.25/24 s and 0.75/24 s apart (fine encoder timebase, timestamps passed through)."""
    uneven = "settb=1/480,setpts='(N+0.25*mod(N,2))/24/TB'"
    args = drop_options(set_option(small_args(), "-fps_mode", "passthrough"), "-r")
    return encode(media / "vfr_uneven.mp4", *lavfi(SMALL), "-vf", uneven, *args, "-enc_time_base:v", "1/480")


def failed(report: ConformanceReport) -> set[str]:
    return {c.name for c in report.failures}


def check(report: ConformanceReport, name: str) -> Any:
    return next(c for c in report.checks if c.name == name)


# ----------------------------------------------------------------------------------------------------------
# Passing files


def test_delivery_file_at_real_spec_passes_every_check(delivery_file: Path) -> None:
    report = check_conformance(delivery_file, DELIVERY_SPEC)
    assert report.passed, report.summary()
    assert [c.name for c in report.checks] == ALL_CHECKS
    p = report.probe
    assert p is not None
    assert (p.codec, p.profile, p.width, p.height, p.pix_fmt) == ("h264", "High", 1920, 1080, "yuv420p")
    assert p.r_frame_rate == p.avg_frame_rate == Fraction(24, 1)
    assert p.duration_s == 30.0 and p.frame_count == 720 == p.indexed_frame_count
    assert p.constant_frame_rate and p.faststart and not p.has_audio
    assert p.video_bitrate_bps >= DELIVERY_SPEC.min_bitrate_bps
    assert p.container_problem is None


def test_ultrafast_delivery_encode_still_signals_high(media: Path) -> None:
    """x264's ultrafast turns off 8x8dct, which drops the stream to Constrained Baseline even with
    -profile:v high; delivery_encode_args turns 8x8dct back on so every preset delivers High."""
    args = delivery_encode_args(SMALL, preset="ultrafast")
    assert "8x8dct=1" in args[args.index("-x264-params") + 1]
    report = check_conformance(encode(media / "ultrafast.mp4", *lavfi(SMALL), *args), SMALL)
    assert report.passed, report.summary()


def test_small_good_file_passes_every_check(small_good: Path) -> None:
    report = check_conformance(small_good, SMALL)
    assert report.passed, report.summary()
    assert [c.name for c in report.checks] == ALL_CHECKS
    assert all(c.detail == "" for c in report.checks)
    assert report.probe is not None and report.probe.frame_count == 48
    assert report.probe.top_level_boxes[:2] == ("ftyp", "moov")


def test_one_tick_timebase_rounding_is_still_constant_frame_rate(media: Path) -> None:
    # In a 1/1000 timescale 1/24 s is 41 or 42 ticks: constant frame rate all the same.
    path = encode(media / "timescale1000.mp4", *lavfi(SMALL), *small_args(), "-video_track_timescale", "1000")
    report = check_conformance(path, SMALL)
    assert report.passed, report.summary()
    p = report.probe
    assert p is not None and p.time_base == Fraction(1, 1000)
    assert (p.frame_interval_min_s, p.frame_interval_max_s) == (0.041, 0.042)


# ----------------------------------------------------------------------------------------------------------
# Failing files: each fails exactly the checks named


def _low_bitrate(media: Path) -> Path:
    # CRF on flat content: what x264 does without the CBR settings (NOTES: 0.03 Mbps at 1080p).
    args = drop_options(small_args(), "-b:v", "-minrate", "-maxrate", "-bufsize")
    args = set_option(args, "-x264-params", "force-cfr=1")
    return encode(media / "low_bitrate.mp4", *lavfi(SMALL, source="color=c=0x4f7fbf"), *args, "-crf", "18")


def _wrong_fps(media: Path) -> Path:
    spec25 = replace(SMALL, fps=25)
    return encode(media / "fps25.mp4", *lavfi(spec25), *small_args(spec25))


def _too_short(media: Path) -> Path:
    return encode(media / "short.mp4", *lavfi(SMALL, duration=1), *small_args())


def _wrong_size(media: Path) -> Path:
    return encode(media / "720p.mp4", *lavfi(SMALL, size=(1280, 720)), *small_args())


def _wrong_pix_fmt(media: Path) -> Path:
    # x264 refuses 4:4:4 in the High profile, so this file also (rightly) fails the profile check.
    args = set_option(set_option(small_args(), "-pix_fmt", "yuv444p"), "-profile:v", "high444")
    return encode(media / "yuv444p.mp4", *lavfi(SMALL), *args)


def _wrong_codec(media: Path) -> Path:
    # MPEG-4 Part 2 has its own profiles ("Simple Profile"), so the profile check fails with the codec.
    args = drop_options(small_args(), "-preset", "-profile:v", "-x264-params",
                        "-b:v", "-minrate", "-maxrate", "-bufsize")
    args = set_option(args, "-c:v", "mpeg4")
    return encode(media / "mpeg4.mp4", *lavfi(SMALL), *args, "-q:v", "2")


def _no_faststart(media: Path) -> Path:
    out = media / "no_faststart.mp4"  # also the source of two other test files: made once
    return out if out.exists() else encode(out, *lavfi(SMALL), *drop_options(small_args(), "-movflags"))


def _truncated(media: Path) -> Path:
    # Cut in the middle of the media data; the index (moov, at the front) survives, so the file still opens.
    data = _small_good(media).read_bytes()
    out = media / "truncated.mp4"
    out.write_bytes(data[: len(data) // 2])
    return out


def _matroska(media: Path) -> Path:
    return encode(media / "good.mkv", *lavfi(SMALL), *drop_options(small_args(), "-movflags"))


BAD_FILES: list[tuple[str, Callable[[Path], Path], set[str], str]] = [
    ("low_bitrate", _low_bitrate, {"video_bitrate"}, "is under the 0.2 Mbps floor"),
    # 25 fps for 2 s is 50 frames where 24 fps needs 48: the frame count is also (rightly) wrong.
    ("wrong_fps", _wrong_fps, {"frame_rate", "frame_count"},
     "The frame rate is 25 fps; the spec requires exactly 24 fps."),
    ("too_short", _too_short, {"duration"}, "The video is 1.000 s long, shorter than the 2 s minimum."),
    ("wrong_size", _wrong_size, {"width", "height"},
     "The picture width in pixels is 1280; the spec requires 320."),
    ("wrong_pix_fmt", _wrong_pix_fmt, {"pix_fmt", "profile"},
     "The pixel format is yuv444p; the spec requires yuv420p."),
    ("wrong_codec", _wrong_codec, {"codec", "profile"}, "The video codec is mpeg4; the spec requires h264."),
    ("no_faststart", _no_faststart, {"faststart"}, "re-mux with -movflags +faststart"),
    # Half the media data is gone: frames are missing, the bitrate over the indexed duration halves, and as
    # the cut lands inside a B-frame group the frames that remain have a gap in presentation order (not CFR).
    ("truncated", _truncated, {"intact", "frame_count", "video_bitrate", "constant_frame_rate"},
     "(the file is truncated); only "),
    ("matroska", _matroska, {"faststart"}, "not an MP4"),
]


@pytest.mark.parametrize(("make", "expected", "fragment"), [case[1:] for case in BAD_FILES],
                         ids=[case[0] for case in BAD_FILES])
def test_bad_file_fails_exactly_its_checks(media: Path, make: Callable[[Path], Path], expected: set[str],
                                           fragment: str) -> None:
    report = check_conformance(make(media), SMALL)
    assert not report.passed
    assert failed(report) == expected, report.summary()
    assert fragment in report.summary()
    for c in report.failures:
        assert c.detail.endswith(".") and c.detail[0].isupper(), c
        assert c.measured and c.expected
    json.dumps(report.as_dict())


def test_variable_frame_rate(vfr_file: Path) -> None:
    report = check_conformance(vfr_file, SMALL)
    assert failed(report) == {"frame_rate", "constant_frame_rate", "frame_count"}, report.summary()
    cfr = check(report, "constant_frame_rate")
    assert cfr.measured == "frame intervals 41.667 to 83.333 ms"  # a whole frame missing at the join
    assert cfr.detail == (
        "Frame intervals vary from 41.667 ms to 83.333 ms, so the frame rate is variable; the spec requires "
        "every frame to last exactly 1/24 s.")
    assert check(report, "frame_rate").measured == "r_frame_rate 24/1, avg_frame_rate 588/25"


def test_uneven_timestamps_are_variable_frame_rate(uneven_vfr_file: Path) -> None:
    report = check_conformance(uneven_vfr_file, SMALL)
    # 48 frames in 2.010 s still rounds to 48 at 24 fps: only the rate checks catch this one.
    assert failed(report) == {"constant_frame_rate", "frame_rate"}, report.summary()
    assert check(report, "constant_frame_rate").measured == "frame intervals 31.250 to 52.083 ms"


def test_frame_count_detail_is_plain(vfr_file: Path) -> None:
    detail = check(check_conformance(vfr_file, SMALL), "frame_count").detail
    assert detail.startswith("The file holds 49 frames, but 2.083 s at 24 fps is 50 frames (1 missing)")


# ----------------------------------------------------------------------------------------------------------
# Unreadable files: a ConformanceError naming the file, and a failed report, never a PyAV traceback


def _write(media: Path, name: str, data: bytes) -> Path:
    path = media / name
    path.write_bytes(data)
    return path


def _moov_lost(media: Path) -> Path:
    data = _no_faststart(media).read_bytes()
    return _write(media, "moov_lost.mp4", data[: len(data) // 2])


UNREADABLE: list[tuple[str, Callable[[Path], Path], str]] = [
    ("missing", lambda m: m / "does_not_exist.mp4", "does not exist"),
    ("empty", lambda m: _write(m, "empty.mp4", b""), "empty (0 bytes)"),
    ("garbage", lambda m: _write(m, "garbage.mp4", bytes(range(256)) * 40), "not a video file"),
    ("directory", lambda m: m, "not a regular file"),
    ("moov_lost", _moov_lost, "without its 'moov' index box"),
]


@pytest.mark.parametrize(("make", "fragment"), [c[1:] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE])
def test_unreadable_file(media: Path, make: Callable[[Path], Path], fragment: str) -> None:
    path = make(media)
    with pytest.raises(ConformanceError) as info:
        probe_video(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert not isinstance(info.value, av.FFmpegError) and info.value.__cause__ is None

    report = check_conformance(path, SMALL)
    assert not report.passed and report.probe is None
    assert [(c.name, c.passed) for c in report.checks] == [("readable", False)]
    assert str(path) in report.checks[0].detail and fragment in report.error
    data = json.loads(json.dumps(report.as_dict()))
    assert data["passed"] is False and data["probe"] is None


def test_no_video_stream(media: Path) -> None:
    path = encode(media / "audio_only.m4a", "-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "aac")
    with pytest.raises(ConformanceError, match="has no video stream"):
        probe_video(path)


# ----------------------------------------------------------------------------------------------------------
# MP4 box walking


def _to_64bit_mdat(data: bytes) -> bytes:
    """Turn ffmpeg's 8-byte `free` placeholder + 32-bit `mdat` header into one 16-byte 64-bit `mdat` header,
    as ffmpeg itself does for files over 4 GiB. No byte of media data moves, so the file stays valid."""
    i = data.index(b"free") - 4
    assert struct.unpack(">I4s", data[i : i + 8]) == (8, b"free") and data[i + 12 : i + 16] == b"mdat"
    (mdat_size,) = struct.unpack(">I", data[i + 8 : i + 12])
    return data[:i] + struct.pack(">I4sQ", 1, b"mdat", mdat_size + 8) + data[i + 16 :]


@pytest.mark.parametrize("faststart", [True, False], ids=["moov_first", "moov_last"])
def test_64bit_box_sizes(media: Path, small_good: Path, faststart: bool) -> None:
    source = small_good if faststart else _no_faststart(media)
    path = _write(media, f"mdat64_{faststart}.mp4", _to_64bit_mdat(source.read_bytes()))
    boxes, problem = scan_top_level_boxes(path)
    assert problem is None
    assert [b.type for b in boxes] == (["ftyp", "moov", "mdat"] if faststart else ["ftyp", "mdat", "moov"])
    assert boxes[-1].offset + boxes[-1].size == path.stat().st_size
    report = check_conformance(path, SMALL)
    assert failed(report) == (set() if faststart else {"faststart"}), report.summary()


def test_box_walk_size_zero_and_garbage(media: Path) -> None:
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 512, b"isom")
    moov = struct.pack(">I4s", 16, b"moov") + b"\0" * 8
    to_eof = struct.pack(">I4s", 0, b"mdat") + b"x" * 100  # size 0: runs to the end of the file
    boxes, problem = scan_top_level_boxes(_write(media, "size0.mp4", ftyp + moov + to_eof))
    assert problem is None
    assert [(b.type, b.size) for b in boxes] == [("ftyp", 20), ("moov", 16), ("mdat", 108)]

    boxes, problem = scan_top_level_boxes(_write(media, "junk_tail.mp4", ftyp + b"\xff" * 12))
    assert [b.type for b in boxes] == ["ftyp"] and problem is not None and "not an MP4 box" in problem

    boxes, problem = scan_top_level_boxes(_write(media, "cut.mp4", ftyp + struct.pack(">I4s", 1000, b"mdat")))
    assert problem is not None and "declares 1000 bytes but only 8 remain" in problem


# ----------------------------------------------------------------------------------------------------------
# JSON


def test_as_dict_is_json_for_a_jsonfield(small_good: Path, vfr_file: Path) -> None:
    for path in (small_good, vfr_file):
        report = check_conformance(path, SMALL)
        data = json.loads(json.dumps(report.as_dict()))
        assert data["passed"] is report.passed
        assert [c["name"] for c in data["checks"]] == ALL_CHECKS
        assert set(data["checks"][0]) == {"name", "passed", "measured", "expected", "detail"}
        assert data["probe"]["r_frame_rate"] == "24/1"
        assert data["probe"]["time_base"] == "1/12288"
        assert data["probe"]["sample_aspect_ratio"] == "1/1"
        assert isinstance(data["probe"]["video_bitrate_bps"], int)
        assert data["spec"] == SMALL.as_dict()
    assert data["probe"]["avg_frame_rate"] == "588/25" and data["probe"]["duration_s"] == 2.083


# ----------------------------------------------------------------------------------------------------------
# Independent cross-check with Debian's ffprobe


def ffprobe(path: Path) -> tuple[dict[str, Any], list[int]]:
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         "stream=codec_name,profile,width,height,pix_fmt,sample_aspect_ratio,r_frame_rate,avg_frame_rate,"
         "duration,nb_read_packets,bit_rate:packet=pts,size", "-of", "json", str(path)],
        capture_output=True, check=True, text=True,
    ).stdout
    data = json.loads(out)
    return data["streams"][0], sorted(int(p["pts"]) for p in data["packets"])


def _fraction(text: str) -> Fraction:
    return Fraction(*map(int, text.replace(":", "/").split("/")))


@needs_ffprobe
@pytest.mark.parametrize("which", ["delivery_file", "vfr_file", "uneven_vfr_file"])
def test_probe_matches_ffprobe(request: pytest.FixtureRequest, which: str) -> None:
    path: Path = request.getfixturevalue(which)
    ours: VideoProbe = probe_video(path)
    theirs, pts = ffprobe(path)
    assert ours.codec == theirs["codec_name"]
    assert ours.profile == theirs["profile"]
    assert (ours.width, ours.height, ours.pix_fmt) == (theirs["width"], theirs["height"], theirs["pix_fmt"])
    assert ours.sample_aspect_ratio == _fraction(theirs["sample_aspect_ratio"])
    assert ours.r_frame_rate == _fraction(theirs["r_frame_rate"])
    assert ours.avg_frame_rate == _fraction(theirs["avg_frame_rate"])
    assert ours.duration_s == pytest.approx(float(theirs["duration"]), abs=1e-6)
    assert ours.frame_count == int(theirs["nb_read_packets"]) == len(pts)
    # ffprobe's stream bit_rate for MP4 is the stream's sample bytes over its duration: the same measurement.
    assert ours.video_bitrate_bps == pytest.approx(int(theirs["bit_rate"]), rel=1e-3)
    deltas = [b - a for a, b in zip(pts, pts[1:], strict=False)]
    assert ours.constant_frame_rate == (max(deltas) - min(deltas) <= 1)
    assert ours.frame_interval_min_s == pytest.approx(float(min(deltas) * ours.time_base))
    assert ours.frame_interval_max_s == pytest.approx(float(max(deltas) * ours.time_base))


@needs_ffprobe
def test_pyav_guessed_rate_is_not_ffprobes_r_frame_rate(uneven_vfr_file: Path) -> None:
    """Why probe_video reads `base_rate`: `guessed_rate` (av_guess_frame_rate) differs from ffprobe here."""
    theirs, _ = ffprobe(uneven_vfr_file)
    with av.open(str(uneven_vfr_file)) as container:
        stream = container.streams.video[0]
        assert stream.base_rate == _fraction(theirs["r_frame_rate"])
        assert stream.average_rate == _fraction(theirs["avg_frame_rate"])
        assert stream.guessed_rate != stream.base_rate
