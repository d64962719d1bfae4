"""Full 30 s 1080p renders through a real Huey consumer process (not immediate mode), probed after."""

import json
import shutil
import subprocess

import pytest

from productions.lib.conformance import check_conformance
from productions.lib.spec import DELIVERY_SPEC
from productions.models import Episode, QAReport, Segment
from tests.worker import HueyWorker, status_of, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RENDER_TIMEOUT_S = 600


def create_episode(client, project, **extra) -> int:
    body = {"title": "Pilot", "synopsis": "A girl walks through a forest. She meets a fox. They watch the sea.",
            "seed": 11, **extra}
    response = client.post(f"/api/projects/{project.pk}/episodes", data=json.dumps(body),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.fixture
def worker(tmp_path, settings):
    # The consumer is another process: it must write media where this test reads it.
    worker = HueyWorker(tmp_path / "worker.log", TOWER_MEDIA_ROOT=str(settings.MEDIA_ROOT))
    yield worker
    worker.stop()


def test_the_worker_renders_a_delivery_spec_episode(producer_client, project, worker):
    pk = create_episode(producer_client, project, start=True)
    assert status_of(pk) == Episode.Status.QUEUED  # queued by the web request, not run inside it
    worker.start()
    wait_for(lambda: status_of(pk) in {"review", "delivered", "failed"}, RENDER_TIMEOUT_S, "the render",
             worker=worker)
    episode = Episode.objects.get(pk=pk)
    assert episode.status == Episode.Status.REVIEW, episode.error  # conforming; delivered once approved

    final = episode.final_file
    report = check_conformance(final, DELIVERY_SPEC)
    assert report.passed, report.summary()
    assert report.probe.frame_count == 720 and report.probe.duration_s >= 30
    stored = QAReport.objects.get(episode=episode, kind=QAReport.Kind.CONFORMANCE)
    assert stored.passed and {c["name"] for c in stored.checks} >= {"frame_rate", "video_bitrate", "duration"}
    assert stored.details["backend"] == "builtin" and stored.details["ai"] is False

    if shutil.which("ffprobe"):  # an independent tool agrees
        probe = json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
             "stream=codec_name,profile,width,height,pix_fmt,r_frame_rate,avg_frame_rate,nb_read_packets",
             "-of", "json", str(final)], capture_output=True, check=True, text=True).stdout)["streams"][0]
        assert probe == {"codec_name": "h264", "profile": "High", "width": 1920, "height": 1080,
                         "pix_fmt": "yuv420p", "r_frame_rate": "24/1", "avg_frame_rate": "24/1",
                         "nb_read_packets": "720"}

    body = producer_client.get(f"/api/episodes/{pk}").json()
    assert body["status"] == "review" and body["progress"] == 1.0
    assert all(s["status"] == "done" and s["video_url"] for s in body["segments"])
    video = producer_client.get(body["video_url"])
    assert video.status_code == 200 and int(video["Content-Length"]) == final.stat().st_size
    head = producer_client.get(body["video_url"], HTTP_RANGE="bytes=0-99")
    assert head.status_code == 206 and b"".join(head.streaming_content)[4:8] == b"ftyp"
    segment = producer_client.get(body["segments"][2]["video_url"])
    assert segment.status_code == 200 and segment["Content-Type"] == "video/mp4"
    page = producer_client.get(f"/episodes/{pk}/").content.decode()
    assert "<video" in page and "not AI" in page


def test_a_sigkilled_worker_resumes_without_redoing_finished_segments(producer_client, project, worker):
    pk = create_episode(producer_client, project, start=True)
    worker.start()
    wait_for(lambda: Segment.objects.filter(episode_id=pk, status="done").count() >= 2, RENDER_TIMEOUT_S,
             "two finished segments", interval=0.2, worker=worker)
    worker.kill()
    killed = Episode.objects.get(pk=pk)
    assert killed.status == Episode.Status.RENDERING and killed.claimed_by  # the dead worker still holds it
    finished = {s.index: s.finished_at for s in Segment.objects.filter(episode_id=pk, status="done")}
    assert 2 <= len(finished) < 6

    worker.start()  # its start-up hook re-enqueues the orphaned episode; no API call needed
    wait_for(lambda: status_of(pk) in {"review", "delivered", "failed"}, RENDER_TIMEOUT_S, "the resumed render",
             worker=worker)
    episode = Episode.objects.get(pk=pk)
    assert episode.status == Episode.Status.REVIEW, episode.error
    for segment in episode.segments.all():
        if segment.index in finished:  # kept, not regenerated
            assert segment.attempts == 1 and segment.finished_at == finished[segment.index]
    assert check_conformance(episode.final_file, DELIVERY_SPEC).passed
    videos = sorted(p.name for p in episode.media_dir.rglob("*.mp4"))
    assert videos == ["final.mp4"] + ["proxy.mp4"] * 6, videos  # one final video, a small proxy per segment
    assert sorted(p.name for p in episode.media_dir.rglob("*.mkv")) == ["native.mkv"] * 6  # no 1080p intermediate
    assert not list(episode.media_dir.rglob(".*tmp*")), "leftovers of the killed write were not cleaned"
    assert QAReport.objects.filter(episode=episode, kind="conformance").count() == 1
