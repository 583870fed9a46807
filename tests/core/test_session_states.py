"""The session state machine: scheduled -> live -> ended, scheduled -> cancelled, nothing else."""

import pytest
from django_scopes import scopes_disabled

from classes import services, signals
from classes.models import SessionStatus


@pytest.fixture
def received():
    events = []

    def listener(signal_name):
        def receive(sender, session, **kwargs):
            events.append((signal_name, session.pk))

        return receive

    handlers = {
        "started": listener("started"),
        "ended": listener("ended"),
        "cancelled": listener("cancelled"),
    }
    signals.session_started.connect(handlers["started"])
    signals.session_ended.connect(handlers["ended"])
    signals.session_cancelled.connect(handlers["cancelled"])
    yield events
    signals.session_started.disconnect(handlers["started"])
    signals.session_ended.disconnect(handlers["ended"])
    signals.session_cancelled.disconnect(handlers["cancelled"])


@pytest.mark.django_db(transaction=True)
def test_scheduled_session_starts_then_ends_with_timestamps_and_signals(transactional_cast, received):
    session = transactional_cast.a_scheduled
    with scopes_disabled():
        services.start_session(session)
        session.refresh_from_db()
        assert session.status == SessionStatus.LIVE and session.started_at is not None
        services.end_session(session)
        session.refresh_from_db()
    assert session.status == SessionStatus.ENDED and session.ended_at >= session.started_at
    assert received == [("started", session.pk), ("ended", session.pk)]


@pytest.mark.parametrize(
    ("fixture_name", "operation", "message"),
    [
        ("a_ended", "start_session", "already ended"),
        ("a_scheduled", "end_session", "has not started"),
        ("a_live", "cancel_session", "cannot be cancelled"),
        ("a_live", "start_session", "is live; it cannot become live"),
        ("a_ended", "end_session", "is ended; it cannot become ended"),
    ],
)
def test_forbidden_transitions_raise_a_clear_error_and_change_nothing(cast, fixture_name, operation, message):
    session = getattr(cast, fixture_name)
    before = (session.status, session.started_at, session.ended_at)
    with scopes_disabled():
        with pytest.raises(services.TransitionError) as error:
            getattr(services, operation)(session)
        session.refresh_from_db()
    assert message.lower() in str(error.value).lower()
    assert (session.status, session.started_at, session.ended_at) == before


def test_cancelled_session_cannot_be_started(cast):
    with scopes_disabled():
        services.cancel_session(cast.a_scheduled)
        with pytest.raises(services.TransitionError, match="cancelled"):
            services.start_session(cast.a_scheduled)
