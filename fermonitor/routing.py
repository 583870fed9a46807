"""WebSocket routes (the live-session consumers; protocol and close codes in `classes.live.consumers`)."""

from django.urls import path

from classes.live.consumers import DashboardConsumer, StreamConsumer

websocket_urlpatterns: list = [
    path("ws/live/<uuid:session_uuid>/stream/", StreamConsumer.as_asgi(), name="live_stream_socket"),
    path("ws/live/<uuid:session_uuid>/dashboard/", DashboardConsumer.as_asgi(), name="live_dashboard_socket"),
]
