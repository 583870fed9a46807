"""WebSocket routes. Live-session consumers register here."""

websocket_urlpatterns: list = []
