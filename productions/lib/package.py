"""The delivery package: one ZIP an editor can open, made from an episode's files (no Django here).

Layout (every path relative to the package's root):
- `final.mp4`: the delivered video, as it is.
- `clips/segment-NN.mp4`: each segment exactly as it sits in the edit: delivery size and rate, the frames it
  puts on the timeline (a chained segment without its duplicated first frame, the last one trimmed), made by
  the same filters as the final (`post.clip_filter`) and encoded near-losslessly (x264 CRF 12, a keyframe
  every second). Frame N of the clip is frame N of the segment in the edit, so the timeline's source ranges
  are plain frame numbers and a dissolve's handles are the shot's own pictures, not the mixed ones.
- `sources/segment-NN-native.mkv`: the generated frames, lossless, at the model's own rate and size (for a
  regrade, a re-timing or another upscale). The review proxies are left out: lossy and smaller than either.
- `reports/qa.json`, `reports/conformance.json`, `reports/index.html`: the QA and conformance reports.
- `edit.otio`: the edit as an OpenTimelineIO timeline (see `timeline()`).
- `manifest.json`: episode, version, spec, and every other file with its size and sha256.
- `README.txt`: this layout in words.

The ZIP stores the videos as they are (no deflate: H.264 does not shrink) and deflates the small text files;
files are streamed into it in chunks, so building it takes the same memory whatever the episode's length.
Entries carry a fixed date, so the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .ffmpeg import run_ffmpeg
from .files import atomic_path
from .planning import DISSOLVE, FADE, Join
from .post import Clip, clip_filter
from .spec import DeliverySpec

FORMAT_VERSION = 1
ZIP_DATE = (2000, 1, 1, 0, 0, 0)  # a fixed entry date: reproducible bytes
CHUNK = 1024 * 1024
# The segment clips: near-lossless H.264 (plays in every editor), a keyframe a second for scrubbing.
CLIP_CODEC_ARGS = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p",
                   "-movflags", "+faststart", "-an"]


@dataclass(frozen=True)
class PackageSegment:
    index: int
    join: Join  # into this segment from the one before (ignored for the first)
    frames: int  # delivery-rate frames it puts on the timeline (Segment.delivered_frames)
    source: Path  # the clip the final was made from: native.mkv, or upscaled.mkv (already at delivery size)
    source_fps: float
    upscaled: bool
    native: Path  # the lossless generated frames
    info: dict = field(default_factory=dict)  # prompt, review...: copied to the manifest and the OTIO clip


@dataclass(frozen=True)
class PackageNote:
    text: str
    frame_start: int
    frame_end: int  # inclusive
    segment_index: int | None  # None: on the final video
    info: dict = field(default_factory=dict)  # author, resolved, attempt, drawing...


@dataclass(frozen=True)
class PackageInput:
    """Everything the package holds, read from the database beforehand (building needs no database)."""

    name: str  # the episode's title
    final: Path
    final_frames: int
    spec: DeliverySpec
    interpolation: str
    upscale: str | None  # the ffmpeg filter to delivery size for clips not already upscaled
    segments: Sequence[PackageSegment]
    notes: Sequence[PackageNote]
    reports: dict  # {"qa": [...], "conformance": {...} | None}
    reports_html: str
    manifest: dict  # episode, version, spec... (the files are added here)


def clip_name(index: int) -> str:
    return f"clips/segment-{index + 1:02d}.mp4"


def native_name(index: int) -> str:
    return f"sources/segment-{index + 1:02d}-native.mkv"


def write_segment_clip(segment: PackageSegment, spec: DeliverySpec, interpolation: str, upscale: str | None,
                       out: Path) -> None:
    """The segment's frames as they sit in the edit, at delivery size and rate (atomically)."""
    clip = Clip(path=segment.source, fps=segment.source_fps, interpolation=interpolation, join=segment.join,
                frames=segment.frames, upscaled=segment.upscaled)
    # clip_filter drops a chained clip's first frame only for an input after the first: name it input 1, and
    # feed it from this run's only input.
    position = 1 if segment.join.chained and segment.index else 0
    graph = "[0:v]" + clip_filter(position, clip, spec, upscale).split("]", 1)[1]
    with atomic_path(out) as tmp:
        run_ffmpeg(["-i", os.fspath(segment.source), "-filter_complex", graph, "-map", f"[c{position}]",
                    "-frames:v", str(segment.frames), "-r", str(spec.fps), *CLIP_CODEC_ARGS, os.fspath(tmp)],
                   f"making the package clip of segment {segment.index + 1}")


