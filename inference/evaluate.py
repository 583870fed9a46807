"""Evaluation of emotion models on a labelled folder of face crops (FER2013-style 48x48 images).

The dev set is class-balanced, so besides plain accuracy we report prior-weighted accuracy: per-class recall weighted
by the class frequencies of the full FER2013 test split, an estimate of accuracy on the natural distribution.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model_cards import EMOTIONS

# Class counts of the full FER2013 test split (PublicTest + PrivateTest).
FER2013_TEST_PRIORS = {
    "angry": 958, "disgust": 111, "fear": 1024, "happy": 1774, "sad": 1247, "surprise": 831, "neutral": 1233,
}  # fmt: skip
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass(frozen=True)
class LabelledImages:
    paths: list[Path]
    labels: np.ndarray  # indices into EMOTIONS


def load_labelled_folder(folder: Path) -> LabelledImages:
    """`labels.csv` (path,label) if present, else `<label>/<image>` sub-folders."""
    folder = Path(folder)
    pairs: list[tuple[Path, str]] = []
    labels_csv = folder / "labels.csv"
    if labels_csv.exists():
        with labels_csv.open() as handle:
            pairs = [(folder / row["path"], row["label"]) for row in csv.DictReader(handle)]
    else:
        for label in EMOTIONS:
            pairs += [
                (p, label) for p in sorted((folder / label).glob("*")) if p.suffix.lower() in IMAGE_SUFFIXES
            ]
    if not pairs:
        raise SystemExit(
            f"No labelled images found in {folder} (expected labels.csv or <label>/<image> folders)."
        )
    unknown = {label for _, label in pairs} - set(EMOTIONS)
    if unknown:
        raise SystemExit(f"Unknown labels in {folder}: {sorted(unknown)}")
    return LabelledImages([p for p, _ in pairs], np.array([EMOTIONS.index(label) for _, label in pairs]))


def read_gray(paths: list[Path], progress=None) -> list[np.ndarray]:
    import cv2  # here, so that `train` (which reuses load_labelled_folder) runs where OpenCV is not installed

    images = []
    for path in progress(paths) if progress else paths:
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise SystemExit(f"Cannot read {path}")
        images.append(image)
    return images


def metrics(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> dict:
    predictions = probabilities.argmax(axis=1)
    k = len(EMOTIONS)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (labels, predictions), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    true_positive = np.diag(confusion)
    recall = np.divide(true_positive, support, out=np.zeros(k), where=support > 0)
    precision = np.divide(true_positive, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0
    )
    priors = np.array([FER2013_TEST_PRIORS[name] for name in EMOTIONS], dtype=float)
    present = support > 0
    prior_weighted = float((recall * priors)[present].sum() / priors[present].sum())
    # Expected calibration error over equal-width confidence bins.
    confidence = probabilities.max(axis=1)
    correct = predictions == labels
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return {
        "images": int(len(labels)),
        "accuracy": float(correct.mean()),
        "prior_weighted_accuracy": prior_weighted,
        "macro_f1": float(f1[present].mean()),
        "expected_calibration_error": float(ece),
        "mean_confidence": float(confidence.mean()),
        "per_class": {
            name: {
                "support": int(support[i]),
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
            }
            for i, name in enumerate(EMOTIONS)
        },
        "confusion_matrix": {"labels": list(EMOTIONS), "rows_true_cols_predicted": confusion.tolist()},
    }


def plot_confusion(report: dict, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array(report["confusion_matrix"]["rows_true_cols_predicted"], dtype=float)
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            colour = "white" if normalised[i, j] > 0.5 else "black"
            ax.text(
                j,
                i,
                f"{int(matrix[i, j])}\n{normalised[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=7,
                color=colour,
            )
    ax.set_title(f"{title}\naccuracy {report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_key(name: str, flip_tta: bool) -> str:
    """A model's column: its name as served (flip TTA), or marked when measured without it."""
    return name if flip_tta else f"{name} (no flip)"


