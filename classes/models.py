"""Schools (the tenants), their users, classes, enrolment, live sessions and camera-analysis consent.

Every school-owned model carries a `school` path and a django-scopes `ScopedManager` as `objects`: a query
outside `scope(school=...)` raises `ScopeError`, and inside one it is filtered to that school. Code that really
must cross schools (platform operators, the login backend) says so with `scopes_disabled()`.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class School(models.Model):
    """The tenant. Nothing of one school is ever visible to another."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    lms_id = models.CharField("LMS id", max_length=200, blank=True, default="")
    presence_only = models.BooleanField(
        default=False,
        help_text=_(
            "Run face detection only: store and show presence, never infer emotions "
            "(required in some jurisdictions)."
        ),
    )
    call_capture = models.BooleanField(
        default=False,
        db_default=False,  # rows written by code that predates the column (older migrations' models) get it off
        help_text=gettext_lazy(
            "Teachers may let fermonitor read the video call of a lesson (its gallery of faces) from their "
            "screen. Turning it on adds a paragraph to the camera policy, which students are asked to read again."
        ),
    )
    retention_days = models.PositiveIntegerField(
        default=180, validators=[MinValueValidator(1)], help_text=_("Days raw emotion samples are kept.")
    )
    aggregate_retention_days = models.PositiveIntegerField(
        default=730,
        validators=[MinValueValidator(1)],
        help_text=_("Days per-minute aggregates are kept (at least as long as raw samples)."),
    )
    language = models.CharField(
        _("default language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="en",
        db_default="en",  # rows written by code that predates the column (older migrations' models) get English
        help_text=_("The language of the pages for people of the school who have not chosen their own."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.aggregate_retention_days < self.retention_days:
            raise ValidationError(
                {"aggregate_retention_days": _("Aggregates must be kept at least as long as raw samples.")}
            )

    @property
    def current_policy(self):
        return self.consent_policies.order_by("-version").first()


class Role(models.TextChoices):
    ADMIN = "admin", _("School admin")
    TEACHER = "teacher", _("Teacher")
    STUDENT = "student", _("Student")


class User(AbstractUser):
    """A person of one school with one role. Superusers are platform operators and may have no school.

    `objects` stays unscoped because authentication looks users up before any school is known; school-facing
    code lists people through `User.in_school`, which is scoped like every other school-owned model.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="users", null=True, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    lms_id = models.CharField("LMS id", max_length=200, blank=True, default="")
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        db_default="",  # rows written by code that predates the column follow their school's default
        help_text=_("Empty: the school's default language."),
    )

    objects = UserManager()
    in_school = ScopedManager(school="school")

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "lms_id"],
                condition=~models.Q(lms_id=""),
                name="unique_user_lms_id_per_school",
            )
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    def clean(self):
        super().clean()
        if not self.is_superuser and self.school_id is None:
            raise ValidationError({"school": _("Every user except platform operators belongs to a school.")})

    @property
    def is_school_admin(self) -> bool:
        return self.role == Role.ADMIN and self.school_id is not None

    @property
    def is_teacher(self) -> bool:
        return self.role == Role.TEACHER and self.school_id is not None

    @property
    def is_student(self) -> bool:
        return self.role == Role.STUDENT and self.school_id is not None


class Classroom(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="classrooms")
    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True, default="")
    teacher = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="taught_classes", limit_choices_to={"role": Role.TEACHER}
    )
    students = models.ManyToManyField(User, through="Enrolment", related_name="enrolled_classes")
    lms_id = models.CharField("LMS id", max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "lms_id"],
                condition=~models.Q(lms_id=""),
                name="unique_class_lms_id_per_school",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if self.teacher_id and self.school_id and self.teacher.school_id != self.school_id:
            raise ValidationError({"teacher": _("The teacher must belong to the class's school.")})


class Enrolment(models.Model):
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="enrolments")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrolments")
    enrolled_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(school="classroom__school")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["classroom", "student"], name="unique_enrolment")]

    def __str__(self):
        return f"{self.student} in {self.classroom}"


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LIVE = "live", _("Live")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


class LiveSession(models.Model):
    """One lesson of a class. Status moves scheduled -> live -> ended (or scheduled -> cancelled) only
    through `classes.services`."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=200)
    scheduled_start = models.DateTimeField()
    planned_duration = models.DurationField(default=timedelta(minutes=45))
    status = models.CharField(max_length=16, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    lms_id = models.CharField("LMS id", max_length=200, blank=True, default="")

    # Streaming and alert settings, per session, with defaults that suit a normal lesson.
    frame_rate = models.FloatField(
        "frames per second",
        default=1.0,
        validators=[MinValueValidator(0.2), MaxValueValidator(5.0)],
        help_text=_("How often each student's camera sends a frame (0.2-5 per second)."),
    )
    frame_width = models.PositiveIntegerField(
        default=320, validators=[MinValueValidator(160), MaxValueValidator(1280)]
    )
    frame_height = models.PositiveIntegerField(
        default=240, validators=[MinValueValidator(120), MaxValueValidator(960)]
    )
    no_face_alert_seconds = models.PositiveIntegerField(
        default=30, help_text=_("Alert when a streaming student shows no face for this long.")
    )
    negative_alert_seconds = models.PositiveIntegerField(
        default=60, help_text=_("Alert when a student's emotions stay negative for this long.")
    )
    class_drop_threshold = models.FloatField(
        default=0.25,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("Alert when the class mood index drops by this much within a minute."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(school="classroom__school")

    class Meta:
        ordering = ["-scheduled_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["classroom", "lms_id"],
                condition=~models.Q(lms_id=""),
                name="unique_session_lms_id_per_class",
            )
        ]

    def __str__(self):
        return f"{self.title} ({self.classroom})"

    @property
    def school(self):
        return self.classroom.school

    @property
    def is_live(self) -> bool:
        return self.status == SessionStatus.LIVE

    @property
    def planned_end(self):
        return self.scheduled_start + self.planned_duration

    @property
    def frame_rate_plural(self) -> int:
        """The whole number that chooses the plural form of "N times a second" (gettext deprecates a float here):
        singular for one frame a second only, so that 0.5 and 1.5 read as plurals."""
        return 1 if self.frame_rate == 1 else 2

    @property
    def is_upcoming(self) -> bool:
        return self.status == SessionStatus.SCHEDULED

    @property
    def is_past(self) -> bool:
        return self.status in (SessionStatus.ENDED, SessionStatus.CANCELLED)


class ConsentPolicy(models.Model):
    """The text a student agrees (or not) to. Each edit by the school admin makes a new version, so every
    consent record points at exactly the words the student saw."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="consent_policies")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager(school="school")

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["school", "version"], name="unique_policy_version")]
        verbose_name_plural = "consent policies"

    def __str__(self):
        return f"{self.school} policy v{self.version}"


class Consent(models.Model):
    """A student's decision on one policy version. The latest decision on the school's current policy counts."""

    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="consents")
    policy = models.ForeignKey(ConsentPolicy, on_delete=models.PROTECT, related_name="consents")
    granted = models.BooleanField()
    decided_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(school="policy__school")

    class Meta:
        ordering = ["-decided_at"]

    def __str__(self):
        return f"{self.student}: {'granted' if self.granted else 'refused'} v{self.policy.version}"


DEFAULT_POLICY_TEXT = """\
During live lessons, fermonitor analyses the picture from your camera to help your teacher see how the class
is doing.

What is analysed: about once a second, a still picture from your camera is sent to the school's fermonitor server.
The server finds your face and estimates your expression (angry, disgust, fear, happy, sad, surprise or neutral)
and whether a face is visible at all.

What is stored: only the result (time, whether a face was found, the estimated expression and its confidence).
Pictures and video are never stored anywhere; each picture is discarded as soon as it has been analysed.

Who sees it: your teacher during and after the lesson, your school's administrators, and you (on "My data").
Results are deleted after the school's retention period.

You can refuse, or withdraw your consent at any time; you can then still follow the lesson without your camera
being analysed.
"""

# Starts the paragraph that turning on call capture adds to a school's policy (and how its presence is detected).
CALL_CAPTURE_POLICY_MARK = gettext_lazy("Reading the video call:")
CALL_CAPTURE_POLICY_TEXT = gettext_lazy(
    """\
Reading the video call: your school lets teachers have fermonitor read the video call of a lesson (Zoom, Google
Meet, Teams). About once a second the teacher's browser sends a still picture of the call's gallery of faces to the
school's fermonitor server, which finds every face in it and estimates each one's expression (or, if your school
records presence only, only whether a face is visible). This happens whether or not you use fermonitor yourself. A
face in the call is anonymous ("Participant 7") and counts only in the class's figures; it is stored under your
name only if your teacher says which face is yours and you have agreed to this policy. Pictures of the call are
never stored.
"""
)
