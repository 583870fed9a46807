"""Two real LRSs (ralph), one per school, for the whole test session; helpers to connect a school to one."""

from types import SimpleNamespace

import pytest
from django_scopes import scopes_disabled

from .lrs import Ralph, require_ralph

PASSWORDS = {"alpha": "alpha-lrs-secret", "beta": "beta-lrs-secret"}
PLATFORM = "https://fermonitor.alpha.example"
LMS = "https://moodle.alpha.example"


@pytest.fixture(autouse=True)
def _outbox_driven_by_the_tests(settings):
    # Tests send what is due themselves (outbox.deliver_due), never from a background thread; lessons are
    # composed as soon as they are due (the settle time has its own test).
    settings.FERMONITOR_WEBHOOK_DELIVERY = "queue"
    settings.FERMONITOR_XAPI_SETTLE_SECONDS = 0


@pytest.fixture(scope="session")
def lrs_servers(tmp_path_factory):
    """School A's LRS and school B's LRS: two ralph servers, each with its own user and store."""
    require_ralph()
    a = Ralph(tmp_path_factory.mktemp("lrs-a"), {"alpha": PASSWORDS["alpha"]}).start()
    try:
        b = Ralph(tmp_path_factory.mktemp("lrs-b"), {"beta": PASSWORDS["beta"]}).start()
    except Exception:
        a.stop()
        raise
    yield SimpleNamespace(a=a, b=b)
    a.stop()
    b.stop()


@pytest.fixture
def lrs_a(lrs_servers):
    return lrs_servers.a


def connect(school, endpoint: str, user: str, **fields):
    """School's LRS settings, switched on, as an admin would save them."""
    from analytics.lms.xapi.models import LrsSettings

    secret = fields.pop("secret", PASSWORDS.get(user, "x"))
    with scopes_disabled():
        lrs = LrsSettings(
            school=school,
            enabled=True,
            endpoint=endpoint,
            key=user,
            platform_url=fields.pop("platform_url", PLATFORM),
            **fields,
        )
        lrs.set_secret(secret)
        lrs.save()
    return lrs


def outbox_rows(**filters):
    from analytics.lms.models import Delivery

    with scopes_disabled():
        return list(Delivery.objects.filter(kind="xapi", **filters).order_by("pk"))


def statement_rows(**filters):
    return [row for row in outbox_rows(**filters) if row.event != "xapi.lesson"]


HAPPY = (0.02, 0.01, 0.02, 0.80, 0.05, 0.05, 0.05)
SAD = (0.05, 0.02, 0.08, 0.05, 0.70, 0.02, 0.08)


def record_frames(session, student, start, count, *, every=1.0, face=lambda n: True, probabilities=HAPPY):
    """`count` analysed frames of one student, `every` seconds apart from `start`, stored as the live writer
    stores them (with their roll-ups)."""
    from datetime import timedelta

    from analytics.services import SampleRecord, record_samples

    rows = [
        SampleRecord(
            session_id=session.pk,
            student_id=student.pk,
            captured_at=start + timedelta(seconds=n * every),
            face_count=1 if face(n) else 0,
            probabilities=probabilities if face(n) else None,
        )
        for n in range(count)
    ]
    with scopes_disabled():
        record_samples(rows)
    return rows


def end(session):
    from classes import services

    with scopes_disabled():
        services.end_session(session)
        session.refresh_from_db()
    return session


@pytest.fixture
def lesson(cast):
    """Class A's live lesson, ended: sam streamed twice (30 frames, a 90 s pause, 30 frames; no face on every
    4th frame), nina (enrolled for it) streamed 20 frames with her face; nora never joined."""
    from datetime import timedelta

    from classes import services

    with scopes_disabled():
        services.enrol_students(cast.class_a, [cast.nina])
    start = cast.a_live.started_at + timedelta(seconds=10)
    record_frames(cast.a_live, cast.sam, start, 30, face=lambda n: n % 4 != 0, probabilities=HAPPY)
    record_frames(cast.a_live, cast.sam, start + timedelta(seconds=120), 30, face=lambda n: n % 4 != 2)
    record_frames(cast.a_live, cast.nina, start + timedelta(seconds=5), 20, probabilities=SAD)
    cast.lesson_start = start
    return cast.a_live


def admin_client(cast, who="alice"):
    from django.test import Client

    client = Client()
    client.force_login(getattr(cast, who))
    return client
