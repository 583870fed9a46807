"""The setup command is idempotent and offline once done; serving needs neither TensorFlow nor Django."""

import json
import shutil
import subprocess
import sys
import time

import pytest

from inference import setup_models
from inference.paths import REPO_ROOT, models_dir

from ..faces import needs_shared, single_face_frames
from .conftest import DEV

MODELS = models_dir()


@pytest.fixture
def ready_models(tmp_path):
    """A copy of the set-up models directory (setup must not touch the one the other tests use)."""
    for path in MODELS.iterdir():
        if path.suffix in {".tflite", ".json", ".hdf5"}:
            shutil.copy(path, tmp_path)
    return tmp_path


def test_setup_again_is_fast_and_does_not_download(ready_models, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError(f"setup ran a command although everything was in place: {args}")

    monkeypatch.setattr(setup_models.subprocess, "run", no_network)
    before = {p.name: p.stat().st_mtime_ns for p in ready_models.iterdir()}
    started = time.perf_counter()
    lines = []
    setup_models.setup(ready_models, log=lines.append)
    assert time.perf_counter() - started < 5
    assert lines[-1] == "Models ready."
    assert {p.name: p.stat().st_mtime_ns for p in ready_models.iterdir()} == before


def test_setup_refetches_a_tampered_file_and_refuses_a_wrong_hash(ready_models, monkeypatch):
    target = ready_models / "face_detection_short_range.tflite"
    target.write_bytes(b"tampered")

    def fake_download(command, check):
        # "Download" a wheel whose member has been altered: setup must refuse it.
        import zipfile

        dest = command[command.index("-d") + 1]
        with zipfile.ZipFile(f"{dest}/mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl", "w") as wheel:
            wheel.writestr("mediapipe/modules/face_detection/face_detection_short_range.tflite", b"evil")

    monkeypatch.setattr(setup_models.subprocess, "run", fake_download)
    with pytest.raises(RuntimeError, match="SHA-256"):
        setup_models.setup(ready_models, log=lambda *_: None)
    assert target.read_bytes() == b"tampered"  # nothing unverified was written


def test_the_default_card_describes_preprocessing_and_provenance():
    card = json.loads((MODELS / "fer-mini-xception.json").read_text())
    assert card["input"] == {"size": [64, 64], "color": "gray", "scale": 2 / 255, "offset": -1.0}
    assert card["classes"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert card["provenance"]["hdf5_sha256"] == setup_models.FILES[2].sha256
    assert card["provenance"]["tflite_sha256"] == setup_models.sha256_of(MODELS / "fer-mini-xception.tflite")
    assert "reported" in card["metrics"]


def test_setup_writes_the_same_card_with_or_without_the_shared_data(ready_models, monkeypatch, tmp_path):
    """A plain clone's setup must not record a card that a later run (with the data) would treat as final."""
    cards = []
    for shared in (tmp_path / "nowhere", tmp_path / "elsewhere"):
        monkeypatch.setenv("FERMONITOR_SHARED_DIR", str(shared))
        (ready_models / "fer-mini-xception.json").unlink()
        setup_models.setup(ready_models, log=lambda *_: None)
        card = json.loads((ready_models / "fer-mini-xception.json").read_text())
        cards.append({k: v for k, v in card.items() if k != "created"})
    assert cards[0] == cards[1] and "dev" not in cards[0]["metrics"]


@needs_shared("fer2013-dev")
def test_evaluate_records_the_dev_accuracy_in_the_card_and_setup_keeps_it(ready_models):
    from inference.evaluate import evaluate_models

    (ready_models / "fer-mini-xception.json").unlink()
    setup_models.setup(ready_models, log=lambda *_: None)
    evaluate_models(
        DEV, ["fer-mini-xception"], None, models_dir=ready_models, log=lambda *_: None, record=True
    )
    card = json.loads((ready_models / "fer-mini-xception.json").read_text())
    assert card["metrics"]["dev"]["images"] == 1241 and card["metrics"]["dev"]["accuracy"] > 0.59
    # served with flip TTA, measured both ways
    assert card["flip_tta"] is True
    assert card["metrics"]["dev"]["flip_tta"] is False and card["metrics"]["dev_flip_tta"]["flip_tta"] is True
    assert card["metrics"]["dev_flip_tta"]["accuracy"] > card["metrics"]["dev"]["accuracy"] + 0.01
    card["card_version"] = 0  # an older card: setup rewrites it, keeping what was measured on the same model
    (ready_models / "fer-mini-xception.json").write_text(json.dumps(card))
    setup_models.setup(ready_models, log=lambda *_: None)
    rewritten = json.loads((ready_models / "fer-mini-xception.json").read_text())
    assert rewritten["card_version"] == setup_models.CARD_VERSION
    assert rewritten["metrics"]["dev"] == card["metrics"]["dev"]
    assert rewritten["metrics"]["dev_flip_tta"] == card["metrics"]["dev_flip_tta"]
    # A card that mirrored every face measured another flip TTA: that number goes, the plain one stays.
    del card["flip_tta_below"]
    (ready_models / "fer-mini-xception.json").write_text(json.dumps(card))
    setup_models.setup(ready_models, log=lambda *_: None)
    rewritten = json.loads((ready_models / "fer-mini-xception.json").read_text())
    assert rewritten["flip_tta_below"] == setup_models.FER_FLIP_TTA_BELOW
    assert (
        rewritten["metrics"]["dev"] == card["metrics"]["dev"] and "dev_flip_tta" not in rewritten["metrics"]
    )


SERVE_WITHOUT_TENSORFLOW = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "django"}:
            raise ModuleNotFoundError(f"blocked: {name}", name=name)

sys.meta_path.insert(0, Block())
from inference import Engine
result = Engine().analyze(open(sys.argv[1], "rb").read())
print(len(result.faces), result.faces[0].emotion, sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras", "django"}))
"""


def test_serving_works_without_tensorflow_keras_or_django_and_exits_cleanly(tmp_path):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(single_face_frames()[0])
    done = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_TENSORFLOW, str(photo)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    faces, emotion, heavy = done.stdout.split(maxsplit=2)
    assert faces == "1" and emotion in {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    assert heavy.strip() == "[]"
    assert "Traceback" not in done.stderr  # detectors are closed before MediaPipe's threads stop
