"""What the API keeps: per-school API keys, webhook endpoints and the log of every webhook delivery.

Keys are stored as a SHA-256 hash of a random 256-bit secret (no salt or slow hash needed at that entropy) plus a
short public prefix used to find the row; the full key is shown once, when it is created.
"""

import hashlib
import secrets
import uuid

from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

KEY_PREFIX_LENGTH = 8


class ApiKeyScope(models.TextChoices):
    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses this key, e.g. “Moodle production”.")
    scope = models.CharField(max_length=16, choices=ApiKeyScope.choices, default=ApiKeyScope.READ)
    prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        "classes.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, school, name: str, scope: str, created_by=None) -> tuple["ApiKey", str]:
        """A new key and its full secret text, which is never stored and cannot be shown again."""
        while True:
            prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
            if not cls.objects.with_scopes_disabled().filter(prefix=prefix).exists():
                break
        raw = f"fm_{prefix}_{secrets.token_urlsafe(32)}"
        key = cls.objects.create(
            school=school,
            name=name,
            scope=scope,
            prefix=prefix,
            hashed_key=hash_key(raw),
            created_by=created_by,
        )
        return key, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiKeyScope.READ_WRITE

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class WebhookEvent(models.TextChoices):
    SESSION_STARTED = "session.started", "Session started"
    SESSION_ENDED = "session.ended", "Session ended (with its summary)"
    ALERT_RAISED = "alert.raised", "Alert raised"


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class Webhook(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField("URL", max_length=500, help_text="Receives a signed JSON POST for every event.")
    events = models.JSONField(default=list, help_text="Event names this endpoint receives.")
    description = models.CharField(max_length=200, blank=True, default="")
    # Kept in clear because signing needs it; only school admins see it.
    secret = models.CharField(max_length=100, default=new_webhook_secret, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.url

    def wants(self, event: str) -> bool:
        return self.is_active and event in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event for one endpoint: the payload as it was when the event happened, and how sending it went."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="webhook__school")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"{self.event} → {self.webhook_id} ({self.status})"


# Connect the webhook receivers whenever the models load (web, workers and commands alike).
from . import receivers  # noqa: E402,F401
