"""`{% keyframe_info shot as kf %}`: a storyboard shot's keyframe (productions.keyframes.keyframe_info);
`{% render_refusal episode as r %}`: why Render is refused (productions.storyboard.render_refusal)."""

from django import template

from productions.keyframes import keyframe_info as info
from productions.storyboard import render_refusal as refusal

register = template.Library()


@register.simple_tag
def keyframe_info(shot) -> dict:
    return info(shot)


@register.simple_tag
def render_refusal(episode) -> str:
    """Why "Render" is refused now (the storyboard's shots, its length, its keyframes), or ""."""
    return refusal(episode) or ""
