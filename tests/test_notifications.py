"""Notifications through real renders of a tiny episode: the inbox (and the bell) and an email for each member,
when the render is ready for review, when QA holds a segment for a decision, when it fails and when the last
approval delivers it; a member who turned email off gets none; the inbox marks read."""

from __future__ import annotations

import pytest
from django.core import mail

from productions import render as render_module
from productions.lib.backend import BackendError
from productions.lib.generator import BuiltinGenerator
from productions.models import Episode, Notification
from tests.conftest import client_for, post_json, render_now, small_episode
from tests.notified import run_notification_tasks
from tests.test_qa_policy import GridOnSomeTries

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def team(project, users):
    for user in users.values():
        user.email = f"{user.username}@example.com"
        user.save()
    return project


def inbox(user) -> list[tuple[str, str]]:
    return [(n.kind, n.link) for n in Notification.objects.filter(user=user).order_by("pk")]


def bell(client) -> str:
    text = client.get("/").content.decode()
    return text.split('class="bell-count"', 1)[1].split("</span>", 1)[0].rsplit(">", 1)[1]


def test_ready_for_review_then_delivered(team, users, queue):
    episode = small_episode(team)
    pat, vic = client_for(users["producer"]), client_for(users["viewer"])
    assert vic.post("/notifications/email/", {}).status_code == 302  # vic turns email off
    assert bell(pat) == "0"

    assert render_now(episode) == Episode.Status.REVIEW
    link = f"/episodes/{episode.pk}/"
    assert inbox(users["producer"]) == inbox(users["viewer"]) == [("finished", link)]
    assert inbox(users["staff"]) == []  # not a member
    assert not mail.outbox  # sent by the worker, not the render
    assert run_notification_tasks() == ["send_notification_emails"]
    assert [m.to for m in mail.outbox] == [["pat@example.com"]]
    assert "ready for review" in mail.outbox[0].subject and f"http://127.0.0.1:8000{link}" in mail.outbox[0].body
    assert bell(pat) == "1" and bell(vic) == "1"

    for index in (0, 1):
        assert post_json(pat, f"/api/episodes/{episode.pk}/segments/{index}/approve").status_code == 200
    episode.refresh_from_db()
    assert episode.status == Episode.Status.DELIVERED
    assert [kind for kind, _ in inbox(users["viewer"])] == ["finished", "delivered"]
    run_notification_tasks()
    assert len(mail.outbox) == 2 and "is delivered" in mail.outbox[1].subject
    assert bell(pat) == "2"

    # The inbox: one marked read (and opened), then all.
    first = Notification.objects.filter(user=users["producer"]).order_by("pk").first()
    page = pat.get("/notifications/").content.decode()
    assert "ready for review" in page and "is delivered" in page
    assert pat.post(f"/notifications/{first.pk}/read/", {"open": "1"})["Location"] == link
    assert bell(pat) == "1"
    assert vic.post(f"/notifications/{first.pk}/read/").status_code == 404  # not hers
    assert pat.post("/notifications/read-all/").status_code == 302
    assert bell(pat) == "0" and bell(vic) == "2"
    assert post_json(vic, "/api/notifications/read").json() == {"marked": 2}


def test_held_by_qa_and_failed(team, users, queue, monkeypatch, settings):
    settings.TOWER_QA_MAX_ATTEMPTS = 1
    monkeypatch.setattr(render_module, "get_backend", lambda name: GridOnSomeTries(index=0, bad_tries=99))
    held = small_episode(team, title="Held")
    assert render_now(held) == Episode.Status.FAILED
    assert [k for k, _ in inbox(users["viewer"])] == ["needs_review"]
    notification = Notification.objects.get(user=users["producer"])
    assert "segment 1 failed automatic QA" in notification.message and "decision" in notification.message

    class Broken(BuiltinGenerator):
        def stream_segment(self, request, progress, should_cancel):
            raise BackendError("the GPU server is unreachable")

    monkeypatch.setattr(render_module, "get_backend", lambda name: Broken())
    failed = small_episode(team, title="Broken")
    assert render_now(failed) == Episode.Status.FAILED
    latest = Notification.objects.filter(user=users["viewer"]).first()
    assert latest.kind == "failed" and "the GPU server is unreachable" in latest.message
    assert latest.link == f"/episodes/{failed.pk}/"

    run_notification_tasks()
    subjects = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert [to for to, _ in subjects] == ["pat@example.com", "pat@example.com", "vic@example.com",
                                          "vic@example.com"]
    assert sum("failed automatic QA" in s for _, s in subjects) == 2
    assert sum("Broken failed" in s for _, s in subjects) == 2
