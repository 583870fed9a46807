"""Batch equals single, threads equal serial, and presence-only never runs the classifier."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from inference import Engine, FrameError, FrameResult
from inference.classifier import EmotionClassifier

from .conftest import FACES

FRAMES = [
    (FACES / name).read_bytes()
    for name in (
        "face_recognition__obama_small.jpg",
        "deepface__img12.jpg",
        "deepface__img25.jpg",
        "face_recognition__alex-lacamoire.png",
        "deepface__img5.jpg",
    )
]


def summary(result: FrameResult):
    return [(face.box, face.emotion, tuple(round(p, 6) for p in face.probabilities)) for face in result.faces]


def test_batch_results_equal_single_results_and_bad_frames_stay_in_place(engine):
    frames = [*FRAMES[:2], b"garbage", *FRAMES[2:]]
    batch = engine.analyze_batch(frames)
    assert isinstance(batch[2], FrameError)
    singles = [engine.analyze(frame) for frame in FRAMES]
    assert [summary(r) for r in batch[:2] + batch[3:]] == [summary(r) for r in singles]


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


def test_presence_only_never_invokes_the_classifier(engine, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the emotion classifier ran in presence-only mode")

    monkeypatch.setattr(EmotionClassifier, "classify", forbidden)
    monkeypatch.setattr(EmotionClassifier, "predict", forbidden)
    result = engine.analyze(FRAMES[0], emotions=False)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.probabilities is None and face.emotion is None and face.confidence is None
    assert "probabilities" not in str(face.to_dict().get("probabilities") or "")


def test_timings_cover_every_stage(engine):
    timings = engine.analyze(FRAMES[0]).timings
    assert set(timings) == {"decode", "detect", "classify", "total"}
    assert timings["total"] >= timings["decode"] + timings["detect"] - 1e-6


def test_missing_models_name_the_setup_command(tmp_path):
    from inference import ModelsMissing

    with pytest.raises(ModelsMissing, match="python -m inference setup"):
        Engine(models_dir=tmp_path)
