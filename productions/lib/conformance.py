"""Delivery conformance: measure a rendered file and check it against the studio spec (KB article 71).

`probe_video(path)` measures the video stream with PyAV (no ffprobe dependency, no decoding: packets are only
demuxed) and walks the top-level MP4 boxes itself. `check_conformance(path, spec)` turns the measurements into
a `ConformanceReport` of named checks with plain-worded failures, for producers, stored as JSON.

Every number comes from the `DeliverySpec` passed in; nothing about the studio spec is hard-coded here.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av

from .spec import DeliverySpec

__all__ = [
    "Check",
    "ConformanceError",
    "ConformanceReport",
    "Mp4Box",
    "VideoProbe",
    "check_conformance",
    "probe_video",
    "scan_top_level_boxes",
]

# Container formats (PyAV `container.format.name`, a comma list) whose files are ISO-BMFF boxes.
_ISO_BMFF_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2"}


class ConformanceError(Exception):
    """The file cannot be measured at all (missing, empty, not a video, cut off before its index)."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"cannot check {self.path}: {reason}")


# ----------------------------------------------------------------------------------------------------------
# MP4 top-level boxes


@dataclass(frozen=True)
class Mp4Box:
    type: str
    offset: int
    size: int  # the whole box, header included, as declared (may run past the end of a truncated file)


def scan_top_level_boxes(path: str | os.PathLike[str]) -> tuple[list[Mp4Box], str | None]:
    """The top-level ISO-BMFF boxes of `path`, in file order, and a problem sentence or None.

    Box header: 32-bit big-endian size + 4-char type; size 1 means a 64-bit size follows the type (files over
    4 GiB, or ffmpeg turning its `free` placeholder into a 64-bit `mdat` header); size 0 means "to the end of
    the file". The problem is set when a box runs past the end of the file (truncated) or a header is not
    a box.
    """
    boxes: list[Mp4Box] = []
    file_size = os.path.getsize(path)
    offset = 0
    with open(path, "rb") as fh:
        while offset < file_size:
            fh.seek(offset)
            header = fh.read(8)
            if len(header) < 8:
                return boxes, f"{file_size - offset} stray bytes after the last box (offset {offset})"
            size, raw_type = struct.unpack(">I4s", header)
            header_len = 8
            if size == 1:
                large = fh.read(8)
                if len(large) < 8:
                    return boxes, f"the box header at offset {offset} is cut off"
                (size,) = struct.unpack(">Q", large)
                header_len = 16
            elif size == 0:
                size = file_size - offset
            if not all(0x20 <= b <= 0x7E for b in raw_type) or size < header_len:
                return boxes, f"bytes at offset {offset} are not an MP4 box (corrupt file)"
            box = Mp4Box(raw_type.decode("ascii"), offset, size)
            boxes.append(box)
            if offset + size > file_size:
                return boxes, (
                    f"the '{box.type}' box at offset {offset} declares {size} bytes but only "
                    f"{file_size - offset} remain (the file is truncated)"
                )
            offset += size
    return boxes, None


# ----------------------------------------------------------------------------------------------------------
# Probe


