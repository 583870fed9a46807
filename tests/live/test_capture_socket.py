"""The teacher's capture of the lesson's video call: who may send it (close codes), limits and bad frames, every
face tracked as a call participant, stored and shown on dashboards, assignment, presence-only schools, the end of
the share, the session or the socket, resuming, and proof that no captured frame is written anywhere."""

import asyncio
import json
import sys
import threading
import uuid

import pytest

from analytics.models import EMOTION_FIELDS, EMOTIONS

from .conftest import db, expect_refusal, jpeg, send_frame, socket
from .test_dashboard import open_dashboard, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

GAP = 0.25  # seconds between frames at the fast session's 5/s


def capture_path(session) -> str:
    return f"/ws/live/{session.uuid}/capture/"


def _school_settings(cast, **values):
    from django_scopes import scopes_disabled

    def save():
        with scopes_disabled():
            for name, value in values.items():
                setattr(cast.school_a, name, value)
            cast.school_a.save(update_fields=list(values))

    return db(save)


@pytest.fixture
async def capture_on(transactional_cast, fast_session):
    """School A reads lessons' video calls; a_live runs at 5 frames/s."""
    await _school_settings(transactional_cast, call_capture=True)
    return fast_session


@pytest.fixture(autouse=True)
def _fresh_capture_states():
    from analytics.live import capture

    capture.forget_all()
    yield
    capture.forget_all()


@pytest.fixture(scope="module")
def galleries():
    """Real galleries composed from ../shared/data/faces (`inference.gallery_builder`, with name labels): a 3x3 of
    9 people and a 2x2 of 4 others, both at 1280x720. (How well the tracker follows re-ordered and re-sized
    galleries is tested with the tracker, in tests/inference.)"""
    from inference.paths import shared_data_dir

    if not (shared_data_dir() / "faces").is_dir():
        pytest.skip(f"No shared face photos at {shared_data_dir() / 'faces'} (set FERMONITOR_SHARED_DIR)")
    from inference.gallery_builder import build_gallery, shared_people

    people = shared_people(9, seed=3)
    return {
        "nine": build_gallery(people, 3, 3, (1280, 720)),
        "four": build_gallery(shared_people(4, seed=11), 2, 2, (1280, 720)),
    }


async def open_capture(session, cookie, expect_resumed=None):
    communicator = socket(capture_path(session), cookie)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    # The first capture of a process imports the tracker (seconds on a busy machine) before it says hello.
    hello = await communicator.receive_json_from(timeout=60)
    assert hello["type"] == "hello", hello
    if expect_resumed is not None:
        assert hello["resumed"] is expect_resumed
    return communicator, hello


async def send_command(communicator, command: str) -> dict:
    await communicator.send_to(text_data=json.dumps({"type": command}))
    return await communicator.receive_json_from(timeout=10)


def participants_of(session):
    from analytics.models import CallParticipant

    return list(CallParticipant.objects.filter(session=session).order_by("number"))


def participant_samples(session):
    from analytics.models import EmotionSample

    return list(
        EmotionSample.objects.filter(session=session, participant__isnull=False).order_by("captured_at")
    )


# --- who may read the call ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "close_code", "code"),
    [
        (None, 4401, "not_authenticated"),
        ("sam", 4403, "forbidden"),  # a student of the class
        ("nora", 4403, "forbidden"),
        ("tess", 4403, "forbidden"),  # a teacher of the school, not of this class
        ("op", 4403, "forbidden"),  # platform operators do not capture a school's calls
        ("bill", 4404, "unknown_session"),  # another school's teacher: the session does not exist for him
        ("bob", 4404, "unknown_session"),  # another school's admin
        ("bea", 4404, "unknown_session"),  # another school's student
    ],
)
async def test_only_the_class_teacher_and_school_admins_read_the_call(
    capture_on, cookies, who, close_code, code
):
    cookie = getattr(cookies, who) if who else None
    await expect_refusal(socket(capture_path(capture_on), cookie), close_code, code)


async def test_unknown_session_is_4404(capture_on, cookies):
    await expect_refusal(socket(f"/ws/live/{uuid.uuid4()}/capture/", cookies.tom), 4404, "unknown_session")


