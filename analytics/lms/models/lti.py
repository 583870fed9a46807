"""What LTI 1.3 keeps per school: the tool's signing keys, the LMS platforms registered by the school admin, the
login requests in flight (state and nonce, kept until they expire so a nonce is never accepted twice), which LMS
person and course became which fermonitor user and class, the launches waiting to be entered, and the attendance
scores sent to the LMS gradebook.

LMS people and courses are keyed by (school, issuer, LMS id): the same LMS account reaches one fermonitor user of
the school whose registration it came through, never a user of another school.
"""

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

# A retired key stays published this long, so a platform that cached our JWKS still verifies what it signed.
KEY_OVERLAP = timedelta(days=7)


class LtiPlatformKind(models.TextChoices):
    MOODLE = "moodle", "Moodle"
    CANVAS = "canvas", "Canvas"
    OTHER = "other", _("Other LTI 1.3 platform")


class LtiKey(models.Model):
    """One RSA key pair of a school's LTI tool. The newest key that is not retired signs; a retired key stays in
    the JWKS for KEY_OVERLAP. The private key is stored encrypted (see `analytics.lms.lti.keys`) and never shown."""

    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="lti_keys")
    kid = models.CharField(max_length=64, unique=True)
    public_jwk = models.JSONField()
    encrypted_private_key = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.kid

    @property
    def published_until(self):
        return self.retired_at + KEY_OVERLAP if self.retired_at else None


class LtiRegistration(models.Model):
    """One LMS platform (or one tool registration in it) that may launch fermonitor for this school.

    Every URL the LMS calls carries the registration's UUID, so a launch is checked against exactly one school's
    registration. The fields the LMS gives back (client id, deployment ids) may be filled in later: an incomplete
    registration refuses launches with a clear message."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="lti_registrations")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(
        _("LMS"), max_length=16, choices=LtiPlatformKind.choices, default=LtiPlatformKind.OTHER
    )
    issuer = models.CharField(_("issuer (platform id)"), max_length=255, blank=True, default="")
    client_id = models.CharField(_("client id"), max_length=255, blank=True, default="")
    deployment_ids = models.JSONField(_("deployment ids"), default=list, blank=True)
    auth_login_url = models.URLField(_("authentication request URL"), max_length=500, blank=True, default="")
    auth_token_url = models.URLField(_("access token URL"), max_length=500, blank=True, default="")
    auth_audience = models.CharField(_("access token audience"), max_length=500, blank=True, default="")
    jwks_url = models.URLField(_("public keyset URL"), max_length=500, blank=True, default="")
    platform_url = models.URLField(_("LMS web address"), max_length=500, blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        "classes.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["name", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "issuer", "client_id"],
                condition=~models.Q(client_id=""),
                name="unique_lti_client_per_school",
            )
        ]

    def __str__(self):
        return self.name

    REQUIRED = ("issuer", "client_id", "deployment_ids", "auth_login_url", "jwks_url")

    @property
    def missing_fields(self) -> list[str]:
        return [str(self._meta.get_field(name).verbose_name) for name in self.REQUIRED if not getattr(self, name)]

    @property
    def is_complete(self) -> bool:
        return not self.missing_fields

    def frame_origins(self) -> set[str]:
        """Web origins of this LMS, which may show fermonitor in a frame."""
        return {o for o in (origin_of(self.platform_url), origin_of(self.issuer), origin_of(self.auth_login_url)) if o}


def origin_of(url: str) -> str:
    """scheme://host[:port] of an http(s) URL, or "" for anything else (so it is safe in a CSP header)."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname
    if not all(c.isalnum() or c in "-.[]:" for c in host):
        return ""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


class LtiLogin(models.Model):
    """One OIDC login we started: the state we sent (also in a cookie of the browser that started it) and the
    nonce the platform must sign back. A launch uses the row once; used rows stay until they expire, so a replayed
    id token finds its nonce used."""

    registration = models.ForeignKey(LtiRegistration, on_delete=models.CASCADE, related_name="logins")
    state = models.CharField(max_length=100, unique=True)
    nonce = models.CharField(max_length=100)
    target_link_uri = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="registration__school")

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self):
        return self.state


