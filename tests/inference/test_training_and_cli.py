"""A tiny training run writes a model and card that the engine serves; the command line works end to end."""

import json
import subprocess
import sys

import pytest

from inference import EMOTIONS, Engine
from inference.paths import REPO_ROOT
from inference.train import TrainConfig, train

from ..faces import needs_shared, single_face_frames
from .conftest import DEV, TRAIN


@pytest.mark.slow
@needs_shared("fer2013-train")
def test_tiny_training_run_writes_a_model_card_and_the_engine_serves_it(tmp_path, face_jpeg):
    card = train(
        TrainConfig(data_dir=TRAIN, name="tiny", out_dir=tmp_path, epochs=1, limit_per_class=12, width=8),
        log=lambda *_: None,
    )
    assert (tmp_path / "tiny.tflite").stat().st_size > 10_000
    written = json.loads((tmp_path / "tiny.json").read_text())
    assert written["classes"] == list(EMOTIONS) and written["input"]["size"] == [48, 48]
    assert written["provenance"]["command"].startswith("python -m inference train")
    assert card["metrics"]["holdout_images"] == 7 * 1  # 10% of 12 per class, rounded, per class
    engine = Engine(emotion_model=str(tmp_path / "tiny.json"))
    face = engine.analyze(face_jpeg).faces[0]
    assert len(face.probabilities) == 7 and sum(face.probabilities) == pytest.approx(1.0, abs=1e-4)


@needs_shared("fer2013-train")
def test_training_augmentation_keeps_the_input_range_of_real_faces():
    """Augmented training images must look like what the model sees at inference: scaled to [-1, 1], dark pixels
    still dark (Keras' RandomContrast clips to (0, 255) unless told the range, which zeroed half of every face)."""
    import cv2
    import keras
    import numpy as np

    from inference.train import augmentation

    paths = sorted((TRAIN / "happy").glob("*"))[:16]
    faces = np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])[..., None]
    scaled = faces.astype("float32") * (2 / 255) - 1.0
    keras.utils.set_random_seed(3)
    augmented = np.asarray(augmentation(keras)(scaled, training=True))
    assert augmented.min() >= -1.0 - 1e-5 and augmented.max() <= 1.0 + 1e-5
    dark = scaled < -0.5
    assert dark.mean() > 0.05  # real faces have dark pixels (hair, eyes, shadows)
    assert (augmented < -0.5).mean() > 0.5 * dark.mean()
    assert abs(float(augmented.mean()) - float(scaled.mean())) < 0.15
    assert np.array_equal(np.asarray(augmentation(keras)(scaled, training=False)), scaled)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "inference", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )


def test_cli_analyze_prints_faces_and_writes_an_annotated_image(tmp_path):
    out = tmp_path / "annotated.png"
    photo = tmp_path / "face.jpg"
    photo.write_bytes(single_face_frames()[0])
    done = run_cli("analyze", str(photo), "--annotate", str(out))
    assert done.returncode == 0, done.stderr
    assert "1 face(s)" in done.stdout and "face 1: box" in done.stdout
    assert out.stat().st_size > 1000


def test_cli_analyze_reports_a_bad_file_and_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    done = run_cli("analyze", str(bad))
    assert done.returncode == 1 and "not a readable image" in done.stdout


@needs_shared("fer2013-dev")
def test_cli_evaluate_writes_a_json_report_and_confusion_matrix(tmp_path):
    subset = tmp_path / "subset"
    for label in EMOTIONS:
        (subset / label).mkdir(parents=True)
        for path in sorted((DEV / label).iterdir())[:3]:
            (subset / label / path.name).write_bytes(path.read_bytes())
    done = run_cli("evaluate", str(subset), "--out", str(tmp_path / "report"))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    # side by side: as served (flip TTA) and without it
    assert report["models"]["fer-mini-xception"]["images"] == 21
    assert report["models"]["fer-mini-xception"]["flip_tta"] is True
    assert report["models"]["fer-mini-xception (no flip)"]["flip_tta"] is False
    assert (tmp_path / "report" / "confusion-fer-mini-xception.png").stat().st_size > 5000
    assert (tmp_path / "report" / "confusion-fer-mini-xception-no-flip.png").stat().st_size > 5000
    assert "prior-weighted accuracy" in done.stdout and "fer-mini-xception (no flip)" in done.stdout


GPU_MACHINE_TRAINING = """
import importlib.abc, json, sys
from pathlib import Path

class NotInstalled(importlib.abc.MetaPathFinder):  # the GPU machine: Keras on JAX, no TensorFlow, no MediaPipe
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "mediapipe", "ai_edge_litert"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NotInstalled())

import keras, numpy as np
from inference.train import TrainConfig, train

out, data = Path(sys.argv[1]), Path(sys.argv[2])
train(TrainConfig(data_dir=data, name="on-jax", out_dir=out, epochs=1, limit_per_class=12, width=8), log=print)
# the GPU recipe's second step: a smaller student distilled from what was just trained
train(TrainConfig(data_dir=data, name="student-on-jax", out_dir=out, epochs=1, limit_per_class=12, width=4,
                  teachers=("on-jax",)), log=print)
probe = np.random.default_rng(5).uniform(-1, 1, (8, 48, 48, 1)).astype("float32")
reloaded = keras.models.load_model(out / "on-jax.keras", compile=False)
np.save(out / "probe.npy", probe)
np.save(out / "jax.npy", np.asarray(reloaded.predict(probe, verbose=0)))
print(json.dumps({"backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules}))
"""


@pytest.mark.slow
@needs_shared("fer2013-train")
def test_model_trained_on_jax_without_tensorflow_serves_here_with_the_same_predictions(tmp_path, face_jpeg):
    import os

    import numpy as np

    from inference.train import convert_trained, tflite_probabilities

    done = subprocess.run(
        [sys.executable, "-c", GPU_MACHINE_TRAINING, str(tmp_path), str(TRAIN)],
        cwd=REPO_ROOT,
        env={**os.environ, "KERAS_BACKEND": "jax", "CI": "1"},
        capture_output=True,
        text=True,
        timeout=1200,  # a hang guard: JAX compiles every step function on the CPU
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"backend": "jax", "tensorflow": False}
    assert "convert it to on-jax.tflite on a machine with it" in done.stdout
    assert not (tmp_path / "on-jax.tflite").exists()

    card = convert_trained(tmp_path, "on-jax", log=lambda *_: None)
    assert card["provenance"]["keras_backend"] == "jax"
    assert card["provenance"]["converted"]["max_abs_difference"] < 1e-4

    probe, on_jax = np.load(tmp_path / "probe.npy"), np.load(tmp_path / "jax.npy")
    served = tflite_probabilities(tmp_path / "on-jax.tflite", probe)
    np.testing.assert_allclose(served, on_jax, atol=1e-4)
    assert (served.argmax(1) == on_jax.argmax(1)).all()

    face = Engine(emotion_model=str(tmp_path / "on-jax.json")).analyze(face_jpeg).faces[0]
    assert face.emotion in EMOTIONS

    student = convert_trained(tmp_path, "student-on-jax", log=lambda *_: None)
    assert student["provenance"]["keras_backend"] == "jax"
    assert student["provenance"]["recipe"]["teachers"] == ["on-jax"]
    assert student["provenance"]["converted"]["max_abs_difference"] < 1e-4


def test_convert_names_what_is_missing(tmp_path):
    from inference.train import convert_trained

    with pytest.raises(SystemExit, match="nothing.keras"):
        convert_trained(tmp_path, "nothing")