async def test_a_school_that_has_not_turned_call_capture_on_is_refused_with_the_reason(fast_session, cookies):
    message = await expect_refusal(socket(capture_path(fast_session), cookies.tom), 4403, "capture_disabled")
    assert "school settings" in message["message"]


@pytest.mark.parametrize("session_name", ["a_scheduled", "a_ended"])
async def test_a_session_that_is_not_live_is_4409(capture_on, transactional_cast, cookies, session_name):
    session = getattr(transactional_cast, session_name)
    await expect_refusal(socket(capture_path(session), cookies.tom), 4409, "not_live")


@pytest.mark.parametrize("who", ["tom", "alice"])
async def test_the_teacher_and_an_admin_get_the_limits(capture_on, cookies, who):
    communicator, hello = await open_capture(capture_on, getattr(cookies, who), expect_resumed=False)
    assert hello == {
        "type": "hello",
        "session": str(capture_on.uuid),
        "rate": 5.0,
        "max_width": 1920,
        "max_height": 1920,
        "max_bytes": 1024 * 1024,
        "presence_only": False,
        "resumed": False,
        "participants": [],
    }
    await communicator.disconnect()


# --- frames ---------------------------------------------------------------------------------------------------


async def test_every_face_of_a_real_gallery_becomes_a_tracked_stored_participant(
    capture_on, cookies, galleries
):
    communicator, _ = await open_capture(capture_on, cookies.tom)
    first = await send_frame(communicator, galleries["nine"].jpeg())
    assert first["type"] == "result" and first["n"] == 1, first
    assert first["faces"] >= 8, "at least 8 of the 9 faces found"
    numbers = sorted(p["number"] for p in first["participants"])
    assert numbers == list(range(1, len(numbers) + 1))
    for p in first["participants"]:
        assert p["name"] == f"Participant {p['number']}" and p["emotion"] in EMOTIONS
        assert 0 < p["confidence"] <= 1 and len(p["box"]) == 4
    boxes = {p["number"]: p["box"] for p in first["participants"]}
    await asyncio.sleep(GAP)
    second = await send_frame(communicator, galleries["nine"].jpeg())
    assert {p["number"]: p["box"] for p in second["participants"]} == boxes, "same tiles, same numbers"
    await communicator.disconnect()

    participants = await db(lambda: participants_of(capture_on))
    assert [p.number for p in participants] == numbers
    assert all(p.source == "live_call" and p.student_id is None for p in participants)
    samples = await db(lambda: participant_samples(capture_on))
    assert len(samples) == 2 * len(numbers)
    assert all(s.student_id is None and s.face_count == 1 and s.emotion in EMOTIONS for s in samples)
    assert all(sum(getattr(s, f) for f in EMOTION_FIELDS) == pytest.approx(1, abs=1e-3) for s in samples)


