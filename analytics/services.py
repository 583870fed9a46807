"""Storing and aggregating derived results. Live consumers, commands and report views call these."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from . import rollups
from .models import EMOTION_FIELDS, EMOTIONS, Alert, EmotionSample
from .signals import alert_raised

SAMPLE_BATCH_SIZE = 500


@dataclass(frozen=True)
class SampleRecord:
    """One analysed frame, as the live pipeline hands it over (ids, not model instances)."""

    session_id: int
    student_id: int
    captured_at: datetime
    face_count: int
    probabilities: tuple[float, ...] | None = None  # 7 values in EMOTIONS order; None when presence-only


def record_samples(records: Iterable[SampleRecord], *, refresh_rollups: bool = True) -> list[EmotionSample]:
    """Insert a batch of samples in one statement per SAMPLE_BATCH_SIZE rows, then refresh the per-minute
    roll-ups of the minutes the batch touched (late samples included), unless the caller refreshes them itself
    (`rollups.refresh_touched`, as the live writer does every few seconds). Raw frames never reach here."""
    rows = build_samples(records)
    if rows:
        with transaction.atomic():
            EmotionSample.objects.bulk_create(rows, batch_size=SAMPLE_BATCH_SIZE)
            if refresh_rollups:
                rollups.refresh_for_samples(rows)
    return rows


def build_samples(records: Iterable[SampleRecord]) -> list[EmotionSample]:
    """Unsaved EmotionSample rows for records: the top emotion and its confidence derived from probabilities."""
    rows = []
    for record in records:
        sample = EmotionSample(
            session_id=record.session_id,
            student_id=record.student_id,
            captured_at=record.captured_at,
            face_count=record.face_count,
        )
        if record.probabilities is not None and record.face_count > 0:
            probabilities = [float(p) for p in record.probabilities]
            best = max(range(len(EMOTIONS)), key=probabilities.__getitem__)
            sample.emotion = EMOTIONS[best]
            sample.confidence = probabilities[best]
            for name, value in zip(EMOTION_FIELDS, probabilities, strict=True):
                setattr(sample, name, value)
        rows.append(sample)
    return rows


def record_alert(
    session_id: int, kind: str, message: str, raised_at: datetime, student_id: int | None = None
):
    alert = Alert.objects.create(
        session_id=session_id, student_id=student_id, kind=kind, message=message[:300], raised_at=raised_at
    )
    alert_raised.send(Alert, alert=alert)
    return alert
