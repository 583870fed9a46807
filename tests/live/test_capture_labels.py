"""Name labels under the call's video tiles: read with Tesseract to PROPOSE an assignment on the participant's card,
never to make one."""

import asyncio
import dataclasses

import pytest

from analytics.live import labels

from .conftest import db, send_frame
from .test_capture_socket import _participants_in, _school_settings, open_capture
from .test_dashboard import open_dashboard, wait_for

CLASS = [("u-sam", "Sam Alpha"), ("u-nora", "Nora Alpha"), ("u-kim", "Kim Lee")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sam Alpha", "u-sam"),
        ("sam alpha Nor . ee", "u-sam"),  # what Tesseract read under a real tile, with its neighbour's noise
        ("Sarn Alpha", "u-sam"),  # a typical misreading
        ("Kim L.", "u-kim"),  # first name and last initial, as display names often are
        ("Nóra Alpha", "u-nora"),
    ],
)
def test_a_label_that_names_one_enrolled_student_is_matched(text, expected):
    assert labels.match_name(text, CLASS)[0] == expected


@pytest.mark.parametrize("text", ["", "Amira A.", "Sam Alpha Nora Alpha", "Alpha", "iPhone de Sam", "Kim"])
def test_no_name_an_unknown_name_or_two_names_propose_nobody(text):
    assert labels.match_name(text, CLASS) is None


def test_first_name_and_initial_shared_by_two_students_proposes_nobody():
    assert labels.match_name("Sam A.", [*CLASS, ("u-sam2", "Sam Anders")]) is None


def test_the_label_region_is_below_and_left_of_the_face_inside_the_frame():
    x0, y0, x1, y1 = labels.label_region((500, 200, 100, 100), 1280, 720)
    assert x0 < 500 and x1 > 600 and y0 == 300 and y1 > 400
    assert labels.label_region((10, 650, 60, 60), 1280, 720) == (0, 710, 112, 720)


@pytest.mark.django_db(transaction=True)
async def test_a_tiles_name_label_is_proposed_on_the_card_and_nothing_is_assigned(
    transactional_cast, fast_session, cookies, monkeypatch
):
    if not labels.available():
        pytest.skip("Tesseract is not installed (apt-get install -y tesseract-ocr)")
    from inference.paths import shared_data_dir

    if not (shared_data_dir() / "faces").is_dir():
        pytest.skip(f"No shared face photos at {shared_data_dir() / 'faces'} (set FERMONITOR_SHARED_DIR)")
    from django_scopes import scopes_disabled

    from analytics.live import capture
    from analytics.models import CallParticipant, EmotionSample
    from inference.gallery_builder import build_gallery, shared_people

    monkeypatch.setattr(capture, "LABEL_READ_SECONDS", 0.0)
    await _school_settings(transactional_cast, call_capture=True)
    names = ["Sam Alpha", "Zed Quinn", "Ola Berg", "Ivo Kral"]
    people = [dataclasses.replace(p, name=n) for p, n in zip(shared_people(4, seed=11), names, strict=True)]
    frame = build_gallery(people, 2, 2, (1280, 720)).jpeg()

    dashboard, _, _ = await open_dashboard(fast_session, cookies.tom)
    communicator, _ = await open_capture(fast_session, cookies.tom)

    async def keep_sending():
        while True:
            assert (await send_frame(communicator, frame))["type"] == "result"
            await asyncio.sleep(0.3)

    sender = asyncio.create_task(keep_sending())
    try:
        proposed = await wait_for(
            dashboard,
            lambda m: any((c.get("proposal") or {}).get("name") == "Sam Alpha" for c in _participants_in(m)),
            timeout=120,
        )
    finally:
        sender.cancel()
    card = next(c for c in _participants_in(proposed) if c.get("proposal"))
    assert card["proposal"] == {"student": str(transactional_cast.sam.uuid), "name": "Sam Alpha"}
    assert card["name"].startswith("Participant ") and card["student_id"] is None
    await asyncio.gather(sender, return_exceptions=True)
    await communicator.disconnect()
    await dashboard.disconnect()

    def stored_under_sam():
        with scopes_disabled():
            return (
                CallParticipant.objects.filter(session=fast_session, student__isnull=False).count(),
                EmotionSample.objects.filter(session=fast_session, student=transactional_cast.sam).count(),
            )

    assert await db(stored_under_sam) == (0, 0), "a proposal never assigns"
