"""WebSocket routes (live push to the dashboard)."""

from django.urls import path

from productions import consumers

websocket_urlpatterns: list = [
    path("ws/episodes/<int:pk>/", consumers.EpisodeConsumer.as_asgi()),
    path("ws/monitor/", consumers.MonitorConsumer.as_asgi()),
]
