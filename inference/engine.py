"""The pipeline: JPEG bytes -> faces with emotion probabilities.

    engine = Engine()                         # loads nothing yet; cheap to create once per process
    result = engine.analyze(jpeg_bytes)       # FrameResult, or raises a FrameError for a bad frame
    results = engine.analyze_batch(frames)    # one FrameResult or FrameError per frame, same results as one by one

Thread safety: one `Engine` may be shared by any number of threads. MediaPipe detectors and TFLite interpreters are
not thread-safe, so each thread lazily gets its own pair (thread-local); nothing is locked on the hot path. Run it in
a pool of as many threads as the process has cores (more only adds contention).
"""

import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .classifier import EmotionClassifier
from .decode import decode_rgb
from .detector import FaceDetector
from .errors import FrameError
from .model_cards import DEFAULT_EMOTION_MODEL, EMOTIONS, ModelCard, find_card
from .paths import models_dir as resolve_models_dir


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x, y, w, h in pixels
    score: float  # detection score
    probabilities: tuple[float, ...] | None  # 7 values in EMOTIONS order; None in presence-only mode
    emotion: str | None
    confidence: float | None

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["box"] = list(self.box)
        if self.probabilities is not None:
            data["probabilities"] = dict(zip(EMOTIONS, self.probabilities, strict=True))
        return data


@dataclass(frozen=True)
class FrameResult:
    width: int
    height: int
    faces: tuple[Face, ...]
    timings: dict[str, float]  # milliseconds per stage: decode, detect, classify, total

    @property
    def largest_face(self) -> Face | None:
        return max(self.faces, key=lambda face: face.area, default=None)

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "faces": [face.to_dict() for face in self.faces],
            "timings": dict(self.timings),
        }


def crop_face(gray: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """Square the box on its longer side, widen it by `margin` of that side on each edge, and cut it out,
    replicating edge pixels where it leaves the image (as a face at the frame's border would look)."""
    x, y, w, h = box
    side = max(w, h)
    side += 2 * int(round(margin * side))
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + side, y0 + side
    height, width = gray.shape[:2]
    pad_left, pad_top = max(0, -x0), max(0, -y0)
    pad_right, pad_bottom = max(0, x1 - width), max(0, y1 - height)
    crop = gray[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if pad_left or pad_top or pad_right or pad_bottom:
        crop = cv2.copyMakeBorder(crop, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    return crop


class Engine:
    """Face detection + emotion classification, safe to share between threads (see the module docstring)."""

    def __init__(
        self,
        models_dir: str | os.PathLike | None = None,
        detector: str = "short",
        min_detection_score: float = 0.5,
        min_face_size: int = 20,
        max_pixels: int = 4_000_000,
        emotion_model: str | None = None,
    ):
        self.models_dir = resolve_models_dir(models_dir)
        self.detector_kind = detector
        self.min_detection_score = min_detection_score
        self.min_face_size = min_face_size
        self.max_pixels = max_pixels
        self.emotion_model = (
            emotion_model or os.environ.get("FERMONITOR_EMOTION_MODEL") or DEFAULT_EMOTION_MODEL
        )
        self.card: ModelCard = find_card(self.emotion_model, Path(self.models_dir))
        self._local = threading.local()

    # Per-thread model instances -------------------------------------------------------------------------------
    def _detector(self) -> FaceDetector:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = FaceDetector(
                Path(self.models_dir), self.detector_kind, self.min_detection_score, self.min_face_size
            )
            self._local.detector = detector
        return detector

    def _classifier(self) -> EmotionClassifier:
        classifier = getattr(self._local, "classifier", None)
        if classifier is None:
            classifier = self._local.classifier = EmotionClassifier(self.card)
        return classifier

    def warm_up(self, emotions: bool = True) -> None:
        """Load this thread's models now instead of on its first frame."""
        self._detector()
        if emotions:
            self._classifier()

    # Pipeline -------------------------------------------------------------------------------------------------
    def analyze(self, data: bytes, emotions: bool = True) -> FrameResult:
        """Analyse one JPEG/PNG frame. `emotions=False` is presence-only: the classifier is never run."""
        started = time.perf_counter()
        rgb = decode_rgb(data, self.max_pixels)
        decoded = time.perf_counter()
        detections = self._detector().detect(rgb)
        detected = time.perf_counter()
        probabilities = None
        if emotions and detections:
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            crops = [crop_face(gray, d.box, self.card.face_margin) for d in detections]
            probabilities = self._classifier().classify(crops)
        classified = time.perf_counter()
        faces = []
        for index, detection in enumerate(detections):
            if probabilities is None:
                faces.append(Face(detection.box, detection.score, None, None, None))
                continue
            row = probabilities[index]
            best = int(np.argmax(row))
            faces.append(
                Face(
                    detection.box,
                    detection.score,
                    tuple(float(p) for p in row),
                    EMOTIONS[best],
                    float(row[best]),
                )
            )
        timings = {
            "decode": (decoded - started) * 1000,
            "detect": (detected - decoded) * 1000,
            "classify": (classified - detected) * 1000,
            "total": (classified - started) * 1000,
        }
        height, width = rgb.shape[:2]
        return FrameResult(width, height, tuple(faces), timings)

    def analyze_batch(self, frames: list[bytes], emotions: bool = True) -> list[FrameResult | FrameError]:
        """Analyse several frames; a bad frame yields its FrameError in place and the others are still analysed."""
        results: list[FrameResult | FrameError] = []
        for data in frames:
            try:
                results.append(self.analyze(data, emotions=emotions))
            except FrameError as error:
                results.append(error)
        return results

    def classify_faces(self, crops: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Classify already-cropped faces (gray uint8, any size) -> (N, 7) probabilities in EMOTIONS order."""
        classifier = self._classifier()
        if not crops:
            return np.zeros((0, len(EMOTIONS)))
        parts = [classifier.classify(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]
        return np.concatenate(parts)
