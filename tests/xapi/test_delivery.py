"""Statements reach a real LRS (ralph) through the outbox: batched, read back as sent, retried while the LRS is
down, never stored twice, never sent to another school's LRS."""

import base64
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.lms import outbox
from analytics.lms.xapi import client, delivery
from analytics.lms.xapi import statements as st
from tests.live.servers import free_port

from .conftest import PASSWORDS, admin_client, connect, end, outbox_rows, record_frames, statement_rows
from .lrs import Ralph
from .stub_lrs import StubLrs

LRS_FIELDS = ("actor", "verb", "object", "result", "context", "timestamp", "id")


@pytest.fixture
def finish(django_capture_on_commit_callbacks):
    """End a lesson the way the teacher does, with the on-commit signal that queues its statements."""

    def run(session):
        with django_capture_on_commit_callbacks(execute=True):
            return end(session)

    return run


@pytest.fixture
def posts(monkeypatch):
    """Every batch POSTed to an LRS (the real client still sends it)."""
    sent = []
    real = client.post_statements

    def spy(lrs, statements):
        sent.append([s["id"] for s in statements])
        return real(lrs, statements)

    monkeypatch.setattr(client, "post_statements", spy)
    return sent


def test_a_finished_lesson_arrives_in_the_lrs_and_reads_back_as_sent(cast, lesson, lrs_a, finish, posts):
    connect(cast.school_a, lrs_a.endpoint, "alpha")
    finish(lesson)
    (queued,) = outbox_rows()
    assert (queued.event, queued.status, queued.session_id) == ("xapi.lesson", "pending", lesson.pk)

    report = outbox.deliver_due()
    rows = statement_rows()
    assert len(rows) == 9 and {r.status for r in rows} == {"succeeded"}
    assert {r.response_status for r in rows} == {200}
    assert (report.attempted, report.succeeded) == (10, 10)  # the lesson, composed, and its nine statements
    assert len(posts) == 1  # one batch

    stored = {s["id"]: s for s in lrs_a.statements("alpha", registration=str(lesson.uuid))}
    assert set(stored) == {str(r.event_id) for r in rows}
    for row in rows:
        assert str(row.event_id) == row.payload["id"]
        back = lrs_a.statement("alpha", row.payload["id"])
        for field in LRS_FIELDS:
            assert back.get(field) == row.payload.get(field), (row.event, field)
        assert back["stored"] and back["authority"]  # what the LRS adds


def test_the_lrs_down_for_the_whole_lesson_and_an_hour_then_up_gets_everything_once(
    cast, lesson, finish, posts, tmp_path
):
    port = free_port()  # nothing listens there until the LRS "comes back"
    connect(cast.school_a, f"http://127.0.0.1:{port}/xAPI/", "alpha")
    finish(lesson)
    t0 = timezone.now()
    minute = 0.0
    while minute <= 60:
        outbox.deliver_due(now=t0 + timedelta(minutes=minute))
        minute += 0.5
    rows = statement_rows()
    assert len(rows) == 9 and {r.status for r in rows} == {"pending"}
    attempts_down = rows[0].attempts
    assert {r.attempts for r in rows} == {attempts_down}
    assert "ConnectionRefusedError" in rows[0].last_error or "refused" in rows[0].last_error.lower()
    posts_down = len(posts)

    with Ralph(tmp_path, {"alpha": PASSWORDS["alpha"]}, port=port) as lrs:
        up = 60.0
        while {r.status for r in statement_rows()} != {"succeeded"}:
            minute += 0.5
            assert minute < up + 15, "everything arrives within a retry pause of the LRS coming back"
            outbox.deliver_due(now=t0 + timedelta(minutes=minute))
        delay = minute - up
        lines = lrs.stored_lines("alpha")
        assert len(lines) == 9 and len({s["id"] for s in lines}) == 9  # everything, once
        assert {s["id"] for s in lrs.statements("alpha", registration=str(lesson.uuid))} == {
            str(r.event_id) for r in rows
        }
    print(
        f"\nLRS down 60 min: 9 statements, {attempts_down} attempts each while down ({posts_down} POSTs, one "
        f"batch each), delivered {delay:g} simulated min after the LRS came back, {len(lines)} stored, 0 duplicates"
    )


