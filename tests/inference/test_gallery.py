"""Many faces in one screen capture: `Engine.analyze_gallery` on galleries of the real photos in ../shared/data/faces.

Galleries are built at test time (inference/gallery_builder.py): portraits cropped like webcam pictures, repeated
with variation to fill 49 tiles, a name label on each tile, 1920x1080 like a full-screen call.
"""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from inference import EMOTIONS, Engine, FrameError, GalleryResult, ImageTooLarge, InvalidImage
from inference.blazeface import BlazeFace, iou_matrix, weighted_nms
from inference.classifier import EmotionClassifier
from inference.detector import FaceDetector
from inference.engine import crop_face, to_model_colour
from inference.gallery import GalleryDetector
from inference.gallery_builder import (
    build_gallery,
    build_slide,
    encode_jpeg,
    grid_rects,
    read_rgb,
    shared_people,
    to_png,
)
from inference.paths import models_dir

from .conftest import FACES

pytestmark = pytest.mark.skipif(
    not FACES.is_dir(), reason=f"no face photos at {FACES} (set FERMONITOR_SHARED_DIR to the shared folder)"
)


def xyxy(boxes) -> np.ndarray:
    return np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32).reshape(-1, 4)


def matched(truth, found, threshold=0.3) -> tuple[int, int]:
    """(faces of `truth` found, detections that match no face of `truth`)."""
    if not len(found):
        return 0, 0
    overlap = iou_matrix(xyxy(truth), xyxy(found))
    return int((overlap.max(axis=1) > threshold).sum()), int((overlap.max(axis=0) <= threshold).sum())


@pytest.fixture(scope="module")
def people():
    return shared_people(49, seed=1)


@pytest.mark.parametrize(("rows", "cols"), [(5, 5), (7, 7)])
def test_a_full_hd_gallery_of_real_faces_has_at_least_95_percent_of_its_faces_found(
    engine, people, rows, cols
):
    gallery = build_gallery(people[: rows * cols], rows, cols)
    result = engine.analyze_gallery(gallery.jpeg())
    assert isinstance(result, GalleryResult)
    assert (result.width, result.height) == (1920, 1080)
    found, _ = matched(gallery.faces, [face.box for face in result.faces])
    assert found >= 0.95 * rows * cols, f"{found}/{rows * cols}"
    # Photos may show a real bystander or two; anything beyond that would be noise.
    assert len(result.faces) <= rows * cols + 3
    for face in result.faces:
        assert face.emotion in EMOTIONS
        assert sum(face.probabilities) == pytest.approx(1.0, abs=1e-4)
        assert face.confidence == max(face.probabilities)
        assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-4)
        assert face.participant is None
    assert set(result.timings) == {"decode", "detect", "merge", "classify", "embed", "total"}


def test_each_face_is_reported_once_even_where_windows_overlap(engine, people):
    gallery = build_gallery(people[:49], 7, 7)
    boxes = xyxy([face.box for face in engine.analyze_gallery(gallery.image).faces])
    overlap = iou_matrix(boxes, boxes)
    np.fill_diagonal(overlap, 0)
    assert overlap.max() < 0.3


@pytest.mark.parametrize("seed", range(4))
def test_a_shared_slide_without_people_has_no_face(engine, seed):
    slide = build_slide((1920, 1080), seed=seed)
    assert engine.analyze_gallery(encode_jpeg(slide)).faces == []
    assert engine.analyze_gallery(to_png(slide)).faces == []


@pytest.mark.parametrize(("rows", "cols", "count"), [(1, 1, 1), (2, 2, 4), (3, 3, 9), (4, 4, 16)])
def test_larger_faces_of_small_galleries_are_found_too(engine, people, rows, cols, count):
    gallery = build_gallery(people[:count], rows, cols)
    result = engine.analyze_gallery(gallery.image)
    found, _ = matched(gallery.faces, [face.box for face in result.faces])
    assert found == count


def test_a_smaller_capture_is_searched_at_its_own_scale(engine, people):
    gallery = build_gallery(people[:25], 5, 5, size=(1280, 720))
    result = engine.analyze_gallery(gallery.jpeg())
    found, _ = matched(gallery.faces, [face.box for face in result.faces])
    assert found >= 24


