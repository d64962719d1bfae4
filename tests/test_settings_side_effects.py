"""Importing the settings makes nothing on disk; the generated secret key is private from the moment it exists
and the same in every process."""

import stat

from tests.settings_process import manage, python

PRINT_KEY = ("import os; os.umask(0o022); os.chmod = lambda *a, **k: None\n"  # nothing may rely on tightening later
             "import django; django.setup()\n"
             "from django.conf import settings; print(str(settings.SECRET_KEY))")


def test_importing_the_settings_creates_no_folder_or_file(tmp_path):
    data = tmp_path / "data"
    result = python(data, "import tower.settings as s; print(s.DATA_DIR, s.MEDIA_ROOT)")
    assert result.returncode == 0, result.stderr
    assert not data.exists(), sorted(p.name for p in data.iterdir())


def test_the_app_makes_its_data_folder_when_it_starts(tmp_path):
    data = tmp_path / "data"
    result = manage(data, "migrate", "--verbosity", "0")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (data / "tower.sqlite3").is_file()


def test_the_generated_secret_key_is_private_from_creation_and_stable_across_processes(tmp_path):
    data = tmp_path / "data"
    first = python(data, PRINT_KEY)
    second = python(data, PRINT_KEY)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    key = first.stdout.strip()
    assert len(key) >= 50 and second.stdout.strip() == key
    mode = stat.S_IMODE((data / "secret_key").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert [p.name for p in data.iterdir() if p.name.endswith(".tmp")] == []


def test_a_supplied_secret_key_writes_no_file(tmp_path):
    data = tmp_path / "data"
    result = python(data, PRINT_KEY, TOWER_SECRET_KEY="k" * 20 + "supplied-secret-key-0123456789")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("supplied-secret-key-0123456789")
    assert not (data / "secret_key").exists()
