"""What a set of faces says about the class: the share of each emotion and a mood index.

The valence weights are the live dashboard's (analytics/live/aggregation.py imports them from here), so that a
recorded lesson and a live one give the same index for the same faces.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from .model_cards import EMOTIONS

# How positive each class is, for the mood index (happy is good, neutral is attentive, negatives pull down).
VALENCE = {
    "angry": 0.05,
    "disgust": 0.05,
    "fear": 0.15,
    "sad": 0.2,
    "neutral": 0.6,
    "surprise": 0.75,
    "happy": 1.0,
}


def valence(probabilities: Sequence[float] | None) -> float | None:
    if probabilities is None:
        return None
    return float(sum(p * VALENCE[name] for name, p in zip(EMOTIONS, probabilities, strict=True)))


@dataclass(frozen=True)
class ClassMood:
    shares: dict[str, float]  # EMOTIONS -> mean probability over the faces (sums to 1)
    valence: float  # mean valence over the faces, 0..1


def class_mood(probabilities: Sequence[Sequence[float] | None]) -> ClassMood | None:
    """The class mood over the faces' probabilities (None entries, faces seen in presence-only mode, are skipped);
    None when no face has probabilities."""
    rows = [row for row in probabilities if row is not None]
    if not rows:
        return None
    shares = {name: sum(row[i] for row in rows) / len(rows) for i, name in enumerate(EMOTIONS)}
    return ClassMood(shares, sum(valence(row) for row in rows) / len(rows))