def test_a_crash_between_the_post_and_the_bookkeeping_makes_no_duplicate(
    cast, lesson, lrs_a, finish, monkeypatch
):
    connect(cast.school_a, lrs_a.endpoint, "alpha")
    finish(lesson)
    real = delivery.record

    def die_after_the_post(row, outcome, now, **kwargs):
        if row.event != "xapi.lesson" and outcome.ok:
            raise SystemError("the worker died before it could write down the LRS's answer")
        return real(row, outcome, now, **kwargs)

    monkeypatch.setattr(delivery, "record", die_after_the_post)
    t0 = timezone.now()
    outbox.deliver_due(now=t0)
    rows = statement_rows()
    assert {r.status for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}, [
        (r.last_error, r.response_status) for r in rows
    ]
    ids = {str(r.event_id) for r in rows}
    assert {s["id"] for s in lrs_a.statements("alpha", registration=str(lesson.uuid))} == ids  # it got them

    monkeypatch.setattr(delivery, "record", real)
    assert (
        outbox.deliver_due(now=t0 + timedelta(seconds=10)).attempted == 0
    )  # still claimed by the dead worker
    outbox.deliver_due(now=t0 + outbox.CLAIM_LEASE)  # the claim expired: sent again
    rows = statement_rows()
    assert {r.status for r in rows} == {"succeeded"}
    assert {r.response_status for r in rows} == {204}  # the LRS already had every one of them
    mine = [s for s in lrs_a.stored_lines("alpha") if s["id"] in ids]
    assert len(mine) == 9


def test_statements_go_in_batches_of_the_configured_size(cast, lesson, lrs_a, finish, posts, settings):
    settings.FERMONITOR_XAPI_BATCH_SIZE = 4
    connect(cast.school_a, lrs_a.endpoint, "alpha")
    finish(lesson)
    outbox.deliver_due()
    assert [len(batch) for batch in posts] == [4, 4, 1]
    assert {r.status for r in statement_rows()} == {"succeeded"}


def test_a_statement_the_lrs_has_with_other_content_counts_as_delivered_and_the_rest_still_goes(
    cast, lesson, lrs_a, finish
):
    lrs = connect(cast.school_a, lrs_a.endpoint, "alpha")
    finish(lesson)
    with scopes_disabled():
        from analytics.lms.xapi.services import queue_lesson

        rows = queue_lesson(lrs, lesson, now=timezone.now())
    attended = next(r for r in rows if r.event == "xapi.attended")
    older = {**attended.payload, "result": {**attended.payload["result"], "duration": "PT1S"}}
    assert client.post_statements(lrs, [older]).status == 200  # e.g. sent by an earlier version

    outbox.deliver_due()
    rows = {r.event_id: r for r in statement_rows()}
    assert {r.status for r in rows.values()} == {"succeeded"}
    assert rows[attended.event_id].response_status == 409
    assert {r.response_status for k, r in rows.items() if k != attended.event_id} == {204}  # sent alone (PUT)
    assert lrs_a.statement("alpha", older["id"])["result"]["duration"] == "PT1S"  # the LRS keeps its copy


