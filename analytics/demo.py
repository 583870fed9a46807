"""Realistic demo samples for seed_demo: one ended lesson of every enrolled student, one frame a second.

The lesson has a shape people recognise in the report: a calm start, a laugh around minute 9, a hard stretch from
minute 25 where the class mood drops, a group exercise around minute 36 where most faces leave the camera, and a
recovery at the end. Students differ (some cheerful, some anxious), join a little late, step away for a minute or
two. The random generator is seeded from the session id, so the same session always gets the same data.
"""

import math
from datetime import timedelta

import numpy as np
from django.db import connection, transaction

from . import rollups
from .models import EMOTIONS, Alert, AlertKind, EmotionSample

LESSON_MINUTES = 45
FRAMES_PER_SECOND = 1

E = {name: i for i, name in enumerate(EMOTIONS)}

# Class-wide logit shifts per minute range: (first minute, last minute, {emotion: shift}).
LESSON_EVENTS = (
    (8, 11, {"happy": 1.6, "surprise": 0.8, "neutral": -0.4}),
    (25, 31, {"sad": 1.5, "fear": 1.3, "angry": 1.2, "disgust": 0.4, "happy": -1.2, "neutral": -0.3}),
    (32, 34, {"sad": 0.6, "fear": 0.3}),
    (41, 44, {"happy": 0.9, "neutral": 0.2}),
)
GROUP_EXERCISE = (36, 37)  # minutes in which most students look down at paper
BASE_LOGITS = {
    "neutral": 2.0,
    "happy": 0.9,
    "surprise": -0.2,
    "sad": -0.1,
    "angry": -0.9,
    "fear": -0.8,
    "disgust": -1.8,
}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _lesson_logits(seconds: int) -> np.ndarray:
    """Class-wide logits per second: baseline plus the lesson's events, eased in and out."""
    logits = np.tile(np.array([BASE_LOGITS[name] for name in EMOTIONS]), (seconds, 1))
    t = np.arange(seconds) / 60.0
    for first, last, shifts in LESSON_EVENTS:
        # A smooth bump from `first` to `last + 1` minutes with 40-second ramps.
        weight = np.clip(np.minimum(t - first + 0.67, last + 1 - t + 0.67) / 0.67, 0, 1)
        for name, shift in shifts.items():
            logits[:, E[name]] += weight * shift
    return logits


