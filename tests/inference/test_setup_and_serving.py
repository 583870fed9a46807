"""The setup command is idempotent and offline once done; serving needs neither TensorFlow nor Django."""

import json
import shutil
import subprocess
import sys
import time

import pytest

from inference import setup_models
from inference.paths import REPO_ROOT, models_dir

from .conftest import FACES

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


def test_the_default_card_describes_preprocessing_provenance_and_measured_accuracy():
    card = json.loads((MODELS / "fer-mini-xception.json").read_text())
    assert card["input"] == {"size": [64, 64], "color": "gray", "scale": 2 / 255, "offset": -1.0}
    assert card["classes"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert card["provenance"]["hdf5_sha256"] == setup_models.FILES[2].sha256
    assert card["provenance"]["tflite_sha256"] == setup_models.sha256_of(MODELS / "fer-mini-xception.tflite")
    assert card["metrics"]["dev"]["images"] == 1241 and card["metrics"]["dev"]["accuracy"] > 0.59


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


def test_serving_works_without_tensorflow_keras_or_django_and_exits_cleanly():
    done = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_TENSORFLOW, str(FACES / "face_recognition__obama_small.jpg")],
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
