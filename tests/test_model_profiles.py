"""Model profiles as data, and plans made from them: one native run per segment, exact frame counts."""

import json
import math

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from productions.catalog import configuration_problem
from productions.lib.interpolation import resolve_profile
from productions.lib.model_profiles import ProfileError, load_profile, load_profiles
from productions.lib.planning import CONTINUOUS, clip_frames, default_joins, parse_joins, plan_episode, timeline_frames
from productions.lib.spec import DeliverySpec

PROFILES = load_profiles()
VIDEO = [p for p in PROFILES.values() if p.kind == "video"]


def test_the_required_profiles_ship():
    assert {"builtin", "svd_xt", "wan22_ti2v_5b", "sd15", "sdxl"} <= set(PROFILES)
    assert any(p.conditioning == "first_last" for p in VIDEO)
    svd, wan = PROFILES["svd_xt"], PROFILES["wan22_ti2v_5b"]
    assert (svd.native_width, svd.native_height, svd.frames_per_run, svd.native_fps) == (1024, 576, 25, 6)
    assert (wan.native_width, wan.native_height, wan.frames_per_run, wan.native_fps) == (1280, 704, 121, 24)
    assert wan.run.allows(121) and wan.run.allows(5) and not wan.run.allows(120) and not wan.run.allows(125)
    for p in PROFILES.values():
        assert p.vram_gb is None or p.vram_source, p.name  # a figure always names its source


def plan_for(profile, duration, fps=24, transitions="", segments=None):
    spec = DeliverySpec(fps=fps, min_duration_s=duration)
    rate = resolve_profile(profile, fps, None, "")
    return plan_episode("One. Two. Three.", 3, spec, duration_s=duration, segments=segments,
                        joins=lambda n: parse_joins(transitions, n), native_fps=rate.native_fps,
                        interpolation=rate.interpolation, run=profile.run, model=profile.name,
                        native_size=profile.size_for(spec.width, spec.height))


@pytest.mark.parametrize("profile", [p for p in VIDEO if p.run], ids=lambda p: p.name)
@pytest.mark.parametrize("duration", [30, 31.5, 47.3, 90])
@pytest.mark.parametrize("transitions", ["", "2: cut; 3: dissolve 12"])
def test_each_segment_is_one_native_run_and_the_episode_is_exact(profile, duration, transitions):
    plan = plan_for(profile, duration, transitions=transitions)
    natives = [s.native_frames for s in plan.segments]
    assert all(profile.run.allows(n) for n in natives), natives
    assert natives[:-1] == [profile.frames_per_run] * (len(natives) - 1)  # full runs, the last may be shorter
    assert plan.total_frames == math.ceil(duration * 24)
    assert [s.delivered_frames for s in plan.segments][-1] <= clip_frames(
        natives[-1], plan.native_fps, 24, plan.interpolation, chained=plan.segments[-1].join.chained)
    # the count is the fewest full runs that reach the duration
    fewer = len(natives) - 1
    joins = parse_joins(transitions, fewer) if fewer >= 3 else default_joins(fewer)
    full = [clip_frames(profile.frames_per_run, plan.native_fps, 24, plan.interpolation, chained=j.chained)
            for j in joins]
    assert fewer == 0 or timeline_frames(full, joins) < plan.total_frames


def test_the_plan_dict_has_what_the_terminal_and_the_api_show():
    d = plan_for(PROFILES["wan22_ti2v_5b"], 30).as_dict()
    assert (d["model"], d["native_width"], d["native_height"], d["native_fps"], d["fps"]) == (
        "wan22_ti2v_5b", 1280, 704, 24, 24)
    assert (d["interpolation"], d["upscale_factor"], d["duration_s"]) == ("none", 1.5, 30.0)
    assert [s["native_frames"] for s in d["segments"]] == [121] * 6
    assert sum(s["delivered_frames"] for s in d["segments"]) == 720  # continuous joins: no overlap
    assert all(s["join"] == CONTINUOUS for s in d["segments"][1:])


def test_svd_xt_is_never_asked_for_more_than_25_frames():
    plan = plan_for(PROFILES["svd_xt"], 30)
    assert max(s.native_frames for s in plan.segments) == 25 and plan.native_fps == 6
    assert plan.interpolation == "rife" and len(plan.segments) == 8


