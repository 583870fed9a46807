"""Recorded lessons waiting for, or going through, their analysis (`recordings.py` does the work)."""

import uuid

from django.db import models
from django.utils.translation import gettext_lazy
from django_scopes import ScopedManager


class RecordingStatus(models.TextChoices):
    QUEUED = "queued", gettext_lazy("Waiting")
    RUNNING = "running", gettext_lazy("Analysing")
    DONE = "done", gettext_lazy("Done")
    FAILED = "failed", gettext_lazy("Failed")
    CANCELLED = "cancelled", gettext_lazy("Cancelled")


class RecordingJob(models.Model):
    """One uploaded recording of a lesson and its analysis. The file itself lives in the recordings folder
    (`settings.FERMONITOR_RECORDINGS_DIR`) only until the job is done, has failed or was cancelled; the session is
    created, with all its samples, in the same transaction that marks the job done, so a job that did not finish
    leaves no session behind."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    classroom = models.ForeignKey("classes.Classroom", on_delete=models.CASCADE, related_name="recordings")
    uploaded_by = models.ForeignKey("classes.User", on_delete=models.SET_NULL, null=True, related_name="+")
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField(
        help_text=gettext_lazy("When the recorded lesson began (its time axis).")
    )
    original_name = models.CharField(max_length=255)
    file_name = models.CharField(
        max_length=100, blank=True, default=""
    )  # in the recordings folder; "" once deleted
    size = models.PositiveBigIntegerField(default=0)
    duration = models.FloatField(default=0.0)  # seconds of video
    presence_only = models.BooleanField(default=False)  # the school's setting when the job was created

    status = models.CharField(max_length=16, choices=RecordingStatus.choices, default=RecordingStatus.QUEUED)
    attempt = models.PositiveIntegerField(default=0)  # bumped each time a worker takes the job
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # the running worker's last sign of life
    frames_done = models.PositiveIntegerField(default=0)
    frames_total = models.PositiveIntegerField(default=0)
    faces_found = models.PositiveIntegerField(default=0)
    seconds_left = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")  # shown to the teacher
    session = models.OneToOneField(
        "classes.LiveSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="recording"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(school="classroom__school")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="done") | models.Q(session__isnull=False),
                name="recording_done_has_a_session",
            )
        ]

    def __str__(self):
        return f"{self.title} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in (RecordingStatus.QUEUED, RecordingStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == RecordingStatus.DONE:
            return 100
        return int(100 * self.frames_done / self.frames_total) if self.frames_total else 0
