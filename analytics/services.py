"""Storing and aggregating derived results. Live consumers, jobs, commands and report views call these.

Call participants (faces of a video call's gallery: the teacher's live screen capture, or a recorded lesson) are
stored like this, by the live capture socket and by any job that analyses a recording:

1. `participant_number_offset(session_id)` once per tracker: a fresh tracker numbers its faces from 1, and the
   session's participants must keep distinct numbers (add the offset to the tracker's numbers);
2. `ensure_participants(session_id, numbers, source=..., seen_at=...)` for numbers not seen before: the
   `CallParticipant` rows, created on first sight;
3. `record_samples([SampleRecord(session_id, None, captured_at, face_count, probabilities,
   participant_id=participant.pk), ...])` for every analysed frame: one record per participant (face_count 1
   when its face is in the frame, 0 while it is still in the call without a visible face). The student is never
   named in a participant's record: `record_samples` stores the sample under whoever the participant is assigned
   to at the moment it is written, so an assignment made while samples are in flight cannot be missed.

Raw frames never reach this module.
"""

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.translation import gettext

from classes.models import Enrolment, LiveSession, Role, User
from classes.services import consent_status, current_policy

from . import rollups
from .models import (
    EMOTION_FIELDS,
    EMOTIONS,
    Alert,
    CallParticipant,
    EmotionSample,
    ParticipantMinute,
    ParticipantSource,
)
from .signals import alert_raised, participant_assigned

SAMPLE_BATCH_SIZE = 500


@dataclass(frozen=True)
class SampleRecord:
    """One analysed frame of a student's camera, or one call participant's face in an analysed gallery frame
    (ids, not model instances). Exactly one of `student_id` and `participant_id` is given."""

    session_id: int
    student_id: int | None
    captured_at: datetime
    face_count: int
    probabilities: tuple[float, ...] | None = None  # 7 values in EMOTIONS order; None when presence-only
    participant_id: int | None = None

    def __post_init__(self):
        if (self.student_id is None) == (self.participant_id is None):
            raise ValueError("A sample names either a student or a call participant, not both or neither.")


def record_samples(records: Iterable[SampleRecord], *, refresh_rollups: bool = True) -> list[EmotionSample]:
    """Insert a batch of samples in one statement per SAMPLE_BATCH_SIZE rows, then refresh the per-minute
    roll-ups of the minutes the batch touched (late samples included), unless the caller refreshes them itself
    (`rollups.refresh_touched`, as the live writer does every few seconds). Raw frames never reach here.

    Call participants' samples go under the student each participant is assigned to when the batch is written
    (anonymous otherwise): their rows are locked for the insert, so a concurrent `assign_participant` either
    moves these samples too or is seen by this batch. Needs no school scope (the live writer has none)."""
    records = list(records)
    if not records:
        return []
    with transaction.atomic():
        assigned = lock_participants(records)
        rows = build_samples(records, assigned)
        EmotionSample.objects.bulk_create(rows, batch_size=SAMPLE_BATCH_SIZE)
        if refresh_rollups:
            rollups.refresh_for_samples(rows)
    return rows


def lock_participants(records: list[SampleRecord]) -> dict[int, int | None]:
    """participant id -> assigned student id, read under a row lock (one query; none without participants)."""
    wanted = {r.participant_id for r in records if r.participant_id is not None}
    if not wanted:
        return {}
    found = {
        pk: (session_id, student_id)
        for pk, session_id, student_id in CallParticipant.objects.with_scopes_disabled()
        .select_for_update()
        .filter(pk__in=wanted)
        .values_list("pk", "session_id", "student_id")
    }
    for record in records:
        if record.participant_id is None:
            continue
        session_id, _ = found.get(record.participant_id, (None, None))
        if session_id != record.session_id:
            raise ValueError(
                f"Participant {record.participant_id} is not a participant of {record.session_id}."
            )
    return {pk: student_id for pk, (_, student_id) in found.items()}


def build_samples(
    records: Iterable[SampleRecord], assigned: dict[int, int | None] | None = None
) -> list[EmotionSample]:
    """Unsaved EmotionSample rows for records: the top emotion and its confidence derived from probabilities;
    a participant's record under the student `assigned` maps it to (participant id -> student id or None)."""
    return [EmotionSample(**sample_values(record, assigned)) for record in records]


