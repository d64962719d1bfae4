import pytest

from productions.lib.planning import (
    CONTINUOUS,
    CUT,
    DISSOLVE,
    FADE,
    Join,
    carried_actions,
    clip_frames,
    clip_starts,
    continuous_boundaries,
    format_joins,
    native_frames_for,
    parse_joins,
    plan_episode,
    split_beats,
    transition_ranges,
)
from productions.lib.spec import DELIVERY_SPEC, DeliverySpec

METHODS = ["hold", "mci", "blend", "rife"]


def test_default_plan_is_chained_and_lasts_exactly_the_target():
    plan = plan_episode("One. Two. Three.", 5, DELIVERY_SPEC, native_fps=12, interpolation="hold")
    assert len(plan.segments) == 6
    assert [s.join.kind for s in plan.segments] == [CUT] + [CONTINUOUS] * 5
    assert plan.total_frames == DELIVERY_SPEC.min_frames == 720
    assert plan.duration_s == 30.0


@pytest.mark.parametrize("method,rate", [("hold", 12), ("hold", 8), ("mci", 8), ("blend", 8), ("rife", 6),
                                         ("none", 24), ("hold", 7), ("mci", 10)])
@pytest.mark.parametrize("segments", [1, 2, 5, 6, 7, 12])
@pytest.mark.parametrize("duration", [30, 31.3, 45])
def test_every_plan_lasts_exactly_ceil_duration_x_fps(method, rate, segments, duration):
    plan = plan_episode("x", 1, DELIVERY_SPEC, duration_s=duration, segments=segments, native_fps=rate,
                        interpolation=method)
    target = -(-duration * 24 // 1)
    assert plan.total_frames == target
    # Each segment's native frames really give (at least) the frames it puts on the timeline.
    for s in plan.segments:
        made = clip_frames(s.native_frames, rate, 24, method, chained=s.join.chained)
        assert made >= s.delivered_frames
        assert made - s.delivered_frames < 24 / rate + 1  # the trimmed surplus is under one drawing


def test_joins_are_accounted_for_exactly():
    joins = [Join(CUT), Join(CONTINUOUS), Join(CUT), Join(DISSOLVE, 12), Join(FADE, 24), Join(CONTINUOUS)]
    plan = plan_episode("x", 1, DELIVERY_SPEC, joins=joins, native_fps=12, interpolation="hold")
    assert plan.total_frames == 720
    delivered = [s.delivered_frames for s in plan.segments]
    assert sum(delivered) - 12 - 24 == 720
    starts = clip_starts(delivered, plan.joins)
    assert starts[1] == delivered[0] and starts[3] == starts[2] + delivered[2] - 12
    assert continuous_boundaries(delivered, plan.joins) == [starts[1], starts[5]]
    assert transition_ranges(delivered, plan.joins) == [(starts[3], starts[3] + 12), (starts[4], starts[4] + 24)]


def test_a_chained_clip_loses_its_duplicated_first_frame():
    # 13 drawings at 12 fps held on twos: 26 frames; chained, the first drawing (the previous clip's last) goes.
    assert clip_frames(13, 12, 24, "hold", chained=False) == 26
    assert clip_frames(13, 12, 24, "hold", chained=True) == 24
    # Interpolated: 13 frames at 8 fps span 12/8 s = 36 frames at 24 fps, first and last included.
    assert clip_frames(13, 8, 24, "mci", chained=False) == 37
    assert clip_frames(13, 8, 24, "mci", chained=True) == 36
    assert clip_frames(13, 24, 24, "none", chained=True) == 12


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("chained", [False, True])
def test_native_frames_for_is_the_fewest_that_suffice(method, chained):
    for delivered in range(3, 200, 7):
        n = native_frames_for(delivered, 8, 24, method, chained=chained)
        assert clip_frames(n, 8, 24, method, chained=chained) >= delivered
        assert n == 1 or clip_frames(n - 1, 8, 24, method, chained=chained) < delivered


def test_seeds_differ_per_segment_and_are_deterministic():
    a = plan_episode("x", 99, DELIVERY_SPEC)
    b = plan_episode("x", 99, DELIVERY_SPEC)
    assert [s.seed for s in a.segments] == [s.seed for s in b.segments]
    assert len({s.seed for s in a.segments}) == 6


def test_beats_follow_the_synopsis_in_order():
    beats = split_beats("A. B. C. D. E. F. G.", 3)
    assert beats == ["A. B.", "C. D.", "E. F. G."]
    # each sentence in one shot only: the shots after it continue it (written once, generated in both)
    assert split_beats("Only one.", 3) == ["Only one.", "", ""]
    assert split_beats("A. B. C.", 6) == ["A.", "", "B.", "", "C.", ""]


def test_continuing_shots_carry_the_action_they_continue():
    assert carried_actions(["A.", "", "B.", ""], [False, True, False, True]) == ["A.", "A.", "B.", "B."]
    # a new shot (a cut) with no action of its own does not borrow one
    assert carried_actions(["A.", ""], [False, False]) == ["A.", ""]


def test_prompts_carry_style_with_clean_punctuation():
    plan = plan_episode("She runs. He waits.", 1, DELIVERY_SPEC, style="watercolour, soft light.",
                        segments=2)
    assert [s.prompt for s in plan.segments] == ["She runs, watercolour, soft light",
                                                 "He waits, watercolour, soft light"]
    assert all(".," not in s.prompt for s in plan.segments)


def test_too_short_a_duration_is_refused():
    with pytest.raises(ValueError, match="under the delivery spec"):
        plan_episode("x", 1, DELIVERY_SPEC, duration_s=10)


def test_dissolves_longer_than_half_a_segment_are_refused():
    joins = parse_joins("2: dissolve 30", 6)
    with pytest.raises(ValueError, match="dissolve into segment 2"):
        plan_episode("x", 1, DeliverySpec(min_duration_s=2), duration_s=2, segments=6, joins=joins)


def test_none_needs_generation_at_the_delivery_rate():
    with pytest.raises(ValueError, match="interpolation 'none'"):
        plan_episode("x", 1, DELIVERY_SPEC, native_fps=8, interpolation="none")


def test_transitions_parse_and_format_round_trip():
    joins = parse_joins("3: cut; 5: Dissolve 12,6: fade", 6)
    assert [j.kind for j in joins] == [CUT, CONTINUOUS, CUT, CONTINUOUS, DISSOLVE, FADE]
    assert joins[5].frames == 12  # the default length
    assert format_joins(joins) == "3: cut; 5: dissolve 12; 6: fade 12"
    assert parse_joins(format_joins(joins), 6) == joins
    assert parse_joins("", 3) == [Join(CUT), Join(CONTINUOUS), Join(CONTINUOUS)]


@pytest.mark.parametrize("text,message", [
    ("cut", "is not a transition"),
    ("1: cut", "segment 1 has no join"),
    ("7: cut", "segments 2 to 6"),
    ("2: cut; 2: fade", "two transitions"),
    ("2: wipe", "unknown transition 'wipe'"),
    ("2: cut 12", "has no length"),
    ("2: dissolve 0", "1 to 240 frames"),
])
def test_bad_transitions_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_joins(text, 6)
