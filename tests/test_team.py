"""A project's team, through the Team page and the API: producers invite, create accounts, set roles and remove
members; viewers only look; outsiders get 404; a project never loses its last producer; bad input is a form
error or a 422 naming the field, never a 500."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from productions.models import Membership
from tests.conftest import client_for, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_passwords(settings):
    """The accounts made here need no real key stretching (autouse: before `users` makes theirs)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def api(client, method: str, url: str, body: dict | None = None):
    return getattr(client, method)(url, data=json.dumps(body or {}), content_type="application/json")


def roles(project) -> dict[str, str]:
    return {m.user.username: m.role for m in Membership.objects.filter(project=project).select_related("user")}


def test_viewers_see_the_team_producers_change_it_outsiders_get_404(project, users, producer_client,
                                                                   viewer_client):
    users["viewer"].email = "vic@example.com"
    users["viewer"].save()
    page = viewer_client.get(f"/projects/{project.pk}/team/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "pat" in text and "vic" in text and "vic@example.com" not in text  # emails are for producers
    assert 'id="team-add"' not in text
    assert 'id="team-add"' in producer_client.get(f"/projects/{project.pk}/team/").content.decode()
    assert client_for(users["outsider"]).get(f"/projects/{project.pk}/team/").status_code == 404

    # Viewers may not change the team: 403, in the page and the API; outsiders: 404.
    assert viewer_client.post(f"/projects/{project.pk}/team/add/", {"user": "olga", "role": "viewer"}) \
        .status_code == 403
    assert post_json(viewer_client, f"/api/projects/{project.pk}/members", {"user": "olga"}).status_code == 403
    outsider = client_for(users["outsider"])
    assert post_json(outsider, f"/api/projects/{project.pk}/members", {"user": "olga"}).status_code == 404
    assert api(outsider, "delete", f"/api/projects/{project.pk}/members/{users['viewer'].pk}").status_code == 404
    assert api(viewer_client, "patch", f"/api/projects/{project.pk}/members/{users['viewer'].pk}",
               {"role": "producer"}).status_code == 403
    listed = viewer_client.get(f"/api/projects/{project.pk}/members").json()
    assert {m["username"]: m["role"] for m in listed} == {"pat": "producer", "vic": "viewer"}
    assert all(m["email"] is None for m in listed)
    assert roles(project) == {"pat": "producer", "vic": "viewer"}


def test_a_producer_adds_sets_the_role_of_and_removes_a_member_in_the_page(project, users, producer_client):
    users["outsider"].email = "Olga@Example.com"
    users["outsider"].save()
    response = producer_client.post(f"/projects/{project.pk}/team/add/", {"user": "olga@example.com",
                                                                          "role": "viewer"})
    assert response.status_code == 302
    assert roles(project)["olga"] == "viewer"
    olga = client_for(users["outsider"])
    assert olga.get(project.get_absolute_url()).status_code == 200

    assert producer_client.post(f"/projects/{project.pk}/team/{users['outsider'].pk}/role/",
                                {"role": "producer"}).status_code == 302
    assert roles(project)["olga"] == "producer"
    assert producer_client.post(f"/projects/{project.pk}/team/{users['outsider'].pk}/remove/").status_code == 302
    assert "olga" not in roles(project)
    # Her open page's next request: the project is no longer hers to see.
    assert olga.get(project.get_absolute_url()).status_code == 404
    assert olga.get(f"/api/projects/{project.pk}").status_code in (404, 405)


def test_the_last_producer_cannot_be_demoted_or_removed(project, users, producer_client):
    pat = users["producer"].pk
    page = producer_client.post(f"/projects/{project.pk}/team/{pat}/role/", {"role": "viewer"})
    assert page.status_code == 409
    assert "at least one producer" in page.content.decode()
    page = producer_client.post(f"/projects/{project.pk}/team/{pat}/remove/")
    assert page.status_code == 409 and "at least one producer" in page.content.decode()
    response = api(producer_client, "patch", f"/api/projects/{project.pk}/members/{pat}", {"role": "viewer"})
    assert response.status_code == 409 and "at least one producer" in response.json()["detail"]
    assert api(producer_client, "delete", f"/api/projects/{project.pk}/members/{pat}").status_code == 409
    assert roles(project)["pat"] == "producer"

    # With a second producer, the first may step down (and then leave).
    assert api(producer_client, "patch", f"/api/projects/{project.pk}/members/{users['viewer'].pk}",
               {"role": "producer"}).status_code == 200
    assert api(producer_client, "delete", f"/api/projects/{project.pk}/members/{pat}").status_code == 204
    assert roles(project) == {"vic": "producer"}
    assert producer_client.get(f"/projects/{project.pk}/team/").status_code == 404


def test_create_an_account_with_a_password_or_a_set_password_link(project, users, producer_client, client):
    response = post_json(producer_client, f"/api/projects/{project.pk}/accounts",
                         {"username": "nia", "email": "nia@example.com", "password": "lantern-fox-2026",
                          "role": "viewer"})
    assert response.status_code == 201, response.content
    assert response.json()["password_link_emailed"] is False and not mail.outbox
    assert client.login(username="nia", password="lantern-fox-2026")

    response = producer_client.post(f"/projects/{project.pk}/team/create/",
                                    {"username": "ren", "email": "ren@example.com", "role": "producer"})
    assert response.status_code == 302
    assert roles(project)["ren"] == "producer"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ren@example.com"]
    link = re.search(r"http://testserver(/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "new_password1" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "snowy-lantern-77",
                                                    "new_password2": "snowy-lantern-77"})
    assert done.status_code == 302
    assert client.login(username="ren", password="snowy-lantern-77")


