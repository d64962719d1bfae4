"""The episode page reads the segments once. It used to read them for the live state and again for the rows:
when the worker planned the segments in between (a render starting while someone looks at the page), the two
lists differed and the page answered 500 (found by bench/api_load.py)."""

from __future__ import annotations

import pytest

from productions import views
from productions.render import ensure_segments
from tests.conftest import small_episode


@pytest.mark.django_db
def test_segments_planned_while_the_page_is_read(project, producer_client, monkeypatch):
    episode = small_episode(project)
    read_state = views.episode_state

    def state_then_the_worker_plans(*args, **kwargs):
        state = read_state(*args, **kwargs)
        ensure_segments(episode)  # what the worker does as the render starts
        return state

    monkeypatch.setattr(views, "episode_state", state_then_the_worker_plans)
    response = producer_client.get(f"/episodes/{episode.pk}/")
    assert response.status_code == 200
    assert episode.segments.count() == 2
