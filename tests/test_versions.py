"""Versions (productions.versions): a delivery keeps its final as version 1; reopening opens version 2 while
version 1 stays viewable and downloadable byte for byte; while the new final is made the current one is marked
out of date (gone once it is made) and the estimate's stitch part shows; the second delivery is version 2.
Real renders (in process), real ffmpeg; the render the page queues is run here, not by a worker."""

from __future__ import annotations

import hashlib

import pytest

from productions.live import episode_state
from productions.models import Episode, EpisodeVersion, file_fingerprint
from productions.render import EpisodeRender
from tests.conftest import post_json, render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_reopen_makes_version_2_and_version_1_stays_as_delivered(project, producer_client, users, queued):
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.REVIEW
    api = f"/api/episodes/{episode.pk}"
    answer = post_json(producer_client, f"{api}/approve-all").json()
    assert answer["episode"]["status"] == "delivered" and answer["rendering"] is False and queued == []

    episode.refresh_from_db()
    first = EpisodeVersion.objects.get(episode=episode)
    assert first.number == 1 and first.delivered_by == users["producer"] and first.size > 0
    assert first.fingerprint == file_fingerprint(episode.final_file) and first.duration_s == pytest.approx(2.0, 0.1)
    assert first.final_path.endswith("versions/v1/final.mp4")
    delivered_bytes = body(producer_client.get(f"/episodes/{episode.pk}/versions/1/video/"))
    assert delivered_bytes == episode.final_file.read_bytes()
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'id="reopen"' in page and "Reopen (make version 2)" in page and 'id="version-1"' in page

    # Reopen from the page: back in review, version 2 open, version 1 listed with its player.
    response = producer_client.post(f"/episodes/{episode.pk}/reopen/", follow=True)
    page = response.content.decode()
    assert "Reopened: version 2 is open." in page
    assert "Version 2 is being made (reopened by pat" in page and f"/episodes/{episode.pk}/versions/1/video/" in page
    assert 'id="final-version">version 1' in page and 'class="version-video"' in page
    episode.refresh_from_db()
    assert episode.status == Episode.Status.REVIEW
    listed = producer_client.get(f"{api}/versions").json()
    assert [(v["number"], v["delivered"], v["reopened_by"]) for v in listed] == [(2, False, "pat"), (1, True, None)]
    assert post_json(producer_client, f"{api}/reopen").status_code == 409  # not delivered any more

    # Change segment 1 and render the change: the final is out of date until the new one is made.
    assert post_json(producer_client, f"{api}/segments/1/reject", {"reason": "Brighter"}).status_code == 202
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'id="final-out-of-date"' in page and "1 rejected segment waits to be made again" in page
    assert producer_client.post(f"/episodes/{episode.pk}/render/").status_code == 302 and queued == [episode.pk]
    seen: dict = {}

    def look(event: dict) -> None:
        if event.get("stage") == "stitching" and "page" not in seen:
            seen["page"] = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
            seen["state"] = episode_state(Episode.objects.get(pk=episode.pk))

    episode.refresh_from_db()
    assert EpisodeRender(episode, on_event=look).run() == Episode.Status.REVIEW
    stitching = seen["page"]
    assert 'id="final-out-of-date"' in stitching and "a new final video is being made (version 2)" in stitching
    state = seen["state"]
    assert state["stitch_s"] > 0 and state["eta_s"] >= state["stitch_s"] * 0.5
    assert "(the stitch included: about" in stitching
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert "final-out-of-date" not in page and "the stitch included" not in page

    # Approving the new segment delivers version 2; version 1's file is unchanged, both download.
    assert post_json(producer_client, f"{api}/segments/1/approve").json()["status"] == "delivered"
    second = EpisodeVersion.objects.get(episode=episode, number=2)
    assert second.is_delivered and second.fingerprint != first.fingerprint
    assert sha(body(producer_client.get(f"/episodes/{episode.pk}/versions/1/video/"))) == sha(delivered_bytes)
    assert sha(body(producer_client.get(f"{api}/versions/1/video"))) == sha(delivered_bytes)
    assert body(producer_client.get(f"{api}/versions/2/video")) == episode.final_file.read_bytes() != delivered_bytes
    ranged = producer_client.get(f"/episodes/{episode.pk}/versions/1/video/", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and body(ranged) == delivered_bytes[:100]
    page = producer_client.get(f"/episodes/{episode.pk}/").content.decode()
    assert 'id="version-1"' in page and 'id="version-2"' in page and "Reopen (make version 3)" in page