def card_metrics(report: dict, folder: Path) -> dict:
    """The summary of an evaluation that a model card keeps."""
    return {
        "dataset": str(folder),
        "flip_tta": bool(report.get("flip_tta")),
        "images": report["images"],
        "accuracy": round(report["accuracy"], 4),
        "prior_weighted_accuracy": round(report["prior_weighted_accuracy"], 4),
        "macro_f1": round(report["macro_f1"], 4),
        "expected_calibration_error": round(report["expected_calibration_error"], 4),
    }


def record_in_card(name: str, report: dict, folder: Path, models_dir=None, key: str = "dev") -> Path:
    """Write the measured numbers into the model's card under metrics[key] (the card must be in models_dir)."""
    from .model_cards import write_card
    from .paths import models_dir as resolve_models_dir

    card = Path(name) if name.endswith(".json") else resolve_models_dir(models_dir) / f"{name}.json"
    if not card.exists():
        raise SystemExit(f"--record: no card {card} to write to (shipped models' cards are read-only)")
    fields = json.loads(card.read_text())
    fields.setdefault("metrics", {})[key] = card_metrics(report, folder)
    write_card(card, **fields)
    return card


def evaluate_models(
    folder: Path,
    model_names: list[str],
    out_dir: Path | None,
    models_dir=None,
    log=print,
    flip_tta: tuple[bool, ...] = (False, True),
    record: bool = False,
) -> dict:
    """Each model on the labelled folder, once per flip-TTA setting in `flip_tta` (side by side by default)."""
    from tqdm import tqdm

    from .engine import Engine

    data = load_labelled_folder(folder)
    images = read_gray(data.paths, progress=lambda it: tqdm(it, desc="reading", unit="img", leave=False))
    reports = {}
    for name in model_names:
        for flip in flip_tta:
            engine = Engine(models_dir=models_dir, emotion_model=name, flip_tta=flip)
            key = report_key(engine.card.name, flip)  # a card given by its path is shown by its name
            probabilities = []
            for start in tqdm(
                range(0, len(images), 64), desc=f"classifying ({key})", unit="batch", leave=False
            ):
                probabilities.append(engine.classify_faces(images[start : start + 64]))
            report = metrics(data.labels, np.concatenate(probabilities))
            report["model"], report["flip_tta"] = engine.card.name, flip
            reports[key] = report
            if record:
                where = record_in_card(
                    name, report, folder, models_dir, key="dev_flip_tta" if flip else "dev"
                )
                log(f"{key}: recorded in {where}")
            if out_dir:
                out_dir.mkdir(parents=True, exist_ok=True)
                slug = engine.card.name if flip else f"{engine.card.name}-no-flip"
                plot_confusion(report, key, out_dir / f"confusion-{slug}.png")
    if out_dir:
        (out_dir / "report.json").write_text(
            json.dumps({"folder": str(folder), "models": reports}, indent=2) + "\n"
        )
    log(format_reports(reports))
    return reports


def format_reports(reports: dict) -> str:
    names = list(reports)
    width = max(12, *(len(n) for n in names))
    lines = [f"{'metric':<26}" + "".join(f"{n:>{width + 2}}" for n in names)]
    for key, label in [
        ("accuracy", "accuracy"),
        ("prior_weighted_accuracy", "prior-weighted accuracy"),
        ("macro_f1", "macro-F1"),
        ("expected_calibration_error", "calibration error (ECE)"),
    ]:
        lines.append(f"{label:<26}" + "".join(f"{reports[n][key]:>{width + 2}.4f}" for n in names))
    for emotion in EMOTIONS:
        lines.append(
            f"{'recall ' + emotion:<26}"
            + "".join(f"{reports[n]['per_class'][emotion]['recall']:>{width + 2}.3f}" for n in names)
        )
        lines.append(
            f"{'precision ' + emotion:<26}"
            + "".join(f"{reports[n]['per_class'][emotion]['precision']:>{width + 2}.3f}" for n in names)
        )
    return "\n".join(lines)
