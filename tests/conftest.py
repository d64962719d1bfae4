from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # Django is imported lazily: pure-pipeline runs (-p no:django) work where it is absent
    from django.http import HttpResponse
    from django.test import Client


@pytest.fixture(autouse=True)
def media_root(request, tmp_path):
    """Every test writes its media into its own folder (pure-pipeline runs with -p no:django skip this)."""
    if not request.config.pluginmanager.hasplugin("django"):
        return None
    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def users(django_user_model):
    make = django_user_model.objects.create_user
    return {
        "producer": make("pat", password="pat-secret-123"),
        "viewer": make("vic", password="vic-secret-123"),
        "outsider": make("olga", password="olga-secret-123"),
        "staff": django_user_model.objects.create_user("sam", password="sam-secret-123", is_staff=True),
    }


@pytest.fixture
def project(users):
    from productions.models import Membership, Project

    project = Project.objects.create(name="Pilot")
    Membership.objects.create(project=project, user=users["producer"], role=Membership.PRODUCER)
    Membership.objects.create(project=project, user=users["viewer"], role=Membership.VIEWER)
    return project


def client_for(user) -> Client:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body: dict | None = None) -> HttpResponse:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def producer_client(users) -> Client:
    return client_for(users["producer"])


@pytest.fixture
def staff_client(users) -> Client:
    """Staff may create projects (any signed-in user only with TOWER_ANYONE_CAN_CREATE_PROJECTS)."""
    return client_for(users["staff"])


@pytest.fixture
def viewer_client(users) -> Client:
    return client_for(users["viewer"])


def small_episode(project, **overrides):
    """A fast episode (320x180, 2 segments, 2 s): models accept it, the forms would not (spec minimums)."""
    fields = dict(
        project=project, title="Small", synopsis="A fox runs through snow. It finds a lantern.", seed=7,
        width=320, height=180, duration_s=2.0, min_bitrate_bps=200_000, segment_count=2,
    )
    fields.update(overrides)
    from productions.models import Episode

    return Episode.objects.create(**fields)


def render_now(episode) -> str:
    """Queue `episode` and render it here, in process (not through Huey); returns the final status."""
    from productions.render import EpisodeRender

    episode.queue_render()
    return EpisodeRender(episode).run()


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Renders a review queues are recorded, not sent to a Huey queue some other test's worker may read."""
    calls: list[int] = []
    monkeypatch.setattr("productions.tasks.render_episode", calls.append)
    return calls


@pytest.fixture
def queue():
    """The test run's own Huey queue (its data folder's SQLite file), empty before and after the test."""
    from huey.contrib.djhuey import HUEY

    HUEY.storage.flush_queue()
    yield HUEY
    HUEY.storage.flush_queue()
