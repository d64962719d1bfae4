"""Live events for the dashboard: what a render publishes as it goes."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def episode_group(episode_id: int) -> str:
    return f"episode-{episode_id}"


def publish_episode_event(episode, payload: dict) -> None:
    """Send `payload` to every browser watching the episode. Never lets a push failure break a render."""
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "episode.event", "episode": episode.pk, **payload}
        async_to_sync(layer.group_send)(episode_group(episode.pk), message)
    except Exception:  # pragma: no cover - live push is best effort; the database holds the truth
        log.warning("could not publish an event for episode %s", episode.pk, exc_info=True)
