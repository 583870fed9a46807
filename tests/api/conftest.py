"""API keys for the fixed cast, an API client per caller, and a few recorded samples so summaries have data."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django_scopes import scopes_disabled
from rest_framework.test import APIClient, ForceAuthClientHandler

HAPPY = (0.02, 0.01, 0.02, 0.80, 0.05, 0.05, 0.05)
SAD = (0.05, 0.02, 0.08, 0.05, 0.70, 0.02, 0.08)


@pytest.fixture(autouse=True)
def _webhooks_queue_only(settings):
    # Tests drive deliveries themselves (deliver_due / deliver_pending), never a background thread.
    settings.FERMONITOR_WEBHOOK_DELIVERY = "queue"


_shared_handler = None


class FastAPIClient(APIClient):
    """An APIClient sharing one request handler: building a handler loads the middleware, and WhiteNoise's
    finder scan of node_modules there costs about a second per client."""

    def __init__(self, **kwargs):
        global _shared_handler
        super().__init__(**kwargs)
        if not kwargs.get("enforce_csrf_checks"):
            if _shared_handler is None:
                _shared_handler = ForceAuthClientHandler(enforce_csrf_checks=False)
            self.handler = _shared_handler


def issue_keys(cast):
    from analytics.lms.models import ApiKey

    with scopes_disabled():
        keys = SimpleNamespace()
        keys.a_rw_obj, keys.a_rw = ApiKey.issue(
            cast.school_a, "Moodle A", "read_write", created_by=cast.alice
        )
        keys.a_ro_obj, keys.a_ro = ApiKey.issue(cast.school_a, "Reports A", "read")
        keys.b_rw_obj, keys.b_rw = ApiKey.issue(cast.school_b, "Canvas B", "read_write")
        keys.revoked_obj, keys.revoked = ApiKey.issue(cast.school_a, "Old A", "read_write")
        keys.revoked_obj.revoke()
    return keys


@pytest.fixture
def keys(cast):
    return issue_keys(cast)


def client_with_key(raw: str | None, *, header: str = "bearer") -> APIClient:
    client = FastAPIClient()
    if raw is not None:
        if header == "bearer":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        else:
            client.credentials(HTTP_X_API_KEY=raw)
    return client


def client_for_user(user) -> APIClient:
    client = FastAPIClient()
    client.force_login(user)
    return client


@pytest.fixture
def api_a(keys):
    """School A's read-write key."""
    return client_with_key(keys.a_rw)


@pytest.fixture
def api_b(keys):
    """School B's read-write key."""
    return client_with_key(keys.b_rw)


def record_lesson(session, students, start=None, minutes=3):
    """A few minutes of samples (one a second) for `students` in `session`, with the roll-ups they feed."""
    from analytics.services import SampleRecord, record_samples

    start = start or session.started_at.replace(second=0, microsecond=0)
    rows = []
    for n, student in enumerate(students):
        for second in range(minutes * 60):
            happy = (second // 60 + n) % 2 == 0
            rows.append(
                SampleRecord(
                    session_id=session.pk,
                    student_id=student.pk,
                    captured_at=start + timedelta(seconds=second),
                    face_count=0 if second % 10 == 0 else 1,
                    probabilities=None if second % 10 == 0 else (HAPPY if happy else SAD),
                )
            )
    with scopes_disabled():
        record_samples(rows)
    return rows


@pytest.fixture
def lesson(cast):
    """class A's ended session with three minutes of samples for sam and nora."""
    record_lesson(cast.a_ended, [cast.sam, cast.nora])
    return cast.a_ended
