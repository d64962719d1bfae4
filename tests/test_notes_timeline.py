"""The final video's timeline: each segment starts where the stitched video shows it (the plan's clip starts over
the segments' delivered frames and joins), and the total is the final video's real frame count."""

from __future__ import annotations

import pytest

from productions.lib.conformance import probe_video
from productions.models import Segment
from productions.notes import timeline
from tests.conftest import client_for, render_now, small_episode


@pytest.mark.django_db
def test_timeline_boundaries_follow_the_delivered_frames_and_a_dissolve(project, users):
    episode = small_episode(project, transitions="2: dissolve 6")
    assert render_now(episode) == "review"
    segments = list(episode.segments.order_by("index"))
    data = timeline(episode, segments)

    first, second = data["segments"]
    assert first["start"] == 0 and first["frames"] == segments[0].delivered_frames
    # the dissolve's later clip starts 6 frames before the first one ends
    assert second["start"] == segments[0].delivered_frames - 6
    assert second["end"] == second["start"] + segments[1].delivered_frames - 1
    assert second["end"] == data["frames"] - 1
    assert probe_video(episode.final_file).frame_count == data["frames"]  # what the stitched video really holds
    assert {s["status"] for s in data["segments"]} == {Segment.Status.DONE}

    # the API and the page say the same
    viewer = client_for(users["viewer"])
    api = viewer.get(f"/api/episodes/{episode.pk}/timeline").json()
    assert [(s["start"], s["frames"]) for s in api["segments"]] == [(s["start"], s["frames"]) for s in data["segments"]]
    page = viewer.get(f"/episodes/{episode.pk}/").content.decode()
    assert f'data-start="{second["start"]}" data-frames="{second["frames"]}"' in page
    assert client_for(users["outsider"]).get(f"/api/episodes/{episode.pk}/timeline").status_code == 404
