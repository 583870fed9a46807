"""BlazeFace through the MediaPipe Tasks `FaceDetector`, loaded from files in the models directory.

Why TensorFlow got imported: `import mediapipe` runs `mediapipe/__init__.py`, which imports all of
`mediapipe.tasks.python` (importing only the `vision.face_detector` submodule still runs every parent package), and
its result containers import `mediapipe.tasks.python.core.optional_dependencies`, which does
`from tensorflow.tools.docs import doc_controls` only to get a no-op documentation decorator; it falls back to its
own no-op when TensorFlow is absent. So we register that module, with the same no-op, before MediaPipe is imported:
what MediaPipe does itself on a machine without TensorFlow. Measured to a first detection: 0.53 s / 153 MB instead of
2.47 s / 606 MB (numbers from `python -m inference bench`). If MediaPipe was already imported, TensorFlow is already
loaded and the shim changes nothing.

Each MediaPipe 1.2 detector runs its C calls on a private dispatcher thread, which Python stops at interpreter exit;
a detector collected after that prints a traceback, so live detectors are closed by an exit hook that runs first.
Until then they are held (see `_live`).
"""

import importlib
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelsMissing
from .paths import SETUP_COMMAND

_OPTIONAL_DEPENDENCIES = "mediapipe.tasks.python.core.optional_dependencies"
if _OPTIONAL_DEPENDENCIES not in sys.modules:
    _shim = types.ModuleType(_OPTIONAL_DEPENDENCIES)
    _shim.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda obj: obj)
    sys.modules[_OPTIONAL_DEPENDENCIES] = _shim

import mediapipe as mp  # noqa: E402
from mediapipe.tasks.python.core import base_options  # noqa: E402
from mediapipe.tasks.python.vision import face_detector  # noqa: E402

DETECTOR_FILES = {
    "short": "face_detection_short_range.tflite",  # faces within ~2 m: a student in front of a webcam
    "full": "face_detection_full_range_sparse.tflite",  # up to ~5 m: a wide classroom shot
}


def check_detector_file(models_dir: Path, kind: str) -> Path:
    if kind not in DETECTOR_FILES:
        raise ValueError(f"detector must be one of {sorted(DETECTOR_FILES)}, not {kind!r}")
    path = models_dir / DETECTOR_FILES[kind]
    if not path.exists():
        raise ModelsMissing(f"Face detection model {path} is missing. Run `{SETUP_COMMAND}`.")
    return path


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h in pixels, clipped to the image
    score: float


class FaceDetector:
    """One MediaPipe detector. Not thread-safe: the engine gives each thread its own."""

    def __init__(self, models_dir: Path, kind: str = "short", min_score: float = 0.5, min_size: int = 20):
        path = check_detector_file(models_dir, kind)
        options = face_detector.FaceDetectorOptions(
            base_options=base_options.BaseOptions(model_asset_path=str(path)),
            min_detection_confidence=min_score,
        )
        self._detector = face_detector.FaceDetector.create_from_options(options)
        self.min_size = min_size
        _live.add(self)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        found = []
        for detection in self._detector.detect(image).detections:
            bbox = detection.bounding_box
            x0, y0 = max(0, bbox.origin_x), max(0, bbox.origin_y)
            x1, y1 = min(width, bbox.origin_x + bbox.width), min(height, bbox.origin_y + bbox.height)
            if min(x1 - x0, y1 - y0) < self.min_size:
                continue
            score = detection.categories[0].score if detection.categories else 0.0
            found.append(Detection((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), float(score)))
        return found

    def close(self) -> None:
        _live.discard(self)
        detector, self._detector = getattr(self, "_detector", None), None
        if detector is not None:
            detector.close()


# Held strongly until closed. A MediaPipe detector left to the garbage collector is collected in one cycle with
# its dispatcher's executor, whose worker thread may stop first; the detector's own __del__ then waits forever for
# that thread (a test run hung at its end this way). So detectors are closed explicitly: by Engine.close(), or
# by the exit hook below.
_live: "set[FaceDetector]" = set()


def _close_live_detectors() -> None:
    for detector in list(_live):
        detector.close()


# Threading's exit hooks run in reverse order of registration, and `concurrent.futures.thread` registers the one that
# stops the dispatcher threads when it is first imported, which MediaPipe does lazily, on the first detector. So
# import it now, then register ours: it runs first. A plain atexit hook would run too late.
importlib.import_module("concurrent.futures.thread")
getattr(threading, "_register_atexit", lambda hook: None)(_close_live_detectors)
