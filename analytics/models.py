"""What fermonitor keeps: derived results only, never images.

`EmotionSample` is one analysed frame of one student, or one face of a video call's gallery (a `CallParticipant`:
anonymous until the teacher assigns it to a consenting student). Probabilities are columns (not JSON) so that
roll-ups are plain SQL averages. In presence-only schools every emotion column stays NULL.
"""

import uuid

from django.db import models
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NEGATIVE_EMOTIONS = ("angry", "disgust", "fear", "sad")
EMOTION_FIELDS = tuple(f"p_{name}" for name in EMOTIONS)


class Emotion(models.TextChoices):
    ANGRY = "angry", _("Angry")
    DISGUST = "disgust", _("Disgust")
    FEAR = "fear", _("Fear")
    HAPPY = "happy", _("Happy")
    SAD = "sad", _("Sad")
    SURPRISE = "surprise", _("Surprise")
    NEUTRAL = "neutral", _("Neutral")


class ParticipantSource(models.TextChoices):
    LIVE_CALL = "live_call", gettext_lazy("Live video call")
    RECORDING = "recording", gettext_lazy("Recorded lesson")


class CallParticipant(models.Model):
    """One face tracked in a video call's gallery during one session: the teacher's live screen capture or a
    recorded lesson. Anonymous ("Participant 7") unless the teacher assigns it to an enrolled student who has
    consented under the school's current policy (`analytics.services.assign_participant`); its samples are then
    stored under that student. `number` is unique within the session, from 1, in order of first sighting."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey("classes.LiveSession", on_delete=models.CASCADE, related_name="participants")
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=ParticipantSource.choices)
    # Deleting the student deletes what was stored under their name, this participant's samples included.
    student = models.ForeignKey(
        "classes.User",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="call_participations",
        help_text=gettext_lazy("The enrolled, consenting student the teacher said this participant is."),
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(
        "classes.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_seen_at = models.DateTimeField()

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        ordering = ["session", "number"]
        constraints = [
            models.UniqueConstraint(fields=["session", "number"], name="unique_participant_number"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="participant_number_from_one"),
            models.CheckConstraint(
                condition=models.Q(student__isnull=True, assigned_at__isnull=True)
                | models.Q(student__isnull=False, assigned_at__isnull=False),
                name="participant_assigned_with_a_time",
            ),
        ]

    def __str__(self):
        return self.label

    @property
    def anonymous_label(self) -> str:
        return gettext("Participant %(number)d") % {"number": self.number}

    @property
    def label(self) -> str:
        """What dashboards and reports call it: the assigned student's name, else "Participant 7"."""
        return str(self.student) if self.student_id else self.anonymous_label


class EmotionSample(models.Model):
    session = models.ForeignKey("classes.LiveSession", on_delete=models.CASCADE, related_name="samples")
    # A student's own camera: student only. A call participant's face: participant, plus the student once the
    # teacher has assigned the participant (the participant link stays, so an assignment can be undone).
    student = models.ForeignKey(
        "classes.User", on_delete=models.CASCADE, null=True, blank=True, related_name="emotion_samples"
    )
    participant = models.ForeignKey(
        CallParticipant, on_delete=models.CASCADE, null=True, blank=True, related_name="samples"
    )
    captured_at = models.DateTimeField(help_text=_("When the server received the frame."))
    face_count = models.PositiveSmallIntegerField(
        help_text=_("Faces found in the frame (the largest is the student).")
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
        constraints = [
            models.CheckConstraint(
                condition=models.Q(student__isnull=False) | models.Q(participant__isnull=False),
                name="sample_of_a_student_or_participant",
            )
        ]

    def __str__(self):
        who = self.student_id if self.student_id else f"p{self.participant_id}"
        return f"{who}@{self.captured_at:%H:%M:%S} {self.emotion or 'presence'}"

    @property
    def face_present(self) -> bool:
        return self.face_count > 0

    @property
    def probabilities(self) -> tuple[float, ...] | None:
        values = tuple(getattr(self, name) for name in EMOTION_FIELDS)
        return None if values[0] is None else values


class AlertKind(models.TextChoices):
    NO_FACE = "no_face", _("No face visible")
    NEGATIVE = "negative", _("Persistent negative emotion")
    CLASS_DROP = "class_drop", _("Class mood drop")


class Alert(models.Model):
    """An alert raised during a live session, kept for the session report."""

    session = models.ForeignKey("classes.LiveSession", on_delete=models.CASCADE, related_name="alerts")
    student = models.ForeignKey(
        "classes.User", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )  # null for class-wide alerts and anonymous call participants
    participant = models.ForeignKey(  # kept when retention deletes the participant: the message names it
        CallParticipant, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
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
    present_samples = models.PositiveIntegerField(default=0, help_text=_("Samples with a face."))
    emotion_samples = models.PositiveIntegerField(
        default=0, help_text=_("Samples with emotion probabilities.")
    )
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
    minute = models.DateTimeField(help_text=_("Start of the minute (UTC)."))
    present = models.BooleanField(
        default=False, help_text=_("Face visible in at least half of the minute's frames.")
    )

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "student", "minute"], name="unique_student_minute")
        ]
        indexes = [models.Index(fields=["minute"]), models.Index(fields=["student", "session"])]

    def __str__(self):
        return f"{self.student_id}@{self.minute:%H:%M} in {self.session_id}"


class ParticipantMinute(EmotionTotals):
    """One anonymous call participant's samples in one minute (an assigned participant's are a StudentMinute)."""

    session = models.ForeignKey(
        "classes.LiveSession", on_delete=models.CASCADE, related_name="participant_minutes"
    )
    participant = models.ForeignKey(CallParticipant, on_delete=models.CASCADE, related_name="minutes")
    minute = models.DateTimeField(help_text="Start of the minute (UTC).")
    present = models.BooleanField(
        default=False, help_text="Face visible in at least half of the minute's frames."
    )

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "minute"], name="unique_participant_minute")
        ]
        indexes = [models.Index(fields=["session", "minute"]), models.Index(fields=["minute"])]

    def __str__(self):
        return f"p{self.participant_id}@{self.minute:%H:%M} in {self.session_id}"


class SessionMinute(EmotionTotals):
    """The whole class in one minute of one session: the session report's timeline. The counters cover every
    face: students' own cameras and call participants, anonymous or assigned."""

    session = models.ForeignKey("classes.LiveSession", on_delete=models.CASCADE, related_name="class_minutes")
    minute = models.DateTimeField()
    students_streaming = models.PositiveIntegerField(
        default=0, help_text=_("Students who sent any frame (or were seen as an assigned call participant).")
    )
    students_present = models.PositiveIntegerField(
        default=0, help_text=_("Students whose face was visible for at least half of their frames.")
    )
    participants_streaming = models.PositiveIntegerField(
        default=0, help_text="Anonymous call participants seen in this minute."
    )
    participants_present = models.PositiveIntegerField(
        default=0,
        help_text="Anonymous call participants whose face was visible for at least half the minute.",
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
    minutes_seen = models.PositiveIntegerField(default=0, help_text=_("Minutes with any frame."))
    minutes_present = models.PositiveIntegerField(
        default=0, help_text=_("Minutes with a face at least half the time.")
    )

    objects = ScopedManager(school="session__classroom__school")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "student"], name="unique_student_session")]
        indexes = [models.Index(fields=["student", "first_minute"]), models.Index(fields=["last_minute"])]

    def __str__(self):
        return f"{self.student_id} in {self.session_id}"
