"""What fermonitor keeps: derived results only, never images.

`EmotionSample` is one analysed frame of one student. Probabilities are columns (not JSON) so that roll-ups
are plain SQL averages. In presence-only schools every emotion column stays NULL.
"""

from django.db import models
from django_scopes import ScopedManager

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NEGATIVE_EMOTIONS = ("angry", "disgust", "fear", "sad")
EMOTION_FIELDS = tuple(f"p_{name}" for name in EMOTIONS)


class Emotion(models.TextChoices):
    ANGRY = "angry", "Angry"
    DISGUST = "disgust", "Disgust"
    FEAR = "fear", "Fear"
    HAPPY = "happy", "Happy"
    SAD = "sad", "Sad"
    SURPRISE = "surprise", "Surprise"
    NEUTRAL = "neutral", "Neutral"


class EmotionSample(models.Model):
    session = models.ForeignKey("classes.LiveSession", on_delete=models.CASCADE, related_name="samples")
    student = models.ForeignKey("classes.User", on_delete=models.CASCADE, related_name="emotion_samples")
    captured_at = models.DateTimeField(help_text="When the server received the frame.")
    face_count = models.PositiveSmallIntegerField(
        help_text="Faces found in the frame (the largest is the student)."
    )
    emotion = models.CharField(max_length=16, choices=Emotion.choices, blank=True, default="")
    confidence = models.FloatField(null=True, blank=True)
    p_angry = models.FloatField(null=True, blank=True)
    p_disgust = models.FloatField(null=True, blank=True)
    p_fear = models.FloatField(null=True, blank=True)
    p_happy = models.FloatField(null=True, blank=True)
    p_sad = models.FloatField(null=True, blank=True)
    p_surprise = models.FloatField(null=True, blank=True)
    p_neutral = models.FloatField(null=True, blank=True)

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        indexes = [
            models.Index(fields=["session", "captured_at"]),
            models.Index(fields=["student", "captured_at"]),
        ]

    def __str__(self):
        return f"{self.student_id}@{self.captured_at:%H:%M:%S} {self.emotion or 'presence'}"

    @property
    def face_present(self) -> bool:
        return self.face_count > 0

    @property
    def probabilities(self) -> tuple[float, ...] | None:
        values = tuple(getattr(self, name) for name in EMOTION_FIELDS)
        return None if values[0] is None else values


class AlertKind(models.TextChoices):
    NO_FACE = "no_face", "No face visible"
    NEGATIVE = "negative", "Persistent negative emotion"
    CLASS_DROP = "class_drop", "Class mood drop"


class Alert(models.Model):
    """An alert raised during a live session, kept for the session report."""

    session = models.ForeignKey("classes.LiveSession", on_delete=models.CASCADE, related_name="alerts")
    student = models.ForeignKey(
        "classes.User", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )  # null for class-wide alerts
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    message = models.CharField(max_length=300)
    raised_at = models.DateTimeField()

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        ordering = ["raised_at"]
        indexes = [models.Index(fields=["session", "raised_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.raised_at:%H:%M:%S}"


# --- roll-ups -----------------------------------------------------------------------------------------------
# Reports read these, never raw samples. Probabilities are kept as sums (with the number of samples that had
# probabilities) rather than means, so that any coarser roll-up is a plain SUM/SUM in SQL.

SUM_FIELDS = tuple(f"sum_p_{name}" for name in EMOTIONS)
COUNT_FIELDS = tuple(f"n_{name}" for name in EMOTIONS)


class EmotionTotals(models.Model):
    """Counters shared by every roll-up: sample counts, probability sums, top-emotion counts."""

    samples = models.PositiveIntegerField(default=0)
    present_samples = models.PositiveIntegerField(default=0, help_text="Samples with a face.")
    emotion_samples = models.PositiveIntegerField(default=0, help_text="Samples with emotion probabilities.")
    sum_p_angry = models.FloatField(default=0.0)
    sum_p_disgust = models.FloatField(default=0.0)
    sum_p_fear = models.FloatField(default=0.0)
    sum_p_happy = models.FloatField(default=0.0)
    sum_p_sad = models.FloatField(default=0.0)
    sum_p_surprise = models.FloatField(default=0.0)
    sum_p_neutral = models.FloatField(default=0.0)
    n_angry = models.PositiveIntegerField(default=0)
    n_disgust = models.PositiveIntegerField(default=0)
    n_fear = models.PositiveIntegerField(default=0)
    n_happy = models.PositiveIntegerField(default=0)
    n_sad = models.PositiveIntegerField(default=0)
    n_surprise = models.PositiveIntegerField(default=0)
    n_neutral = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def presence_share(self) -> float | None:
        return self.present_samples / self.samples if self.samples else None

    @property
    def mean_probabilities(self) -> dict[str, float] | None:
        if not self.emotion_samples:
            return None
        return {name: getattr(self, f"sum_p_{name}") / self.emotion_samples for name in EMOTIONS}

    @property
    def top_counts(self) -> dict[str, int]:
        return {name: getattr(self, f"n_{name}") for name in EMOTIONS}


class StudentMinute(EmotionTotals):
    """One student's samples in one minute of one session."""

    session = models.ForeignKey(
        "classes.LiveSession", on_delete=models.CASCADE, related_name="student_minutes"
    )
    student = models.ForeignKey("classes.User", on_delete=models.CASCADE, related_name="emotion_minutes")
    minute = models.DateTimeField(help_text="Start of the minute (UTC).")
    present = models.BooleanField(
        default=False, help_text="Face visible in at least half of the minute's frames."
    )

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "student", "minute"], name="unique_student_minute")
        ]
        indexes = [models.Index(fields=["minute"]), models.Index(fields=["student", "session"])]

    def __str__(self):
        return f"{self.student_id}@{self.minute:%H:%M} in {self.session_id}"


class SessionMinute(EmotionTotals):
    """The whole class in one minute of one session: the session report's timeline."""

    session = models.ForeignKey("classes.LiveSession", on_delete=models.CASCADE, related_name="class_minutes")
    minute = models.DateTimeField()
    students_streaming = models.PositiveIntegerField(default=0, help_text="Students who sent any frame.")
    students_present = models.PositiveIntegerField(
        default=0, help_text="Students whose face was visible for at least half of their frames."
    )

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        ordering = ["minute"]
        constraints = [models.UniqueConstraint(fields=["session", "minute"], name="unique_session_minute")]
        indexes = [models.Index(fields=["minute"])]

    def __str__(self):
        return f"{self.session_id}@{self.minute:%H:%M}"


class StudentSession(EmotionTotals):
    """One student's whole session: the per-student table, student history and school flags read this."""

    session = models.ForeignKey(
        "classes.LiveSession", on_delete=models.CASCADE, related_name="student_totals"
    )
    student = models.ForeignKey("classes.User", on_delete=models.CASCADE, related_name="session_totals")
    first_minute = models.DateTimeField()
    last_minute = models.DateTimeField()
    minutes_seen = models.PositiveIntegerField(default=0, help_text="Minutes with any frame.")
    minutes_present = models.PositiveIntegerField(
        default=0, help_text="Minutes with a face at least half the time."
    )

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "student"], name="unique_student_session")]
        indexes = [models.Index(fields=["student", "first_minute"]), models.Index(fields=["last_minute"])]

    def __str__(self):
        return f"{self.student_id} in {self.session_id}"


from .api.models import ApiKey, Webhook, WebhookDelivery  # noqa: E402,F401 - register the API tables
