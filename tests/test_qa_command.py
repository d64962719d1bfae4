"""`manage.py qa FILE`: JSON report, exit 0 on pass, 1 on fail, 2 on bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from productions.lib.ffmpeg import pipe_frames_to_ffmpeg, rawvideo_input_args
from tests.worker import ROOT


def qa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "qa", *args], capture_output=True, text=True,
                          cwd=ROOT, env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"})


def write_video(path, frames, fps=24):
    h, w = frames[0].shape[:2]
    pipe_frames_to_ffmpeg(frames, [*rawvideo_input_args(w, h, fps), "-c:v", "libx264", "-preset", "ultrafast",
                                   "-crf", "10", "-pix_fmt", "yuv420p", str(path)], "test video")
    return path


def moving(n, w=320, h=180, shade=0.0):
    x = np.arange(w)[None, :, None] / w
    y = np.arange(h)[:, None, None] / h
    # Whole cycles across the frame keep mean brightness constant while the pattern moves.
    return [(127 + 90 * np.sin(2 * np.pi * (x + y + i / 40) + np.array([0, 2, 4]) + shade))
            .astype(np.uint8) for i in range(n)]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("qa") / "clean.mp4", moving(48))


def test_a_clean_file_passes_qa_and_reports_the_spec_failures_separately(clean):
    result = qa(str(clean), "--no-thumbnails")
    report = json.loads(result.stdout)
    assert report["qa"]["passed"] is True
    # A 2 s 320x180 file is clean but far from the delivery spec: the conformance part says so, exit 1.
    assert report["conformance"]["passed"] is False and result.returncode == 1
    assert qa(str(clean), "--no-conformance").returncode == 0


def test_black_frames_fail_with_the_worst_frames_named(tmp_path):
    frames = moving(48)
    frames[20:23] = [np.zeros_like(frames[0])] * 3
    result = qa(str(write_video(tmp_path / "black.mp4", frames)), "--no-conformance")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["qa"]["checks"]}
    assert checks["black_frames"]["passed"] is False
    assert {w["index"] for w in checks["black_frames"]["worst_frames"]} <= {20, 21, 22}


def test_a_hard_seam_at_a_given_boundary_fails(tmp_path):
    frames = moving(24) + moving(24, shade=2.5)
    result = qa(str(write_video(tmp_path / "seam.mp4", frames)), "--no-conformance", "--boundaries", "1.0")
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["qa"]["checks"]}
    assert checks["seams"]["passed"] is False


@pytest.mark.parametrize(("args", "message"), [
    (["/nonexistent.mp4"], "does not exist"),
    (["{clean}", "--boundaries", "one,two"], "seconds separated by commas"),
    (["{clean}", "--boundaries", "3,1"], "increasing order"),
    (["{clean}", "--transitions", "12"], "frame ranges start-end"),
    (["{clean}", "--transitions", "30-20"], "0 <= start < end"),
    (["{clean}", "--transitions", "20-30,25-40"], "must not overlap"),
])
def test_bad_input_is_a_clear_error_with_exit_code_2(clean, args, message):
    result = qa(*[a.format(clean=clean) for a in args])
    assert result.returncode == 2
    assert message in result.stderr


def test_a_declared_fade_through_black_is_left_out(tmp_path):
    from tests.qa_corpus import fade_through_black

    frames = fade_through_black(moving(24), moving(24, shade=2.5), 8)  # frames 16-23 fade out and in
    path = write_video(tmp_path / "fade.mp4", frames)
    undeclared = qa(str(path), "--no-conformance", "--no-thumbnails")
    assert undeclared.returncode == 1
    checks = {c["name"]: c for c in json.loads(undeclared.stdout)["qa"]["checks"]}
    assert checks["black_frames"]["passed"] is False
    declared = qa(str(path), "--no-conformance", "--no-thumbnails", "--transitions", "16-24")
    assert declared.returncode == 0, declared.stdout[-2000:]
    checks = {c["name"]: c for c in json.loads(declared.stdout)["qa"]["checks"]}
    assert checks["black_frames"]["details"]["transitions"] == [[16, 24]]
    assert checks["ghosting"]["passed"] is True


def test_a_file_that_is_not_video_is_refused(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    result = qa(str(junk))
    assert result.returncode == 2 and "could not be decoded" in result.stderr
