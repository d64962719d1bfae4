"""WebSocket routes (live push to the dashboard)."""

websocket_urlpatterns: list = []
