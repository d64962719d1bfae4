from __future__ import annotations

import pytest
from django.test import Client

from productions.models import Episode, Membership, Project


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test writes its media into its own folder."""
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
    project = Project.objects.create(name="Pilot")
    Membership.objects.create(project=project, user=users["producer"], role=Membership.PRODUCER)
    Membership.objects.create(project=project, user=users["viewer"], role=Membership.VIEWER)
    return project


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def producer_client(users) -> Client:
    return client_for(users["producer"])


@pytest.fixture
def viewer_client(users) -> Client:
    return client_for(users["viewer"])


def small_episode(project: Project, **overrides) -> Episode:
    """A fast episode (320x180, 2 segments, 2 s): models accept it, the forms would not (spec minimums)."""
    fields = dict(
        project=project, title="Small", synopsis="A fox runs through snow. It finds a lantern.", seed=7,
        width=320, height=180, duration_s=2.0, min_bitrate_bps=200_000, segment_count=2, crossfade_s=0.25,
    )
    fields.update(overrides)
    return Episode.objects.create(**fields)
