"""One current episode QA report and one conformance report per final video: stitching again (a resume after
a crash, or a re-stitch) replaces them instead of adding more, and the QA page shows each once."""

import pytest

from productions.models import Episode, QAReport
from tests.conftest import client_for, render_now, small_episode

pytestmark = pytest.mark.django_db(transaction=True)


def test_stitching_again_replaces_the_episode_reports(project, users):
    episode = small_episode(project)
    assert render_now(episode) == Episode.Status.REVIEW
    assert render_now(episode) == Episode.Status.REVIEW  # resumed: nothing to generate, stitched again
    reports = QAReport.objects.filter(episode=episode, segment=None)
    assert sorted(reports.values_list("kind", flat=True)) == ["conformance", "episode"]
    episode.refresh_from_db()
    assert episode.current_conformance() is not None  # the report is about the file on disk now
    page = client_for(users["producer"]).get(f"/episodes/{episode.pk}/qa/").content.decode()
    assert page.count("Episode QA:") == 1 and page.count("Delivery conformance:") == 1