def test_a_webcam_frame_gives_its_one_face_like_analyze(engine):
    data = (FACES / "face_recognition__obama_small.jpg").read_bytes()
    gallery = engine.analyze_gallery(data)
    single = engine.analyze(data)
    assert len(gallery.faces) == len(single.faces) == 1
    overlap = iou_matrix(xyxy([gallery.faces[0].box]), xyxy([single.faces[0].box]))[0, 0]
    assert overlap > 0.8


def test_presence_only_gallery_never_runs_the_classifier(people, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the classifier ran in presence-only mode")

    monkeypatch.setattr(EmotionClassifier, "__init__", forbidden)
    monkeypatch.setattr(EmotionClassifier, "classify", forbidden)
    monkeypatch.setattr(EmotionClassifier, "predict", forbidden)
    result = Engine().analyze_gallery(build_gallery(people[:25], 5, 5).jpeg(), emotions=False)
    assert len(result.faces) >= 24
    assert all(f.emotion is None and f.probabilities is None and f.confidence is None for f in result.faces)
    assert all(f.embedding.shape == result.faces[0].embedding.shape for f in result.faces)


def test_all_faces_of_a_frame_are_classified_in_one_batch_with_the_same_results_as_one_by_one(
    engine, people, monkeypatch
):
    calls = []
    original = EmotionClassifier.classify

    def spy(self, crops):
        calls.append(len(crops))
        return original(self, crops)

    monkeypatch.setattr(EmotionClassifier, "classify", spy)
    gallery = build_gallery(people[:25], 5, 5)
    result = engine.analyze_gallery(gallery.image)
    assert calls == [len(result.faces)]
    monkeypatch.setattr(EmotionClassifier, "classify", original)
    for face in result.faces[:6]:
        crop = to_model_colour(crop_face(gallery.image, face.box, engine.card.crop), engine.card.color)
        alone = engine.classify_faces([crop])[0]
        assert face.probabilities == pytest.approx(tuple(alone), abs=1e-5)


def test_direct_blazeface_gives_mediapipe_s_scores_and_boxes():
    """The gallery path decodes BlazeFace itself; it must agree with MediaPipe's own graph on the same input."""
    ours = BlazeFace(models_dir(), "short", 0.5)
    theirs = FaceDetector(models_dir(), "short", 0.5, 1)
    compared = 0
    for path in sorted(FACES.glob("*.jpg"))[:12]:
        window = cv2.resize(read_rgb(path), (512, 512), interpolation=cv2.INTER_AREA)
        small = cv2.resize(window, (128, 128), interpolation=cv2.INTER_AREA)
        boxes, scores = weighted_nms(*ours.detect(small[np.newaxis])[0])
        reference = theirs.detect(small)
        assert len(boxes) == len(reference), path.name
        if not reference:
            continue
        expected = xyxy([d.box for d in reference])
        order = iou_matrix(boxes, expected).argmax(axis=1)
        # MediaPipe truncates a box's origin and its size to whole pixels of the 128 px input, each by < 1 px.
        assert np.abs(boxes - expected[order]).max() < 2, path.name
        assert scores == pytest.approx([reference[i].score for i in order], abs=1e-4)
        compared += len(reference)
    assert compared >= 10


@pytest.mark.parametrize(("height", "width"), [(320, 576), (300, 530)])
def test_blazeface_on_a_whole_frame_finds_a_face_as_a_128_px_window_around_it_does(height, width):
    """The gallery runs the model on whole downscaled frames (any size, padded to a multiple of 16 px): each
    anchor must see and place a face as it would in the model's own 128x128 input. On a mid-grey canvas (0 in the
    model's range, what the model's zero padding shows around a window) the two agree to a few hundredths of a pixel
    and a few 1e-4 of score: inside the network the window's padding is zeros at every layer, where the frame has the
    grey background's features (measured: 0.02 px, 2e-4)."""
    model = BlazeFace(models_dir(), "short", 0.5)
    compared = 0
    for path in sorted(FACES.glob("*.jpg"))[:8]:
        face = (
            cv2.resize(read_rgb(path), (80, 80), interpolation=cv2.INTER_AREA).astype(np.float32) * (2 / 255)
            - 1
        )
        canvas = np.zeros((height, width, 3), np.float32)
        # A window at a multiple of 16 px keeps both inputs' stride grids aligned; the second place is the frame's
        # bottom-right corner, inside the padding's reach.
        for top, left in ((96, 160), (height - 128, width - 128)):
            top, left = top - top % 16, left - left % 16
            canvas[:] = 0
            canvas[top + 24 : top + 104, left + 24 : left + 104] = face
            whole_boxes, whole_scores = weighted_nms(*model.detect_image(canvas))
            window = canvas[np.newaxis, top : top + 128, left : left + 128]
            boxes, scores = weighted_nms(*model.detect_scaled(window)[0])
            assert len(whole_boxes) == len(boxes), path.name
            if not len(boxes):
                continue
            boxes += np.array([left, top, left, top], np.float32)
            order = iou_matrix(boxes, whole_boxes).argmax(axis=1)
            np.testing.assert_allclose(whole_boxes[order], boxes, atol=0.25)
            np.testing.assert_allclose(whole_scores[order], scores, atol=2e-3)
            compared += len(boxes)
    assert compared >= 10


def test_a_frame_is_searched_at_a_fine_and_a_coarse_scale_and_a_thumbnail_at_its_own_size_only():
    detector = GalleryDetector(models_dir())
    fine, coarse = detector.plan(1920, 1080)
    assert fine[0] == "fine" and coarse[0] == "coarse"
    assert 1080 * fine[1] == pytest.approx(128 / 0.4) and 1080 * coarse[1] == pytest.approx(128)
    assert [level for level, _ in detector.plan(640, 480)] == ["fine", "coarse"]
    assert detector.plan(200, 100) == [("fine", 1.0)]  # never enlarged


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"", InvalidImage),
        (b"not an image at all", InvalidImage),
        (np.zeros((1080, 1920), np.uint8), InvalidImage),  # grey, not RGB
        (np.zeros((1080, 1920, 3), np.float32), InvalidImage),
        (np.zeros((0, 10, 3), np.uint8), InvalidImage),
        (np.zeros((2000, 2100, 3), np.uint8), ImageTooLarge),
        ([[0, 0, 0]], InvalidImage),
    ],
)
def test_hostile_frames_get_a_typed_error_and_the_engine_keeps_working(engine, people, frame, error):
    with pytest.raises(error) as raised:
        engine.analyze_gallery(frame)
    assert isinstance(raised.value, FrameError) and str(raised.value)
    assert len(engine.analyze_gallery(build_gallery(people[:4], 2, 2).jpeg()).faces) == 4


