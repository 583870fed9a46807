"""`train --resume NAME` continues a run from its last finished epoch and ends where an uninterrupted run ends;
checkpoints live outside the repository and `train-status` reports each run."""

import json
import subprocess
import sys

import numpy as np
import pytest

from inference.paths import REPO_ROOT
from inference.train import TrainConfig, resume, train
from inference.training_runs import RunFolder, all_runs, format_runs

from ..faces import needs_shared
from .conftest import TRAIN


def tiny(out_dir, name: str, **overrides) -> TrainConfig:
    settings = dict(
        data_dir=TRAIN, name=name, out_dir=out_dir, epochs=3, batch_size=16, limit_per_class=12, width=8,
        arch="xception", patience=100,
    )  # fmt: skip
    return TrainConfig(**(settings | overrides))


def weights(out_dir, name: str) -> list[np.ndarray]:
    import keras

    return [
        np.asarray(w) for w in keras.models.load_model(out_dir / f"{name}.keras", compile=False).get_weights()
    ]


@pytest.mark.slow
@needs_shared("fer2013-train")
def test_a_run_stopped_after_one_epoch_and_resumed_ends_like_an_uninterrupted_run(tmp_path):
    straight = train(tiny(tmp_path, "straight"), log=lambda *_: None)

    lines = []
    stopped = train(tiny(tmp_path, "resumed", max_minutes=1e-6), log=lines.append)
    assert stopped["provenance"]["epochs_run"] == 1 and not stopped["provenance"]["finished"]
    assert any("python -m inference train --resume resumed" in line for line in lines)
    resumed = resume("resumed", log=lines.append)
    assert any("Resuming 'resumed' after epoch 1 of 3" in line for line in lines)

    assert resumed["provenance"]["epochs_run"] == 3 and resumed["provenance"]["finished"]
    assert resumed["provenance"]["holdout"] == straight["provenance"]["holdout"]
    history = [RunFolder(name).read_state().history for name in ("straight", "resumed")]
    for a, b in zip(*history, strict=True):
        assert a["val_accuracy"] == b["val_accuracy"] and a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    assert resumed["metrics"]["holdout_accuracy"] == straight["metrics"]["holdout_accuracy"]
    for a, b in zip(weights(tmp_path, "straight"), weights(tmp_path, "resumed"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@needs_shared("fer2013-train")
def test_checkpoints_are_outside_the_models_folder_and_named_in_the_card(tmp_path, training_dir):
    card = train(tiny(tmp_path, "where", epochs=1), log=lambda *_: None)
    folder = RunFolder("where")
    assert card["provenance"]["checkpoints"] == str(folder.path)
    assert folder.path.parent == training_dir
    assert {p.name for p in folder.path.iterdir()} == {
        "config.json", "state.json", "last.weights.h5", "last.optimizer.npz", "best.weights.h5",
    }  # fmt: skip
    assert not list(tmp_path.glob("*.h5")) and not list(tmp_path.glob("*.npz"))


def test_resuming_an_unknown_or_finished_run_says_so(tmp_path, training_dir):
    with pytest.raises(SystemExit, match="No training run 'ghost'"):
        resume("ghost")
    folder = RunFolder("done")
    folder.path.mkdir(parents=True)
    folder.state_file.write_text(
        json.dumps({"name": "done", "epochs": 3, "holdout": "x", "epochs_done": 3, "finished": True,
                    "stopped": "schedule complete"})
    )  # fmt: skip
    folder.config.write_text(json.dumps({"out_dir": str(tmp_path)}))
    with pytest.raises(SystemExit, match="has finished"):
        resume("done")


def test_train_status_lists_each_run_with_epoch_accuracy_speed_and_eta(training_dir):
    folder = RunFolder("half-way")
    folder.path.mkdir(parents=True)
    history = [
        {"epoch": e, "loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.5, "seconds": 100.0} for e in (1, 2)
    ]
    folder.state_file.write_text(
        json.dumps({"name": "half-way", "epochs": 10, "holdout": "x", "epochs_done": 2, "best_accuracy": 0.61,
                    "best_epoch": 2, "history": history, "pid": 999_999_999})
    )  # fmt: skip
    folder.log.write_text("epoch 2/10 ...\n")
    (run,) = all_runs()
    assert (run["epochs_done"], run["epochs"], run["best_holdout_accuracy"]) == (2, 10, 0.61)
    assert run["seconds_per_epoch"] == 100.0 and run["eta_seconds"] == 800.0
    assert run["running"] is False and run["log"] == str(folder.log)  # pid 999999999 is no training process
    text = format_runs([run])
    assert "half-way: epoch 2/10, best hold-out accuracy 0.6100" in text
    assert "--resume half-way" in text

    done = subprocess.run(
        [sys.executable, "-m", "inference", "train-status"], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "half-way: epoch 2/10" in done.stdout
