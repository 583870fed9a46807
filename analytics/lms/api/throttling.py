"""Rate limits per API key (and per user for session callers), so one busy LMS cannot starve the others."""

import os

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .permissions import principal_key

DEFAULT_RATE = "600/minute"


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        # A setting first (tests override it); the environment for deployments whose settings do not name it.
        return (
            getattr(settings, "FERMONITOR_API_RATE", None)
            or os.environ.get("FERMONITOR_API_RATE")
            or DEFAULT_RATE
        )

    def get_cache_key(self, request, view):
        key = principal_key(request)
        if key is not None:
            ident = f"key:{key.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.uuid}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
