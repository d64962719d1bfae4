"""An episode's delivery package (productions.lib.package): what goes in it, where it is cached, who builds it.

Cache: the episode's media folder, `package/`:
- `clips-<final>/`: the segment clips of one final video (<final>: a digest of its fingerprint); made once
  per final, removed when a new final's are made;
- `<key>.zip`: the package; <key> also covers the notes, the segments' reviews and the reports, so a note
  added after the last build gives a new package (made in seconds: the clips are reused).

Building takes a while (one ffmpeg run per segment, then the ZIP), so the download page never waits for it:
`start_build` reads everything the package needs from the database in the caller's thread and builds it in a
background thread; a lock file (flock) makes it once per key across every web process, and a build that
failed leaves `<key>.error` with the reason, shown to the producer until they try again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import shutil
import threading
from contextlib import suppress
from pathlib import Path

from django.template.loader import render_to_string

from productions.lib.package import PackageInput, PackageNote, PackageSegment, build_package
from productions.lib.planning import timeline_frames
from productions.lib.post import upscale_chain
from productions.lib.upscale import LanczosUpscaler
from productions.models import Episode, Note, QAReport, Segment, file_fingerprint

log = logging.getLogger(__name__)

PACKAGE_STATES = (Episode.Status.DELIVERED, Episode.Status.REVIEW)


class PackageUnavailable(Exception):
    """The episode has no package to make (no final video, or not delivered nor in review)."""


def package_dir(episode: Episode) -> Path:
    return episode.media_dir / "package"


def refusal(episode: Episode) -> str | None:
    """Why `episode` has no package, in a sentence; None when it can have one."""
    if episode.status not in PACKAGE_STATES:
        return f"Episode {episode.pk} is {episode.get_status_display().lower()}: a package is made of a " \
               "delivered final video (or one awaiting review)."
    if episode.final_file is None:
        return f"Episode {episode.pk} has no final video."
    return None


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _report(report: QAReport) -> dict:
    return {"kind": report.kind, "segment": report.segment.index + 1 if report.segment_id else None,
            "passed": report.passed, "checks": report.checks, "details": report.details,
            "created_at": _iso(report.created_at)}


def _notes(episode: Episode, segments: list[Segment]) -> list[PackageNote]:
    index_of = {s.pk: s.index for s in segments}
    return [PackageNote(
        text=note.text, frame_start=note.frame_start, frame_end=note.frame_end,
        segment_index=index_of.get(note.segment_id) if note.segment_id else None,
        info={"author": note.author.get_username() if note.author else None, "resolved": note.resolved,
              "attempt": note.attempt_number, "drawing": note.drawing, "created_at": _iso(note.created_at)})
        for note in Note.objects.filter(episode=episode).select_related("author")]


def package_input(episode: Episode) -> PackageInput:
    """What the package of `episode` holds, read now (PackageUnavailable when it can have none)."""
    problem = refusal(episode)
    if problem:
        raise PackageUnavailable(problem)
    final = episode.final_file
    spec = episode.delivery_spec()
    segments = list(episode.segments.order_by("index"))
    profile = episode.generation_profile()
    conformance = episode.current_conformance()
    # The final was made from the AI upscaler's cached frames when one ran outside ffmpeg (render.py), from
    # the native clips through Lanczos otherwise: the package's clips are made from the same files.
    upscaler = ((conformance.details or {}).get("upscaler") or {}).get("name") if conformance else None
    package_segments = []
    for segment in segments:
        upscaled = segment.file("upscaled_path") if upscaler != "lanczos" else None
        native = segment.file("native_path")
        if native is None:
            raise PackageUnavailable(f"Segment {segment.index + 1} has no clip on disk.")
        package_segments.append(PackageSegment(
            index=segment.index, join=segment.join_spec, frames=segment.delivered_frames,
            source=upscaled or native, source_fps=segment.clip_fps or profile.native_fps,
            upscaled=upscaled is not None, native=native,
            info={"prompt": segment.prompt, "action": segment.action, "seed": segment.seed,
                  "review": segment.current_review(), "reviewed_by": segment.reviewed_by.get_username()
                  if segment.reviewed_by else None}))
    qa = [_report(r) for r in episode.qa_reports.filter(kind=QAReport.Kind.EPISODE, segment=None)]
    qa += [_report(r) for s in segments if (r := s.current_qa()) is not None]
    reports = {"qa": qa, "conformance": _report(conformance) if conformance else None}
    notes = _notes(episode, segments)
    frames = timeline_frames([s.delivered_frames for s in segments], [s.join_spec for s in segments])
    fingerprint = file_fingerprint(final)
    manifest = {
        "episode": {"id": episode.pk, "title": episode.title, "project": episode.project.name,
                    "status": episode.status, "synopsis": episode.synopsis},
        "version": {"final": fingerprint, "rendered_at": _iso(episode.finished_at)},
        "spec": {"width": spec.width, "height": spec.height, "fps": spec.fps, "frames": frames,
                 "codec": spec.codec, "profile": spec.profile, "pix_fmt": spec.pix_fmt,
                 "min_bitrate_bps": spec.min_bitrate_bps},
        "segments": [{"index": s.index + 1, "join": s.join, "join_frames": s.join_frames,
                      "delivered_frames": s.delivered_frames, "review": s.current_review()} for s in segments],
        "notes": len(notes),
    }
    html = render_to_string("productions/package_reports.html", {
        "episode": episode, "conformance": reports["conformance"], "qa": qa, "notes": notes,
        "segments": manifest["segments"], "spec": manifest["spec"]})
    upscale = upscale_chain(spec, LanczosUpscaler().ffmpeg_filter(spec.width, spec.height))
    return PackageInput(name=episode.title, final=final, final_frames=frames, spec=spec,
                        interpolation=profile.interpolation, upscale=upscale, segments=package_segments,
                        notes=notes, reports=reports, reports_html=html, manifest=manifest)


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def final_key(package: PackageInput) -> str:
    return _digest(package.manifest["version"]["final"])


def package_key(package: PackageInput) -> str:
    """Changes with the final video, the notes, the reviews and the reports."""
    notes = [(n.text, n.frame_start, n.frame_end, n.segment_index, n.info) for n in package.notes]
    return _digest([package.manifest, notes, package.reports])


def package_paths(episode: Episode, package: PackageInput) -> tuple[Path, Path, Path]:
    """(the zip, its error file, the segment clips' folder)."""
    folder, key = package_dir(episode), package_key(package)
    return folder / f"{key}.zip", folder / f"{key}.error", folder / f"clips-{final_key(package)}"


def build(episode: Episode, package: PackageInput) -> Path:
    """Build the package here and now (once: a build already running elsewhere is waited for); its path."""
    zip_path, error_path, clips = package_paths(episode, package)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with (zip_path.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not zip_path.exists():
            try:
                build_package(package, zip_path, clips)
            except Exception as exc:
                error_path.write_text(str(exc) or exc.__class__.__name__)
                raise
            error_path.unlink(missing_ok=True)
            _forget_others(zip_path.parent, keep={zip_path.name, clips.name, ".lock"})
    return zip_path


def _forget_others(folder: Path, keep: set[str]) -> None:
    """Older packages and other finals' clips: superseded."""
    for path in folder.iterdir():
        if path.name in keep or path.name.startswith("."):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with suppress(FileNotFoundError):
                path.unlink()


_building: set[Path] = set()
_building_guard = threading.Lock()


def start_build(episode: Episode) -> tuple[str, Path | str | None]:
    """("ready", the zip), ("failed", why), or ("building", None) with a build started in a background thread
    (PackageUnavailable when there is nothing to package)."""
    package = package_input(episode)
    zip_path, error_path, _ = package_paths(episode, package)
    if zip_path.exists():
        return "ready", zip_path
    if error_path.exists():
        return "failed", error_path.read_text()
    with _building_guard:
        if zip_path in _building:
            return "building", None
        _building.add(zip_path)

    def run() -> None:
        try:
            build(episode, package)
        except Exception:  # recorded in the error file, shown on the page
            log.exception("building the delivery package of episode %s", episode.pk)
        finally:
            with _building_guard:
                _building.discard(zip_path)

    threading.Thread(target=run, name=f"package-{episode.pk}", daemon=True).start()
    return "building", None


def forget_failure(episode: Episode) -> None:
    """Try again: the last build's error is dropped."""
    package = package_input(episode)
    package_paths(episode, package)[1].unlink(missing_ok=True)
