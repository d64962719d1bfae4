"""Building a delivery package takes the same memory whatever the videos' size: a 64 MB final video (and a
32 MB native clip) go into the ZIP in chunks, stored, hashed on the way (productions.lib.package; no Django)."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
import zipfile

from productions.lib.package import PackageInput, PackageSegment, build_package
from productions.lib.planning import Join
from productions.lib.spec import DeliverySpec

MB = 1024 * 1024


def sparse(path, size: int):
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_big_videos_are_streamed_into_the_zip(tmp_path):
    final = sparse(tmp_path / "final.mp4", 64 * MB)
    native = sparse(tmp_path / "native.mkv", 32 * MB)
    clips = tmp_path / "package" / "clips"
    clips.mkdir(parents=True)
    sparse(clips / "segment-01.mp4", 1 * MB)  # made before: reused, not made again
    package = PackageInput(
        name="Big", final=final, final_frames=48, spec=DeliverySpec(width=320, height=180), interpolation="none",
        upscale=None, segments=[PackageSegment(index=0, join=Join("cut"), frames=48, source=native, source_fps=24,
                                               upscaled=False, native=native)],
        notes=[], reports={"qa": [], "conformance": None}, reports_html="<p>reports</p>", manifest={"episode": {}})
    tracemalloc.start()
    try:
        build_package(package, tmp_path / "package" / "package.zip", clips)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MB, f"{peak / MB:.1f} MB"
    with zipfile.ZipFile(tmp_path / "package" / "package.zip") as archive:
        assert archive.getinfo("final.mp4").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("final.mp4").file_size == 64 * MB
        manifest = json.loads(archive.read("manifest.json"))
    zeros = hashlib.sha256()
    for _ in range(64):
        zeros.update(bytes(MB))
    assert {f["path"]: f["sha256"] for f in manifest["files"]}["final.mp4"] == zeros.hexdigest()
