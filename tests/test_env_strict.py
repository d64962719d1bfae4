"""A malformed on/off, whole number or number in the environment stops start-up with a message naming the
variable (it used to be read as "off", or raised a bare ValueError, or fell back to a default silently)."""

import pytest

from tests.settings_process import manage


@pytest.mark.parametrize(("name", "value"), [
    ("TOWER_DEBUG", "maybe"),
    ("TOWER_SERVE_STATIC", "perhaps"),
    ("TOWER_SECURE_SSL_REDIRECT", "sure"),
    ("TOWER_COMFYUI_VARIANTS", "nope"),
    ("TOWER_HUEY_WORKERS", "two"),
    ("TOWER_HUEY_WORKERS", "0"),
    ("TOWER_LEASE_S", "1.5"),
    ("TOWER_QA_MAX_ATTEMPTS", "three"),
    ("TOWER_SECURE_HSTS_SECONDS", "a year"),
    ("TOWER_HEARTBEAT_S", "soon"),
    ("TOWER_HEARTBEAT_S", "0"),
    ("TOWER_COMFYUI_DEADLINE_S", "ten minutes"),
    ("TOWER_COMFYUI_HEALTH_INTERVAL_S", "-1"),
    ("TOWER_COMFYUI_MAX_ATTEMPTS", "many"),
    ("TOWER_UPSCALE_VRAM_GB", "lots"),
    ("TOWER_UPSCALE_VRAM_GB", "-2"),
    ("TOWER_PORT", "eighty"),
])
def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path, name, value):
    result = manage(tmp_path / "data", "check", **{name: value})
    assert result.returncode != 0, f"{name}={value!r} was accepted:\n{result.stdout}{result.stderr}"
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and f"{name}={value!r}" in last_line, result.stderr[-2000:]


@pytest.mark.parametrize("value", ["1", "true", "Yes", " on ", "0", "false", "NO", "off", ""])
def test_the_usual_words_for_on_and_off_are_accepted(tmp_path, value):
    result = manage(tmp_path / "data", "check", TOWER_SERVE_STATIC=value)
    assert result.returncode == 0, result.stderr[-2000:]
