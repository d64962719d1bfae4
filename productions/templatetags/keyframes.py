"""`{% keyframe_info shot as kf %}`: a storyboard shot's keyframe (productions.keyframes.keyframe_info)."""

from django import template

from productions.keyframes import keyframe_info as info
from productions.keyframes import keyframe_refusal as refusal

register = template.Library()


@register.simple_tag
def keyframe_info(shot) -> dict:
    return info(shot)


@register.simple_tag
def keyframe_refusal(episode) -> str:
    return refusal(episode) or ""