class LtiIdentity(models.Model):
    """An LMS account (issuer + sub) and the one fermonitor user of this school it signs in as."""

    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="+")
    issuer = models.CharField(max_length=255)
    sub = models.CharField(max_length=255)
    user = models.ForeignKey("classes.User", on_delete=models.CASCADE, related_name="lti_identities")
    registration = models.ForeignKey(
        LtiRegistration, on_delete=models.SET_NULL, null=True, blank=True, related_name="identities"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_launch_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="school")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "issuer", "sub"], name="unique_lti_identity_per_school")
        ]
        verbose_name_plural = "LTI identities"

    def __str__(self):
        return f"{self.sub}@{self.issuer} → {self.user_id}"


class LtiCourse(models.Model):
    """An LMS course (context) and the class it became on the first instructor launch, with the service URLs the
    latest launch gave us (names and roles, line items) and the class's gradebook setting."""

    school = models.ForeignKey("classes.School", on_delete=models.CASCADE, related_name="+")
    issuer = models.CharField(max_length=255)
    context_id = models.CharField(max_length=255)
    classroom = models.OneToOneField("classes.Classroom", on_delete=models.CASCADE, related_name="lti_course")
    registration = models.ForeignKey(
        LtiRegistration, on_delete=models.SET_NULL, null=True, blank=True, related_name="courses"
    )
    deployment_id = models.CharField(max_length=255, blank=True, default="")
    title = models.CharField(max_length=255, blank=True, default="")
    label = models.CharField(max_length=255, blank=True, default="")
    memberships_url = models.URLField(max_length=1000, blank=True, default="")
    lineitems_url = models.URLField(max_length=1000, blank=True, default="")
    ags_scopes = models.JSONField(default=list, blank=True)
    grades_enabled = models.BooleanField(
        _("send attendance to the LMS gradebook"),
        default=False,
        help_text=_("After each lesson, each student's attendance (share of the lesson present) becomes a score."),
    )
    roster_synced_at = models.DateTimeField(null=True, blank=True)
    roster_summary = models.CharField(max_length=500, blank=True, default="")
    roster_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(school="school")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["school", "issuer", "context_id"], name="unique_lti_course_per_school"
            )
        ]

    def __str__(self):
        return self.title or self.context_id

    @property
    def can_sync_roster(self) -> bool:
        return bool(self.memberships_url and self.registration_id)

    @property
    def can_post_grades(self) -> bool:
        scopes = set(self.ags_scopes or [])
        return bool(
            self.lineitems_url
            and self.registration_id
            and "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem" in scopes
            and "https://purl.imsglobal.org/spec/lti-ags/scope/score" in scopes
        )


class LtiLaunch(models.Model):
    """A verified launch, waiting to be entered: the launch response signs the user in and sends the browser
    here; if the session cookie did not survive the LMS's frame, the user opens this once in a new window. It also
    carries a deep-linking request until the teacher has picked what to add."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    registration = models.ForeignKey(LtiRegistration, on_delete=models.CASCADE, related_name="launches")
    user = models.ForeignKey("classes.User", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(LtiCourse, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message_type = models.CharField(max_length=40)
    deployment_id = models.CharField(max_length=255, blank=True, default="")
    landing_url = models.CharField(max_length=1000)
    deep_link_settings = models.JSONField(null=True, blank=True)
    frame_origins = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    entered_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="registration__school")

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self):
        return f"{self.message_type} {self.uuid}"


class LtiAttendancePost(models.Model):
    """The attendance scores of one ended lesson sent to the course's gradebook (one line item per lesson)."""

    course = models.ForeignKey(LtiCourse, on_delete=models.CASCADE, related_name="attendance_posts")
    session = models.OneToOneField("classes.LiveSession", on_delete=models.CASCADE, related_name="+")
    lineitem_url = models.URLField(max_length=1000, blank=True, default="")
    posted_at = models.DateTimeField(null=True, blank=True)
    scores = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")

    objects = ScopedManager(school="course__school")

    def __str__(self):
        return f"attendance of {self.session_id}"
