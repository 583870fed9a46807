"""Detection on real photographs: the public-domain portraits every checkout has (alone and drawn into group
photos), and the 31 photos of ../shared/data/faces (see its SOURCES.md) where they are."""

import pytest

from inference import Engine
from inference.sample_faces import PUBLIC_DOMAIN_FACES

from ..faces import group_photo, has_shared, mixed_sizes_photo, needs_shared, public_domain
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
    p.name
    for p in (FACES.iterdir() if has_shared() else ())
    if p.suffix in {".jpg", ".png"} and p.name not in MULTI_PERSON
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
    made = {
        "short": Engine(max_pixels=BIG_PHOTO_LIMIT),
        "full": Engine(detector="full", max_pixels=BIG_PHOTO_LIMIT),
    }
    yield made
    for engine in made.values():
        engine.close()


def test_every_public_domain_portrait_ships_with_an_installed_package():
    assert set(public_domain()) == {face.name for face in PUBLIC_DOMAIN_FACES}


@pytest.mark.parametrize("name", [face.name for face in PUBLIC_DOMAIN_FACES])
def test_public_domain_portrait_yields_exactly_one_face_with_an_emotion(engines, name):
    result = engines["short"].analyze(public_domain()[name].read_bytes())
    assert len(result.faces) == 1, [f.box for f in result.faces]
    assert result.faces[0].emotion in {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}


@pytest.mark.parametrize(("count", "detector"), [(2, "short"), (3, "short"), (4, "short"), (9, "full")])
def test_every_face_of_a_drawn_group_photo_is_found(engines, count, detector):
    result = engines[detector].analyze(group_photo(count))
    assert len(result.faces) == count, [f.box for f in result.faces]
    assert all(face.emotion for face in result.faces)
    # one face per grid cell: no face found twice
    cells = {
        (round((f.box[0] + f.box[2] / 2) // 200), round((f.box[1] + f.box[3] / 2) // 200))
        for f in result.faces
    }
    assert len(cells) == count


def test_largest_face_of_a_drawn_photo_is_the_biggest_box(engines):
    result = engines["full"].analyze(mixed_sizes_photo())
    assert len(result.faces) >= 2
    assert result.largest_face.area == max(face.area for face in result.faces)
    assert result.largest_face.box[0] < 400  # the near face, on the left


def test_minimum_face_size_drops_the_small_faces_of_a_drawn_photo():
    data = mixed_sizes_photo()
    everything = Engine(detector="full").analyze(data).faces
    big_only = Engine(detector="full", min_face_size=120).analyze(data).faces
    assert len(big_only) == 1 < len(everything)
    assert all(min(face.box[2:]) >= 120 for face in big_only)


@needs_shared()
def test_the_photo_set_is_complete():
    assert len(SINGLE_PERSON) + len(MULTI_PERSON) == 31


@needs_shared()
@pytest.mark.parametrize("name", SINGLE_PERSON or ["(shared photos)"])
def test_single_person_photo_yields_exactly_one_face_with_an_emotion(engines, name):
    result = engines["short"].analyze((FACES / name).read_bytes())
    assert len(result.faces) == 1, [f.box for f in result.faces]
    face = result.faces[0]
    x, y, w, h = face.box
    assert 0 <= x < result.width and 0 <= y < result.height and w >= 20 and h >= 20
    assert face.emotion in {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert sum(face.probabilities) == pytest.approx(1.0, abs=1e-4)


@needs_shared()
@pytest.mark.parametrize(("name", "expected"), sorted(MULTI_PERSON.items()))
def test_multi_person_photo_yields_at_least_the_visible_faces(engines, name, expected):
    kind = "full" if name in NEEDS_FULL_RANGE else "short"
    result = engines[kind].analyze((FACES / name).read_bytes())
    assert len(result.faces) >= expected
    assert all(face.emotion for face in result.faces)


@needs_shared()
def test_largest_face_is_the_biggest_box(engines):
    result = engines["full"].analyze((FACES / "deepface__selfie-many-people.jpg").read_bytes())
    assert result.largest_face.area == max(face.area for face in result.faces)


@needs_shared()
def test_minimum_face_size_drops_small_faces():
    data = (FACES / "deepface__selfie-many-people.jpg").read_bytes()
    everything = Engine(detector="full").analyze(data).faces
    big_only = Engine(detector="full", min_face_size=120).analyze(data).faces
    assert len(big_only) < len(everything)
    assert all(min(face.box[2:]) >= 120 for face in big_only)
