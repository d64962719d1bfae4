"""Who may create projects and what staff may do in projects they are not members of (productions.access):
the pages and the API give the same answer (404: not yours to see; 403: yours to see, not to change)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from productions.access import episode_access, project_access
from productions.models import Episode, Membership, Project
from tests.conftest import client_for, post_json, small_episode

pytestmark = pytest.mark.django_db


def test_only_staff_create_projects_unless_the_setting_lets_everyone(users, settings):
    producer, staff = client_for(users["producer"]), client_for(users["staff"])
    page = producer.get("/").content.decode()
    assert "New project" not in page
    assert producer.post("/", {"name": "Mine"}).status_code == 403
    response = post_json(producer, "/api/projects", {"name": "Mine"})
    assert response.status_code == 403 and "Only staff can create projects" in response.json()["detail"]
    assert not Project.objects.exists()

    assert "New project" in staff.get("/").content.decode()
    response = post_json(staff, "/api/projects", {"name": "Staff's"})
    assert response.status_code == 201 and response.json()["role"] == "producer"
    assert staff.post("/", {"name": "Staff's page"}).status_code == 302
    for project in Project.objects.all():  # the creator is the project's producer
        assert Membership.objects.get(project=project).user == users["staff"]

    settings.TOWER_ANYONE_CAN_CREATE_PROJECTS = True
    assert producer.post("/", {"name": "Mine"}).status_code == 302
    assert post_json(producer, "/api/projects", {"name": "Mine too"}).status_code == 201
    assert Membership.objects.filter(user=users["producer"], role=Membership.PRODUCER).count() == 2


def test_staff_who_are_not_members_look_but_do_not_produce(users, project):
    episode = small_episode(project)
    staff = client_for(users["staff"])
    # They see every project and episode (monitor duties)...
    assert staff.get(f"/projects/{project.pk}/").status_code == 200
    page = staff.get(f"/episodes/{episode.pk}/").content.decode()
    assert "Start render" not in page
    assert staff.get(f"/api/episodes/{episode.pk}").status_code == 200
    [listed] = staff.get("/api/projects").json()
    assert listed["role"] == "viewer"
    # ...but change nothing, with the same answer in the pages and the API.
    assert staff.get(f"/projects/{project.pk}/episodes/new/").status_code == 403
    assert staff.post(f"/episodes/{episode.pk}/render/").status_code == 403
    assert staff.post(f"/episodes/{episode.pk}/cancel/").status_code == 403
    assert staff.post(f"/episodes/{episode.pk}/segments/0/review/approve/").status_code == 403
    for path in (f"/api/episodes/{episode.pk}/render", f"/api/episodes/{episode.pk}/cancel",
                 f"/api/episodes/{episode.pk}/segments/0/approve"):
        response = post_json(staff, path)
        assert response.status_code == 403, path
        assert "not members of this project" in response.json()["detail"]
    assert post_json(staff, f"/api/projects/{project.pk}/episodes", {"title": "x", "synopsis": "y"}).status_code == 403
    episode.refresh_from_db()
    assert episode.status == Episode.Status.DRAFT and Episode.objects.count() == 1

    # Added as a producer, they produce.
    Membership.objects.create(project=project, user=users["staff"], role=Membership.PRODUCER)
    assert staff.get(f"/projects/{project.pk}/episodes/new/").status_code == 200


def test_superusers_produce_everywhere_and_outsiders_see_nothing(users, project):
    episode = small_episode(project)
    boss = get_user_model().objects.create_superuser("boss", password="boss-secret-123")
    response = post_json(client_for(boss), f"/api/episodes/{episode.pk}/cancel")
    assert response.status_code == 409  # allowed; there is just nothing to cancel
    assert client_for(boss).get(f"/projects/{project.pk}/episodes/new/").status_code == 200

    outsider = client_for(users["outsider"])
    assert outsider.get(f"/episodes/{episode.pk}/").status_code == 404
    assert outsider.post(f"/episodes/{episode.pk}/render/").status_code == 404
    assert post_json(outsider, f"/api/episodes/{episode.pk}/render").status_code == 404
    assert outsider.get("/api/projects").json() == []


def test_viewers_get_403_in_the_pages_and_the_api(users, project):
    episode = small_episode(project)
    viewer = client_for(users["viewer"])
    assert viewer.post(f"/episodes/{episode.pk}/render/").status_code == 403
    response = post_json(viewer, f"/api/episodes/{episode.pk}/render")
    assert response.status_code == 403 and "Viewers cannot change this project" in response.json()["detail"]


def test_the_object_and_the_callers_access_come_in_one_query(users, project):
    episode = small_episode(project)
    with CaptureQueriesContext(connection) as queries:
        found, access = episode_access(users["viewer"], episode.pk)
        assert found.project.name == "Pilot" and access.can_view and not access.can_produce
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        found, access = project_access(users["producer"], project.pk)
        assert found == project and access.can_produce
    assert len(queries) == 1
    # Fresh from the database: a deactivated account loses access even through a stale user object.
    get_user_model().objects.filter(pk=users["producer"].pk).update(is_active=False)
    assert not project_access(users["producer"], project.pk)[1].can_view