_RECORD_COLUMNS: tuple[str, ...] | None = None


def sample_values(record: SampleRecord, assigned: dict[int, int | None] | None = None) -> dict[str, object]:
    """The one place a record becomes EmotionSample column values, by attname; the ORM path (`build_samples`)
    and the bulk path (`analytics.sample_insert`) both use it. Every record field named like a model column is
    copied as it is (a column added to both flows through); a call participant's sample goes under the student
    `assigned` maps it to (from `lock_participants`); the emotion columns are derived from the probabilities
    (only when a face was seen); columns not named here take their model default."""
    global _RECORD_COLUMNS
    if _RECORD_COLUMNS is None:
        attnames = {field.attname for field in EmotionSample._meta.concrete_fields}
        _RECORD_COLUMNS = tuple(f.name for f in dataclasses.fields(SampleRecord) if f.name in attnames)
    values = {name: getattr(record, name) for name in _RECORD_COLUMNS}
    if record.participant_id is not None:
        values["student_id"] = (assigned or {}).get(record.participant_id)
    if record.probabilities is not None and record.face_count > 0:
        probabilities = [float(p) for p in record.probabilities]
        best = max(range(len(EMOTIONS)), key=probabilities.__getitem__)
        values["emotion"] = EMOTIONS[best]
        values["confidence"] = probabilities[best]
        values.update(zip(EMOTION_FIELDS, probabilities, strict=True))
    return values


def record_alert(
    session_id: int,
    kind: str,
    message: str,
    raised_at: datetime,
    student_id: int | None = None,
    participant_id: int | None = None,
):
    alert = Alert.objects.create(
        session_id=session_id,
        student_id=student_id,
        participant_id=participant_id,
        kind=kind,
        message=message[:300],
        raised_at=raised_at,
    )
    alert_raised.send(Alert, alert=alert)
    return alert


# --- call participants --------------------------------------------------------------------------------------


def participant_number_offset(session_id: int) -> int:
    """The highest participant number the session has used so far (0 if none). A new tracker for the session
    (a capture that resumed too late to keep its tracker, a recording) adds this to its own numbers, so it never
    reuses a number (and with it someone else's assignment). Call it inside the school's scope."""
    return CallParticipant.objects.filter(session_id=session_id).aggregate(n=Max("number"))["n"] or 0


def ensure_participants(
    session_id: int, numbers: Iterable[int], *, source: str, seen_at: datetime
) -> dict[int, CallParticipant]:
    """The session's participants with these numbers, created (anonymous, first seen at `seen_at`) where missing;
    number -> row, with `student` loaded. Two queries (three when some are new). Safe against a concurrent caller
    creating the same numbers. Call it inside the school's scope."""
    numbers = sorted({int(n) for n in numbers})
    if any(n < 1 for n in numbers):
        raise ValueError("Participant numbers start at 1.")
    if source not in ParticipantSource.values:
        raise ValueError(f"Unknown participant source {source!r}.")
    existing = _participants_by_number(session_id, numbers)
    missing = [n for n in numbers if n not in existing]
    if missing:
        CallParticipant.objects.bulk_create(
            [
                CallParticipant(session_id=session_id, number=n, source=source, first_seen_at=seen_at)
                for n in missing
            ],
            ignore_conflicts=True,
        )
        existing = _participants_by_number(session_id, numbers)
    return existing


def _participants_by_number(session_id: int, numbers: list[int]) -> dict[int, CallParticipant]:
    rows = CallParticipant.objects.filter(session_id=session_id, number__in=numbers).select_related("student")
    return {p.number: p for p in rows}