async def test_oversized_too_wide_garbage_and_text_frames_get_errors_and_the_socket_keeps_working(
    capture_on, cookies, galleries, settings
):
    from PIL import Image

    frame = galleries["four"].jpeg()
    settings.FERMONITOR_MAX_CAPTURE_BYTES = len(frame) + 10
    communicator, hello = await open_capture(capture_on, cookies.tom)
    assert hello["max_bytes"] == len(frame) + 10
    too_large = await send_frame(communicator, frame + b"\0" * 100)
    assert too_large["code"] == "too_large" and str(len(frame) + 100) in too_large["message"]
    too_wide = await send_frame(communicator, jpeg(Image.new("RGB", (2400, 600), "grey"), quality=30))
    assert too_wide["code"] == "too_wide" and "2400x600" in too_wide["message"]
    await asyncio.sleep(GAP)
    for garbage in (b"", b"not a jpeg", frame[: len(frame) // 2]):
        error = await send_frame(communicator, garbage)
        assert error["type"] == "error" and error["code"] == "bad_frame", error
        await asyncio.sleep(GAP)
    bad = await send_command(communicator, "dance")
    assert bad["code"] == "bad_command"
    result = await send_frame(communicator, frame)
    assert result["type"] == "result" and result["n"] == 1 and result["faces"] >= 3
    await communicator.disconnect()
    assert len(await db(lambda: participant_samples(capture_on))) == result["faces"], (
        "bad frames store nothing"
    )


async def test_frames_faster_than_the_session_rate_are_refused(capture_on, cookies, galleries):
    from django_scopes import scopes_disabled

    def one_per_second():  # analysing a gallery takes longer than a 5/s session's tolerance
        with scopes_disabled():
            capture_on.frame_rate = 1.0
            capture_on.save(update_fields=["frame_rate"])

    await db(one_per_second)
    communicator, _ = await open_capture(capture_on, cookies.tom)
    assert (await send_frame(communicator, b"not a jpeg"))["code"] == "bad_frame"  # counts for the rate
    too_fast = await send_frame(communicator, galleries["four"].jpeg())
    assert too_fast["code"] == "too_fast" and 0 < too_fast["next_in_ms"] <= 1100
    await asyncio.sleep(too_fast["next_in_ms"] / 1000 + 0.01)
    assert (await send_frame(communicator, galleries["four"].jpeg()))["n"] == 1
    await communicator.disconnect()


async def test_presence_only_schools_read_calls_for_presence_only(
    capture_on, transactional_cast, cookies, galleries, monkeypatch
):
    from analytics.live import pipeline
    from inference.classifier import EmotionClassifier

    await _school_settings(transactional_cast, presence_only=True)
    asked = []
    original = pipeline.analyze_gallery_frame

    def spy(frame, emotions, *limits):
        asked.append(emotions)
        return original(frame, emotions, *limits)

    def never(*args, **kwargs):
        raise AssertionError("the emotion classifier ran in a presence-only school")

    monkeypatch.setattr(pipeline, "analyze_gallery_frame", spy)
    monkeypatch.setattr(EmotionClassifier, "classify", never)
    communicator, hello = await open_capture(capture_on, cookies.tom)
    assert hello["presence_only"] is True
    result = await send_frame(communicator, galleries["four"].jpeg())
    assert result["type"] == "result" and result["faces"] >= 3, result
    assert all("emotion" not in p and "confidence" not in p for p in result["participants"])
    await communicator.disconnect()
    assert asked == [False]
    samples = await db(lambda: participant_samples(capture_on))
    assert len(samples) == result["faces"]
    assert all(s.emotion == "" and s.confidence is None for s in samples)
    assert all(getattr(s, name) is None for s in samples for name in EMOTION_FIELDS)


# --- dashboards, assignment -----------------------------------------------------------------------------------


def _participants_in(message):
    return [s for s in message.get("students", []) if s.get("kind") == "participant"]


async def test_dashboards_show_a_card_per_participant_and_the_class_mood_over_all_faces(
    capture_on, cookies, galleries, face_jpeg
):
    from .conftest import open_stream

    dashboard, _, _ = await open_dashboard(capture_on, cookies.alice)
    communicator, _ = await open_capture(capture_on, cookies.tom)
    stream, _ = await open_stream(capture_on, cookies.sam)
    result = await send_frame(communicator, galleries["four"].jpeg())
    assert (await send_frame(stream, face_jpeg))["face"] is True
    cards = await wait_for(dashboard, lambda m: len(_participants_in(m)) >= result["faces"])
    for card in _participants_in(cards):
        assert card["name"] == f"Participant {card['number']}" and card["streaming"] and card["faces"] == 1
        assert card["emotion"] in EMOTIONS and card["id"] == f"p{card['id'][1:]}"
    snapshot = await wait_for(
        dashboard, lambda m: m["type"] == "snapshot" and m["counts"]["faces"] == result["faces"] + 1
    )
    assert snapshot["index"] is not None and sum(snapshot["distribution"].values()) == pytest.approx(
        1, abs=1e-3
    )
    await stream.disconnect()
    await communicator.disconnect()
    gone = await wait_for(
        dashboard, lambda m: _participants_in(m) and not _participants_in(m)[0]["connected"]
    )
    assert gone["type"] == "students"
    await dashboard.disconnect()

    # A dashboard opened later gets the participants from the database.
    later, history, _ = await open_dashboard(capture_on, cookies.tom)
    assert len([s for s in history["students"] if s.get("kind") == "participant"]) == result["faces"]
    await later.disconnect()


async def test_an_assignment_renames_the_card_and_later_samples_are_the_students(
    capture_on, cookies, galleries, transactional_cast
):
    from django.test import Client
    from django.urls import reverse
    from django_scopes import scopes_disabled

    from analytics.models import EmotionSample

    dashboard, _, _ = await open_dashboard(capture_on, cookies.tom)
    communicator, _ = await open_capture(capture_on, cookies.tom)
    frame = galleries["four"].jpeg()
    first = await send_frame(communicator, frame)
    one = next(p for p in first["participants"] if p["number"] == 1)

    def post_assignment(student):
        client = Client()
        client.force_login(transactional_cast.tom)
        url = reverse("assign_participant", args=[capture_on.uuid, one["participant"]])
        return client.post(url, json.dumps({"student": str(student.uuid)}), content_type="application/json")

    refused = await db(lambda: post_assignment(transactional_cast.nora))
    assert refused.status_code == 409 and refused.json()["code"] == "no_consent"
    done = await db(lambda: post_assignment(transactional_cast.sam))
    assert done.status_code == 200
    renamed = await wait_for(
        dashboard,
        lambda m: any(c["id"] == one["id"] and c["name"] == "Sam Alpha" for c in _participants_in(m)),
    )
    assert renamed["type"] == "students"
    await asyncio.sleep(GAP)
    second = await send_frame(communicator, frame)
    assert next(p for p in second["participants"] if p["number"] == 1)["name"] == "Sam Alpha"
    await communicator.disconnect()

    def split():
        with scopes_disabled():
            rows = EmotionSample.objects.filter(participant__number=1, session=capture_on)
            return sorted({s.student_id for s in rows})

    assert await db(split) == [transactional_cast.sam.pk], "both frames' samples are sam's"
    await dashboard.disconnect()


# --- the end of the share, the session, the socket ------------------------------------------------------------


async def test_ending_the_session_closes_the_capture_with_4410_and_keeps_every_result(
    capture_on, cookies, galleries
):
    from django_scopes import scopes_disabled

    from classes import services

    communicator, _ = await open_capture(capture_on, cookies.tom)
    result = await send_frame(communicator, galleries["four"].jpeg())

    def end():
        with scopes_disabled():
            services.end_session(capture_on)

    await db(end)
    ended = await communicator.receive_json_from(timeout=5)
    assert ended["type"] == "ended"
    assert await communicator.receive_output(timeout=5) == {
        "type": "websocket.close",
        "code": 4410,
        "reason": "session_ended",
    }
    assert len(await db(lambda: participant_samples(capture_on))) == result["faces"]
    await expect_refusal(socket(capture_path(capture_on), cookies.tom), 4409, "not_live")


async def test_a_dropped_capture_resumes_with_the_same_numbers(capture_on, cookies, galleries):
    frame = galleries["nine"].jpeg()
    communicator, _ = await open_capture(capture_on, cookies.tom)
    before = await send_frame(communicator, frame)
    await communicator.disconnect()  # the network dropped: no "stop"

    again, hello = await open_capture(capture_on, cookies.tom, expect_resumed=True)
    assert sorted(p["number"] for p in hello["participants"]) == sorted(
        p["number"] for p in before["participants"]
    )
    after = await send_frame(again, frame)
    assert {p["number"]: p["box"] for p in after["participants"]} == {
        p["number"]: p["box"] for p in before["participants"]
    }
    await again.disconnect()
    assert len(await db(lambda: participants_of(capture_on))) == before["faces"]


async def test_stopping_the_share_ends_the_capture_and_a_new_one_numbers_after_the_last(
    capture_on, cookies, galleries
):
    frame = galleries["four"].jpeg()
    communicator, _ = await open_capture(capture_on, cookies.tom)
    first = await send_frame(communicator, frame)
    assert (await send_command(communicator, "pause"))["type"] == "paused"
    assert (await send_command(communicator, "resume"))["type"] == "resumed"
    assert (await send_command(communicator, "stop"))["type"] == "stopped"
    assert (await communicator.receive_output(timeout=5))["code"] == 1000

    again, hello = await open_capture(capture_on, cookies.tom, expect_resumed=False)
    assert hello["participants"] == []
    later = await send_frame(again, frame)
    await again.disconnect()
    last = max(p["number"] for p in first["participants"])
    assert min(p["number"] for p in later["participants"]) == last + 1, "numbers are never reused"


async def test_a_second_capture_of_the_call_replaces_the_first(capture_on, cookies, galleries):
    first, _ = await open_capture(capture_on, cookies.tom)
    second, _ = await open_capture(capture_on, cookies.alice, expect_resumed=True)
    replaced = await first.receive_json_from(timeout=5)
    assert replaced["type"] == "refused" and replaced["code"] == "replaced"
    assert (await first.receive_output(timeout=5))["code"] == 4408
    assert (await send_frame(second, galleries["four"].jpeg()))["type"] == "result"
    await second.disconnect()


# --- privacy --------------------------------------------------------------------------------------------------

_watching = threading.Event()  # set while the test watches every thread of the process
_written: list = []
_launched: list = []


def _audit(event, args):
    if not _watching.is_set():
        return
    # open() of an int is a descriptor already open (a pipe to a subprocess, a socket): its file, if any, was
    # opened by os.open, watched below.
    if (
        event == "open"
        and not isinstance(args[0], int)
        and isinstance(args[1], str)
        and any(m in args[1] for m in "wax+")
    ):
        _written.append(("open", args[0], args[1]))
    elif event == "subprocess.Popen":  # reading name labels runs Tesseract: through pipes only
        _launched.append(list(args[1]))
    elif event == "os.open":
        import os

        if args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND):
            _written.append(("os.open", args[0], args[2]))


sys.addaudithook(_audit)


async def test_no_captured_frame_is_written_to_any_file_the_database_or_the_channel_layer(
    capture_on, cookies, galleries, monkeypatch
):
    """Frames travel over the capture socket only: no file is opened for writing while they are analysed (every
    thread of the process, through Python's audit hooks), name labels go to Tesseract through pipes, the channel
    layer carries only small JSON, and the database tables the capture writes have no column that could hold a
    picture."""
    from channels.layers import get_channel_layer
    from django.apps import apps

    layer = get_channel_layer()
    sent = []
    original = layer.group_send

    async def recording(group, message):
        sent.append(message)
        return await original(group, message)

    monkeypatch.setattr(layer, "group_send", recording)
    from analytics.live import capture, labels

    monkeypatch.setattr(capture, "LABEL_READ_SECONDS", 0.0)  # a name label read with every frame
    frame = galleries["nine"].jpeg()
    dashboard, _, _ = await open_dashboard(capture_on, cookies.tom)
    communicator, _ = await open_capture(capture_on, cookies.tom)
    await send_frame(communicator, frame)  # loads the models: reads files, writes none
    _written.clear()
    _launched.clear()
    try:
        _watching.set()
        for _ in range(3):
            await asyncio.sleep(GAP)
            assert (await send_frame(communicator, frame))["type"] == "result"
        await communicator.disconnect()  # flushes the samples
    finally:
        _watching.clear()
    await dashboard.disconnect()
    assert _written == []
    # Tesseract, where installed, reads the label crops from stdin and answers on stdout: no file in between.
    assert all(argv[:3] == ["tesseract", "stdin", "stdout"] for argv in _launched), _launched
    assert bool(_launched) == labels.available()
    assert sent, "participants were published"
    for message in sent:
        encoded = json.dumps(message).encode()
        assert len(encoded) < len(frame) / 4 and b"\xff\xd8" not in encoded
    for model in (apps.get_model("analytics", name) for name in ("EmotionSample", "CallParticipant")):
        kinds = {field.get_internal_type() for field in model._meta.concrete_fields}
        assert not kinds & {"BinaryField", "FileField", "ImageField", "TextField", "JSONField"}, model
