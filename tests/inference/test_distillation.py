"""Distillation: a student trained with `--teacher` learns what its teachers say, and only from teachers that kept
its hold-out unseen; `--max-minutes` stops a run and still writes the model."""

import json

import numpy as np
import pytest
from PIL import Image

from inference import EMOTIONS
from inference.evaluate import load_labelled_folder
from inference.model_cards import write_card
from inference.train import TrainConfig, train

from ..faces import needs_shared
from .conftest import DEV, TRAIN

HAPPY = EMOTIONS.index("happy")


def write_teacher(models_dir, name: str, split_seed: int = 1, says: int = HAPPY) -> None:
    """A teacher that calls every face `says` (94%), whatever the image: the labels never do."""
    import keras

    bias = np.full(len(EMOTIONS), np.log(0.01), dtype="float32")
    bias[says] = np.log(0.94)
    inputs = keras.Input((48, 48, 1))
    outputs = keras.layers.Dense(
        len(EMOTIONS),
        activation="softmax",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(bias),
    )(keras.layers.Flatten()(inputs))
    models_dir.mkdir(parents=True, exist_ok=True)
    keras.Model(inputs, outputs).save(models_dir / f"{name}.keras")
    write_card(
        models_dir / f"{name}.json",
        name=name,
        file=f"{name}.tflite",
        input={"size": [48, 48], "color": "gray", "scale": 2 / 255, "offset": -1.0},
        classes=list(EMOTIONS),
        provenance={"recipe": {"validation_split": 0.1, "split_seed": split_seed, "limit_per_class": 12}},
    )


def student_config(models_dir, **overrides) -> TrainConfig:
    settings = dict(
        data_dir=TRAIN,
        name="student",
        out_dir=models_dir,
        epochs=6,
        batch_size=16,
        limit_per_class=12,
        width=4,
        learning_rate=0.03,
        patience=100,
        teachers=("happy-teacher",),
    )
    return TrainConfig(**(settings | overrides))


def mean_happy_probability(models_dir) -> float:
    import keras

    dev = load_labelled_folder(DEV)
    picked = [np.flatnonzero(dev.labels == index)[:4] for index in range(len(EMOTIONS))]
    faces = np.stack(
        [np.asarray(Image.open(dev.paths[i]).convert("L").resize((48, 48))) for i in np.concatenate(picked)]
    )
    model = keras.models.load_model(models_dir / "student.keras", compile=False)
    probabilities = np.asarray(model.predict(faces[..., None] * (2 / 255) - 1.0, verbose=0))
    return float(probabilities[:, HAPPY].mean())


@pytest.mark.slow
@needs_shared("fer2013-train", "fer2013-dev")
def test_student_learns_from_the_teacher_not_only_from_the_labels(tmp_path):
    write_teacher(tmp_path, "happy-teacher")

    card = train(student_config(tmp_path, distill_alpha=0.0), log=lambda *_: None)
    assert mean_happy_probability(tmp_path) > 0.6  # it says what the teacher says, on faces it never saw
    assert "distilled from happy-teacher" in card["description"]
    assert "--teacher happy-teacher" in card["provenance"]["command"]
    assert card["metrics"]["teachers_holdout_accuracy"] == pytest.approx(1 / 7, abs=0.01)
    assert (tmp_path / "student.tflite").exists()

    train(student_config(tmp_path, distill_alpha=1.0), log=lambda *_: None)  # the balanced labels alone
    assert mean_happy_probability(tmp_path) < 0.4


def test_a_teacher_trained_on_another_hold_out_is_refused(tmp_path):
    write_teacher(tmp_path, "happy-teacher", split_seed=2)
    with pytest.raises(SystemExit, match="another hold-out"):
        train(student_config(tmp_path), log=lambda *_: None)
    assert not (tmp_path / "student.keras").exists()


def test_a_missing_teacher_is_named(tmp_path):
    with pytest.raises(SystemExit, match="Teacher 'happy-teacher' needs happy-teacher.keras"):
        train(student_config(tmp_path), log=lambda *_: None)


@pytest.mark.slow
@needs_shared("fer2013-train")
def test_time_limit_stops_after_the_epoch_and_still_writes_the_model(tmp_path):
    lines = []
    card = train(student_config(tmp_path, teachers=(), epochs=5, max_minutes=1e-6), log=lines.append)
    assert card["provenance"]["epochs_run"] == 1
    assert any("Stopped after 1 of 5 epochs" in line for line in lines)
    assert "--max-minutes 1e-06" in card["provenance"]["command"]
    assert json.loads((tmp_path / "student.json").read_text())["name"] == "student"
