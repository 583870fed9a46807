"""Realistic demo samples for seed_demo: one ended lesson of every enrolled student, one frame a second.

The lesson has a shape people recognise in the report: a calm start, a laugh around minute 9, a hard stretch from
minute 25 where the class mood drops, a group exercise around minute 36 where most faces leave the camera, and a
recovery at the end. Students differ (some cheerful, some anxious), join a little late, step away for a minute or
two. The random generator is seeded from the session id, so the same session always gets the same data.
"""

import math
from datetime import timedelta

import numpy as np
from django.db import transaction

from . import rollups
from .models import EMOTIONS, Alert, AlertKind, EmotionSample

LESSON_MINUTES = 45
FRAMES_PER_SECOND = 1
INSERT_BATCH = 5000

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

    samples: list[EmotionSample] = []
    alerts: list[Alert] = []
    for index, student in enumerate(students):
        streaming, face = _student_presence(rng, seconds, index in leavers)
        probabilities = _softmax(_student_logits(rng, lesson))
        best = probabilities.argmax(axis=1)
        two_faces = rng.random(seconds) < 0.003
        for s in np.flatnonzero(streaming).tolist():
            sample = EmotionSample(
                session_id=session.pk,
                student_id=student.pk,
                captured_at=offsets[s],
                face_count=(2 if two_faces[s] else 1) if face[s] else 0,
            )
            if face[s] and not presence_only:
                p = probabilities[s].tolist()
                sample.emotion = EMOTIONS[best[s]]
                sample.confidence = p[best[s]]
                (
                    sample.p_angry,
                    sample.p_disgust,
                    sample.p_fear,
                    sample.p_happy,
                    sample.p_sad,
                    sample.p_surprise,
                    sample.p_neutral,
                ) = p
            samples.append(sample)
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
        EmotionSample.objects.bulk_create(samples, batch_size=INSERT_BATCH)
        Alert.objects.bulk_create(alerts)
        rollups.rebuild_session(session.pk)
    return len(samples)


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
