"""WebSocket routes (the live-session consumers; protocol and close codes in `analytics.live.consumers`)."""

from django.urls import path

from analytics.live.consumers import CaptureConsumer, DashboardConsumer, StreamConsumer

websocket_urlpatterns: list = [
    path("ws/live/<uuid:session_uuid>/stream/", StreamConsumer.as_asgi(), name="live_stream_socket"),
    path("ws/live/<uuid:session_uuid>/dashboard/", DashboardConsumer.as_asgi(), name="live_dashboard_socket"),
    path("ws/live/<uuid:session_uuid>/capture/", CaptureConsumer.as_asgi(), name="live_capture_socket"),
]
