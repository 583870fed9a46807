"""A school's Learning Record Store: where its xAPI statements go and how they are written."""

import uuid
from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from .. import secrets


class XapiVersion(models.TextChoices):
    V1_0_3 = "1.0.3", "xAPI 1.0.3"
    V2_0 = "2.0.0", "xAPI 2.0 (IEEE 9274.1.1)"


class ActorIdentification(models.TextChoices):
    ACCOUNT = "account", _("By account: LMS id when known, else fermonitor's id (recommended)")
    EMAIL = "email", _("By email address (mbox), where a person has one")


DEFAULT_GIVE_UP_HOURS = 72


class LrsSettings(models.Model):
    """One per school. The Basic-auth secret is stored encrypted and never shown again."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.OneToOneField("classes.School", on_delete=models.CASCADE, related_name="lrs")
    enabled = models.BooleanField(
        _("send statements"),
        default=False,
        help_text=_("Off: finished lessons queue nothing and queued statements wait."),
    )
    endpoint = models.URLField(
        _("LRS endpoint"),
        max_length=500,
        help_text=_("The xAPI base URL, e.g. https://lrs.example.org/xAPI/ (statements go to …/statements)."),
    )
    key = models.CharField(_("key (Basic-auth user)"), max_length=200)
    secret_encrypted = models.TextField(editable=False, default="")
    version = models.CharField(
        _("xAPI version"), max_length=8, choices=XapiVersion.choices, default=XapiVersion.V1_0_3
    )
    actor_identification = models.CharField(
        _("identify people"),
        max_length=16,
        choices=ActorIdentification.choices,
        default=ActorIdentification.ACCOUNT,
    )
    platform_url = models.URLField(
        _("fermonitor address"),
        max_length=300,
        help_text=_("This server's public address: the base of activity ids and of fermonitor accounts."),
    )
    lms_url = models.URLField(
        _("LMS address"),
        max_length=300,
        blank=True,
        default="",
        help_text=_("Your LMS's home page. People and classes with an LMS id are identified under it."),
    )
    send_emotions = models.BooleanField(
        _("include emotion shares"),
        default=False,
        help_text=_("Adds each student's share of expressions to the result. Never in presence-only mode."),
    )
    give_up_after_hours = models.PositiveIntegerField(
        _("give up after (hours)"),
        default=DEFAULT_GIVE_UP_HOURS,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text=_(
            "How long a statement is retried while the LRS is unreachable before it is marked failed."
        ),
    )
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField(default=False, editable=False)
    last_test_status = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    last_test_answer = models.CharField(max_length=1000, blank=True, default="", editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(school="school")

    class Meta:
        verbose_name = _("LRS settings")
        verbose_name_plural = _("LRS settings")

    def __str__(self):
        return f"{self.endpoint} ({self.school})"

    # --- credentials --------------------------------------------------------------------------------------

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    def set_secret(self, plain: str) -> None:
        self.secret_encrypted = secrets.encrypt(plain)

    def secret(self) -> str:
        return secrets.decrypt(self.secret_encrypted)

    # --- derived ------------------------------------------------------------------------------------------

    @property
    def statements_url(self) -> str:
        base = self.endpoint.rstrip("/")
        # Forgive an endpoint pasted with the resource already on it.
        return base if base.endswith("/statements") else f"{base}/statements"

    @property
    def give_up_after(self) -> timedelta:
        return timedelta(hours=self.give_up_after_hours)

    @property
    def emotions_allowed(self) -> bool:
        """Emotion shares leave fermonitor only when the school chose it and computes emotions at all."""
        return self.send_emotions and not self.school.presence_only
