"""Per-minute roll-ups of raw emotion samples: maintained per batch as samples arrive, rebuilt on demand.

A batch of samples marks (session, minute) buckets, (session, student) pairs and call participants as touched.
Each touched bucket is recomputed from the raw samples of that minute and upserted, so a late sample (one whose
minute was rolled up before) simply re-aggregates its minute, and re-aggregating anything twice gives the same rows.

The tables, each derived from the one before:
  raw samples -> StudentMinute (session, student, minute)  -> SessionMinute (session, minute)
  raw samples -> ParticipantMinute (participant, minute)   -> SessionMinute (session, minute)
  StudentMinute                                            -> StudentSession (session, student)

A sample with a student (their own camera, or a call participant the teacher assigned to them) counts in the
student's rows; a sample of an anonymous call participant in the participant's. Both count in the class minute.
When samples change hands (`analytics.services.assign_participant`), `refresh_buckets(..., replace=True)` drops
the affected rows before recomputing them, so a bucket left without samples disappears.

Roll-ups are addressed by session id: the live writer may call them from a thread with no school scope, and the
session id it hands over already names exactly one school's rows.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Count, F, FloatField, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMinute

from classes.models import LiveSession

from .models import (
    COUNT_FIELDS,
    EMOTIONS,
    SUM_FIELDS,
    CallParticipant,
    EmotionSample,
    ParticipantMinute,
    SessionMinute,
    StudentMinute,
    StudentSession,
)

MINUTE = timedelta(minutes=1)
COUNTER_FIELDS = ("samples", "present_samples", "emotion_samples", *SUM_FIELDS, *COUNT_FIELDS)


def minute_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _unscoped(manager):
    return manager.with_scopes_disabled()


def _minute_ranges(minutes: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    """Merge minutes into half-open [start, end) ranges so a batch's filter stays short."""
    ranges: list[list[datetime]] = []
    for minute in sorted(set(minutes)):
        if ranges and ranges[-1][1] == minute:
            ranges[-1][1] = minute + MINUTE
        else:
            ranges.append([minute, minute + MINUTE])
    return [(start, end) for start, end in ranges]


def _raw_totals():
    """Aggregates of raw samples, named like the roll-up counters."""
    totals = {
        "samples": Count("id"),
        "present_samples": Count("id", filter=Q(face_count__gt=0)),
        "emotion_samples": Count("p_angry"),
    }
    for name in EMOTIONS:
        totals[f"sum_p_{name}"] = Coalesce(Sum(f"p_{name}"), Value(0.0), output_field=FloatField())
        totals[f"n_{name}"] = Count("id", filter=Q(emotion=name))
    return totals


def summed_totals():
    """Sums of roll-up counters, for the coarser roll-ups."""
    return {
        name: Coalesce(Sum(name), Value(0.0 if name.startswith("sum_p_") else 0)) for name in COUNTER_FIELDS
    }


def _lock_session(session_id: int) -> None:
    # Serialises roll-up writers of one session: the second waits, then sees the first one's committed samples,
    # so concurrent batches for the same minute cannot overwrite each other with partial counts.
    list(
        _unscoped(LiveSession.objects).select_for_update().filter(pk=session_id).values_list("pk", flat=True)
    )


def _samples_in(session_id: int, minutes: Iterable[datetime] | None):
    samples = _unscoped(EmotionSample.objects).filter(session_id=session_id)
    if minutes is None:
        return samples
    ranges = _minute_ranges(minutes)
    if not ranges:
        return None
    return samples.filter(reduce(or_, (Q(captured_at__gte=a, captured_at__lt=b) for a, b in ranges)))


def _grouped_minutes(samples, key: str):
    return (
        samples.annotate(bucket=TruncMinute("captured_at", tzinfo=UTC))
        .values(key, "bucket")
        .annotate(**_raw_totals())
        .order_by()
    )


def _minute_row(model, values: dict, **fields):
    counters = {name: values[name] for name in COUNTER_FIELDS}
    present = counters["present_samples"] * 2 >= counters["samples"] > 0
    return model(minute=values["bucket"], present=present, **fields, **counters)


def _student_minute_rows(
    session_id: int, minutes: Iterable[datetime] | None, student_ids: Iterable[int] | None = None
) -> list[StudentMinute]:
    samples = _samples_in(session_id, minutes)
    if samples is None:
        return []
    samples = samples.filter(student__isnull=False)
    if student_ids is not None:
        samples = samples.filter(student_id__in=list(student_ids))
    return [
        _minute_row(StudentMinute, values, session_id=session_id, student_id=values["student_id"])
        for values in _grouped_minutes(samples, "student_id")
    ]


