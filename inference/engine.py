"""The pipeline: JPEG bytes -> faces with emotion probabilities.

    engine = Engine()                         # loads nothing yet; cheap to create once per process
    result = engine.analyze(jpeg_bytes)       # FrameResult, or raises a FrameError for a bad frame
    results = engine.analyze_batch(frames)    # one FrameResult or FrameError per frame, same results as one by one

Thread safety: one `Engine` may be shared by any number of threads. MediaPipe detectors and TFLite interpreters are
not thread-safe, so each thread lazily gets its own pair (`threading.local`); nothing is locked on the hot path.
Every interpreter runs with one thread: more interpreter threads than the process's cores was seen 500x slower.

Throughput (`python -m inference bench`, 2 idle cores): at the live default of 320x240, 2 threads in one process
give 1,222 frames/s against 1,231 for 2 single-threaded processes; at 640x480, 826 against 949 (the GIL-bound
Python between the native stages and MediaPipe's per-call dispatcher thread cost threads a little). The live server
therefore analyses on a thread pool sized to the cores, with the models loaded once per process.
"""

import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .appearance import appearances
from .classifier import EmotionClassifier
from .decode import decode_rgb
from .detector import Detection, FaceDetector, check_detector_file
from .errors import FrameError, ImageTooLarge, InvalidImage
from .gallery import GALLERY_MIN_SCORE, GalleryDetector, GalleryFace, GalleryResult
from .model_cards import DEFAULT_EMOTION_MODEL, EMOTIONS, FaceCrop, ModelCard, find_card, flip_tta_setting
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


