"""Per-minute roll-ups of raw emotion samples: maintained per batch as samples arrive, rebuilt on demand.

A batch of samples marks (session, minute) buckets and (session, student) pairs as touched. Each touched bucket is
recomputed from the raw samples of that minute and upserted, so a late sample (one whose minute was rolled up
before) simply re-aggregates its minute, and re-aggregating anything twice gives the same rows.

Three tables, each derived from the one before:
  raw samples -> StudentMinute (session, student, minute) -> SessionMinute (session, minute)
                                                          -> StudentSession (session, student)

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
    EmotionSample,
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


def _summed_totals():
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


def _student_minute_rows(session_id: int, minutes: Iterable[datetime] | None) -> list[StudentMinute]:
    samples = _unscoped(EmotionSample.objects).filter(session_id=session_id)
    if minutes is not None:
        ranges = _minute_ranges(minutes)
        if not ranges:
            return []
        samples = samples.filter(reduce(or_, (Q(captured_at__gte=a, captured_at__lt=b) for a, b in ranges)))
    grouped = (
        samples.annotate(bucket=TruncMinute("captured_at", tzinfo=UTC))
        .values("student_id", "bucket")
        .annotate(**_raw_totals())
        .order_by()
    )
    rows = []
    for values in grouped:
        counters = {name: values[name] for name in COUNTER_FIELDS}
        rows.append(
            StudentMinute(
                session_id=session_id,
                student_id=values["student_id"],
                minute=values["bucket"],
                present=counters["present_samples"] * 2 >= counters["samples"] > 0,
                **counters,
            )
        )
    return rows


def _session_minute_rows(session_id: int, minutes: Iterable[datetime] | None) -> list[SessionMinute]:
    student_minutes = _unscoped(StudentMinute.objects).filter(session_id=session_id)
    if minutes is not None:
        student_minutes = student_minutes.filter(minute__in=list(minutes))
    grouped = (
        student_minutes.values("minute")
        .annotate(
            students_streaming=Count("id"),
            students_present=Count("id", filter=Q(present=True)),
            **_summed_totals(),
        )
        .order_by()
    )
    return [
        SessionMinute(
            session_id=session_id,
            minute=values["minute"],
            students_streaming=values["students_streaming"],
            students_present=values["students_present"],
            **{name: values[name] for name in COUNTER_FIELDS},
        )
        for values in grouped
    ]


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
            **_summed_totals(),
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


def refresh_buckets(session_id: int, minutes: Iterable[datetime], student_ids: Iterable[int]) -> None:
    """Recompute the given minutes of one session from raw samples, and the given students' session totals."""
    minutes = {minute_floor(m) for m in minutes}
    with transaction.atomic():
        _lock_session(session_id)
        _upsert(
            StudentMinute,
            _student_minute_rows(session_id, minutes),
            ["session", "student", "minute"],
            ["present"],
        )
        _upsert(
            SessionMinute,
            _session_minute_rows(session_id, minutes),
            ["session", "minute"],
            ["students_streaming", "students_present"],
        )
        _upsert(
            StudentSession,
            _student_session_rows(session_id, set(student_ids)),
            ["session", "student"],
            ["first_minute", "last_minute", "minutes_seen", "minutes_present"],
        )


class Touched:
    """The (session, minute) buckets and (session, student) pairs that stored samples have made stale."""

    def __init__(self):
        self.minutes: dict[int, set[datetime]] = defaultdict(set)
        self.students: dict[int, set[int]] = defaultdict(set)

    def __bool__(self) -> bool:
        return bool(self.minutes)

    def add(self, samples: Iterable) -> "Touched":
        """Mark what samples touch (anything with session_id, student_id and captured_at)."""
        for sample in samples:
            self.minutes[sample.session_id].add(minute_floor(sample.captured_at))
            self.students[sample.session_id].add(sample.student_id)
        return self

    def merge(self, other: "Touched") -> None:
        for session_id, minutes in other.minutes.items():
            self.minutes[session_id] |= minutes
            self.students[session_id] |= other.students[session_id]


def refresh_touched(touched: Touched) -> None:
    for session_id, minutes in touched.minutes.items():
        refresh_buckets(session_id, minutes, touched.students[session_id])


def refresh_for_samples(samples: Iterable[EmotionSample]) -> None:
    """Bring the roll-ups up to date with a batch of freshly stored samples (late ones included)."""
    refresh_touched(Touched().add(samples))


@dataclass(frozen=True)
class RebuildResult:
    session_id: int
    student_minutes: int
    session_minutes: int
    students: int


def rebuild_session(session_id: int) -> RebuildResult:
    """Throw away one session's roll-ups and compute them again from all its raw samples."""
    with transaction.atomic():
        _lock_session(session_id)
        for model in (StudentMinute, SessionMinute, StudentSession):
            _unscoped(model.objects).filter(session_id=session_id).delete()
        student_minutes = _student_minute_rows(session_id, None)
        _unscoped(StudentMinute.objects).bulk_create(student_minutes, batch_size=500)
        session_minutes = _session_minute_rows(session_id, None)
        _unscoped(SessionMinute.objects).bulk_create(session_minutes, batch_size=500)
        students = _student_session_rows(session_id, None)
        _unscoped(StudentSession.objects).bulk_create(students, batch_size=500)
    return RebuildResult(session_id, len(student_minutes), len(session_minutes), len(students))


def sessions_with_samples(queryset=None):
    """Ids of sessions that have raw samples (in the current scope), oldest first."""
    sessions = queryset if queryset is not None else LiveSession.objects.all()
    return list(
        sessions.filter(pk__in=EmotionSample.objects.values("session_id"))
        .order_by(F("started_at").asc(nulls_last=True), "scheduled_start", "pk")
        .values_list("pk", flat=True)
    )
