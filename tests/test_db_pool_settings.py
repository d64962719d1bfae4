"""TOWER_DB_POOL_MAX / TOWER_DB_POOL_TIMEOUT_S: the PostgreSQL pool's size and wait, checked at start-up."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.worker import ROOT, worker_env
from tower.env import database_from_url

URL = "postgres://tower@db.example:5432/tower?sslmode=require"


def settings_in_subprocess(**env: str) -> subprocess.CompletedProcess:
    code = ("import django; from django.conf import settings; django.setup(); "
            "print(settings.DATABASES['default']['OPTIONS'])")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=worker_env(TOWER_DATABASE_URL=URL, **env))


def test_postgres_goes_through_a_bounded_pool_without_persistent_connections():
    entry = database_from_url(URL, pool_max=7, pool_timeout_s=12.0)
    assert entry["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 7, "timeout": 12.0}
    assert entry["OPTIONS"]["sslmode"] == "require"
    assert entry["CONN_MAX_AGE"] == 0


def test_zero_turns_the_pool_off():
    entry = database_from_url(URL, pool_max=0)
    assert "pool" not in entry["OPTIONS"]
    assert entry["CONN_MAX_AGE"] == 0


def test_settings_pass_the_variables_to_the_pool():
    done = settings_in_subprocess(TOWER_DB_POOL_MAX="9", TOWER_DB_POOL_TIMEOUT_S="5")
    assert done.returncode == 0, done.stderr
    assert "'max_size': 9" in done.stdout and "'timeout': 5.0" in done.stdout


@pytest.mark.parametrize("name,value", [("TOWER_DB_POOL_MAX", "lots"), ("TOWER_DB_POOL_MAX", "-1"),
                                        ("TOWER_DB_POOL_MAX", "2.5"), ("TOWER_DB_POOL_TIMEOUT_S", "soon"),
                                        ("TOWER_DB_POOL_TIMEOUT_S", "0")])
def test_a_malformed_value_stops_start_up_naming_the_variable(name, value):
    done = settings_in_subprocess(**{name: value})
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and name in done.stderr.splitlines()[-1], done.stderr[-2000:]