def join_trims(join: Join) -> tuple[int, int]:
    """(frames of the outgoing clip after the cut point, frames of the incoming clip before it): what the edit
    does not show of either outside the transition, i.e. the transition's out_offset and in_offset.

    A dissolve of N frames overlaps the two clips by N frames; the cut point sits in its middle: N // 2 frames
    of the incoming clip before it, the rest of the outgoing clip after it. A fade through black shows the
    outgoing clip fading down over the first ceil(N / 2) frames and the incoming one up over the rest
    (post.DIP_TO_BLACK): the outgoing clip's last N - ceil(N / 2) frames and the incoming clip's first ceil(N / 2)
    are never seen."""
    if join.kind == DISSOLVE:
        return join.frames - join.frames // 2, join.frames // 2
    if join.kind == FADE:
        down = (join.frames + 1) // 2
        return join.frames - down, down
    return 0, 0


def timeline(package: PackageInput):
    """The edit as an OpenTimelineIO timeline at the delivery rate: one video track, one clip per segment.

    - Each clip references its package clip (relative path `clips/segment-NN.mp4`, available range: all its
      frames); its source range is the part shown outside transitions, so the track lasts exactly the final
      video's frames (OTIO transitions take no time on the track: they overlap their neighbours' handles).
    - continuous and cut joins: the clips simply follow each other (continuous is marked in the clip's
      metadata: a chained shot, not a new one).
    - dissolve N: an SMPTE_Dissolve transition, in_offset N // 2, out_offset N - N // 2, centred on the cut.
    - fade N (through black): the outgoing clip dissolves into a zero-length gap (black) over its last
      ceil(N / 2) frames shown (in_offset), then the gap into the incoming clip over the remaining frames
      (out_offset): the two pictures are never on screen together, as in the final.
    - Notes: a note on the final video is a marker on the track (track frames); a segment's note is a marker on
      its clip (the clip's media frames, counted from the segment's first frame, as the note is). Unresolved
      notes are red, resolved ones green; the note's author, attempt and drawing are in the marker's metadata.
    """
    import opentimelineio as otio

    rate = package.spec.fps

    def span(start: int, frames: int):
        return otio.opentime.TimeRange(otio.opentime.RationalTime(start, rate),
                                       otio.opentime.RationalTime(frames, rate))

    def marker(note: PackageNote):
        return otio.schema.Marker(
            name=note.text, marked_range=span(note.frame_start, note.frame_end - note.frame_start + 1),
            color=otio.schema.MarkerColor.GREEN if note.info.get("resolved") else otio.schema.MarkerColor.RED,
            metadata={"tower": {"frame_start": note.frame_start, "frame_end": note.frame_end, **note.info}})

    track = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    segments = list(package.segments)
    for position, segment in enumerate(segments):
        head = join_trims(segment.join)[1] if position else 0
        tail = join_trims(segments[position + 1].join)[0] if position + 1 < len(segments) else 0
        if position:
            join = segment.join
            out_offset, in_offset = join_trims(join)
            if join.kind == DISSOLVE:
                track.append(otio.schema.Transition(
                    name=f"Dissolve {join.frames} frames",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=otio.opentime.RationalTime(in_offset, rate),
                    out_offset=otio.opentime.RationalTime(out_offset, rate),
                    metadata={"tower": {"join": join.kind, "frames": join.frames}}))
            elif join.kind == FADE:
                # Outgoing: its last shown frames fade down (before the cut); incoming: up (after it).
                meta = {"tower": {"join": join.kind, "frames": join.frames}}
                track.append(otio.schema.Transition(
                    name=f"Fade to black ({join.frames} frames)",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=otio.opentime.RationalTime(in_offset, rate),
                    out_offset=otio.opentime.RationalTime(0, rate), metadata=meta))
                track.append(otio.schema.Gap(name="Black", source_range=span(0, 0)))
                track.append(otio.schema.Transition(
                    name=f"Fade from black ({join.frames} frames)",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=otio.opentime.RationalTime(0, rate),
                    out_offset=otio.opentime.RationalTime(out_offset, rate), metadata=meta))
        reference = otio.schema.ExternalReference(target_url=clip_name(segment.index),
                                                  available_range=span(0, segment.frames))
        clip = otio.schema.Clip(
            name=f"Segment {segment.index + 1}", media_reference=reference,
            source_range=span(head, segment.frames - head - tail),
            metadata={"tower": {"segment": segment.index, "join": segment.join.kind,
                                "join_frames": segment.join.frames, "delivered_frames": segment.frames,
                                "native": native_name(segment.index), **segment.info}})
        for note in package.notes:
            if note.segment_index == segment.index:
                clip.markers.append(marker(note))
        track.append(clip)
    for note in package.notes:
        if note.segment_index is None:
            track.markers.append(marker(note))
    result = otio.schema.Timeline(name=package.name, global_start_time=otio.opentime.RationalTime(0, rate))
    result.tracks.append(track)
    return result