class AssignmentRefused(Exception):
    """Why a participant cannot be assigned to a student. `code` is stable (the endpoint returns it)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def check_assignable(participant: CallParticipant, student: User) -> None:
    """Raise AssignmentRefused unless `participant` may be stored as `student`: an active student of the class's
    school, enrolled in the session's class, who has consented under the school's current policy."""
    session = participant.session
    classroom = session.classroom
    if student.role != Role.STUDENT or student.school_id != classroom.school_id or not student.is_active:
        raise AssignmentRefused(
            "not_a_student", gettext("%(name)s is not a student of this school.") % {"name": student}
        )
    if not Enrolment.objects.filter(classroom_id=classroom.pk, student=student).exists():
        raise AssignmentRefused(
            "not_enrolled",
            gettext("%(name)s is not enrolled in %(classroom)s.") % {"name": student, "classroom": classroom},
        )
    decision = consent_status(student)
    if decision is None or not decision.granted:
        if decision is None:
            reason = gettext(
                "%(name)s has not consented to camera analysis under the school's current policy (version "
                "%(version)d), so their results cannot be stored under their name. The participant stays "
                "anonymous."
            )
        else:
            reason = gettext(
                "%(name)s did not agree to camera analysis under the school's current policy (version "
                "%(version)d), so their results cannot be stored under their name. The participant stays "
                "anonymous."
            )
        version = current_policy(classroom.school).version
        raise AssignmentRefused("no_consent", reason % {"name": student, "version": version})
    raw_cutoff = timezone.now() - timedelta(days=classroom.school.retention_days)
    if ParticipantMinute.objects.filter(participant=participant, minute__lt=raw_cutoff).exists():
        raise AssignmentRefused(
            "expired",
            gettext(
                "This participant's detailed results are older than the school's retention period and have "
                "been deleted, so they can no longer be moved to a student."
            ),
        )


@transaction.atomic
def assign_participant(
    participant: CallParticipant, student: User | None, *, by: User | None
) -> CallParticipant:
    """Say who a call participant is (`student`), or make it anonymous again (`student=None`).

    Refused with `AssignmentRefused` (nothing changes) unless `check_assignable` passes. On success ALL of the
    participant's samples in the session, the earlier ones included, move to the student (or back to anonymous),
    and so do those written from then on; the roll-ups of the minutes concerned are recomputed in the same
    transaction; the student's own camera samples are never touched. Sends `participant_assigned` on commit
    (live dashboards rename the card). Call it inside the school's scope."""
    locked = (
        CallParticipant.objects.select_for_update()
        .select_related("session__classroom__school")
        .get(pk=participant.pk)
    )
    if student is not None:
        check_assignable(locked, student)
    new_id = student.pk if student is not None else None
    if locked.student_id == new_id:
        return locked
    previous_id = locked.student_id
    locked.student_id = new_id
    locked.assigned_at = timezone.now() if student is not None else None
    locked.assigned_by = by if student is not None else None
    try:
        locked.save(update_fields=["student", "assigned_at", "assigned_by"])
    except IntegrityError as error:  # a constraint the checks above should have prevented
        raise AssignmentRefused("invalid", str(error)) from error
    samples = EmotionSample.objects.filter(participant=locked)
    minutes = set(
        samples.annotate(minute=TruncMinute("captured_at")).values_list("minute", flat=True).distinct()
    )
    samples.update(student_id=new_id)
    if minutes:
        rollups.refresh_buckets(
            locked.session_id,
            minutes,
            {i for i in (previous_id, new_id) if i is not None},
            {locked.pk},
            replace=True,
        )
    locked.student = student
    transaction.on_commit(lambda: participant_assigned.send(CallParticipant, participant=locked))
    return locked


def participants_of(session: LiveSession) -> list[CallParticipant]:
    """The session's call participants in number order, with their assigned students (one query)."""
    return list(CallParticipant.objects.filter(session=session).select_related("student").order_by("number"))


def assignment_candidates(session: LiveSession) -> list[dict]:
    """The class's enrolled students for an "Assign to student" control: uuid, name and whether they may be
    assigned now (consented under the current policy); those who may not carry the reason. Three queries."""
    from classes.services import consenting_students

    students = [
        e.student
        for e in Enrolment.objects.filter(classroom_id=session.classroom_id, student__is_active=True)
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "student__username")
    ]
    consenting = consenting_students(session.classroom.school, students)
    return [
        {
            "uuid": str(s.uuid),
            "name": str(s),
            "consented": s.pk in consenting,
            "reason": ""
            if s.pk in consenting
            else gettext("%(name)s has not consented under the current policy.") % {"name": s},
        }
        for s in students
    ]