def _participant_minute_rows(
    session_id: int, minutes: Iterable[datetime] | None, participant_ids: Iterable[int] | None = None
) -> list[ParticipantMinute]:
    """Minutes of anonymous participants only: an assigned participant's samples are their student's."""
    samples = _samples_in(session_id, minutes)
    if samples is None:
        return []
    samples = samples.filter(student__isnull=True, participant__isnull=False)
    if participant_ids is not None:
        samples = samples.filter(participant_id__in=list(participant_ids))
    return [
        _minute_row(ParticipantMinute, values, session_id=session_id, participant_id=values["participant_id"])
        for values in _grouped_minutes(samples, "participant_id")
    ]


def _session_minute_rows(session_id: int, minutes: Iterable[datetime] | None) -> list[SessionMinute]:
    def per_minute(model):
        rows = _unscoped(model.objects).filter(session_id=session_id)
        if minutes is not None:
            rows = rows.filter(minute__in=list(minutes))
        return {
            values["minute"]: values
            for values in rows.values("minute")
            .annotate(
                streaming=Count("id"), present_count=Count("id", filter=Q(present=True)), **summed_totals()
            )
            .order_by()
        }

    students, participants = per_minute(StudentMinute), per_minute(ParticipantMinute)
    rows = []
    for minute in sorted(students.keys() | participants.keys()):
        s, p = students.get(minute), participants.get(minute)
        counters = {name: (s[name] if s else 0) + (p[name] if p else 0) for name in COUNTER_FIELDS}
        rows.append(
            SessionMinute(
                session_id=session_id,
                minute=minute,
                students_streaming=s["streaming"] if s else 0,
                students_present=s["present_count"] if s else 0,
                participants_streaming=p["streaming"] if p else 0,
                participants_present=p["present_count"] if p else 0,
                **counters,
            )
        )
    return rows


def _student_session_rows(session_id: int, student_ids: Iterable[int] | None) -> list[StudentSession]:
    student_minutes = _unscoped(StudentMinute.objects).filter(session_id=session_id)
    if student_ids is not None:
        student_minutes = student_minutes.filter(student_id__in=list(student_ids))
    grouped = (
        student_minutes.values("student_id")
        .annotate(
            first_minute=Min("minute"),
            last_minute=Max("minute"),
            minutes_seen=Count("id"),
            minutes_present=Count("id", filter=Q(present=True)),
            **summed_totals(),
        )
        .order_by()
    )
    return [
        StudentSession(
            session_id=session_id,
            student_id=values["student_id"],
            first_minute=values["first_minute"],
            last_minute=values["last_minute"],
            minutes_seen=values["minutes_seen"],
            minutes_present=values["minutes_present"],
            **{name: values[name] for name in COUNTER_FIELDS},
        )
        for values in grouped
    ]


def _upsert(model, rows, unique_fields, extra_fields=()):
    if rows:
        _unscoped(model.objects).bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=unique_fields,
            update_fields=[*COUNTER_FIELDS, *extra_fields],
        )


def _assigned_students(participant_ids: Iterable[int]) -> set[int]:
    participant_ids = list(participant_ids)
    if not participant_ids:
        return set()
    return set(
        _unscoped(CallParticipant.objects)
        .filter(pk__in=participant_ids, student__isnull=False)
        .values_list("student_id", flat=True)
    )


