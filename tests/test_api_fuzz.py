"""schemathesis against the API's own schema, signed in as a producer: generated valid and invalid requests
(positive and negative modes) to every route, never a 5xx. Bounded and reproducible for CI: derandomized,
a fixed number of examples per route and mode, no example database."""

from __future__ import annotations

import json

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

from productions.api import api  # noqa: E402
from tests.reviewable import awaiting_review  # noqa: E402

pytestmark = pytest.mark.django_db

EXAMPLES = 12  # per route and mode: 13 routes x 2 modes x 12 = a few hundred requests


def send(client, case) -> object:
    path = case.formatted_path
    query = case.query or {}
    if case.method.upper() == "GET":
        return client.get(path, query)
    body = case.body
    if body is None or type(body).__name__ == "NotSet":
        data = b""
    elif isinstance(body, bytes):  # negative mode also sends bodies that are not JSON at all
        data = body
    else:
        data = json.dumps(body).encode("utf-8", "surrogatepass")
    if query:
        path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.generic(case.method.upper(), path, data, content_type="application/json")


def test_generated_requests_never_get_a_server_error(producer_client, project, monkeypatch):
    monkeypatch.setattr("productions.tasks.render_episode", lambda episode_id: None)
    producer_client.raise_request_exception = False
    episode = awaiting_review(project)
    from productions.models import Character

    character = Character.objects.create(project=project, name="Aiko")
    fixed = {"project_id": project.pk, "episode_id": episode.pk, "index": 1, "character_id": character.pk}
    schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
    failures: list = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(
                generation_mode=mode,
                path_parameters={k: v for k, v in fixed.items() if k in names} if mode is GenerationMode.POSITIVE
                else None)

            @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def check(case):
                nonlocal sent
                sent += 1
                response = send(producer_client, case)
                if response.status_code >= 500:
                    failures.append((case.method, case.formatted_path, case.body, response.status_code))

            check()
    print(f"schemathesis sent {sent} requests")
    assert sent > 200
    assert failures == [], failures[:5]
