"""The student stream socket: who may connect (close codes), bad frames, the ack flow, batched storage."""

import asyncio
import uuid

import pytest

from analytics.models import EMOTION_FIELDS, EMOTIONS

from .conftest import FRAME_GAP, db, expect_refusal, open_stream, send_frame, socket, stream_path

pytestmark = pytest.mark.django_db(transaction=True)


# --- who may stream -----------------------------------------------------------------------------------------


async def test_anonymous_user_is_closed_with_4401(transactional_cast):
    await expect_refusal(socket(stream_path(transactional_cast.a_live)), 4401, "not_authenticated")


async def test_student_of_another_school_cannot_see_the_session_4404(transactional_cast, cookies):
    await expect_refusal(socket(stream_path(transactional_cast.a_live), cookies.bea), 4404, "unknown_session")


async def test_unknown_session_uuid_is_closed_with_4404(transactional_cast, cookies):
    communicator = socket(f"/ws/live/{uuid.uuid4()}/stream/", cookies.sam)
    await expect_refusal(communicator, 4404, "unknown_session")


async def test_student_not_enrolled_is_closed_with_4403(transactional_cast, cookies):
    message = await expect_refusal(
        socket(stream_path(transactional_cast.a_live), cookies.nina), 4403, "not_enrolled"
    )
    assert "not enrolled" in message["message"]


async def test_student_without_consent_is_closed_with_4403(transactional_cast, cookies):
    message = await expect_refusal(
        socket(stream_path(transactional_cast.a_live), cookies.nora), 4403, "no_consent"
    )
    assert "consent" in message["message"]


@pytest.mark.parametrize("session_name", ["a_scheduled", "a_ended"])
async def test_session_that_is_not_live_is_closed_with_4409(transactional_cast, cookies, session_name):
    session = getattr(transactional_cast, session_name)
    await expect_refusal(socket(stream_path(session), cookies.sam), 4409, "not_live")


@pytest.mark.parametrize("who", ["tom", "alice"])
async def test_teacher_or_admin_on_the_student_socket_is_closed_with_4403(transactional_cast, cookies, who):
    await expect_refusal(
        socket(stream_path(transactional_cast.a_live), getattr(cookies, who)), 4403, "not_a_student"
    )


async def test_platform_operator_is_not_a_streaming_student(transactional_cast, cookies):
    await expect_refusal(socket(stream_path(transactional_cast.a_live), cookies.op), 4403, "not_a_student")


async def test_enrolled_consenting_student_gets_the_session_settings(fast_session, cookies):
    communicator, hello = await open_stream(fast_session, cookies.sam)
    assert hello == {
        "type": "hello",
        "session": str(fast_session.uuid),
        "width": 320,
        "height": 240,
        "rate": 5.0,
        "presence_only": False,
        "max_bytes": 256 * 1024,
    }
    await communicator.disconnect()


# --- frames -------------------------------------------------------------------------------------------------


def samples_of(session, student):
    from analytics.models import EmotionSample

    return list(EmotionSample.objects.filter(session=session, student=student).order_by("captured_at", "pk"))


async def test_each_frame_is_acknowledged_with_the_result_and_stored(
    fast_session, cookies, face_jpeg, empty_jpeg, transactional_cast
):
    communicator, _ = await open_stream(fast_session, cookies.sam)
    first = await send_frame(communicator, face_jpeg)
    assert first["type"] == "result" and first["n"] == 1
    assert first["face"] is True and first["faces"] == 1
    assert first["emotion"] in EMOTIONS and 0 < first["confidence"] <= 1
    assert 0 < first["next_in_ms"] <= 220  # 1/rate, +-10% (see next_frame_due)
    await asyncio.sleep(FRAME_GAP)
    second = await send_frame(communicator, empty_jpeg)
    assert second["n"] == 2 and second["face"] is False and second["faces"] == 0
    assert second["emotion"] is None
    await communicator.disconnect()

    samples = await db(lambda: samples_of(fast_session, transactional_cast.sam))
    assert len(samples) == 2
    with_face, without = samples
    assert with_face.face_count == 1 and with_face.emotion == first["emotion"]
    assert with_face.confidence == pytest.approx(first["confidence"], abs=1e-3)
    assert sum(getattr(with_face, f) for f in EMOTION_FIELDS) == pytest.approx(1.0, abs=1e-3)
    assert without.face_count == 0 and without.emotion == "" and without.probabilities is None


