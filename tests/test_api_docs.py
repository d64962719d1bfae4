"""/api/docs works offline (Swagger UI from Tower's own static files), the schema documents the errors each route
answers and the lengths of its text fields, and a body over the size limit gets a JSON answer."""

from __future__ import annotations

import re

import pytest

from tests.conftest import post_json

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_only_local_assets_and_they_are_served(producer_client):
    page = producer_client.get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/static/") for a in assets), assets
    assert "swagger-ui-bundle.js" in page
    for asset in assets:
        response = producer_client.get(asset)
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content if response.streaming else [response.content])


def schema(client) -> dict:
    return client.get("/api/openapi.json").json()


@pytest.mark.parametrize(("method", "path", "codes"), [
    ("post", "/api/projects", {"201", "400", "403", "413", "422"}),
    ("get", "/api/projects/{project_id}/episodes", {"200", "404"}),
    ("post", "/api/projects/{project_id}/episodes", {"201", "400", "403", "404", "413", "422"}),
    ("get", "/api/episodes/{episode_id}", {"200", "404"}),
    ("post", "/api/episodes/{episode_id}/render", {"202", "403", "404", "409"}),
    ("post", "/api/episodes/{episode_id}/cancel", {"202", "403", "404", "409"}),
    ("get", "/api/episodes/{episode_id}/video", {"200", "404"}),
    ("post", "/api/episodes/{episode_id}/segments/{index}/approve",
     {"200", "400", "403", "404", "409", "413", "422"}),
    ("post", "/api/episodes/{episode_id}/segments/{index}/reject", {"202", "400", "403", "404", "409", "413", "422"}),
    ("get", "/api/episodes/{episode_id}/segments/{index}/attempts", {"200", "404"}),
])
def test_the_schema_documents_each_routes_errors(producer_client, method, path, codes):
    document = schema(producer_client)
    responses = document["paths"][path][method]["responses"]
    assert set(responses) == codes
    for code in codes - {"200", "201", "202"}:
        ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
        body = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert "detail" in body["properties"] and ("errors" in body["properties"]) == (code == "422")


def test_the_schema_documents_text_lengths(producer_client):
    components = schema(producer_client)["components"]["schemas"]
    episode = components["EpisodeIn"]["properties"]
    assert (episode["title"]["minLength"], episode["title"]["maxLength"]) == (1, 200)
    assert (episode["synopsis"]["minLength"], episode["synopsis"]["maxLength"]) == (1, 4000)
    assert episode["style"]["maxLength"] == 2000 and "minLength" not in episode["style"]
    assert components["ProjectIn"]["properties"]["name"]["minLength"] == 1
    assert components["ProjectIn"]["properties"]["description"]["maxLength"] == 5000
    assert components["RejectIn"]["properties"]["reason"]["minLength"] == 1
    assert "errors" in components["InvalidOut"]["properties"]


def test_an_oversized_json_body_gets_a_json_413(producer_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post_json(producer_client, "/api/projects", {"name": "Big", "description": "x" * 20_000})
    assert response.status_code == 413 and response["Content-Type"].startswith("application/json")
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in response.json()["detail"]


def test_an_oversized_form_body_to_the_api_gets_json_too(producer_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    producer_client.raise_request_exception = False
    response = producer_client.post("/api/projects", {"name": "Big", "description": "x" * 20_000})
    assert response.status_code == 413 and response["Content-Type"].startswith("application/json"), response.content
    assert "larger than this server accepts" in response.json()["detail"]


def test_a_body_that_is_not_json_is_a_400_in_json(producer_client):
    response = producer_client.post("/api/projects", data=b"{not json", content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()


def test_an_api_address_that_matches_no_route_is_a_404_in_json(producer_client):
    response = producer_client.get("/api/no-such-thing")
    assert response.status_code == 404 and "detail" in response.json()
    assert producer_client.get("/episodes/abc/").status_code == 404  # pages keep Django's page
