"""`python -m inference ship RUN`: ensemble a run with fer's model in one TFLite file, evaluate and bench it, and
install it as the default only if it passes the ship rule."""

import json
import shutil

import cv2
import numpy as np
import pytest

from inference import EMOTIONS, Engine
from inference.classifier import EmotionClassifier
from inference.model_cards import FER_EMOTION_MODEL, find_card
from inference.paths import models_dir
from inference.ship import MODEL_CARDS_MODULE, ShipRule, ship
from inference.train import TrainConfig, train

from ..faces import needs_shared
from .conftest import DEV, TRAIN


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A one-epoch xception run (far below fer's accuracy), its training folder, and a 21-image dev subset."""
    root = tmp_path_factory.mktemp("ship")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERMONITOR_TRAINING_DIR", str(root / "training"))
        train(
            TrainConfig(data_dir=TRAIN, name="tiny", out_dir=root / "out", epochs=1, batch_size=16,
                        limit_per_class=12, width=8, arch="xception"),
            log=lambda *_: None,
        )  # fmt: skip
    dev = root / "dev"
    for label in EMOTIONS:
        (dev / label).mkdir(parents=True)
        for path in sorted((DEV / label).iterdir())[:3]:
            shutil.copy(path, dev / label)
    return root


def ship_tiny(root, tmp_path, monkeypatch, rule: ShipRule):
    monkeypatch.setenv("FERMONITOR_TRAINING_DIR", str(root / "training"))
    cards_module = tmp_path / "model_cards.py"
    shutil.copy(MODEL_CARDS_MODULE, cards_module)
    lines = []
    result = ship(
        "tiny", dev_folder=root / "dev", install_dir=tmp_path / "trained", cards_module=cards_module, rule=rule,
        bench_seconds=0.2, log=lines.append,
    )  # fmt: skip
    return result, cards_module, lines


@pytest.mark.slow
@needs_shared("fer2013-train", "fer2013-dev")
def test_a_model_below_the_ship_rule_is_not_installed_and_the_default_stays(tiny_run, tmp_path, monkeypatch):
    result, cards_module, lines = ship_tiny(tiny_run, tmp_path, monkeypatch, ShipRule())
    assert result["shipped"] is False
    assert "the rule asks for at least +1.50" in result["failures"][0]
    assert any(line.startswith("Not shipped:") for line in lines)
    assert not (tmp_path / "trained").exists()
    assert cards_module.read_text() == MODEL_CARDS_MODULE.read_text()


@pytest.mark.slow
@needs_shared("fer2013-train", "fer2013-dev")
def test_a_shipped_ensemble_is_installed_made_default_and_averages_fer_with_ours(
    tiny_run, tmp_path, monkeypatch
):
    import keras

    result, cards_module, _ = ship_tiny(tiny_run, tmp_path, monkeypatch, ShipRule(-1.0, 1e3, 25.0))
    assert result["shipped"] is True
    card_path = tmp_path / "trained" / "fermonitor-ensemble.json"
    card = json.loads(card_path.read_text())
    assert card["flip_tta"] is True and card["input"]["size"] == [48, 48]
    metrics = card["metrics"]
    assert metrics["dev_flip_tta"]["images"] == 21 and metrics["fer_dev_flip_tta"]["images"] == 21
    assert metrics["margin_prior_weighted_flip_tta"] == pytest.approx(
        metrics["dev_flip_tta"]["prior_weighted_accuracy"]
        - metrics["fer_dev_flip_tta"]["prior_weighted_accuracy"],
        abs=2e-4,
    )
    assert metrics["bench"]["cpu_ms_per_face_flip_tta_batch8"] > 0 and metrics["megabytes"] < 25
    assert card["provenance"]["training"]["epochs_done"] == 1
    assert card["provenance"]["converted"]["max_abs_difference"] < 1e-4
    assert 'DEFAULT_EMOTION_MODEL = "fermonitor-ensemble"' in cards_module.read_text()

    # The one served file is the mean of fer's model and ours on the same faces.
    faces = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted((tiny_run / "dev").rglob("*.png"))][:14]
    served = Engine(emotion_model=str(card_path), flip_tta=False).classify_faces(faces)
    # fer's input resized in float, as the graph does (the classifier's own cv2 resize rounds to uint8)
    upscaled = np.stack([cv2.resize(face.astype(np.float32), (64, 64)) for face in faces])[..., None]
    fer_classifier = EmotionClassifier(find_card(FER_EMOTION_MODEL, models_dir()), flip_tta=False)
    fer = fer_classifier.predict(upscaled * (2 / 255) - 1.0)
    ours_model = keras.models.load_model(tiny_run / "out" / "tiny.keras", compile=False)
    ours = np.asarray(ours_model.predict(np.stack(faces)[..., None] * (2 / 255) - 1.0, verbose=0))
    np.testing.assert_allclose(served, (fer + ours) / 2, atol=1e-4)


def test_an_unfinished_run_is_refused_unless_asked_for_once(tmp_path, training_dir):
    from inference.train import config_to_dict
    from inference.training_runs import RunFolder, RunState

    folder = RunFolder("half-way")
    folder.path.mkdir(parents=True)
    folder.config.write_text(
        json.dumps(config_to_dict(TrainConfig(data_dir=TRAIN, name="half-way", out_dir=tmp_path)))
    )
    folder.write_state(
        RunState(name="half-way", epochs=60, holdout="x", epochs_done=3, best_epoch=2, best_accuracy=0.5)
    )
    folder.best_weights.write_bytes(b"")
    with pytest.raises(SystemExit, match="at epoch 3 of 60 and has not finished"):
        ship("half-way", install_dir=tmp_path / "trained", cards_module=tmp_path / "model_cards.py")
    assert not (tmp_path / "trained").exists()
