"""ASGI entry point: HTTP through Django, WebSockets through Channels. Daphne serves this."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fermonitor.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from analytics.live import backpressure  # noqa: E402
from analytics.live.middleware import DatabaseAwayGuard  # noqa: E402
from fermonitor.routing import websocket_urlpatterns  # noqa: E402

# Daphne would queue a flooding socket's messages without limit (see analytics.live.backpressure).
backpressure.install()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            DatabaseAwayGuard(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
