"""Helpers for analytics tests: extra students in the cast's class and samples built from plain numbers."""

from datetime import timedelta

import pytest
from django_scopes import scopes_disabled

from analytics.services import SampleRecord

# Probabilities in EMOTIONS order (angry, disgust, fear, happy, sad, surprise, neutral).
HAPPY = (0.02, 0.01, 0.02, 0.80, 0.05, 0.05, 0.05)
SAD = (0.05, 0.02, 0.08, 0.05, 0.70, 0.02, 0.08)
NEUTRAL = (0.02, 0.01, 0.02, 0.10, 0.05, 0.05, 0.75)


def add_students(cast, count: int, classroom=None, school=None, prefix="pupil"):
    """Enrol `count` new consenting students in the cast's class A (or `classroom`)."""
    from classes import services
    from classes.models import Role, User

    classroom = classroom or cast.class_a
    school = school or classroom.school
    with scopes_disabled():
        students = []
        for i in range(count):
            student = User.objects.create_user(
                username=f"{prefix}{classroom.pk}-{i}",
                school=school,
                role=Role.STUDENT,
                first_name=f"Pupil{i}",
            )
            students.append(student)
        services.enrol_students(classroom, students)
    return students


def records(session, student, start, seconds, probabilities=NEUTRAL, face_count=1, step=1):
    """One SampleRecord per `step` seconds from `start` for `seconds` seconds."""
    return [
        SampleRecord(
            session_id=session.pk,
            student_id=student.pk,
            captured_at=start + timedelta(seconds=s),
            face_count=face_count,
            probabilities=probabilities if face_count else None,
        )
        for s in range(0, seconds, step)
    ]


@pytest.fixture
def seeded_session(cast):
    """class A's ended session seeded with the demo lesson for sam, nora and 3 more students."""
    from analytics.demo import seed_demo_samples

    add_students(cast, 3)
    with scopes_disabled():
        seed_demo_samples(cast.a_ended)
    return cast.a_ended


@pytest.fixture
def reported_session(cast):
    """class A's ended session with a few minutes of samples for sam (happy) and nora (sad), and an alert."""
    from analytics.services import record_alert, record_samples

    session = cast.a_ended
    with scopes_disabled():
        record_samples(records(session, cast.sam, session.started_at, 180, HAPPY, step=5))
        record_samples(records(session, cast.nora, session.started_at, 180, SAD, step=5))
        record_alert(session.pk, "negative", "Nora looked sad for a minute", session.started_at, cast.nora.pk)
    return session