def crop_face(image: np.ndarray, box: tuple[int, int, int, int], crop: FaceCrop) -> np.ndarray:
    """Cut the square around a detector box that the model expects (see `FaceCrop`), replicating edge pixels where
    it leaves the image, as a face at the frame's border would continue."""
    x, y, w, h = box
    side = max(1, int(round(max(w, h) * crop.side)))
    cx, cy = x + w / 2, y + h / 2 + crop.shift_y * h
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + side, y0 + side
    height, width = image.shape[:2]
    pad_left, pad_top = max(0, -x0), max(0, -y0)
    pad_right, pad_bottom = max(0, x1 - width), max(0, y1 - height)
    cut = image[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if pad_left or pad_top or pad_right or pad_bottom:
        cut = cv2.copyMakeBorder(cut, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE)
    return cut


def to_model_colour(crop: np.ndarray, colour: str) -> np.ndarray:
    return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if colour == "gray" else crop


@dataclass
class _Located:
    """A decoded frame's faces, cropped for the classifier, waiting for their probabilities."""

    width: int
    height: int
    detections: list[Detection]
    crops: list[np.ndarray]  # empty in presence-only mode
    timings: dict[str, float]

    def result(self, probabilities: np.ndarray | None, classify_ms: float) -> FrameResult:
        faces = []
        for index, detection in enumerate(self.detections):
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
        timings = dict(self.timings)
        timings["classify"] += classify_ms
        timings["total"] = timings["decode"] + timings["detect"] + timings["classify"]
        return FrameResult(self.width, self.height, tuple(faces), timings)


class Engine:
    """Face detection + emotion classification; one instance may be shared by many threads.

    models_dir: where `python -m inference setup` put the models (default `$FERMONITOR_MODELS_DIR`, else
        `<repo>/models`). detector: "short" (BlazeFace short range, faces within ~2 m: a webcam) or "full" (full
        range sparse, up to ~5 m: a classroom shot). min_detection_score, min_face_size (pixels, shorter box side):
        weaker or smaller detections are dropped. max_pixels: larger images are refused from their header
        (`ImageTooLarge`). emotion_model: a model card name in the models directory, or a path to a card `.json`
        (default `$FERMONITOR_EMOTION_MODEL`, else `DEFAULT_EMOTION_MODEL`). flip_tta: classify each face with its
        mirror image in the same batch and average (default `$FERMONITOR_FLIP_TTA`, else the card: on).

    Creating it only reads the model card (raising `ModelsMissing` if it is absent); each thread loads its own
    detector and interpreter on its first frame, or in `warm_up()`.
    """

    def __init__(
        self,
        models_dir: str | os.PathLike | None = None,
        detector: str = "short",
        min_detection_score: float = 0.5,
        min_face_size: int = 20,
        max_pixels: int = 4_000_000,
        emotion_model: str | None = None,
        flip_tta: bool | None = None,
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
        self.flip_tta = flip_tta_setting(flip_tta, self.card)
        check_detector_file(Path(self.models_dir), detector)  # fail here, not on the first frame
        self._local = threading.local()
        self._created_lock = threading.Lock()
        self._created: list[FaceDetector] = []  # every thread's detector, so that close() can reach them all

    # Per-thread model instances -------------------------------------------------------------------------------
    def _detector(self) -> FaceDetector:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = FaceDetector(
                Path(self.models_dir), self.detector_kind, self.min_detection_score, self.min_face_size
            )
            self._local.detector = detector
            with self._created_lock:
                self._created.append(detector)
        return detector

    def _classifier(self) -> EmotionClassifier:
        classifier = getattr(self._local, "classifier", None)
        if classifier is None:
            classifier = self._local.classifier = EmotionClassifier(self.card, flip_tta=self.flip_tta)
        return classifier

    def warm_up(self, emotions: bool = True) -> None:
        """Load this thread's models now instead of on its first frame."""
        self._detector()
        if emotions:
            self._classifier()

    def close(self) -> None:
        """Release every thread's detector (optional: done at interpreter exit anyway). Call it only once no
        thread is analysing; a thread that analyses afterwards gets a fresh detector."""
        with self._created_lock:
            created, self._created = self._created, []
        for detector in created:
            detector.close()
        self._local = threading.local()

    # Pipeline -------------------------------------------------------------------------------------------------
    def analyze(self, data: bytes, emotions: bool = True) -> FrameResult:
        """Analyse one JPEG/PNG frame; raises a `FrameError` subclass for a bad one.

        `emotions=False` is presence-only: faces are detected, the classifier is never run, and each face's
        probabilities, emotion and confidence are None."""
        frame = self._locate(data, emotions)
        started = time.perf_counter()
        probabilities = self._classifier().classify(frame.crops) if frame.crops else None
        return frame.result(probabilities, (time.perf_counter() - started) * 1000)

    def analyze_batch(self, frames: list[bytes], emotions: bool = True) -> list[FrameResult | FrameError]:
        """Analyse several frames: the same results as `analyze` one by one (bit for bit), but the faces of all
        frames go through the classifier in one batch (measured ~1.3 ms per face at batch 8 against ~2 ms alone
        on a loaded machine). A bad frame yields its `FrameError` in place; the others are still analysed. Each
        frame's classify timing is its share, by faces, of the batch's time."""
        located: list[_Located | FrameError] = []
        for data in frames:
            try:
                located.append(self._locate(data, emotions))
            except FrameError as error:
                located.append(error)
        ready = [frame for frame in located if isinstance(frame, _Located)]
        crops = [crop for frame in ready for crop in frame.crops]
        started = time.perf_counter()
        probabilities = self.classify_faces(crops) if crops else np.zeros((0, len(EMOTIONS)))
        per_face_ms = (time.perf_counter() - started) * 1000 / max(1, len(crops))
        results: list[FrameResult | FrameError] = []
        offset = 0
        for frame in located:
            if isinstance(frame, FrameError):
                results.append(frame)
                continue
            count = len(frame.crops)
            rows = probabilities[offset : offset + count] if count else None
            offset += count
            results.append(frame.result(rows, per_face_ms * count))
        return results

    def _locate(self, data: bytes, emotions: bool) -> _Located:
        started = time.perf_counter()
        rgb = decode_rgb(data, self.max_pixels)
        decoded = time.perf_counter()
        detections = self._detector().detect(rgb)
        detected = time.perf_counter()
        crops = []
        if emotions:
            # Cropping before the colour conversion converts only the faces, not the whole frame.
            crops = [
                to_model_colour(crop_face(rgb, d.box, self.card.crop), self.card.color) for d in detections
            ]
        cropped = time.perf_counter()
        timings = {
            "decode": (decoded - started) * 1000,
            "detect": (detected - decoded) * 1000,
            "classify": (cropped - detected) * 1000,
        }
        height, width = rgb.shape[:2]
        return _Located(width, height, detections, crops, timings)

    def classify_faces(self, crops: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Classify already-cropped faces -> (N, 7) probabilities in EMOTIONS order, in batches of `batch_size`.

        Crops are uint8, any size (resized to the model's input), gray HxW for a gray model (all shipped ones),
        RGB HxWx3 for an RGB one: e.g. FER2013's 48x48 images, classified whole, as `evaluate` does."""
        classifier = self._classifier()
        if not crops:
            return np.zeros((0, len(EMOTIONS)))
        parts = [classifier.classify(crops[i : i + batch_size]) for i in range(0, len(crops), batch_size)]
        return np.concatenate(parts)

    # Many faces in one large frame (a video call's gallery view) ----------------------------------------------
    def _gallery_detector(self) -> GalleryDetector:
        detector = getattr(self._local, "gallery_detector", None)
        if detector is None:
            detector = self._local.gallery_detector = GalleryDetector(
                Path(self.models_dir), max(self.min_detection_score, GALLERY_MIN_SCORE), self.min_face_size
            )
        return detector

    def warm_up_gallery(self, emotions: bool = True) -> None:
        """Load this thread's gallery detector (and classifier) now instead of on its first frame."""
        self._gallery_detector()
        if emotions:
            self._classifier()

    def analyze_gallery(self, frame: bytes | np.ndarray, *, emotions: bool = True) -> GalleryResult:
        """Every face of a screen capture of a video call (up to `max_pixels`, e.g. 1920x1080 with 49 tiles).

        frame: JPEG/PNG bytes (checked and decoded like `analyze`'s frames) or an HxWx3 uint8 RGB array (a decoded
        video frame). The whole frame is searched at the detector's scale (gallery.py; always the short-range
        BlazeFace model: gallery tiles are webcam pictures), all faces go through the classifier in one batch, and
        each face gets an appearance vector for `tracking.ParticipantTracker`. `emotions=False` is presence-only:
        the classifier is never run. Raises a `FrameError` for a bad frame."""
        started = time.perf_counter()
        rgb = self._gallery_pixels(frame)
        decoded = time.perf_counter()
        detections, timings = self._gallery_detector().detect(rgb)
        classify_started = time.perf_counter()
        probabilities = None
        if emotions and detections:
            crops = [
                to_model_colour(crop_face(rgb, d.box, self.card.crop), self.card.color) for d in detections
            ]
            probabilities = self._classifier().classify(crops)  # one batch for the whole frame
        classified = time.perf_counter()
        embeddings = appearances(rgb, [detection.box for detection in detections])
        faces = []
        for index, detection in enumerate(detections):
            row = probabilities[index] if probabilities is not None else None
            best = int(np.argmax(row)) if row is not None else None
            faces.append(
                GalleryFace(
                    detection.box,
                    detection.score,
                    tuple(float(p) for p in row) if row is not None else None,
                    EMOTIONS[best] if best is not None else None,
                    float(row[best]) if row is not None else None,
                    embeddings[index],
                )
            )
        embedded = time.perf_counter()
        timings = {
            "decode": (decoded - started) * 1000,
            **timings,
            "classify": (classified - classify_started) * 1000,
            "embed": (embedded - classified) * 1000,
        }
        timings["total"] = (embedded - started) * 1000
        height, width = rgb.shape[:2]
        return GalleryResult(width, height, faces, timings)

    def _gallery_pixels(self, frame: bytes | np.ndarray) -> np.ndarray:
        if isinstance(frame, bytes | bytearray | memoryview):
            return decode_rgb(bytes(frame), self.max_pixels)
        if not isinstance(frame, np.ndarray):
            raise InvalidImage("The frame must be JPEG/PNG bytes or an RGB pixel array.")
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise InvalidImage("A pixel frame must be an HxWx3 array of 8-bit RGB values.")
        height, width = frame.shape[:2]
        if height == 0 or width == 0:
            raise InvalidImage("The image has no pixels.")
        if width * height > self.max_pixels:
            raise ImageTooLarge(
                f"The image has {width}x{height} pixels; the limit is {self.max_pixels:,} pixels."
            )
        return np.ascontiguousarray(frame)