BAD_ACCOUNTS = [
    ({"username": "bad name!", "email": "x@example.com"}, "username"),
    ({"username": "pat", "email": "x@example.com"}, "username"),  # taken
    ({"username": "neo", "email": "not an email"}, "email"),
    ({"username": "neo", "email": "neo@example.com", "password": "123"}, "password"),  # too short, numeric
    ({"username": "neo", "email": "neo@example.com", "password": "a\ud800bcdefghijk"}, "password"),
    ({"username": "neo", "email": "neo@example.com", "role": "boss"}, "role"),
    ({"username": "n\x00eo", "email": "neo@example.com"}, "username"),
    ({"username": "x" * 5000, "email": "neo@example.com"}, "username"),
]


def test_bad_account_input_names_the_field(project, producer_client):
    for body, field in BAD_ACCOUNTS:
        response = post_json(producer_client, f"/api/projects/{project.pk}/accounts", body)
        assert response.status_code == 422, (body, response.content)
        assert field in response.json()["errors"], (body, response.json())
        if not any("\ud800" in value for value in body.values()):  # a browser cannot send a lone surrogate
            page = producer_client.post(f"/projects/{project.pk}/team/create/", body)
            assert page.status_code == 422, body
            assert f'data-field="{field}"' in page.content.decode(), body
    assert set(roles(project)) == {"pat", "vic"}


def test_bad_member_input_names_the_field_and_nothing_is_500(project, users, producer_client):
    url = f"/api/projects/{project.pk}/members"
    for body, status, field in [
        ({"user": "nobody-here"}, 422, "user"),
        ({"user": "olga", "role": "boss"}, 422, "role"),
        ({"user": "vic"}, 409, "user"),  # already a member
        ({"user": ""}, 422, "user"),
        ({"user": "x" * 300}, 422, "user"),
        ({"user": "ol\x00ga"}, 422, "user"),
        ({}, 422, "user"),
        ({"user": 5}, 422, "user"),
    ]:
        response = post_json(producer_client, url, body)
        assert response.status_code == status, (body, response.content)
        assert field in response.json().get("errors", {}), (body, response.json())
    page = producer_client.post(f"/projects/{project.pk}/team/add/", {"user": "nobody-here", "role": "viewer"})
    assert page.status_code == 422 and 'data-field="user"' in page.content.decode()
    assert producer_client.post(url, data="{not json", content_type="application/json").status_code == 400
    assert api(producer_client, "patch", f"{url}/{users['viewer'].pk}", {"role": "boss"}).status_code == 422
    assert api(producer_client, "patch", f"{url}/999999", {"role": "viewer"}).status_code == 404
    assert api(producer_client, "delete", f"{url}/999999").status_code == 404
    assert api(producer_client, "delete", f"{url}/{10**25}").status_code == 404  # past any database key
    assert producer_client.post(f"/projects/{project.pk}/team/{10**25}/role/", {"role": "viewer"}).status_code == 404
    assert producer_client.post(f"/notifications/{10**25}/read/").status_code == 404
    assert producer_client.post(f"/projects/{project.pk}/team/999999/remove/").status_code == 404
    assert producer_client.post(f"/projects/{project.pk}/team/{users['viewer'].pk}/role/",
                                {"role": "boss"}).status_code == 422
    assert get_user_model().objects.count() == 4 and set(roles(project)) == {"pat", "vic"}


def test_webhook_is_for_producers_and_checked(project, producer_client, viewer_client):
    url = f"/api/projects/{project.pk}/webhook"
    assert api(viewer_client, "put", url, {"url": "https://example.com/hook"}).status_code == 403
    bad = api(producer_client, "put", url, {"url": "ftp://example.com/hook"})
    assert bad.status_code == 422 and "url" in bad.json()["errors"]
    bad = api(producer_client, "put", url, {"url": "https://example.com/hook", "secret": "short"})
    assert bad.status_code == 422 and "secret" in bad.json()["errors"]
    made = api(producer_client, "put", url, {"url": "https://example.com/hook"}).json()
    assert made["url"] == "https://example.com/hook" and len(made["secret"]) == 64
    assert producer_client.get(url).json()["secret"] is None  # shown once
    page = producer_client.post(f"/projects/{project.pk}/webhook/", {"url": "not a url"})
    assert page.status_code == 422 and 'data-field="url"' in page.content.decode()
    assert api(producer_client, "put", url, {"url": ""}).json()["url"] is None
