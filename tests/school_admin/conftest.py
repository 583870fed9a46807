"""Rows of every school-owned model in both schools, so that admin and scoping tests see real data on each side."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

CAST = [None, "alice", "tom", "tess", "sam", "nina", "nora", "bob", "bill", "bea", "op"]


def statuses(anonymous, alice, tom, tess, sam, nina, nora, bob, bill, bea, op):
    """Expected status per cast member, in the order of `CAST`."""
    return dict(zip(CAST, [anonymous, alice, tom, tess, sam, nina, nora, bob, bill, bea, op], strict=True))


def _measure(session, student, when):
    from analytics import rollups
    from analytics.live.models import RecordingJob
    from analytics.models import Alert, AlertKind, CallParticipant, EmotionSample

    EmotionSample.objects.create(
        session=session,
        student=student,
        captured_at=when,
        face_count=1,
        emotion="happy",
        confidence=0.8,
        p_angry=0.02,
        p_disgust=0.01,
        p_fear=0.02,
        p_happy=0.8,
        p_sad=0.05,
        p_surprise=0.05,
        p_neutral=0.05,
    )
    Alert.objects.create(
        session=session, student=student, kind=AlertKind.NO_FACE, message="No face for 30 s", raised_at=when
    )
    # An anonymous face of the session's video call.
    participant = CallParticipant.objects.create(
        session=session, number=1, source="live_call", first_seen_at=when
    )
    EmotionSample.objects.create(session=session, participant=participant, captured_at=when, face_count=0)
    # An upload of a recorded lesson of the class (queued; no file needed for scoping).
    RecordingJob.objects.create(
        classroom=session.classroom, title="Recorded lesson", starts_at=when, original_name="lesson.mp4"
    )
    rollups.rebuild_session(session.pk)


def _integrate(school, admin):
    from analytics.lms.models import ApiKey, Delivery, LrsSettings, Webhook

    ApiKey.issue(school, f"{school.slug} LMS", "read", created_by=admin)
    webhook = Webhook.objects.create(
        school=school, url=f"https://lms.{school.slug}.example/hook", events=["session.started"]
    )
    Delivery.objects.create(
        school=school, webhook=webhook, event="session.started", payload={"school": school.slug}
    )
    LrsSettings.objects.create(
        school=school,
        endpoint=f"https://lrs.{school.slug}.example/xAPI/",
        key="k",
        platform_url="https://fm.example",
    )


def _lti(school, person, classroom, session):
    from analytics.lms.lti import keys
    from analytics.lms.models import (
        LtiAttendancePost,
        LtiCourse,
        LtiIdentity,
        LtiLaunch,
        LtiLogin,
        LtiRegistration,
    )

    issuer = f"https://lms.{school.slug}.example"
    registration = LtiRegistration.objects.create(school=school, name="LMS", issuer=issuer, client_id="c")
    keys.current_key(school)
    later = timezone.now() + timedelta(minutes=5)
    LtiLogin.objects.create(
        registration=registration, state=f"state-{school.slug}", nonce="n", expires_at=later
    )
    LtiIdentity.objects.create(school=school, issuer=issuer, sub=person.username, user=person)
    course = LtiCourse.objects.create(school=school, issuer=issuer, context_id="1", classroom=classroom)
    LtiLaunch.objects.create(
        registration=registration,
        user=person,
        course=course,
        message_type="LtiResourceLinkRequest",
        landing_url="/",
        expires_at=later,
    )
    LtiAttendancePost.objects.create(course=course, session=session)


@pytest.fixture
def full_cast(cast):
    """The cast plus, in each school, an emotion sample with its roll-ups, an alert, an API key, a webhook and a
    delivery, LRS settings, and a row of every LTI table: every school-owned model then has rows in both schools."""
    when = timezone.now() - timedelta(minutes=2)
    with scopes_disabled():
        _measure(cast.a_live, cast.sam, when)
        _measure(cast.b_live, cast.bea, when)
        _integrate(cast.school_a, cast.alice)
        _integrate(cast.school_b, cast.bob)
        _lti(cast.school_a, cast.sam, cast.class_a, cast.a_ended)
        _lti(cast.school_b, cast.bea, cast.class_b, cast.b_live)
    return cast