@dataclass(frozen=True)
class VideoProbe:
    """Measurements of the first video stream of a file."""

    path: str
    container: str  # PyAV/ffmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # ffprobe's codec_name, e.g. "h264"
    profile: str | None  # ffprobe's profile, e.g. "High"
    width: int
    height: int
    pix_fmt: str | None
    sample_aspect_ratio: Fraction | None
    r_frame_rate: Fraction | None  # ffprobe r_frame_rate (AVStream.r_frame_rate)
    avg_frame_rate: Fraction | None  # ffprobe avg_frame_rate (AVStream.avg_frame_rate)
    time_base: Fraction
    duration_s: float  # the video stream's duration, not the container's
    frame_count: int  # video packets actually demuxed (one frame per packet in MP4/H.264)
    indexed_frame_count: int | None  # frames the container's index lists (MP4 stsz), None when unknown
    video_bytes: int
    video_bitrate_bps: float  # video_bytes * 8 / duration_s
    constant_frame_rate: bool
    frame_interval_min_s: float | None
    frame_interval_max_s: float | None
    faststart: bool
    top_level_boxes: tuple[str, ...]
    container_problem: str | None  # truncated / corrupt box structure, or a demux error part-way through
    has_audio: bool

    @property
    def is_mp4(self) -> bool:
        return _is_iso_bmff(self.container)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "container": self.container,
            "codec": self.codec,
            "profile": self.profile,
            "width": self.width,
            "height": self.height,
            "pix_fmt": self.pix_fmt,
            "sample_aspect_ratio": _fraction_str(self.sample_aspect_ratio),
            "r_frame_rate": _fraction_str(self.r_frame_rate),
            "avg_frame_rate": _fraction_str(self.avg_frame_rate),
            "time_base": _fraction_str(self.time_base),
            "duration_s": round(self.duration_s, 3),
            "frame_count": self.frame_count,
            "indexed_frame_count": self.indexed_frame_count,
            "video_bytes": self.video_bytes,
            "video_bitrate_bps": int(round(self.video_bitrate_bps)),
            "constant_frame_rate": self.constant_frame_rate,
            "frame_interval_min_ms": _ms(self.frame_interval_min_s),
            "frame_interval_max_ms": _ms(self.frame_interval_max_s),
            "faststart": self.faststart,
            "top_level_boxes": list(self.top_level_boxes),
            "container_problem": self.container_problem,
            "has_audio": self.has_audio,
        }


