"""The project's webhook against a real HTTP server on 127.0.0.1: the render finishes whatever the webhook does
(it is POSTed later, by the worker); a failed try is recorded, shown to producers and retried with backoff; the
delivered body is signed as documented (HMAC-SHA256 of "<timestamp>." + body, X-Tower-Signature)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from huey.contrib.djhuey import HUEY

from productions.models import Episode, WebhookDelivery
from productions.notifications import WEBHOOK_TRIES, attempt_delivery, notify
from tests.conftest import client_for, render_now, small_episode
from tests.notified import Receiver, run_notification_tasks

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "a-test-secret-of-the-studio-0123456789"


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def set_hook(client, project, url: str) -> None:
    response = client.put(f"/api/projects/{project.pk}/webhook", data=json.dumps({"url": url, "secret": SECRET}),
                          content_type="application/json")
    assert response.status_code == 200, response.content


def test_a_failing_webhook_never_fails_the_render_and_a_retry_delivers_it_signed(project, users, queue):
    producer = client_for(users["producer"])
    with Receiver(answers=[500, 204]) as receiver:
        set_hook(producer, project, receiver.url)
        episode = small_episode(project)
        assert render_now(episode) == Episode.Status.REVIEW
        assert receiver.requests == []  # the render did not wait for it: a task for the worker

        run_notification_tasks()  # the first try: the server answers 500
        episode.refresh_from_db()
        assert episode.status == Episode.Status.REVIEW and not episode.error
        delivery = WebhookDelivery.objects.get()
        assert (delivery.state, delivery.tries, delivery.response_status) == ("pending", 1, 500)
        assert "HTTP 500" in delivery.error and "Retrying in 10 s" in delivery.error
        assert HUEY.scheduled_count() == 1  # the retry, after the backoff
        team_page = producer.get(f"/projects/{project.pk}/team/").content.decode()
        assert "The server answered HTTP 500." in team_page
        assert "HTTP 500" not in client_for(users["viewer"]).get(f"/projects/{project.pk}/team/").content.decode()

        assert attempt_delivery(delivery.pk) is None  # the retry (run here rather than waiting 10 s)
        delivery.refresh_from_db()
        assert (delivery.state, delivery.tries, delivery.response_status, delivery.error) == \
            ("delivered", 2, 204, "")

    first, second = receiver.requests
    assert first["body"] == second["body"]
    headers, body = second["headers"], second["body"]
    assert headers["Content-Type"] == "application/json"
    timestamp = headers["X-Tower-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 120
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Tower-Signature"], f"sha256={expected}")
    wrong = hmac.new(b"another secret", timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Tower-Signature"] != f"sha256={wrong}"
    payload = json.loads(body)
    assert payload["event"] == "episode.finished" and payload["kind"] == "finished"
    assert payload["episode"] == {"id": episode.pk, "title": "Small", "status": "review",
                                  "url": f"http://127.0.0.1:8000/episodes/{episode.pk}/"}
    assert payload["project"] == {"id": project.pk, "name": "Pilot"}
    assert payload["delivery"] == delivery.pk


def test_an_unreachable_webhook_is_given_up_after_its_tries(project, users, queue):
    with Receiver(answers=[204]) as receiver:
        url = receiver.url
    set_hook(client_for(users["producer"]), project, url)  # nothing listens there any more
    episode = small_episode(project, status=Episode.Status.REVIEW)
    notify(episode, "delivered")
    delivery = WebhookDelivery.objects.get()
    delays = [attempt_delivery(delivery.pk) for _ in range(WEBHOOK_TRIES)]
    assert delays == [10.0, 30.0, 90.0, None]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.tries) == ("failed", WEBHOOK_TRIES)
    assert "No answer" in delivery.error and "Retrying" not in delivery.error
    assert attempt_delivery(delivery.pk) is None  # nothing more is tried
