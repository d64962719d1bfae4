"""`manage.py render_episode` makes a new episode from the terminal, planned from its model."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from productions.models import Episode

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_episode_renders_with_as_many_segments_as_its_model_needs(settings, capsys):
    settings.TOWER_NATIVE_SIZE = (128, 72)
    call_command("render_episode", "--project", "Pilot", "--title", "Fox", "--synopsis", "A fox runs. It stops.",
                 "--model", "builtin")
    episode = Episode.objects.get()
    assert episode.status == Episode.Status.REVIEW and episode.segment_count is None
    assert [s.native_frames for s in episode.segments.order_by("index")] == [61] * 5 + [60]
    assert "Rendered episode" in capsys.readouterr().out


def test_a_model_that_cannot_fill_the_count_is_refused_naming_the_field(settings):
    settings.TOWER_COMFYUI_URLS = ["http://127.0.0.1:9"]
    with pytest.raises(CommandError, match="segment_count: .*one run of the model makes at most 25 frames"):
        call_command("render_episode", "--project", "Pilot", "--title", "Fox", "--synopsis", "A fox.",
                     "--model", "svd_xt", "--segments", "3")
    assert not Episode.objects.exists()