def probe_video(path: str | os.PathLike[str]) -> VideoProbe:
    """Measure the first video stream of `path`.

    Raises `ConformanceError` (its message names the file) when the file is missing, empty or unreadable.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ConformanceError(path, "the file does not exist")
    if not os.path.isfile(path):
        raise ConformanceError(path, "it is not a regular file")
    if os.path.getsize(path) == 0:
        raise ConformanceError(path, "the file is empty (0 bytes)")
    try:
        boxes, box_problem = scan_top_level_boxes(path)
    except OSError as exc:
        raise ConformanceError(path, f"it cannot be read ({exc.strerror or exc})") from None

    try:
        container = av.open(path, mode="r")
    except av.FFmpegError as exc:
        raise ConformanceError(path, _explain_open_failure(exc, boxes, box_problem)) from None
    except OSError as exc:  # e.g. permission denied raised as a plain OSError
        raise ConformanceError(path, f"it cannot be opened ({exc.strerror or exc})") from None

    with container:
        if not container.streams.video:
            raise ConformanceError(path, "it has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        time_base = stream.time_base or Fraction(1, 1)
        has_audio = bool(container.streams.audio)
        container_name = container.format.name

        pts: list[int] = []
        last_pts = last_duration = 0
        video_bytes = 0
        frame_count = 0
        demux_problem: str | None = None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream flush packet
                    continue
                frame_count += 1
                video_bytes += packet.size
                if packet.pts is not None:
                    if not pts or packet.pts >= last_pts:
                        last_pts, last_duration = packet.pts, packet.duration or 0
                    pts.append(packet.pts)
        except av.FFmpegError as exc:
            demux_problem = f"reading stopped after {frame_count} frames: {_ffmpeg_reason(exc)}"

        pts.sort()
        tagged = _parse_duration_tag(stream.metadata.get("DURATION"))  # Matroska writes one per track
        if stream.duration:
            duration_s = float(stream.duration * time_base)
        elif tagged is not None:
            duration_s = tagged
        elif pts:  # no stream duration at all: the span of the timestamps
            duration_s = float((pts[-1] + last_duration - pts[0]) * time_base)
        else:
            duration_s = 0.0

        deltas = [b - a for a, b in zip(pts, pts[1:], strict=False)]
        # Constant frame rate: every interval between consecutive (presentation-ordered) frames is the same,
        # allowing 1 tick for timebase rounding (e.g. 1/24 s in a 1/1000000 timebase is 41666 or 41667 ticks).
        constant = bool(deltas) and max(deltas) - min(deltas) <= 1 and min(deltas) > 0

        indexed = stream.frames or None
        if not _is_iso_bmff(container_name):  # other containers are not made of boxes: nothing to say
            boxes, box_problem = [], None
        problems = [p for p in (box_problem, demux_problem) if p]
        if indexed is not None and frame_count < indexed:
            problems.append(f"only {frame_count} of the {indexed} frames listed in the index could be read")

        box_types = tuple(b.type for b in boxes)
        return VideoProbe(
            path=path,
            container=container_name,
            codec=_codec_name(stream),
            profile=stream.profile,
            width=ctx.width,
            height=ctx.height,
            pix_fmt=ctx.pix_fmt,
            sample_aspect_ratio=stream.sample_aspect_ratio,
            # PyAV names, checked against ffprobe 5.1 in tests/test_conformance.py:
            #   stream.base_rate    = AVStream.r_frame_rate   = ffprobe's r_frame_rate
            #   stream.average_rate = AVStream.avg_frame_rate = ffprobe's avg_frame_rate
            #   stream.guessed_rate = av_guess_frame_rate(), a heuristic that ffprobe does not print: it falls
            #   back to avg_frame_rate when r_frame_rate looks too high, so it can hide a VFR file. Not used.
            r_frame_rate=stream.base_rate,
            avg_frame_rate=stream.average_rate,
            time_base=time_base,
            duration_s=duration_s,
            frame_count=frame_count,
            indexed_frame_count=indexed,
            video_bytes=video_bytes,
            video_bitrate_bps=(video_bytes * 8 / duration_s) if duration_s > 0 else 0.0,
            constant_frame_rate=constant,
            frame_interval_min_s=float(min(deltas) * time_base) if deltas else None,
            frame_interval_max_s=float(max(deltas) * time_base) if deltas else None,
            faststart=_moov_before_mdat(box_types),
            top_level_boxes=box_types,
            container_problem="; ".join(problems) or None,
            has_audio=has_audio,
        )


def _is_iso_bmff(container_name: str) -> bool:
    return bool(_ISO_BMFF_FORMATS & set(container_name.split(",")))


def _codec_name(stream: av.VideoStream) -> str:
    """ffprobe's codec_name (the codec id's name, not the decoder's: "h264", never "libdav1d")."""
    try:
        return stream.codec_context.codec.canonical_name
    except (AttributeError, ValueError, av.FFmpegError):  # no decoder for it in this build
        return "unknown"


def _parse_duration_tag(value: str | None) -> float | None:
    """Matroska's per-track DURATION tag, "HH:MM:SS.nnnnnnnnn", in seconds."""
    try:
        hours, minutes, seconds = (value or "").split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


def _moov_before_mdat(box_types: tuple[str, ...]) -> bool:
    if "moov" not in box_types or "mdat" not in box_types:
        return False
    return box_types.index("moov") < box_types.index("mdat")


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _explain_open_failure(exc: av.FFmpegError, boxes: list[Mp4Box], box_problem: str | None) -> str:
    reason = f"ffmpeg cannot open it ({_ffmpeg_reason(exc)})"
    types = [b.type for b in boxes]
    if types and types[0] == "ftyp" and "moov" not in types:
        return (
            f"{reason}: it is an MP4 without its 'moov' index box, so it was cut off before the encoder "
            f"finished writing it" + (f"; {box_problem}" if box_problem else "")
        )
    if not boxes or box_problem:
        return f"{reason}: it is not a video file, or it is corrupt"
    return reason


