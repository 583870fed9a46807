"""Who is calling: an API key (the LMS) or a logged-in user (the same rights as their pages).

A key names its school; nothing in the URL or the body ever does. Keys arrive as `Authorization: Bearer <key>` or
as an `X-Api-Key: <key>` header.
"""

import hmac
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from classes.models import Role

from ..models import KEY_PREFIX_LENGTH, ApiKey, hash_key

# Writing last_used_at on every request would make every read a write; a minute's precision is plenty.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyPrincipal:
    """`request.user` for key requests: acts school-wide, like the school's admins (the key's scope limits
    writes). Has the attributes `classes.access` reads, so the same object-access helpers serve keys and people."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False
    pk = None
    id = None
    role = Role.ADMIN
    is_school_admin = True
    is_teacher = False
    is_student = False

    def __init__(self, key: ApiKey):
        self.key = key
        self.school = key.school
        self.school_id = key.school_id

    def __str__(self):
        return f"API key {self.key.name}"


def key_from_headers(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        kind, _, value = header.partition(" ")
        if kind.lower() == "bearer":
            return value.strip()
        return None
    value = request.META.get("HTTP_X_API_KEY", "")
    return value.strip() or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    www_authenticate_realm = "fermonitor"

    def authenticate(self, request):
        raw = key_from_headers(request)
        if raw is None:
            return None
        parts = raw.split("_", 2)
        if len(parts) != 3 or parts[0] != "fm" or len(parts[1]) != KEY_PREFIX_LENGTH:
            raise exceptions.AuthenticationFailed("The API key is malformed.")
        # The school is not known yet: the prefix lookup is the one unscoped query, and it yields the school.
        key = ApiKey.objects.with_scopes_disabled().select_related("school").filter(prefix=parts[1]).first()
        if key is None or not hmac.compare_digest(key.hashed_key, hash_key(raw)):
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        if not key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
            ApiKey.objects.with_scopes_disabled().filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return f'Bearer realm="{self.www_authenticate_realm}"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "analytics.lms.api.authentication.ApiKeyAuthentication"
    name = ["ApiKeyBearer", "ApiKeyHeader"]
    priority = 1

    def get_security_definition(self, auto_schema):
        description = (
            "A per-school API key created by a school admin under School → Integrations. The key decides the "
            "school; read-only keys may only use GET."
        )
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "fm_<prefix>_<secret>",
                "description": description,
            },
            {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": description},
        ]
