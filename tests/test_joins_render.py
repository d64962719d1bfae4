"""Whole renders (built-in generator, real ffmpeg): no ghosted frame in a default episode, joins as chosen with
exact frame counts, and what a producer's explicit `blend` gets flagged as."""

import math

import pytest

from productions.lib.conformance import check_conformance
from productions.models import Episode, QAReport
from tests.conftest import render_now, small_episode
from tests.ghosts import file_ghosts

pytestmark = pytest.mark.django_db(transaction=True)


def episode_check(episode: Episode, name: str) -> dict:
    report = QAReport.objects.filter(episode=episode, kind="episode").latest("created_at")
    return next(c for c in report.checks if c["name"] == name)


def test_a_default_episode_has_no_ghosted_frame(project):
    episode = small_episode(project, duration_s=3.0, segment_count=3)
    assert render_now(episode) == Episode.Status.REVIEW, episode.error
    episode.refresh_from_db()
    assert (episode.interpolation, episode.native_fps) == ("hold", 12)  # the built-in generator's default
    assert [s.join for s in episode.segments.all()] == ["cut", "continuous", "continuous"]  # 0 opens the episode
    ghosting = episode_check(episode, "ghosting")
    assert ghosting["passed"] and ghosting["status"] != "not_measured", ghosting
    assert file_ghosts(episode.final_file) == []  # and by the independent linear-mix test
    seams = episode_check(episode, "seams")  # the continuous joins are checked for jumps
    assert seams["passed"] and len(seams["details"]["boundaries"]) == 2, seams
    spec = episode.delivery_spec()
    report = check_conformance(episode.final_file, spec)
    assert report.passed and report.probe.frame_count == math.ceil(3.0 * 24) == 72


def test_chosen_joins_start_new_shots_and_keep_the_frame_count_exact(project):
    episode = small_episode(project, duration_s=4.0, segment_count=3, transitions="2: cut; 3: dissolve 8")
    assert render_now(episode) == Episode.Status.REVIEW, episode.error
    first, second, third = episode.segments.order_by("index")
    assert (second.join, third.join, third.join_frames) == ("cut", "dissolve", 8)
    assert second.keyframe_path and third.keyframe_path and not first.keyframe_path  # new shots, own keyframes
    assert first.delivered_frames + second.delivered_frames + third.delivered_frames - 8 == 96
    report = check_conformance(episode.final_file, episode.delivery_spec())
    assert report.passed and report.probe.frame_count == 96
    details = QAReport.objects.get(episode=episode, kind="episode").details
    start = first.delivered_frames + second.delivered_frames - 8
    assert details["transitions"] == [[start, start + 8]]
    assert details["boundaries_s"] == []  # no continuous join: the cut is not a seam defect
    # The chosen dissolve is not a ghost.
    assert episode_check(episode, "ghosting")["passed"]
    page_episode = Episode.objects.get(pk=episode.pk)
    assert page_episode.segments.get(index=2).join_label() == "dissolve 8 frames"


def test_an_explicit_blend_is_rendered_and_its_ghosts_flagged(project):
    episode = small_episode(project, duration_s=3.0, segment_count=2, interpolation="blend", native_fps=8)
    assert render_now(episode) == Episode.Status.REVIEW, episode.error
    ghosting = episode_check(episode, "ghosting")
    assert not ghosting["passed"], ghosting
    assert len(file_ghosts(episode.final_file)) > 72 // 3  # two of every three frames are mixes