# ----------------------------------------------------------------------------------------------------------
# Checks


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    measured: str  # human-readable, with units
    expected: str  # human-readable: the exact value or the threshold
    detail: str = ""  # a plain-words sentence when it fails, "" when it passes

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "measured": self.measured,
            "expected": self.expected,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ConformanceReport:
    path: str
    spec: DeliverySpec
    checks: list[Check]
    probe: VideoProbe | None = None
    error: str | None = None  # set when the file could not be probed at all
    passed: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", bool(self.checks) and all(c.passed for c in self.checks))

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"{os.path.basename(self.path)} meets the delivery spec ({len(self.checks)} checks)."
        return " ".join(c.detail for c in self.failures)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable: fractions as "24/1", seconds to the millisecond, bit rates in whole bps."""
        return {
            "path": self.path,
            "passed": self.passed,
            "summary": self.summary(),
            "error": self.error,
            "checks": [c.as_dict() for c in self.checks],
            "probe": self.probe.as_dict() if self.probe else None,
            "spec": self.spec.as_dict(),
        }


def check_conformance(path: str | os.PathLike[str], spec: DeliverySpec) -> ConformanceReport:
    """Check `path` against `spec`.

    Never raises for a bad file: an unreadable one gives a report with a single failed 'readable' check.
    """
    path = os.fspath(path)
    try:
        probe = probe_video(path)
    except ConformanceError as exc:
        sentence = str(exc)[:1].upper() + str(exc)[1:] + "."
        check = Check("readable", False, "unreadable", "a readable video file", sentence)
        return ConformanceReport(path=path, spec=spec, checks=[check], probe=None, error=str(exc))
    return ConformanceReport(path=path, spec=spec, checks=_checks(probe, spec), probe=probe)


def _checks(p: VideoProbe, spec: DeliverySpec) -> list[Check]:
    fps = spec.frame_rate
    checks: list[Check] = []

    def exact(name: str, what: str, measured: object, expected: object) -> None:
        ok = measured == expected
        shown = "none" if measured is None else str(measured)
        detail = "" if ok else f"The {what} is {shown}; the spec requires {expected}."
        checks.append(Check(name, ok, shown, str(expected), detail))

    exact("codec", "video codec", p.codec, spec.codec)
    exact("profile", f"{p.codec} profile", p.profile, spec.profile)
    exact("pix_fmt", "pixel format", p.pix_fmt, spec.pix_fmt)
    exact("width", "picture width in pixels", p.width, spec.width)
    exact("height", "picture height in pixels", p.height, spec.height)

    r, avg = p.r_frame_rate, p.avg_frame_rate
    ok = r == fps and avg == fps
    shown_r, shown_avg = _fraction_str(r) or "unknown", _fraction_str(avg) or "unknown"
    measured = f"r_frame_rate {shown_r}, avg_frame_rate {shown_avg}"
    if ok:
        detail = ""
    elif r is not None and r == avg:
        detail = f"The frame rate is {_fps(r)} fps; the spec requires exactly {_fps(fps)} fps."
    else:
        detail = (
            f"The nominal frame rate is {_fps(r)} fps but the average is {_fps(avg)} fps; the spec requires "
            f"both to be exactly {_fps(fps)} fps."
        )
    expected = f"r_frame_rate {_fraction_str(fps)}, avg_frame_rate {_fraction_str(fps)}"
    checks.append(Check("frame_rate", ok, measured, expected, detail))

    if p.frame_interval_min_s is None or p.frame_interval_max_s is None:
        measured = "fewer than 2 frames"
        detail = "The video has fewer than two frames, so it has no frame rate."
    else:
        lo, hi = f"{p.frame_interval_min_s * 1000:.3f}", f"{p.frame_interval_max_s * 1000:.3f}"
        measured = f"every frame {lo} ms" if lo == hi else f"frame intervals {lo} to {hi} ms"
        detail = "" if p.constant_frame_rate else (
            f"Frame intervals vary from {lo} ms to {hi} ms, so the frame rate is variable; the spec requires "
            f"every frame to last exactly 1/{_fps(fps)} s."
        )
    expected = f"every frame {float(1000 / fps):.3f} ms (1/{_fps(fps)} s, +-1 timebase tick)"
    checks.append(Check("constant_frame_rate", p.constant_frame_rate, measured, expected, detail))

    ok = p.duration_s >= spec.min_duration_s
    detail = "" if ok else (
        f"The video is {_seconds(p.duration_s)} s long, shorter than the {spec.min_duration_s:g} s minimum."
    )
    checks.append(
        Check("duration", ok, f"{_seconds(p.duration_s)} s", f">= {spec.min_duration_s:g} s", detail)
    )

    ok = p.video_bitrate_bps >= spec.min_bitrate_bps
    floor = f"{spec.min_bitrate_bps / 1e6:g} Mbps"
    detail = "" if ok else f"The video bitrate {_mbps(p.video_bitrate_bps)} Mbps is under the {floor} floor."
    checks.append(Check("video_bitrate", ok, f"{_mbps(p.video_bitrate_bps)} Mbps", f">= {floor}", detail))

    # Exact, no +-1 frame: in MP4 the stream duration is the sum of the sample durations (stts), so a CFR
    # file of N frames lasts exactly N/fps, whatever the timescale (checked with 1/1000, 1/600, 1/90000 and
    # B-frames with their edit list). A one-frame difference is a dropped, duplicated or stretched frame, or a
    # file whose tail is missing; tolerating it would hide exactly those.
    expected_frames = math.floor(p.duration_s * spec.fps + 0.5)
    ok = p.frame_count == expected_frames
    if ok:
        detail = ""
    else:
        diff = p.frame_count - expected_frames
        detail = (
            f"The file holds {p.frame_count} frames, but {_seconds(p.duration_s)} s at {_fps(fps)} fps is "
            f"{expected_frames} frames ({abs(diff)} {'extra' if diff > 0 else 'missing'}): frames are "
            f"missing, duplicated or mistimed."
        )
    expected = f"{expected_frames} frames ({_seconds(p.duration_s)} s x {_fps(fps)} fps)"
    checks.append(Check("frame_count", ok, f"{p.frame_count} frames", expected, detail))

    if not p.is_mp4:
        measured, detail = f"not an MP4 ({p.container})", (
            f"The file is a {p.container} file, not an MP4, so it cannot be fast-start."
        )
    elif "moov" not in p.top_level_boxes or "mdat" not in p.top_level_boxes:
        measured = "boxes: " + (", ".join(p.top_level_boxes) or "none")
        detail = "The MP4 has no 'moov' index before its media data."
    else:
        measured = "moov before mdat" if p.faststart else "moov after mdat"
        detail = "" if p.faststart else (
            "The 'moov' index comes after the media data, so players must download the whole file before "
            "playback starts; re-mux with -movflags +faststart."
        )
    checks.append(Check("faststart", p.faststart, measured, "moov before mdat", detail))

    ok = p.container_problem is None
    detail = "" if ok else f"The file is damaged or incomplete: {p.container_problem}."
    expected = "complete (every box and indexed frame present)"
    checks.append(Check("intact", ok, p.container_problem or "complete", expected, detail))
    return checks


# ----------------------------------------------------------------------------------------------------------
# Formatting


def _fraction_str(value: Fraction | None) -> str | None:
    return None if value is None else f"{value.numerator}/{value.denominator}"


def _fps(value: Fraction | None) -> str:
    if value is None:
        return "unknown"
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.3f}".rstrip("0").rstrip(".")


def _floor_str(value: float, decimals: int) -> str:
    """Round down so a value just under a threshold never prints as the threshold itself."""
    scale = 10**decimals
    return f"{math.floor(value * scale + 1e-9) / scale:.{decimals}f}"


def _seconds(value: float) -> str:
    return _floor_str(value, 3)


def _mbps(bps: float) -> str:
    mbps = bps / 1e6
    if mbps >= 0.1:
        return _floor_str(mbps, 2)
    return f"{mbps:.2g}" if mbps > 0 else "0"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
