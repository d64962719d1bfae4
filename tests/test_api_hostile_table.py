"""Every route of the API's own schema, every text field of its bodies and every path parameter, given hostile
values (a lone surrogate, NUL, control characters, line breaks, oversize, wrong types, broken JSON): never a 5xx,
always a JSON answer. Deterministic (a table, not random draws), so it runs the same in CI every time."""

from __future__ import annotations

import json

import pytest

from productions.api import api
from productions.models import Character
from tests.reviewable import awaiting_review

pytestmark = pytest.mark.django_db

TEXTS = ['"\\ud800"', '"a\\udfffb"', json.dumps("a\x00b"), json.dumps("\x1b[2J"), json.dumps("a\r\nb"),
         json.dumps("\u2028"), json.dumps("x" * 100_000), json.dumps(""), json.dumps("  "), json.dumps("\ufeff")]
NOT_TEXT = ["1", "-1.5", "null", "true", "[]", "{}", '["\\ud800"]']
BODIES = ["{not json", "[]", "null", '"\\ud800"', "1", "{}", '{"\\ud800": 1}', "[" * 2000 + "]" * 2000]
PATH_VALUES = ["0", "-1", "99999999999999999999", "1e3", "%00", "%ED%A0%80", "%0D%0A", "x"]


def operations() -> list[tuple[str, str, dict]]:
    document = api.get_openapi_schema()
    return [(path, method, operation) for path, methods in document["paths"].items()
            for method, operation in methods.items()]


def body_schema(operation: dict) -> dict:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = api.get_openapi_schema()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def string_fields(schema: dict) -> list[str]:
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [prop.get("type")] + [option.get("type") for option in prop.get("anyOf", [])]
        if "string" in kinds:
            fields.append(name)
    return fields


VALID = {"title": '"Ep"', "synopsis": '"A fox runs."', "name": '"Pilot 2"', "reason": '"too dark"'}


def cases():
    for path, method, operation in operations():
        schema = body_schema(operation)
        required = schema.get("required", [])
        base = {name: VALID.get(name, '""') for name in required}
        for field in string_fields(schema):
            for value in TEXTS + NOT_TEXT:
                fields = {**base, field: value}
                body = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
                yield pytest.param(method, path, body, id=f"{method} {path} {field}={value[:12]}")
        if method in ("post", "patch", "delete"):
            for body in BODIES:
                yield pytest.param(method, path, body, id=f"{method} {path} body={body[:12]}")
        if "{" in path:
            for value in PATH_VALUES:
                hostile = path
                for placeholder in ("{index}", "{episode_id}", "{project_id}", "{character_id}"):
                    hostile = hostile.replace(placeholder, value)
                yield pytest.param(method, hostile, None, id=f"{method} {path} path={value}")
        if method == "get":
            yield pytest.param(method, path + "?q=%00%ED%A0%80&x=%0D%0A", None, id=f"{method} {path} query")


def test_no_route_answers_hostile_input_with_a_server_error(producer_client, project, monkeypatch):
    """One test walks the whole table (a fixture per case would make users and files hundreds of times)."""
    monkeypatch.setattr("productions.tasks.render_episode", lambda episode_id: None)
    producer_client.raise_request_exception = False
    failures, count = [], 0
    for param in cases():
        method, path, body = param.values
        # A fresh episode awaiting review now and then, so that review routes meet a reviewable segment again.
        if count % 40 == 0:
            episode = awaiting_review(project)
            character, _ = Character.objects.get_or_create(project=project, name="Aiko")
            ids = {"{project_id}": str(project.pk), "{episode_id}": str(episode.pk), "{index}": "1",
                   "{character_id}": str(character.pk)}
        count += 1
        for placeholder, value in ids.items():
            path = path.replace(placeholder, value)
        if method == "get":
            response = producer_client.get(path)
        else:
            response = producer_client.generic(method.upper(), path,
                                               data=(body or "").encode("utf-8", "surrogatepass"),
                                               content_type="application/json")
        if response.status_code >= 500 or (response.status_code >= 400 and path.startswith("/api/")
                                           and "detail" not in response.json()):
            failures.append((param.id, response.status_code, response.content[:300]))
    assert count > 300
    assert failures == [], failures[:10]