async def test_oversized_frame_gets_an_error_and_the_socket_keeps_working(
    fast_session, cookies, face_jpeg, settings, transactional_cast
):
    settings.FERMONITOR_MAX_FRAME_BYTES = len(face_jpeg) + 10
    communicator, hello = await open_stream(fast_session, cookies.sam)
    assert hello["max_bytes"] == len(face_jpeg) + 10
    error = await send_frame(communicator, face_jpeg + b"\0" * 100)
    assert error["type"] == "error" and error["code"] == "too_large"
    assert str(len(face_jpeg) + 100) in error["message"]
    result = await send_frame(communicator, face_jpeg)
    assert result["type"] == "result" and result["n"] == 1 and result["face"]
    await communicator.disconnect()
    assert len(await db(lambda: samples_of(fast_session, transactional_cast.sam))) == 1


async def test_frames_faster_than_the_session_rate_are_refused_not_dropped(
    fast_session, cookies, face_jpeg, transactional_cast
):
    communicator, _ = await open_stream(fast_session, cookies.sam)
    assert (await send_frame(communicator, face_jpeg))["type"] == "result"
    too_fast = await send_frame(communicator, face_jpeg)
    assert too_fast["type"] == "error" and too_fast["code"] == "too_fast"
    assert 0 < too_fast["next_in_ms"] <= 220
    await asyncio.sleep(too_fast["next_in_ms"] / 1000 + 0.01)
    result = await send_frame(communicator, face_jpeg)
    assert result["type"] == "result" and result["n"] == 2
    await communicator.disconnect()
    assert len(await db(lambda: samples_of(fast_session, transactional_cast.sam))) == 2


