"""`manage.py xapi_backfill`: past lessons of a date range go to the LRS, once, however often it runs."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.lms import outbox
from analytics.lms.models import Delivery
from classes.models import LiveSession, SessionStatus

from .conftest import connect, record_frames, statement_rows


def backfill(*args) -> str:
    out = StringIO()
    call_command("xapi_backfill", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def past(cast):
    """Yesterday's lesson of class A and one ten days before it, sam streaming 30 s in each."""
    record_frames(cast.a_ended, cast.sam, cast.a_ended.started_at + timedelta(seconds=30), 30)
    with scopes_disabled():
        older = LiveSession.objects.create(
            classroom=cast.class_a,
            title="Statics",
            scheduled_start=cast.a_ended.started_at - timedelta(days=10),
            status=SessionStatus.ENDED,
            started_at=cast.a_ended.started_at - timedelta(days=10),
            ended_at=cast.a_ended.started_at - timedelta(days=10) + timedelta(minutes=45),
        )
    record_frames(older, cast.sam, older.started_at + timedelta(seconds=30), 30)
    cast.older = older
    return cast


def day(moment) -> str:
    return timezone.localdate(moment).isoformat()


def test_backfill_sends_the_lessons_of_the_range_once_however_often_it_runs(past, lrs_a):
    connect(past.school_a, lrs_a.endpoint, "alpha")
    yesterday = day(past.a_ended.started_at)
    first = backfill("--school", "alpha", "--from", yesterday, "--to", yesterday)
    assert "1 lessons, 4 statements: 4 queued, 0 queued before" in first  # joined, left, attended, summary
    assert "sent now: 4 delivered, 0 failed" in first
    stored = lrs_a.statements("alpha", registration=str(past.a_ended.uuid))
    assert len(stored) == 4
    assert lrs_a.statements("alpha", registration=str(past.older.uuid)) == []  # outside the range
    assert lrs_a.statements("alpha", registration=str(past.a_live.uuid)) == []  # not ended

    again = backfill("--school", "alpha", "--from", yesterday, "--to", yesterday)
    assert "1 lessons, 4 statements: 0 queued, 4 queued before" in again
    assert "sent now: 0 delivered" in again

    resent = backfill("--school", "alpha", "--from", yesterday, "--to", yesterday, "--resend")
    assert "4 delivered before and queued again" in resent and "sent now: 4 delivered" in resent
    assert {r.response_status for r in statement_rows()} == {204}  # the LRS knew every id
    ids = {s["id"] for s in stored}
    assert len([s for s in lrs_a.stored_lines("alpha") if s["id"] in ids]) == 4


def test_a_lesson_sent_live_and_backfilled_again_is_recognised_by_the_lrs(
    cast, lesson, lrs_a, django_capture_on_commit_callbacks
):
    from classes import services

    lrs = connect(cast.school_a, lrs_a.endpoint, "alpha")
    with django_capture_on_commit_callbacks(execute=True), scopes_disabled():
        services.end_session(lesson)
    outbox.deliver_due()
    live = {r.payload["id"]: r.payload for r in statement_rows()}
    assert len(live) == 9

    with (
        scopes_disabled()
    ):  # the outbox log was cleared (or this is another server): nothing is known locally
        Delivery.objects.filter(lrs=lrs).delete()
    today = day(lesson.started_at)
    out = backfill("--school", "alpha", "--from", today, "--to", today)
    assert "9 queued" in out and "sent now: 9 delivered, 0 failed" in out
    rows = statement_rows()
    assert {r.payload["id"]: r.payload for r in rows} == live  # the very same statements
    assert {r.response_status for r in rows} == {204}
    assert len([s for s in lrs_a.stored_lines("alpha") if s["id"] in live]) == 9


def test_backfill_refuses_clearly(cast):
    with pytest.raises(CommandError, match="has no LRS, or sending is switched off"):
        backfill("--school", "alpha", "--from", "2026-01-01", "--to", "2026-01-31")
    with pytest.raises(CommandError, match="“2026-13-01” is not a date; write it as YYYY-MM-DD"):
        backfill("--school", "alpha", "--from", "2026-13-01", "--to", "2026-12-31")
    with pytest.raises(CommandError, match="--to is before --from"):
        backfill("--school", "alpha", "--from", "2026-02-01", "--to", "2026-01-31")
    with pytest.raises(CommandError, match="No school with the slug “nope”"):
        backfill("--school", "nope", "--from", "2026-01-01", "--to", "2026-01-31")


def test_backfill_queue_only_leaves_the_sending_to_the_worker(past, lrs_a):
    connect(past.school_a, lrs_a.endpoint, "alpha")
    start, end = day(past.older.started_at), day(past.a_ended.started_at)
    out = backfill("--school", "alpha", "--from", start, "--to", end, "--queue-only")
    assert "2 lessons, 8 statements: 8 queued" in out and "sent now" not in out
    assert {r.status for r in statement_rows()} == {"pending"}
    call_command("deliver_outbox", stdout=StringIO())
    assert {r.status for r in statement_rows()} == {"succeeded"}
