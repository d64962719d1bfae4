"""Producers see plain words: when ffmpeg fails, the episode (and a segment being made) shows one plain line, and
ffmpeg's own log only inside a "Details" disclosure; the API gives both (real ffmpeg behind a failing wrapper)."""

import html
import re
import stat

import pytest

from productions.lib import ffmpeg
from productions.models import Episode
from tests.conftest import client_for, render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)

LOG_LINE = "Simulated encoder crash: Conversion failed!"


def failing_ffmpeg(tmp_path, settings, when: str) -> None:
    """An ffmpeg that writes a multi-line log and fails when its arguments contain `when`, and works otherwise."""
    real = ffmpeg.ffmpeg_binary()
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *{when}*) printf "[libx264 @ 0x55d] frame I:1 Avg QP:20\\n{LOG_LINE}\\n" >&2; exit 1;; esac\n'
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    settings.TOWER_FFMPEG = str(wrapper)


def outside_details(page: str) -> str:
    return re.sub(r"<details\b.*?</details>", "", page, flags=re.S)


def test_a_failed_final_encode_shows_a_plain_headline_and_the_log_behind_details(project, users, settings,
                                                                                 tmp_path):
    failing_ffmpeg(tmp_path, settings, "/.final.tmp-")
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.FAILED
    episode.refresh_from_db()
    assert "\n" not in episode.error and LOG_LINE not in episode.error and "libx264" not in episode.error
    assert episode.error.startswith("Video processing failed while making final.mp4 from 2 clips.")
    assert "Finished segments are kept" in episode.error
    assert LOG_LINE in episode.error_details and "ffmpeg exited with code 1" in episode.error_details

    page = html.unescape(client_for(users["producer"]).get(f"/episodes/{episode.pk}/").content.decode())
    assert episode.error in page
    assert LOG_LINE in page and LOG_LINE not in outside_details(page)
    details = re.search(r'<details class="error-details" id="episode-error-details">(.*?)</details>', page, re.S)
    assert details and "<summary>Details</summary>" in details.group(1) and LOG_LINE in details.group(1)

    data = client_for(users["producer"]).get(f"/api/episodes/{episode.pk}").json()
    assert data["error"] == episode.error and LOG_LINE in data["error_details"]

    settings.TOWER_FFMPEG = ""
    assert render_now(episode) == Episode.Status.REVIEW  # resumed: headline and details both cleared
    episode.refresh_from_db()
    assert episode.error == "" and episode.error_details == ""


def test_a_segment_that_ffmpeg_fails_shows_the_log_behind_details_on_its_card(project, users, settings, tmp_path):
    failing_ffmpeg(tmp_path, settings, "/.proxy.tmp-")
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.FAILED
    segment = episode.segments.get(index=0)
    assert segment.status == "failed", segment.status
    assert "\n" not in segment.error and LOG_LINE not in segment.error and segment.error.startswith(
        "Video processing failed while")
    assert LOG_LINE in segment.error_details

    page = html.unescape(client_for(users["producer"]).get(f"/episodes/{episode.pk}/").content.decode())
    card = re.search(r'<figure class="segment[^"]*" id="segment-0".*?</figure>', page, re.S).group(0)
    assert segment.error in card and LOG_LINE in card and LOG_LINE not in outside_details(card)

    data = client_for(users["producer"]).get(f"/api/episodes/{episode.pk}").json()
    assert data["segments"][0]["error"] == segment.error and LOG_LINE in data["segments"][0]["error_details"]
