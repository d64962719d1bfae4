"""Model files and settings are chosen by settings (and the keyframe model per episode), not by editing or
copying a workflow."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from productions.catalog import configuration_problem, profiles
from productions.lib.backend import KeyframeRequest, SegmentRequest
from productions.lib.model_profiles import load_profiles
from tests.conftest import post_json
from tests.fake_comfyui import FakeComfyUI, make_backend
from tower.env import parse_model_options


def test_options_parse_into_models_and_typed_values():
    assert parse_model_options(" svd_xt.ckpt_name = svd_xt_1_1.safetensors ; wan22_ti2v_5b.steps=8;"
                               "wan22_ti2v_5b.cfg=1.5") == {
        "svd_xt": {"ckpt_name": "svd_xt_1_1.safetensors"}, "wan22_ti2v_5b": {"steps": 8, "cfg": 1.5}}
    assert parse_model_options("") == {}
    for bad in ("svd_xt=1", "ckpt_name=x.safetensors", "svd_xt.steps=", ".steps=3"):
        with pytest.raises(ImproperlyConfigured, match="is not MODEL.KEY=VALUE"):
            parse_model_options(bad)


def test_options_set_files_and_settings_of_a_profile():
    options = {"svd_xt": {"ckpt_name": "svd_xt_1_1.safetensors", "steps": 30}, "sdxl": {"ckpt_name": "anime.sft"}}
    with override_settings(TOWER_MODEL_OPTIONS=options):
        found = profiles()
        assert configuration_problem() is None
    assert found["svd_xt"].files["ckpt_name"] == "svd_xt_1_1.safetensors" and found["svd_xt"].defaults["steps"] == 30
    assert found["sdxl"].files["ckpt_name"] == "anime.sft"
    assert profiles()["svd_xt"].files["ckpt_name"] == "svd_xt.safetensors"  # the shipped file without options


@pytest.mark.parametrize(("values", "message"), [
    ({"TOWER_MODEL_OPTIONS": {"sora": {"steps": 3}}}, "there is no model 'sora'"),
    ({"TOWER_MODEL_OPTIONS": {"svd_xt": {"stepz": 3}}}, "svd_xt has no file or setting 'stepz'"),
    ({"TOWER_MODEL_OPTIONS": {"builtin": {"steps": 3}}}, "builtin has no file or setting 'steps'"),
    ({"TOWER_KEYFRAME_MODEL": "svd_xt"}, "TOWER_KEYFRAME_MODEL: unknown image model 'svd_xt'"),
])
def test_a_wrong_option_or_keyframe_model_stops_start_up_naming_it(values, message):
    with override_settings(**values):
        problem = configuration_problem()
    assert problem and message in problem, problem


@pytest.mark.timeout(60)
def test_the_keyframe_uses_its_models_file_and_native_size():
    chosen = {n: p.with_options({"ckpt_name": "my_sd15.safetensors"}) if n == "sd15" else p
              for n, p in load_profiles().items()}
    with FakeComfyUI(checkpoints=["my_sd15.safetensors", "sd_xl_base_1.0.safetensors", "svd_xt.safetensors"]) \
            as fake, make_backend(fake.url, profiles=chosen) as backend:
        frame = backend.generate_keyframe(KeyframeRequest("a fox", 1, 320, 180, model="sd15"))
        sd15 = fake.received[-1]
        backend.generate_keyframe(KeyframeRequest("a fox", 1, 320, 180))  # no model named: SDXL
        sdxl = fake.received[-1]
        backend.generate_segment(SegmentRequest("x", 1, frame, 64, 36, 4, 6, model="svd_xt"))
    assert frame.shape == (180, 320, 3)
    assert sd15["1"]["inputs"]["ckpt_name"] == "my_sd15.safetensors"
    assert (sd15["5"]["inputs"]["width"], sd15["5"]["inputs"]["height"]) == (768, 432)
    assert sdxl["1"]["inputs"]["ckpt_name"] == "sd_xl_base_1.0.safetensors"
    assert (sdxl["5"]["inputs"]["width"], sdxl["5"]["inputs"]["height"]) == (1344, 768)


@pytest.mark.django_db
def test_a_producer_chooses_the_keyframe_model(producer_client, project):
    good = {"title": "Ep", "synopsis": "A fox.", "keyframe_model": "sd15"}
    body = post_json(producer_client, f"/api/projects/{project.pk}/episodes", good).json()
    assert body["keyframe_model"] == "sd15"
    response = post_json(producer_client, f"/api/projects/{project.pk}/episodes", {**good, "keyframe_model": "svd_xt"})
    assert response.status_code == 422 and "keyframe_model" in response.json()["errors"]
