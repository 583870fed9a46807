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
    from analytics.models import Alert, AlertKind, EmotionSample

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
    rollups.rebuild_session(session.pk)


def _integrate(school, admin):
    from analytics.api.models import ApiKey, Webhook, WebhookDelivery

    ApiKey.issue(school, f"{school.slug} LMS", "read", created_by=admin)
    webhook = Webhook.objects.create(
        school=school, url=f"https://lms.{school.slug}.example/hook", events=["session.started"]
    )
    WebhookDelivery.objects.create(webhook=webhook, event="session.started", payload={"school": school.slug})


@pytest.fixture
def full_cast(cast):
    """The cast plus, in each school, an emotion sample with its roll-ups, an alert, an API key, a webhook and a
    delivery: every model registered in the admin then has rows in both schools."""
    when = timezone.now() - timedelta(minutes=2)
    with scopes_disabled():
        _measure(cast.a_live, cast.sam, when)
        _measure(cast.b_live, cast.bea, when)
        _integrate(cast.school_a, cast.alice)
        _integrate(cast.school_b, cast.bob)
    return cast
