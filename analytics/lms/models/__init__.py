"""The LMS integration's tables, one module per part: the REST API's keys, webhooks and the shared outbox
(`api`), LTI 1.3 (`lti`), and the LRS settings, which live with the rest of the xAPI code (`..xapi.models`).
Django finds an app's models in `<app>.models`, so every module is imported here."""

from ..xapi.models import ActorIdentification, LrsSettings, XapiVersion
from .api import (
    KEY_PREFIX_LENGTH,
    ApiKey,
    ApiKeyScope,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Webhook,
    WebhookEvent,
    hash_key,
    new_webhook_secret,
)
from .lti import (
    LtiAttendancePost,
    LtiCourse,
    LtiIdentity,
    LtiKey,
    LtiLaunch,
    LtiLogin,
    LtiPlatformKind,
    LtiRegistration,
)

__all__ = [
    "KEY_PREFIX_LENGTH",
    "ActorIdentification",
    "ApiKey",
    "ApiKeyScope",
    "Delivery",
    "DeliveryKind",
    "DeliveryStatus",
    "LrsSettings",
    "LtiAttendancePost",
    "LtiCourse",
    "LtiIdentity",
    "LtiKey",
    "LtiLaunch",
    "LtiLogin",
    "LtiPlatformKind",
    "LtiRegistration",
    "Webhook",
    "WebhookEvent",
    "XapiVersion",
    "hash_key",
    "new_webhook_secret",
]