def readme(package: PackageInput) -> str:
    return f"""Delivery package: {package.name}

final.mp4                      the delivered video ({package.final_frames} frames at {package.spec.fps} fps)
edit.otio                      the edit (OpenTimelineIO): one clip per segment, the joins as transitions,
                               review notes as markers; open it in an editor that reads OTIO
                               (DaVinci Resolve, Premiere and Avid via adapters, otioview)
clips/segment-NN.mp4           each segment as it sits in the edit: delivery size and rate, the frames it
                               puts on the timeline (a chained segment without its repeated first frame),
                               near-lossless H.264; frame N of a clip is frame N of that segment. The edit
                               references these files by relative path: keep the folder together.
sources/segment-NN-native.mkv  the generated frames, lossless, at the model's own rate and size
                               (for a regrade, a re-timing or another upscale)
reports/index.html             the QA and conformance reports, readable; .json: the same as data
manifest.json                  episode, version, spec, and each file's size and sha256

Joins in edit.otio: continuous and cut joins are clips that follow each other; a dissolve is an
SMPTE_Dissolve transition centred on the cut; a fade through black is a dissolve into a zero-length
black gap and one out of it (the two pictures never show together). The track lasts exactly as many
frames as final.mp4.
"""


def _entry(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def _add_file(archive: zipfile.ZipFile, name: str, path: Path) -> dict:
    """Stream `path` into the archive, stored (videos do not deflate), CHUNK bytes at a time; its manifest
    entry (size and sha256 of the very bytes stored, read once)."""
    info = _entry(name, zipfile.ZIP_STORED)
    info.file_size = path.stat().st_size
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source, archive.open(info, "w", force_zip64=True) as target:
        while chunk := source.read(CHUNK):
            target.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return {"path": name, "bytes": size, "sha256": digest.hexdigest()}


def _remove_temporaries(folder: Path) -> None:
    """What a build killed mid-way left (the caller holds the build lock: no build is writing here)."""
    for path in [*folder.glob(".*.tmp-*"), *folder.glob("*/.*.tmp-*")]:
        path.unlink(missing_ok=True)


def build_package(package: PackageInput, out: Path, clips_dir: Path) -> dict:
    """Write the package ZIP to `out` (atomically). The segment clips are made in `clips_dir` once and kept
    there (a later package of the same final reuses them). Returns the manifest."""
    import opentimelineio as otio

    clips_dir.mkdir(parents=True, exist_ok=True)
    _remove_temporaries(clips_dir.parent)
    videos: list[tuple[str, Path]] = [("final.mp4", package.final)]
    for segment in package.segments:
        made = clips_dir / f"segment-{segment.index + 1:02d}.mp4"
        if not made.exists():
            write_segment_clip(segment, package.spec, package.interpolation, package.upscale, made)
        videos.append((clip_name(segment.index), made))
    for segment in package.segments:
        videos.append((native_name(segment.index), segment.native))

    texts = {
        "edit.otio": otio.adapters.write_to_string(timeline(package), "otio_json"),
        "reports/qa.json": json.dumps(package.reports.get("qa", []), indent=2, sort_keys=True),
        "reports/conformance.json": json.dumps(package.reports.get("conformance"), indent=2, sort_keys=True),
        "reports/index.html": package.reports_html,
        "README.txt": readme(package),
    }
    with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
        files = [_add_file(archive, name, path) for name, path in videos]
        for name, text in texts.items():
            data = text.encode()
            archive.writestr(_entry(name, zipfile.ZIP_DEFLATED), data)
            files.append({"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        manifest = {**package.manifest, "format": FORMAT_VERSION, "files": sorted(files, key=lambda f: f["path"])}
        archive.writestr(_entry("manifest.json", zipfile.ZIP_DEFLATED), json.dumps(manifest, indent=2))
    return manifest
