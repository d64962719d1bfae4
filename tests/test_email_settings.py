"""Email settings come from the environment, read only by tower/settings.py: the console backend by default (the
embedded shape prints emails), SMTP when TOWER_EMAIL_HOST is set; a malformed value stops start-up."""

from __future__ import annotations

import json

import pytest

from tests.settings_process import python

SHOW = ("import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.DEFAULT_FROM_EMAIL, "
        "s.TOWER_PUBLIC_URL]))")


def test_console_by_default_and_smtp_when_a_host_is_set(tmp_path):
    result = python(tmp_path / "data", SHOW)
    assert result.returncode == 0, result.stderr[-2000:]
    backend, host, _, _, sender, public = json.loads(result.stdout.strip().splitlines()[-1])
    assert (backend, host, sender, public) == ("django.core.mail.backends.console.EmailBackend", "",
                                               "tower@localhost", "http://127.0.0.1:8000")
    result = python(tmp_path / "data", SHOW, TOWER_EMAIL_HOST="smtp.studio.example", TOWER_EMAIL_PORT="465",
                    TOWER_EMAIL_USE_TLS="off", TOWER_EMAIL_FROM="tower@studio.example",
                    TOWER_PUBLIC_URL="https://tower.studio.example/")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "django.core.mail.backends.smtp.EmailBackend", "smtp.studio.example", 465, False, "tower@studio.example",
        "https://tower.studio.example"]


@pytest.mark.parametrize(("env", "named"), [
    ({"TOWER_EMAIL_HOST": "smtp.example", "TOWER_EMAIL_PORT": "submission"}, "TOWER_EMAIL_PORT"),
    ({"TOWER_EMAIL_HOST": "smtp.example", "TOWER_EMAIL_USE_SSL": "on"}, "TOWER_EMAIL_USE_SSL"),
    ({"TOWER_PUBLIC_URL": "tower.example"}, "TOWER_PUBLIC_URL"),
])
def test_a_malformed_email_setting_stops_start_up_naming_it(tmp_path, env, named):
    result = python(tmp_path / "data", SHOW, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr.strip().splitlines()[-1]