@pytest.mark.parametrize(
    "garbage",
    [b"", b"definitely not a jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 64, "truncated"],
    ids=["empty", "text-bytes", "jpeg-header-only", "truncated-jpeg"],
)
async def test_undecodable_frame_gets_an_error_reply_and_the_next_frame_works(
    fast_session, cookies, face_jpeg, transactional_cast, garbage
):
    if garbage == "truncated":
        garbage = face_jpeg[: len(face_jpeg) // 3]
    communicator, _ = await open_stream(fast_session, cookies.sam)
    error = await send_frame(communicator, garbage)
    assert error["type"] == "error" and error["code"] == "bad_frame", error
    await asyncio.sleep(FRAME_GAP)
    result = await send_frame(communicator, face_jpeg)
    assert result["type"] == "result" and result["face"]
    await communicator.disconnect()
    samples = await db(lambda: samples_of(fast_session, transactional_cast.sam))
    assert len(samples) == 1, "a bad frame stores nothing"


async def test_text_messages_get_an_error_reply_and_the_socket_keeps_working(
    fast_session, cookies, face_jpeg
):
    communicator, _ = await open_stream(fast_session, cookies.sam)
    await communicator.send_to(text_data='{"frame": "base64..."}')
    error = await communicator.receive_json_from()
    assert error["type"] == "error" and error["code"] == "text_not_supported"
    result = await send_frame(communicator, face_jpeg)
    assert result["type"] == "result" and result["n"] == 1
    await communicator.disconnect()


async def test_a_bad_stream_does_not_disturb_another_students_stream(
    fast_session, cookies, face_jpeg, transactional_cast
):
    from django_scopes import scopes_disabled

    from classes import services

    def enrol_nina():
        with scopes_disabled():
            services.enrol_students(fast_session.classroom, [transactional_cast.nina])

    await db(enrol_nina)
    good, _ = await open_stream(fast_session, cookies.sam)
    bad, _ = await open_stream(fast_session, cookies.nina)
    for _ in range(3):
        errors = await asyncio.gather(send_frame(bad, b"garbage"), send_frame(good, face_jpeg))
        assert errors[0]["code"] == "bad_frame" and errors[1]["type"] == "result"
        await asyncio.sleep(FRAME_GAP)
    await bad.disconnect()
    await good.disconnect()


# --- storage ------------------------------------------------------------------------------------------------


async def test_samples_are_written_in_batches_and_flushed_on_disconnect(
    fast_session, cookies, face_jpeg, transactional_cast
):
    from analytics.sample_writer import writer

    sample_writer = writer()
    sample_writer.flush_interval, interval = 60.0, sample_writer.flush_interval
    try:
        communicator, _ = await open_stream(fast_session, cookies.sam)
        acks = 0
        for _ in range(6):
            reply = await send_frame(communicator, face_jpeg)
            acks += reply["type"] == "result"
            await asyncio.sleep(FRAME_GAP)
        assert acks == 6
        # Nothing written per frame: the rows wait in the buffer for the next batch.
        assert await db(lambda: samples_of(fast_session, transactional_cast.sam)) == []
        await communicator.disconnect()
        samples = await db(lambda: samples_of(fast_session, transactional_cast.sam))
        assert len(samples) == acks
        assert all(s.face_count == 1 and s.emotion for s in samples)
    finally:
        sample_writer.flush_interval = interval


async def test_presence_only_school_never_computes_nor_stores_emotions(
    fast_session, cookies, face_jpeg, transactional_cast, monkeypatch
):
    from django_scopes import scopes_disabled

    from analytics.live import pipeline

    def presence_only():
        with scopes_disabled():
            transactional_cast.school_a.presence_only = True
            transactional_cast.school_a.save(update_fields=["presence_only"])

    await db(presence_only)
    calls, results = [], []
    original = pipeline._analyze

    def spy(frame, emotions):
        calls.append(emotions)
        result = original(frame, emotions)
        results.append(result)
        return result

    monkeypatch.setattr(pipeline, "_analyze", spy)
    communicator, hello = await open_stream(fast_session, cookies.sam)
    assert hello["presence_only"] is True
    reply = await send_frame(communicator, face_jpeg)
    assert reply["type"] == "result" and reply["face"] is True
    assert "emotion" not in reply and "confidence" not in reply
    await communicator.disconnect()

    assert calls == [False], "the engine was asked for emotions"
    assert len(results[0].faces) == 1
    assert all(f.probabilities is None and f.emotion is None for f in results[0].faces)
    (sample,) = await db(lambda: samples_of(fast_session, transactional_cast.sam))
    assert sample.face_count == 1
    assert sample.emotion == "" and sample.confidence is None
    assert all(getattr(sample, name) is None for name in EMOTION_FIELDS)


# --- the session's life -------------------------------------------------------------------------------------


async def test_ending_the_session_closes_streams_gracefully(
    fast_session, cookies, face_jpeg, transactional_cast
):
    from django_scopes import scopes_disabled

    from classes import services

    communicator, _ = await open_stream(fast_session, cookies.sam)
    assert (await send_frame(communicator, face_jpeg))["type"] == "result"

    def end():
        with scopes_disabled():
            services.end_session(fast_session)

    await db(end)
    ended = await communicator.receive_json_from(timeout=5)
    assert ended["type"] == "ended" and "ended" in ended["message"]
    assert await communicator.receive_output(timeout=5) == {
        "type": "websocket.close",
        "code": 4410,
        "reason": "session_ended",
    }
    assert len(await db(lambda: samples_of(fast_session, transactional_cast.sam))) == 1
    await expect_refusal(socket(stream_path(fast_session), cookies.sam), 4409, "not_live")


async def test_joining_again_from_another_window_closes_the_first_stream(fast_session, cookies, face_jpeg):
    first, _ = await open_stream(fast_session, cookies.sam)
    second, _ = await open_stream(fast_session, cookies.sam)
    replaced = await first.receive_json_from(timeout=5)
    assert replaced["type"] == "refused" and replaced["code"] == "replaced"
    assert (await first.receive_output(timeout=5))["code"] == 4408
    assert (await send_frame(second, face_jpeg))["type"] == "result"
    await second.disconnect()


def test_frame_schedule_is_jittered_around_the_rate_and_never_too_fast():
    """Students read in the same event-loop turn must not be told to send at the same instant again (they would
    stay one burst forever), yet a student who follows the schedule is never refused as too fast."""
    import random
    import statistics

    from analytics.live.consumers import RATE_TOLERANCE, next_frame_due

    rng = random.Random(7)
    interval = 0.5
    gaps = [next_frame_due(100.0, interval, rng) - 100.0 for _ in range(2000)]
    assert min(gaps) >= 0.9 * interval > RATE_TOLERANCE * interval
    assert max(gaps) <= 1.1 * interval
    assert statistics.fmean(gaps) == pytest.approx(interval, rel=0.01)  # the session rate on average
    # Two students read together are, after ten frames, typically tens of milliseconds apart.
    drift = [
        sum(next_frame_due(0, interval, rng) - next_frame_due(0, interval, rng) for _ in range(10))
        for _ in range(200)
    ]
    assert statistics.pstdev(drift) > 0.05 * interval