def test_a_statement_the_lrs_rejects_is_given_up_at_once_and_the_others_are_delivered(
    cast, lesson, lrs_a, finish
):
    lrs = connect(cast.school_a, lrs_a.endpoint, "alpha")
    finish(lesson)
    with scopes_disabled():
        from analytics.lms.xapi.services import queue_lesson

        rows = queue_lesson(lrs, lesson, now=timezone.now())
        broken = rows[0]
        del broken.payload["verb"]  # e.g. queued by a buggy release
        broken.save(update_fields=["payload"])

    outbox.deliver_due()
    rows = {r.pk: r for r in statement_rows()}
    assert rows[broken.pk].status == "failed" and rows[broken.pk].response_status == 422  # ralph's "invalid"
    assert rows[broken.pk].attempts == 1 and '"verb"],"msg":"Field required"' in rows[broken.pk].last_error
    assert {r.status for pk, r in rows.items() if pk != broken.pk} == {"succeeded"}
    assert lrs_a.statement("alpha", broken.payload["id"]) is None


def test_429_and_5xx_are_retried_with_backoff_and_retry_after(cast, lesson, finish):
    answers = [(503, {}), (429, {"Retry-After": "120"})]
    with StubLrs(answers) as stub:
        connect(cast.school_a, stub.endpoint, "alpha", version="2.0.0")
        finish(lesson)
        t0 = timezone.now()
        outbox.deliver_due(now=t0)
        (row, *_) = statement_rows()
        assert (row.status, row.attempts, row.response_status) == ("pending", 1, 503)
        assert row.next_attempt_at == t0 + timedelta(seconds=30)

        outbox.deliver_due(now=t0 + timedelta(seconds=30))
        (row, *_) = statement_rows()
        assert (row.attempts, row.response_status) == (2, 429)
        assert row.next_attempt_at == t0 + timedelta(
            seconds=30 + 120
        )  # the LRS asked for 120 s, more than 60

        assert outbox.deliver_due(now=t0 + timedelta(seconds=149)).attempted == 0
        outbox.deliver_due(now=t0 + timedelta(seconds=150))
        assert {r.status for r in statement_rows()} == {"succeeded"}
        assert len(stub.requests) == 3
        headers = stub.requests[0]["headers"]
        assert headers["x-experience-api-version"] == "2.0.0"
        assert headers["authorization"] == "Basic " + base64.b64encode(b"alpha:alpha-lrs-secret").decode()


def test_after_the_give_up_time_statements_fail_visibly_and_are_resent_from_the_page(
    cast, lesson, finish, tmp_path
):
    port = free_port()
    lrs = connect(cast.school_a, f"http://127.0.0.1:{port}/xAPI/", "alpha", give_up_after_hours=1)
    finish(lesson)
    t0 = timezone.now()
    for minute in range(0, 70, 5):
        outbox.deliver_due(now=t0 + timedelta(minutes=minute))
    rows = statement_rows()
    assert {r.status for r in rows} == {"failed"}
    assert all(r.last_attempt_at >= t0 + timedelta(hours=1) for r in rows)  # one last try at the deadline

    alice = admin_client(cast)
    page = alice.get("/school/integrations/").content.decode()
    assert "9 statements could not be delivered before the give-up time." in page
    assert "Resend failed statements" in page

    with Ralph(tmp_path, {"alpha": PASSWORDS["alpha"]}, port=port) as server:
        alice.post("/school/integrations/lrs/resend-failed")
        outbox.deliver_due()
        assert {r.status for r in statement_rows()} == {"succeeded"}
        assert len(server.stored_lines("alpha")) == 9
    assert "could not be delivered" not in alice.get("/school/integrations/").content.decode()
    assert [r.attempts for r in statement_rows()] == [1] * 9  # resent with a fresh count and give-up time
    assert lrs.give_up_after_hours == 1