def _student_presence(
    rng: np.random.Generator, seconds: int, leaves_for_exercise: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(streaming, face visible) per second for one student."""
    streaming = np.ones(seconds, dtype=bool)
    late = int(rng.choice([0, 0, 0, 30, 90, 150]))
    streaming[:late] = False
    if rng.random() < 0.1:  # leaves a few minutes early
        streaming[seconds - int(rng.integers(120, 360)) :] = False
    face = streaming.copy()
    for _ in range(int(rng.integers(0, 3))):  # steps away once or twice
        start = int(rng.integers(120, seconds - 300))
        face[start : start + int(rng.integers(40, 200))] = False
    first, last = GROUP_EXERCISE
    if leaves_for_exercise:
        start = first * 60 + int(rng.integers(0, 40))
        face[start : (last + 1) * 60 + int(rng.integers(0, 30))] = False
    # Brief glances away: a few lost frames scattered over the lesson.
    face &= rng.random(seconds) > 0.02
    return streaming, face


def _student_logits(rng: np.random.Generator, lesson: np.ndarray) -> np.ndarray:
    seconds = lesson.shape[0]
    disposition = rng.normal(0.0, 0.45, len(EMOTIONS))
    if rng.random() < 0.2:  # an anxious student, who feels the hard part more
        disposition[[E["fear"], E["sad"]]] += 0.7
    # Slow personal drift: a random walk sampled every 20 s, held in between.
    steps = seconds // 20 + 1
    drift = np.cumsum(rng.normal(0.0, 0.12, (steps, len(EMOTIONS))), axis=0)
    drift -= drift.mean(axis=0)
    drift = np.repeat(drift, 20, axis=0)[:seconds]
    noise = rng.normal(0.0, 0.55, (seconds, len(EMOTIONS)))
    return lesson + disposition + drift + noise


def seed_demo_samples(session) -> int:
    """Create emotion samples (and roll-ups, and the alerts the live view would have raised) for an ended demo
    session; returns how many samples were created. Does nothing if the session already has samples."""
    if EmotionSample.objects.with_scopes_disabled().filter(session_id=session.pk).exists():
        return 0
    students = list(session.classroom.students.order_by("pk"))
    if not students:
        return 0
    presence_only = session.classroom.school.presence_only
    # Start on a whole minute so the 45 minutes fill 45 roll-up buckets.
    begin = session.started_at or session.scheduled_start
    start = begin.replace(second=0, microsecond=0) + (
        timedelta(minutes=1) if begin.second or begin.microsecond else timedelta()
    )
    seconds = LESSON_MINUTES * 60 * FRAMES_PER_SECOND
    rng = np.random.default_rng(20_000 + session.pk)
    lesson = _lesson_logits(seconds)
    offsets = [start + timedelta(seconds=s / FRAMES_PER_SECOND) for s in range(seconds)]
    # Three in four students leave the camera for the group exercise: a fixed share (which ones is random), so
    # the dip shows in every class, not only with a lucky seed.
    leavers = set(rng.permutation(len(students))[: math.ceil(0.75 * len(students))].tolist())

    adapt = connection.ops.adapt_datetimefield_value
    moments = [adapt(moment) for moment in offsets]
    rows: list[tuple] = []
    alerts: list[Alert] = []
    for index, student in enumerate(students):
        streaming, face = _student_presence(rng, seconds, index in leavers)
        probabilities = _softmax(_student_logits(rng, lesson))
        best = probabilities.argmax(axis=1)
        two_faces = rng.random(seconds) < 0.003
        for s in np.flatnonzero(streaming).tolist():
            faces = (2 if two_faces[s] else 1) if face[s] else 0
            if face[s] and not presence_only:
                p = probabilities[s].tolist()
                rows.append((session.pk, student.pk, moments[s], faces, EMOTIONS[best[s]], p[best[s]], *p))
            else:
                rows.append((session.pk, student.pk, moments[s], faces, "", None, *NO_PROBABILITIES))
        alerts.extend(_no_face_alerts(session, student, streaming, face, offsets))
    if not presence_only:
        alerts.append(
            Alert(
                session_id=session.pk,
                kind=AlertKind.CLASS_DROP,
                message="The class mood dropped sharply.",
                raised_at=start + timedelta(minutes=LESSON_EVENTS[1][0], seconds=35),
            )
        )
    with transaction.atomic():
        _insert_samples(rows)
        Alert.objects.bulk_create(alerts)
        rollups.rebuild_session(session.pk)
    return len(rows)


def _no_face_alerts(session, student, streaming, face, offsets, threshold_s: int = 30) -> list[Alert]:
    """The no-face alerts the live view raises after `threshold_s` seconds without a face (once per absence)."""
    alerts = []
    missing = 0
    for s in range(len(face)):
        missing = missing + 1 if streaming[s] and not face[s] else 0
        if missing == threshold_s:
            alerts.append(
                Alert(
                    session_id=session.pk,
                    student_id=student.pk,
                    kind=AlertKind.NO_FACE,
                    message=f"No face visible for {student} for {threshold_s} seconds.",
                    raised_at=offsets[s],
                )
            )
    return alerts


# A term of history -----------------------------------------------------------------------------------------------
# Every class's past lessons over TERM_WEEKS weeks, sampled every TERM_SAMPLE_EVERY_S seconds (reports use shares,
# not counts, so a sample every 30 s tells the same story as one a second, at a thirtieth of the rows). Patterns a
# school would recognise: mood dips in the weeks before the exams, thinner and later Monday-morning classes, a
# better mood after the exams, and one student who struggles more as the term goes on.
TERM_WEEKS = 12
TERM_SAMPLE_EVERY_S = 30
EXAM_WEEKS = (6, 12)  # exams at the end of these weeks of term (1 = the first)
# Per class: a small lean of its mood ({emotion: logit shift}).
CLASS_MOOD = {
    "Physics": {"surprise": 0.2, "fear": 0.1},
    "History": {"neutral": 0.3},
    "Mathematics": {"fear": 0.25, "sad": 0.1, "happy": -0.15},
    "English": {"happy": 0.25},
}


def exam_pressure(week: int) -> float:
    """0 to 1: how close the next exam is (1 in an exam week, 0.6 the week before), 0 in the week after."""
    pressure = 0.0
    for exam in EXAM_WEEKS:
        if week == exam:
            pressure = max(pressure, 1.0)
        elif week == exam - 1:
            pressure = max(pressure, 0.6)
    return pressure


def seed_term_lesson(
    session, week: int, consenting: set[int], struggling: set[int], every_s: int = TERM_SAMPLE_EVERY_S
) -> int:
    """Samples for one past lesson in week `week` of the term, for the enrolled students in `consenting` only;
    roll-ups rebuilt. Returns how many were made (none if the lesson already has samples)."""
    if EmotionSample.objects.with_scopes_disabled().filter(session_id=session.pk).exists():
        return 0
    students = [s for s in session.classroom.students.order_by("pk") if s.pk in consenting]
    if not students:
        return 0
    presence_only = session.classroom.school.presence_only
    steps = LESSON_MINUTES * 60 // every_s
    rng = np.random.default_rng(30_000 + session.pk)
    start = session.started_at
    monday_morning = start.weekday() == 0 and start.hour < 11
    pressure = exam_pressure(week)
    after_exam = any(week == exam + 1 for exam in EXAM_WEEKS)
    progress = (week - 1) / max(1, TERM_WEEKS - 1)  # 0 at the start of term, 1 at its end

    mood = np.array([BASE_LOGITS[name] for name in EMOTIONS])
    for name, shift in CLASS_MOOD.get(session.classroom.subject, {}).items():
        mood[E[name]] += shift
    mood[[E["fear"], E["sad"], E["angry"], E["happy"]]] += pressure * np.array([1.1, 0.6, 0.35, -0.8])
    mood[E["happy"]] += 0.7 if after_exam else 0.0
    # One hard stretch in every lesson, somewhere in the middle, and a lighter end.
    t = np.arange(steps) * every_s / 60.0
    hard_at = rng.uniform(12, 30)
    hard = np.clip(1 - np.abs(t - hard_at) / 5, 0, 1)[:, None]
    lesson = np.tile(mood, (steps, 1)) + hard * np.array(
        [0.5 if n in ("sad", "fear") else (-0.5 if n == "happy" else 0.0) for n in EMOTIONS]
    )
    lesson[t > 40, E["happy"]] += 0.4

    adapt = connection.ops.adapt_datetimefield_value
    moments = [adapt(start + timedelta(seconds=int(s * every_s))) for s in range(steps)]
    rows = []
    for student in students:
        struggling_now = student.pk in struggling
        absent_chance = 0.04 + (0.12 if monday_morning else 0) + (0.35 * progress if struggling_now else 0)
        if rng.random() < absent_chance:
            continue
        streaming = np.ones(steps, dtype=bool)
        late_minutes = rng.choice([0, 0, 0, 1, 3, 8, 15] if monday_morning else [0, 0, 0, 0, 1, 3])
        streaming[: int(late_minutes * 60 // every_s)] = False
        face = streaming & (
            rng.random(steps) > (0.05 + (0.1 if monday_morning else 0) + 0.15 * struggling_now)
        )
        disposition = rng.normal(0.0, 0.4, len(EMOTIONS))
        if struggling_now:  # sadder and more anxious week by week, less often happy
            disposition[[E["sad"], E["fear"]]] += 0.4 + 1.4 * progress
            disposition[E["happy"]] -= 0.3 + 1.0 * progress
        drift = np.cumsum(rng.normal(0.0, 0.15, (steps, len(EMOTIONS))), axis=0)
        logits = (
            lesson + disposition + drift - drift.mean(axis=0) + rng.normal(0.0, 0.55, (steps, len(EMOTIONS)))
        )
        probabilities = _softmax(logits)
        best = probabilities.argmax(axis=1)
        for s in np.flatnonzero(streaming).tolist():
            if face[s] and not presence_only:
                p = probabilities[s].tolist()
                rows.append((session.pk, student.pk, moments[s], 1, EMOTIONS[best[s]], p[best[s]], *p))
            else:
                rows.append((session.pk, student.pk, moments[s], int(face[s]), "", None, *NO_PROBABILITIES))
    with transaction.atomic():
        _insert_samples(rows)
        rollups.rebuild_session(session.pk)
    return len(rows)


NO_PROBABILITIES = (None,) * len(EMOTIONS)
SAMPLE_COLUMNS = ("session", "student", "captured_at", "face_count", "emotion", "confidence") + tuple(
    f"p_{name}" for name in EMOTIONS
)


def _insert_samples(rows: list[tuple]) -> None:
    """One executemany: bulk_create spent most of a term's seeding preparing its ~150,000 rows value by value."""
    meta = EmotionSample._meta
    columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in SAMPLE_COLUMNS)
    placeholders = ", ".join(["%s"] * len(SAMPLE_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {meta.db_table} ({columns}) VALUES ({placeholders})", rows)
