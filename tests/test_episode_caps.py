"""Per-episode caps (duration, segments, delivery file size) are the instance's settings; the form and the API
refuse more with an error naming the field, and a malformed cap in the environment stops start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from productions.models import Episode
from tests.conftest import post_json

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"title": "Ep 1", "synopsis": "A girl finds a dragon. They fly.", "seed": 3}
FORM = {**GOOD, "duration_s": 30, "width": 1920, "height": 1080, "fps": 24, "min_bitrate_bps": 10_000_000}


def refused(response, field: str, words: str) -> None:
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert list(errors) == [field], errors
    assert words in errors[field][0], errors[field]
    assert Episode.objects.count() == 0


def test_the_duration_cap(producer_client, project, settings):
    settings.TOWER_MAX_EPISODE_DURATION_S = 45
    url = f"/api/projects/{project.pk}/episodes"
    refused(post_json(producer_client, url, {**GOOD, "duration_s": 46}), "duration_s", "At most 45 seconds")
    assert post_json(producer_client, url, {**GOOD, "duration_s": 45}).status_code == 201
    page = producer_client.get(f"/projects/{project.pk}/episodes/new/").content.decode()
    assert 'max="45"' in page


def test_the_segment_cap_applies_to_the_plan(producer_client, project, settings):
    settings.TOWER_MAX_EPISODE_SEGMENTS = 4  # the built-in generator plans 6 segments for 30 s
    url = f"/api/projects/{project.pk}/episodes"
    refused(post_json(producer_client, url, GOOD), "duration_s", "needs 6 segments")
    refused(post_json(producer_client, url, {**GOOD, "segment_count": 5}), "segment_count", "At most 4")
    assert post_json(producer_client, url, {**GOOD, "segment_count": 4}).status_code == 201


def test_the_size_cap(producer_client, project, settings):
    settings.TOWER_MAX_EPISODE_MB = 60  # 30 s at 10 Mbit/s is 37.5 MB; at 20 Mbit/s 75 MB
    url = f"/api/projects/{project.pk}/episodes"
    refused(post_json(producer_client, url, {**GOOD, "min_bitrate_bps": 20_000_000}), "min_bitrate_bps",
            "about 75 MB")
    refused(post_json(producer_client, url, {**GOOD, "duration_s": 60}), "min_bitrate_bps", "about 75 MB")
    assert post_json(producer_client, url, GOOD).status_code == 201


def test_the_form_names_the_field_too(producer_client, project, settings):
    settings.TOWER_MAX_EPISODE_MB = 30
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", FORM)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["min_bitrate_bps"] and "at most 30 MB" in errors["min_bitrate_bps"][0]
    assert Episode.objects.count() == 0


@pytest.mark.parametrize(("name", "value"), [
    ("TOWER_MAX_EPISODE_SEGMENTS", "many"), ("TOWER_MAX_EPISODE_SEGMENTS", "0"),
    ("TOWER_MAX_EPISODE_DURATION_S", "ten minutes"), ("TOWER_MAX_EPISODE_DURATION_S", "10"),
    ("TOWER_MAX_EPISODE_MB", "2GB"), ("TOWER_MAX_EPISODE_MB", "0"),
])
def test_a_malformed_cap_stops_start_up_naming_the_variable(tmp_path, name, value):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tower.settings", "TOWER_DATA_DIR": str(tmp_path), name: value}
    result = subprocess.run([sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and f"{name}={value!r}" in result.stderr, result.stderr[-2000:]
