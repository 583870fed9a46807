"""Batch equals single, threads equal serial, and presence-only never runs the classifier."""

import io
import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from inference import EMOTIONS, Engine, FrameError, FrameResult, ModelsMissing
from inference.classifier import EmotionClassifier
from inference.engine import crop_face
from inference.model_cards import FaceCrop, find_card
from inference.paths import models_dir

from ..faces import multi_face_photo, needs_shared, single_face_frames

MODELS = models_dir()

FRAMES = single_face_frames()
MULTI_FACE = multi_face_photo()


def summary(result: FrameResult):
    return [(face.box, face.score, face.emotion, face.probabilities) for face in result.faces]


def test_batch_results_equal_single_results_exactly_and_bad_frames_stay_in_place(engine):
    frames = [*FRAMES[:2], b"garbage", *FRAMES[2:], MULTI_FACE]
    batch = engine.analyze_batch(frames)
    assert isinstance(batch[2], FrameError)
    singles = [engine.analyze(frame) for frame in [*FRAMES, MULTI_FACE]]
    assert sum(len(r.faces) for r in singles) > len(singles)  # the batch really mixes several faces
    assert [summary(r) for r in batch[:2] + batch[3:]] == [summary(r) for r in singles]
    for result in batch[:2] + batch[3:]:
        assert set(result.timings) == {"decode", "detect", "classify", "total"}


def test_presence_only_batch_has_faces_without_emotions(engine, monkeypatch):
    monkeypatch.setattr(EmotionClassifier, "classify", forbidden)
    monkeypatch.setattr(EmotionClassifier, "predict", forbidden)
    results = engine.analyze_batch([FRAMES[0], b"", MULTI_FACE], emotions=False)
    assert isinstance(results[1], FrameError)
    assert len(results[0].faces) == 1 and len(results[2].faces) >= 2
    assert all(face.emotion is None for r in (results[0], results[2]) for face in r.faces)


def test_empty_batch_gives_no_results(engine):
    assert engine.analyze_batch([]) == []


@needs_shared("fer2013-dev")
def test_classify_faces_batches_give_the_same_probabilities_as_one_by_one(engine):
    from inference.evaluate import load_labelled_folder, read_gray

    from .conftest import DEV

    crops = read_gray(load_labelled_folder(DEV).paths[:40])
    together = engine.classify_faces(crops, batch_size=16)
    alone = [engine.classify_faces([crop])[0] for crop in crops]
    for a, b in zip(together, alone, strict=True):
        assert a == pytest.approx(b, abs=1e-5)


def test_many_threads_sharing_one_engine_match_serial_results():
    shared = Engine()
    expected = [summary(shared.analyze(frame)) for frame in FRAMES]
    thread_ids = set()

    def work(index):
        thread_ids.add(threading.get_ident())
        return index % len(FRAMES), summary(shared.analyze(FRAMES[index % len(FRAMES)]))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(60)))
    assert len(thread_ids) > 1
    for index, result in results:
        assert result == expected[index]


def forbidden(*args, **kwargs):
    raise AssertionError("the emotion classifier ran in presence-only mode")


def test_presence_only_never_invokes_the_classifier(engine, monkeypatch):
    monkeypatch.setattr(EmotionClassifier, "classify", forbidden)
    monkeypatch.setattr(EmotionClassifier, "predict", forbidden)
    result = engine.analyze(FRAMES[0], emotions=False)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.probabilities is None and face.emotion is None and face.confidence is None
    assert face.to_dict()["probabilities"] is None and face.to_dict()["emotion"] is None


def test_timings_cover_every_stage(engine):
    timings = engine.analyze(FRAMES[0]).timings
    assert set(timings) == {"decode", "detect", "classify", "total"}
    assert timings["total"] >= timings["decode"] + timings["detect"] - 1e-6


def test_missing_models_name_the_setup_command(tmp_path):
    with pytest.raises(ModelsMissing, match="python -m inference setup"):
        Engine(models_dir=tmp_path)


def test_a_missing_detector_file_is_reported_when_the_engine_is_created(tmp_path):
    for path in MODELS.glob("fer-mini-xception.*"):
        shutil.copy(path, tmp_path)
    with pytest.raises(ModelsMissing, match=r"face_detection_short_range\.tflite.*python -m inference setup"):
        Engine(models_dir=tmp_path)


def test_an_unknown_detector_is_refused():
    with pytest.raises(ValueError, match="short"):
        Engine(detector="medium")


def test_result_to_dict_is_json_ready(engine):
    data = json.loads(json.dumps(engine.analyze(MULTI_FACE).to_dict()))
    assert data["width"] == Image.open(io.BytesIO(MULTI_FACE)).width and len(data["faces"]) >= 2
    face = data["faces"][0]
    assert set(face["probabilities"]) == set(EMOTIONS) and face["emotion"] in EMOTIONS
    assert len(face["box"]) == 4


def test_largest_face_is_the_one_with_the_biggest_box(engine):
    result = engine.analyze(MULTI_FACE)
    assert result.largest_face.area == max(face.box[2] * face.box[3] for face in result.faces)


@pytest.mark.parametrize(
    ("box", "inside"),
    [((100, 100, 50, 50), True), ((0, 0, 50, 60), False), ((290, 200, 30, 40), False)],
)
def test_face_crop_is_the_cards_square_and_pads_at_the_border(box, inside):
    image = np.arange(240 * 320, dtype=np.uint32).reshape(240, 320).astype(np.uint8)
    rgb = np.dstack([image] * 3)
    crop = FaceCrop(side=1.16, shift_y=-0.08)
    cut = crop_face(rgb, box, crop)
    side = round(max(box[2:]) * 1.16)
    assert cut.shape == (side, side, 3)
    if inside:  # a crop inside the frame is an exact slice, shifted up by 0.08 box heights
        x, y, w, h = box
        top = round(y + h / 2 - 0.08 * h - side / 2)
        left = round(x + w / 2 - side / 2)
        assert np.array_equal(cut, rgb[top : top + side, left : left + side])


def test_an_old_card_with_a_face_margin_still_loads(tmp_path):
    for path in MODELS.glob("fer-mini-xception.*"):
        shutil.copy(path, tmp_path)
    card = json.loads((tmp_path / "fer-mini-xception.json").read_text())
    del card["crop"]
    card["face_margin"] = 0.1
    (tmp_path / "old.json").write_text(json.dumps(card))
    assert find_card("old", tmp_path).crop == FaceCrop(side=1.2, shift_y=0.0)