def test_a_count_too_small_for_the_runs_names_the_segment_count():
    with pytest.raises(ValueError, match="one run of the model makes at most 25 frames") as caught:
        plan_for(PROFILES["svd_xt"], 30, segments=3)
    assert caught.value.field == "segment_count"
    plan = plan_for(PROFILES["svd_xt"], 30, segments=10)  # more, shorter segments: allowed, still one run each
    assert len(plan.segments) == 10 and plan.total_frames == 720


def test_transitions_beyond_the_plan_are_refused_with_the_plans_count():
    with pytest.raises(ValueError, match="segment 9 has no join before it"):
        plan_for(PROFILES["wan22_ti2v_5b"], 30, transitions="9: cut")


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "audio"}, "'kind' must be one of"),
    ({"native_size": [1280]}, "'native_size' must be [width, height]"),
    ({"frames_per_run": 0}, "'frames_per_run' must be a whole number"),
    ({"frames_min": 200}, "'frames_min' (200) is over 'frames_per_run' (121)"),
    ({"vram_gb": 8, "vram_source": ""}, "'vram_gb' needs a 'vram_source'"),
    ({"conditioning": "text"}, "'conditioning' of a video model"),
    ({"interpolation": "blend"}, "'interpolation' must be one of"),
])
def test_a_malformed_profile_names_its_file_and_field(tmp_path, change, message):
    data = json.loads(PROFILES["wan22_ti2v_5b"].path.read_text())
    data.update(change)
    path = tmp_path / "mine.profile.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    assert str(caught.value).startswith("mine.profile.json: ") and message in str(caught.value)


def test_an_admins_profile_replaces_a_shipped_one(tmp_path):
    data = json.loads(PROFILES["svd_xt"].path.read_text())
    data["frames_per_run"] = 14
    (tmp_path / "svd_xt.profile.json").write_text(json.dumps(data))
    assert load_profiles([tmp_path])["svd_xt"].frames_per_run == 14


def test_plan_list_json_prints_every_profile(capsys):
    call_command("plan", "--list", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in listed} == set(PROFILES)
    for p in listed:
        assert {"name", "native_width", "native_height", "frames_per_run", "native_fps"} <= set(p)


def test_plan_model_json_prints_the_plan(capsys):
    call_command("plan", "--model", "wan22_ti2v_5b", "--duration", "45", "--json")
    plan = json.loads(capsys.readouterr().out)
    assert plan["model"] == "wan22_ti2v_5b" and plan["duration_s"] == 45.0 and len(plan["segments"]) == 9
    for key in ("native_width", "native_height", "native_fps", "fps", "interpolation", "upscale_factor"):
        assert key in plan
    assert sum(s["delivered_frames"] for s in plan["segments"]) == 45 * 24


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "nope"], "unknown video model 'nope'"),
    (["--model", "sdxl"], "unknown video model 'sdxl'"),
    (["--model", "svd_xt", "--segments", "2"], "2 segments cannot fill"),
    (["--model", "builtin", "--transitions", "2: wipe"], "unknown transition 'wipe'"),
])
def test_plan_refuses_bad_input_in_words(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("plan", *args)


@pytest.mark.parametrize(("values", "message"), [
    ({"TOWER_VIDEO_MODEL": "sora"}, "TOWER_VIDEO_MODEL: unknown video model 'sora'"),
    ({"TOWER_VIDEO_MODEL": "wan22_ti2v_5b", "TOWER_BACKEND": "builtin"}, "set TOWER_BACKEND=comfyui"),
    ({"TOWER_VIDEO_MODEL": "wan22_ti2v_5b", "TOWER_BACKEND": "comfyui"}, None),
    ({"TOWER_VIDEO_MODEL": "wan21_flf2v_720p", "TOWER_BACKEND": "comfyui"}, "over this instance's budget"),
    ({"TOWER_VIDEO_MODEL": "wan21_flf2v_720p", "TOWER_BACKEND": "comfyui", "TOWER_VRAM_BUDGET_GB": 24}, None),
    ({"TOWER_VIDEO_MODEL": ""}, None),
])
def test_the_instance_model_is_checked_at_start_up(values, message):
    with override_settings(**values):
        problem = configuration_problem()
    assert (problem is None) if message is None else (message in problem), problem