def test_switched_off_nothing_is_queued_and_queued_statements_wait(cast, lesson, lrs_a, finish, posts):
    lrs = connect(cast.school_a, lrs_a.endpoint, "alpha")
    finish(lesson)
    with scopes_disabled():
        lrs.enabled = False
        lrs.save()
    outbox.deliver_due()
    assert posts == []
    rows = statement_rows()
    assert {r.status for r in rows} == {"pending"} and {r.attempts for r in rows} == {0}, [
        (r.last_error, r.response_status) for r in rows
    ]
    assert "switched off" in rows[0].last_error

    with scopes_disabled():
        lrs.enabled = True
        lrs.save()
    outbox.deliver_due(now=timezone.now() + delivery.PAUSED_RECHECK)
    assert {r.status for r in statement_rows()} == {"succeeded"}

    from classes import services

    with scopes_disabled():
        lrs.enabled = False
        lrs.save()
        services.start_session(cast.a_scheduled)
    finish(cast.a_scheduled)
    assert len(outbox_rows(event="xapi.lesson")) == 1  # only the lesson that ended while it was on


def test_each_schools_statements_go_to_its_own_lrs_only(cast, lesson, lrs_servers, finish):
    connect(cast.school_a, lrs_servers.a.endpoint, "alpha")
    connect(cast.school_b, lrs_servers.b.endpoint, "beta")
    record_frames(cast.b_live, cast.bea, cast.b_live.started_at + timedelta(seconds=5), 10)
    finish(lesson)
    finish(cast.b_live)
    outbox.deliver_due()
    assert {r.status for r in statement_rows()} == {"succeeded"}

    a_lines = lrs_servers.a.stored_lines("alpha")
    b_lines = lrs_servers.b.stored_lines("beta")
    assert {s["context"]["registration"] for s in b_lines} == {str(cast.b_live.uuid)}
    assert str(cast.b_live.uuid) not in {s["context"].get("registration") for s in a_lines}
    assert str(cast.bea.uuid) not in str(a_lines) and str(cast.sam.uuid) not in str(b_lines)
    assert (
        len(lrs_servers.b.statements("beta", registration=str(cast.b_live.uuid))) == 4
    )  # joined, left, attended, summary
    assert lrs_servers.b.statements("beta", registration=str(lesson.uuid)) == []
    with scopes_disabled():
        for row in statement_rows():
            assert row.lrs.school_id == row.school_id == row.session.classroom.school_id


def test_statements_are_composed_only_after_the_settle_time(cast, lesson, lrs_a, finish, settings):
    settings.FERMONITOR_XAPI_SETTLE_SECONDS = 15
    connect(cast.school_a, lrs_a.endpoint, "alpha")
    finish(lesson)
    ended = lesson.ended_at
    (queued,) = outbox_rows()
    assert queued.next_attempt_at >= ended + timedelta(seconds=15)
    # A sample still being written by another server process when the lesson ended is included.
    record_frames(lesson, cast.sam, ended - timedelta(seconds=1), 1)
    assert outbox.deliver_due(now=ended + timedelta(seconds=5)).attempted == 0
    outbox.deliver_due(now=ended + timedelta(seconds=16))
    sams_last_left = max(
        (
            r.payload
            for r in statement_rows(event="xapi.left")
            if r.payload["actor"]["account"]["name"] == str(cast.sam.uuid)
        ),
        key=lambda s: s["timestamp"],
    )
    assert sams_last_left["timestamp"] == st.timestamp(ended - timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_without_a_worker_a_background_thread_sends_the_lesson_after_the_settle_time(
    transactional_cast, lrs_a, settings
):
    import time

    from analytics.lms.models import DeliveryStatus

    settings.FERMONITOR_WEBHOOK_DELIVERY = "thread"
    settings.FERMONITOR_XAPI_SETTLE_SECONDS = 1
    cast = transactional_cast
    connect(cast.school_a, lrs_a.endpoint, "alpha")
    record_frames(cast.a_live, cast.sam, cast.a_live.started_at + timedelta(seconds=5), 5)
    end(cast.a_live)
    for _ in range(100):
        rows = statement_rows()
        if rows and all(r.status == DeliveryStatus.SUCCEEDED for r in rows):
            break
        time.sleep(0.2)
    assert len(rows) == 4 and {r.status for r in rows} == {"succeeded"}
    assert len(lrs_a.statements("alpha", registration=str(cast.a_live.uuid))) == 4
