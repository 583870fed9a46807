"""What happened in a finished lesson, read back from what fermonitor stored: when each student joined and left,
how long they were there, how often their face was visible and (where allowed) their expressions.

Why stored samples and not socket events: a student's stream may be served by any of several server processes,
move to another one on reconnect, or outlive a process that crashes; signals sent by the socket code would be
per-process, lost with a crash and doubled by a reconnect. The samples are written by whichever process served
the student, survive restarts, and are the same data the reports read, so the statements agree with the reports.
The same derivation serves the backfill, so a lesson sent live and again by a backfill makes identical statements
(and the LRS recognises them).

A student "joined" at their first frame and "left" after their last one; a pause longer than the rejoin gap
(FERMONITOR_XAPI_REJOIN_GAP_SECONDS, default 60 s) between two frames is a leave followed by a new join. When the
raw samples are gone (retention), the per-minute roll-ups stand in, at minute resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings

from analytics.models import EMOTIONS, EmotionSample, StudentMinute
from classes.models import Enrolment, LiveSession, User

MINUTE = timedelta(minutes=1)


def rejoin_gap() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "FERMONITOR_XAPI_REJOIN_GAP_SECONDS", 60)))


@dataclass(frozen=True)
class Segment:
    joined: datetime  # first frame
    left: datetime  # last frame
    seconds: float  # time present in the lesson: first to last frame plus the last frame's own interval


@dataclass
class StudentFacts:
    student: User
    segments: list[Segment] = field(default_factory=list)
    samples: int = 0
    present_samples: int = 0
    emotion_samples: int = 0
    emotion_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EMOTIONS, 0))

    @property
    def seconds(self) -> float:
        return sum(segment.seconds for segment in self.segments)

    @property
    def presence_share(self) -> float | None:
        return self.present_samples / self.samples if self.samples else None

    @property
    def emotion_shares(self) -> dict[str, float] | None:
        if not self.emotion_samples:
            return None
        return {name: self.emotion_counts[name] / self.emotion_samples for name in EMOTIONS}


@dataclass
class LessonFacts:
    session: LiveSession
    enrolled: int
    students: list[StudentFacts]
    source: str  # "samples" or "minutes"

    @property
    def teacher(self) -> User:
        return self.session.classroom.teacher

    @property
    def presence_share(self) -> float | None:
        """The mean of the attending students' presence shares."""
        shares = [s.presence_share for s in self.students if s.presence_share is not None]
        return sum(shares) / len(shares) if shares else None

    @property
    def emotion_shares(self) -> dict[str, float] | None:
        total = sum(s.emotion_samples for s in self.students)
        if not total:
            return None
        return {name: sum(s.emotion_counts[name] for s in self.students) / total for name in EMOTIONS}


def lesson_facts(session: LiveSession) -> LessonFacts:
    """Read inside the session's school scope."""
    enrolled = Enrolment.objects.filter(classroom_id=session.classroom_id).count()
    students, source = _from_samples(session), "samples"
    if not students:
        students, source = _from_minutes(session), "minutes"
    people = User.in_school.in_bulk([s.student.pk for s in students])
    for facts in students:
        facts.student = people[facts.student.pk]
    return LessonFacts(session=session, enrolled=enrolled, students=students, source=source)


def _segments(times: list[datetime], gap: timedelta, interval: timedelta) -> list[Segment]:
    segments = []
    start = previous = times[0]
    for moment in times[1:]:
        if moment - previous > gap:
            segments.append(Segment(start, previous, (previous - start + interval).total_seconds()))
            start = moment
        previous = moment
    segments.append(Segment(start, previous, (previous - start + interval).total_seconds()))
    return segments


def _from_samples(session: LiveSession) -> list[StudentFacts]:
    interval = timedelta(seconds=1.0 / session.frame_rate)
    gap = max(rejoin_gap(), 3 * interval)
    rows = (
        EmotionSample.objects.filter(session=session)
        .order_by("student_id", "captured_at", "pk")
        .values_list("student_id", "captured_at", "face_count", "emotion")
    )
    found: list[StudentFacts] = []
    times: list[datetime] = []
    for student_id, captured_at, face_count, emotion in rows.iterator(chunk_size=5000):
        if not found or found[-1].student.pk != student_id:
            if found:
                found[-1].segments = _segments(times, gap, interval)
            found.append(StudentFacts(student=User(pk=student_id)))
            times = []
        facts = found[-1]
        times.append(captured_at)
        facts.samples += 1
        if face_count > 0:
            facts.present_samples += 1
            if emotion:
                facts.emotion_samples += 1
                facts.emotion_counts[emotion] += 1
    if found:
        found[-1].segments = _segments(times, gap, interval)
    return found


def _from_minutes(session: LiveSession) -> list[StudentFacts]:
    found: dict[int, StudentFacts] = {}
    minutes: dict[int, list[datetime]] = {}
    for row in StudentMinute.objects.filter(session=session).order_by("student_id", "minute"):
        facts = found.setdefault(row.student_id, StudentFacts(student=User(pk=row.student_id)))
        minutes.setdefault(row.student_id, []).append(row.minute)
        facts.samples += row.samples
        facts.present_samples += row.present_samples
        facts.emotion_samples += row.emotion_samples
        for name in EMOTIONS:
            facts.emotion_counts[name] += getattr(row, f"n_{name}")
    for student_id, facts in found.items():
        # Consecutive minutes are one stay; a missing minute is a leave (at least 60 s without a frame).
        joined = previous = minutes[student_id][0]
        for minute in [*minutes[student_id][1:], None]:
            if minute is not None and minute - previous == MINUTE:
                previous = minute
                continue
            facts.segments.append(
                Segment(joined, previous + MINUTE, (previous + MINUTE - joined).total_seconds())
            )
            joined = previous = minute
    return list(found.values())
