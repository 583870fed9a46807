"""What the REST API and the outbox keep: per-school API keys, webhook endpoints, and the outbox of every message
sent to a school's systems (webhook events and xAPI statements).

Keys are stored as a SHA-256 hash of a random 256-bit secret (no salt or slow hash needed at that entropy) plus a
short public prefix used to find the row; the full key is shown once, when it is created.
"""

import hashlib
import secrets
import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

KEY_PREFIX_LENGTH = 8


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read only")
    READ_WRITE = "read_write", _("Read and write")


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text=_("What uses this key, e.g. “Moodle production”."))
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
    SESSION_STARTED = "session.started", _("Session started")
    SESSION_ENDED = "session.ended", _("Session ended (with its summary)")
    ALERT_RAISED = "alert.raised", _("Alert raised")


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


class Webhook(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField("URL", max_length=500, help_text=_("Receives a signed JSON POST for every event."))
    events = models.JSONField(default=list, help_text=_("Event names this endpoint receives."))
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
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class DeliveryKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook event"
    XAPI = "xapi", "xAPI statement"


class Delivery(models.Model):
    """One message for one target in the durable outbox: a webhook event for one endpoint, or one xAPI statement
    (or a finished lesson whose statements are still to be composed) for the school's LRS. The payload is kept as
    it was when the event happened; the row records how sending it went.

    `event_id` makes queueing idempotent: the same event is queued once per target (for xAPI it is the
    statement's own id, so a backfill never queues a lesson twice)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=16, choices=DeliveryKind.choices, default=DeliveryKind.WEBHOOK)
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    lrs = models.ForeignKey(
        "lms.LrsSettings", on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    session = models.ForeignKey(
        "classes.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=40)
    event_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Webhooks give up after a number of attempts; statements after a time the school chose (give_up_at).
    give_up_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["lrs", "status"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["lrs", "event_id"],
                condition=models.Q(lrs__isnull=False, event_id__isnull=False),
                name="unique_event_per_lrs",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="webhook", webhook__isnull=False, lrs__isnull=True)
                    | models.Q(kind="xapi", lrs__isnull=False, webhook__isnull=True)
                ),
                name="delivery_has_one_target_of_its_kind",
            ),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self):
        target = self.webhook_id if self.kind == DeliveryKind.WEBHOOK else f"LRS {self.lrs_id}"
        return f"{self.event} → {target} ({self.status})"