def refresh_buckets(
    session_id: int,
    minutes: Iterable[datetime],
    student_ids: Iterable[int],
    participant_ids: Iterable[int] = (),
    *,
    replace: bool = False,
) -> None:
    """Recompute the given minutes of one session from raw samples, and the given students' session totals.

    Touched participants bring their assigned student (if any) along: the writer marks what it was handed, and a
    participant's samples are stored under whoever the participant is assigned to when they are written.
    `replace=True` (samples changed hands) first deletes the rows of the given students and participants in those
    minutes, and those students' session totals, so that rows left without samples go."""
    minutes = {minute_floor(m) for m in minutes}
    participant_ids = set(participant_ids)
    with transaction.atomic():
        _lock_session(session_id)
        student_ids = set(student_ids) | _assigned_students(participant_ids)
        if replace:
            _unscoped(StudentMinute.objects).filter(
                session_id=session_id, student_id__in=student_ids, minute__in=minutes
            ).delete()
            _unscoped(ParticipantMinute.objects).filter(
                participant_id__in=participant_ids, minute__in=minutes
            ).delete()
            _unscoped(StudentSession.objects).filter(
                session_id=session_id, student_id__in=student_ids
            ).delete()
        _upsert(
            StudentMinute,
            _student_minute_rows(session_id, minutes, student_ids if replace else None),
            ["session", "student", "minute"],
            ["present"],
        )
        if participant_ids:
            _upsert(
                ParticipantMinute,
                _participant_minute_rows(session_id, minutes, participant_ids),
                ["participant", "minute"],
                ["present"],
            )
        session_minutes = _session_minute_rows(session_id, minutes)
        if replace:
            _unscoped(SessionMinute.objects).filter(session_id=session_id, minute__in=minutes).exclude(
                minute__in=[row.minute for row in session_minutes]
            ).delete()
        _upsert(
            SessionMinute,
            session_minutes,
            ["session", "minute"],
            ["students_streaming", "students_present", "participants_streaming", "participants_present"],
        )
        _upsert(
            StudentSession,
            _student_session_rows(session_id, student_ids),
            ["session", "student"],
            ["first_minute", "last_minute", "minutes_seen", "minutes_present"],
        )


class Touched:
    """The (session, minute) buckets, (session, student) pairs and call participants that stored samples have
    made stale."""

    def __init__(self):
        self.minutes: dict[int, set[datetime]] = defaultdict(set)
        self.students: dict[int, set[int]] = defaultdict(set)
        self.participants: dict[int, set[int]] = defaultdict(set)

    def __bool__(self) -> bool:
        return bool(self.minutes)

    def add(self, samples: Iterable) -> "Touched":
        """Mark what samples touch (anything with session_id, student_id, captured_at and, for call
        participants, participant_id: stored samples or `SampleRecord`s)."""
        for sample in samples:
            self.minutes[sample.session_id].add(minute_floor(sample.captured_at))
            if sample.student_id is not None:
                self.students[sample.session_id].add(sample.student_id)
            participant_id = getattr(sample, "participant_id", None)
            if participant_id is not None:
                self.participants[sample.session_id].add(participant_id)
        return self

    def merge(self, other: "Touched") -> None:
        for session_id, minutes in other.minutes.items():
            self.minutes[session_id] |= minutes
            self.students[session_id] |= other.students[session_id]
            self.participants[session_id] |= other.participants[session_id]


def refresh_touched(touched: Touched) -> None:
    for session_id, minutes in touched.minutes.items():
        refresh_buckets(session_id, minutes, touched.students[session_id], touched.participants[session_id])


def refresh_for_samples(samples: Iterable[EmotionSample]) -> None:
    """Bring the roll-ups up to date with a batch of freshly stored samples (late ones included)."""
    refresh_touched(Touched().add(samples))


@dataclass(frozen=True)
class RebuildResult:
    session_id: int
    student_minutes: int
    session_minutes: int
    students: int
    participant_minutes: int = 0


def rebuild_session(session_id: int) -> RebuildResult:
    """Throw away one session's roll-ups and compute them again from all its raw samples."""
    with transaction.atomic():
        _lock_session(session_id)
        for model in (StudentMinute, ParticipantMinute, SessionMinute, StudentSession):
            _unscoped(model.objects).filter(session_id=session_id).delete()
        student_minutes = _student_minute_rows(session_id, None)
        _unscoped(StudentMinute.objects).bulk_create(student_minutes, batch_size=500)
        participant_minutes = _participant_minute_rows(session_id, None)
        _unscoped(ParticipantMinute.objects).bulk_create(participant_minutes, batch_size=500)
        session_minutes = _session_minute_rows(session_id, None)
        _unscoped(SessionMinute.objects).bulk_create(session_minutes, batch_size=500)
        students = _student_session_rows(session_id, None)
        _unscoped(StudentSession.objects).bulk_create(students, batch_size=500)
    return RebuildResult(
        session_id, len(student_minutes), len(session_minutes), len(students), len(participant_minutes)
    )


def sessions_with_samples(queryset=None):
    """Ids of sessions that have raw samples (in the current scope), oldest first."""
    sessions = queryset if queryset is not None else LiveSession.objects.all()
    return list(
        sessions.filter(pk__in=EmotionSample.objects.values("session_id"))
        .order_by(F("started_at").asc(nulls_last=True), "scheduled_start", "pk")
        .values_list("pk", flat=True)
    )
