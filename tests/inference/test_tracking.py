"""Participant numbers across frames of a call gallery: stable while tiles stay, through re-ordered and re-sized
galleries and people joining, and new ones for people who come back after they were forgotten."""

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from inference import GalleryResult
from inference.blazeface import iou_matrix
from inference.gallery_builder import build_gallery, shared_people
from inference.tracking import ParticipantTracker

from .conftest import FACES

pytestmark = pytest.mark.skipif(
    not FACES.is_dir(), reason=f"no face photos at {FACES} (set FERMONITOR_SHARED_DIR to the shared folder)"
)


@pytest.fixture(scope="module")
def people():
    return shared_people(25, seed=2)  # 25 different people (the shared set has 26 portraits)


def moved(people, rng):
    """The same people a moment later: heads move a little, the camera's exposure drifts."""
    return [
        replace(
            p,
            face_height=p.face_height * rng.uniform(0.95, 1.05),
            offset_x=p.offset_x + rng.uniform(-0.03, 0.03),
            gain=p.gain * rng.uniform(0.95, 1.05),
        )
        for p in people
    ]


class Call:
    """Feeds galleries to one tracker and reports, per frame, each person's number (by name)."""

    def __init__(self, engine, tracker=None):
        self.engine = engine
        self.tracker = tracker or ParticipantTracker()
        self.rng = random.Random(7)

    def frame(self, people, rows, cols, at) -> dict[str, int]:
        gallery = build_gallery(moved(people, self.rng), rows, cols)
        result = self.engine.analyze_gallery(gallery.jpeg())
        numbers = self.tracker.update(result, at)
        assert numbers == [face.participant for face in result.faces]
        truth = np.array([[x, y, x + w, y + h] for x, y, w, h in gallery.faces], np.float32)
        found = np.array([[x, y, x + w, y + h] for x, y, w, h in (f.box for f in result.faces)], np.float32)
        overlap = iou_matrix(truth, found)
        named = {}
        for tile, row in zip(gallery.tiles, overlap, strict=True):
            if row.max() > 0.3:
                named[tile.name] = numbers[int(row.argmax())]
        assert len(named) >= len(gallery.tiles) - 1  # the detector may miss one face in a frame, no more
        return named


def agree(before: dict[str, int], after: dict[str, int]) -> None:
    common = before.keys() & after.keys()
    assert len(common) >= min(len(before), len(after)) - 2
    assert {name: after[name] for name in common} == {name: before[name] for name in common}


def test_numbers_start_at_1_and_stay_while_the_gallery_stays(engine, people):
    call = Call(engine)
    first = call.frame(people, 5, 5, 0.0)
    assert sorted(first.values()) == list(range(1, len(first) + 1))
    for second in range(1, 5):
        agree(first, call.frame(people, 5, 5, float(second)))
    # A blurred face in someone's background may come and go; nobody else gets a second number.
    assert len(call.tracker.participants) <= 25 + 3


def test_a_reordered_gallery_keeps_everyone_s_number(engine, people):
    call = Call(engine)
    before = call.frame(people, 5, 5, 0.0)
    call.frame(people, 5, 5, 1.0)
    shuffled = people[:]
    random.Random(3).shuffle(shuffled)
    for second in (2.0, 3.0, 4.0):
        agree(before, call.frame(shuffled, 5, 5, second))
    # Two participants swap tiles: position says "same", appearance says "swapped".
    swapped = people[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    agree(before, call.frame(swapped, 5, 5, 5.0))


def test_a_resized_gallery_keeps_everyone_s_number(engine, people):
    call = Call(engine)
    before = call.frame(people, 5, 5, 0.0)
    call.frame(people, 5, 5, 1.0)
    for second in (2.0, 3.0):
        after = call.frame(people[:16], 4, 4, second)  # the same call, window made smaller: a 4x4 page
        agree(before, after)
        assert len(after) >= 15
    agree(before, call.frame(people, 5, 5, 4.0))  # and back


def test_someone_joining_reflows_the_gallery_without_changing_the_others_numbers(engine, people):
    call = Call(engine)
    without = people[:12] + people[13:]
    before = call.frame(without, 5, 5, 0.0)
    call.frame(without, 5, 5, 1.0)
    after = call.frame(people, 5, 5, 2.0)  # everyone after tile 12 moves one tile on
    agree(before, after)
    newcomer = after[people[12].name]
    assert newcomer not in before.values()
    agree(after, call.frame(people, 5, 5, 3.0))


def test_a_participant_back_soon_keeps_the_number_and_one_back_after_long_gets_a_new_one(engine, people):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    call = Call(engine, ParticipantTracker(reid_seconds=30))
    everyone = people[:16]
    leaver = everyone[5]
    others = everyone[:5] + everyone[6:]
    before = call.frame(everyone, 4, 4, start)
    call.frame(others, 4, 4, start + timedelta(seconds=1))
    back_soon = call.frame(everyone, 4, 4, start + timedelta(seconds=10))
    agree(before, back_soon)
    call.frame(others, 4, 4, start + timedelta(seconds=11))
    call.frame(others, 4, 4, start + timedelta(seconds=50))  # 39 s without the leaver: forgotten
    back_late = call.frame(everyone, 4, 4, start + timedelta(seconds=51))
    assert back_late[leaver.name] not in before.values()
    agree({k: v for k, v in before.items() if k != leaver.name}, back_late)


def test_a_frame_without_faces_numbers_nothing_and_tracking_goes_on(engine, people):
    call = Call(engine)
    before = call.frame(people[:9], 3, 3, 0.0)
    assert call.tracker.update(GalleryResult(1920, 1080, [], {}), 1.0) == []
    agree(before, call.frame(people[:9], 3, 3, 2.0))
