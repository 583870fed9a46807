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
    face_count = models.PositiveSmallIntegerField(help_text="Faces found in the frame (the largest is the student).")
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