def test_truncated_and_unsupported_gallery_images_are_refused(engine, people):
    data = build_gallery(people[:9], 3, 3).jpeg()
    with pytest.raises(InvalidImage):
        engine.analyze_gallery(data[: len(data) // 2])
    webp = io.BytesIO()
    Image.new("RGB", (64, 64)).save(webp, "WEBP")
    with pytest.raises(FrameError):
        engine.analyze_gallery(webp.getvalue())


def test_gallery_builder_places_named_faces_in_a_centred_grid_and_can_reorder_and_resize(people):
    gallery = build_gallery(people[:23], 5, 5)
    assert len(gallery.tiles) == 23 and len(gallery.faces) == 23
    for tile in gallery.tiles:
        x, y, w, h = tile.rect
        fx, fy, fw, fh = tile.face
        assert x <= fx and y <= fy and fx + fw <= x + w and fy + fh <= y + h
        assert 60 <= fh <= 125  # a 5x5 gallery at 1080p: faces of 60-120 px
    last_row = [tile.rect for tile in gallery.tiles[20:]]
    assert last_row[0][0] - 0 == pytest.approx(1920 - (last_row[-1][0] + last_row[-1][2]), abs=2)  # centred
    reordered = build_gallery(people[:23][::-1], 5, 5)
    assert [t.name for t in reordered.tiles] == [t.name for t in gallery.tiles][::-1]
    resized = build_gallery(people[:16], 4, 4)
    assert {t.name for t in resized.tiles} < {t.name for t in gallery.tiles}
    assert resized.tiles[0].face[3] > gallery.tiles[0].face[3]
    unlabelled = build_gallery(people[:23], 5, 5, labels=False)
    x, y, w, h = gallery.tiles[0].rect
    label_area = (slice(y + h - h // 6, y + h), slice(x, x + w // 2))
    assert not np.array_equal(gallery.image[label_area], unlabelled.image[label_area])
    assert len(grid_rects(49, 7, 7, (1920, 1080))) == 49
