"""Detection on the real photographs in ../shared/data/faces (see its SOURCES.md)."""

import pytest

from inference import Engine

from .conftest import FACES

MULTI_PERSON = {
    # photo: faces clearly visible (SOURCES.md)
    "deepface__couple.jpg": 2,
    # "~7 faces, tilted/partial": four are whole; three are cut off by the frame's edges.
    "deepface__selfie-many-people.jpg": 4,
    "face_recognition__two_people.jpg": 2,
    "face_recognition__obama_and_biden.jpg": 2,
    "face_recognition__kit_with_rose.jpg": 2,
}
SINGLE_PERSON = sorted(
    p.name for p in FACES.iterdir() if p.suffix in {".jpg", ".png"} and p.name not in MULTI_PERSON
)
# Wide group shots with small faces need the full-range model, as a classroom camera would.
NEEDS_FULL_RANGE = {
    "face_recognition__obama_and_biden.jpg",
    "face_recognition__kit_with_rose.jpg",
    "deepface__couple.jpg",
    "deepface__selfie-many-people.jpg",
}
BIG_PHOTO_LIMIT = 10_000_000


@pytest.fixture(scope="module")
def engines():
    return {
        "short": Engine(max_pixels=BIG_PHOTO_LIMIT),
        "full": Engine(detector="full", max_pixels=BIG_PHOTO_LIMIT),
    }


def test_the_photo_set_is_complete():
    assert len(SINGLE_PERSON) + len(MULTI_PERSON) == 31


@pytest.mark.parametrize("name", SINGLE_PERSON)
def test_single_person_photo_yields_exactly_one_face_with_an_emotion(engines, name):
    result = engines["short"].analyze((FACES / name).read_bytes())
    assert len(result.faces) == 1, [f.box for f in result.faces]
    face = result.faces[0]
    x, y, w, h = face.box
    assert 0 <= x < result.width and 0 <= y < result.height and w >= 20 and h >= 20
    assert face.emotion in {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert sum(face.probabilities) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(("name", "expected"), sorted(MULTI_PERSON.items()))
def test_multi_person_photo_yields_at_least_the_visible_faces(engines, name, expected):
    kind = "full" if name in NEEDS_FULL_RANGE else "short"
    result = engines[kind].analyze((FACES / name).read_bytes())
    assert len(result.faces) >= expected
    assert all(face.emotion for face in result.faces)


def test_largest_face_is_the_biggest_box(engines):
    result = engines["full"].analyze((FACES / "deepface__selfie-many-people.jpg").read_bytes())
    assert result.largest_face.area == max(face.area for face in result.faces)


def test_minimum_face_size_drops_small_faces():
    data = (FACES / "deepface__selfie-many-people.jpg").read_bytes()
    everything = Engine(detector="full").analyze(data).faces
    big_only = Engine(detector="full", min_face_size=120).analyze(data).faces
    assert len(big_only) < len(everything)
    assert all(min(face.box[2:]) >= 120 for face in big_only)
