import pytest

from productions.lib.planning import native_frames_for, plan_episode, split_beats
from productions.lib.spec import DELIVERY_SPEC, DeliverySpec


def test_default_plan_meets_the_delivery_duration_after_crossfades():
    plan = plan_episode("One. Two. Three.", 5, DELIVERY_SPEC)
    assert len(plan.segments) == 6
    assert plan.crossfade_frames == 12
    assert plan.total_frames >= DELIVERY_SPEC.min_frames
    assert plan.duration_s >= DELIVERY_SPEC.min_duration_s


@pytest.mark.parametrize("segments", [1, 2, 5, 6, 7, 12])
@pytest.mark.parametrize("duration", [30, 31.3, 45])
def test_any_segment_count_covers_the_requested_duration(segments, duration):
    plan = plan_episode("x", 1, DELIVERY_SPEC, duration_s=duration, segments=segments)
    assert plan.total_frames >= duration * DELIVERY_SPEC.fps
    assert plan.total_frames - duration * DELIVERY_SPEC.fps < segments + 1  # never much more than asked


def test_native_frames_cover_the_delivered_span():
    # 130 frames at 24 fps span 129/24 s; at 8 fps that needs frames 0..43.
    assert native_frames_for(130, 8, 24) == 44
    assert native_frames_for(25, 6, 24) == 7


def test_seeds_differ_per_segment_and_are_deterministic():
    a = plan_episode("x", 99, DELIVERY_SPEC)
    b = plan_episode("x", 99, DELIVERY_SPEC)
    assert [s.seed for s in a.segments] == [s.seed for s in b.segments]
    assert len({s.seed for s in a.segments}) == 6


def test_beats_follow_the_synopsis_in_order():
    beats = split_beats("A. B. C. D. E. F. G.", 3)
    assert beats == ["A. B.", "C. D.", "E. F. G."]
    assert split_beats("Only one.", 3) == ["Only one."] * 3


def test_prompts_carry_style_and_characters():
    plan = plan_episode("She runs.", 1, DELIVERY_SPEC, style="watercolour", characters="Mika, red scarf")
    assert plan.segments[0].prompt == "She runs., Mika, red scarf, watercolour"


def test_too_short_a_duration_is_refused():
    with pytest.raises(ValueError, match="under the delivery spec"):
        plan_episode("x", 1, DELIVERY_SPEC, duration_s=10)


def test_crossfades_longer_than_half_a_segment_are_refused():
    with pytest.raises(ValueError, match="crossfades"):
        plan_episode("x", 1, DeliverySpec(min_duration_s=2), duration_s=2, segments=6, crossfade_s=0.5)
