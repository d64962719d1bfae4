"""`manage.py up`'s first admin: a password supplied in TOWER_ADMIN_PASSWORD is never printed or written; a
generated one is printed once and saved in a file that is private from the moment it exists."""

import io
import os
import stat

import pytest
from django.contrib.auth import authenticate

from productions.management.commands.up import Command

SUPPLIED = "supplied-Passw0rd-not-for-logs"


@pytest.mark.django_db
def test_a_supplied_password_is_never_echoed(settings, monkeypatch, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.TOWER_ADMIN_USER = "boss"
    settings.TOWER_ADMIN_PASSWORD = SUPPLIED
    monkeypatch.setenv("TOWER_ADMIN_USER", "boss")
    monkeypatch.setenv("TOWER_ADMIN_PASSWORD", SUPPLIED)
    out = io.StringIO()
    Command(stdout=out).ensure_admin()
    assert "Created the admin account 'boss'" in out.getvalue()
    assert SUPPLIED not in out.getvalue()
    assert not (tmp_path / "admin-password.txt").exists()
    assert authenticate(username="boss", password=SUPPLIED) is not None


@pytest.mark.django_db
def test_a_generated_password_is_shown_once_and_saved_privately(settings, monkeypatch, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.TOWER_ADMIN_USER = "admin"
    settings.TOWER_ADMIN_PASSWORD = ""
    monkeypatch.delenv("TOWER_ADMIN_USER", raising=False)
    monkeypatch.delenv("TOWER_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)  # private from creation, not tightened afterwards
    old_umask = os.umask(0o022)
    try:
        out = io.StringIO()
        Command(stdout=out).ensure_admin()
    finally:
        os.umask(old_umask)
    note = tmp_path / "admin-password.txt"
    username, password = note.read_text().split()
    assert stat.S_IMODE(note.stat().st_mode) == 0o600
    assert f"password '{password}'" in out.getvalue()
    assert authenticate(username=username, password=password) is not None
