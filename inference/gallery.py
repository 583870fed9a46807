"""Finding every face of a video call's gallery view in one large frame (a screen capture up to 1920x1080).

BlazeFace sees its input at 128x128 px: a 1080p frame shrunk whole turns a 5x5 gallery's 60-120 px faces into
4-8 px, far below the ~16 px the model needs. So the frame is searched at two scales, each in one call of the model
on the whole downscaled frame (the model is fully convolutional: blazeface.py):

- fine: the frame is downscaled so that 128 px cover `fine_window` of the frame's height (0.4: ~430 px of a 1080p
  frame, where gallery faces of 45-150 px become 13-45 px, the model's comfortable range): 569x320 for 1920x1080;
- coarse: 128 px for the frame's height, for the large faces of a 2x2 gallery or a speaker view.

Until December 2026 the fine scale was cut into 18 overlapping 128x128 windows (and the coarse one into 3), with
the faces cut by a window's edge merged across windows; the whole frame at once costs 19 instead of 27 ms on one core
and cuts no face. Each scale's raw detections are merged as MediaPipe merges them (weighted NMS), then the scales'
results with each other: overlapping boxes (IoU > 0.3, or one mostly inside another) are one face, the fine view
wins, and among views of one scale the best-scored box is kept.
"""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .blazeface import BlazeFace, intersection_matrix, iou_matrix, weighted_nms
from .detector import Detection
from .model_cards import EMOTIONS

cv2.setNumThreads(1)

# Higher than the webcam path's 0.5. Measured with the whole-frame search on 30 test galleries (2x2 to 7x7, 691 faces
# found) and 40 slides: detections on slides (target-like circles, dark corners) scored 0.50-0.55, while only one
# found face scored below 0.58 (0.546).
GALLERY_MIN_SCORE = 0.58


class _Pyramid:
    """Downscaled copies of a frame. OpenCV's area interpolation is fast for exact halves (~0.5 ms for 1080p) and
    slow for other ratios (~6 ms for 1080p to 0.3x), so: halve by area while the target is at most half the size,
    then finish with bilinear, which aliases little over the remaining less-than-2x step."""

    def __init__(self, rgb: np.ndarray):
        self.halves = [rgb]

    def scaled(self, scale: float) -> np.ndarray:
        halvings = 0
        while scale * 2 ** (halvings + 1) <= 1.0 and min(self.halves[0].shape[:2]) >> (halvings + 1) >= 1:
            halvings += 1
        while len(self.halves) <= halvings:
            previous = self.halves[-1]
            half = (max(1, previous.shape[1] // 2), max(1, previous.shape[0] // 2))
            self.halves.append(cv2.resize(previous, half, interpolation=cv2.INTER_AREA))
        base = self.halves[halvings]
        height, width = self.halves[0].shape[:2]
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
        if (base.shape[1], base.shape[0]) == target:
            return base
        return cv2.resize(base, target, interpolation=cv2.INTER_LINEAR)


class GalleryDetector:
    """All faces of one large frame. Not thread-safe (its interpreters): the engine gives each thread its own."""

    def __init__(
        self,
        models_dir: Path,
        min_score: float = GALLERY_MIN_SCORE,
        min_face_size: int = 20,
        fine_window: float = 0.4,
    ):
        self.model = BlazeFace(models_dir, "short", min_score)
        self.size = self.model.size
        self.min_face_size = min_face_size
        self.fine_window = fine_window

    def plan(self, width: int, height: int) -> list[tuple[str, float]]:
        """The scales a frame is searched at: (level, scaled frame px per frame px), finest first. The fine scale
        never enlarges the frame: a small frame is searched at its own resolution (its faces are then at least as
        large, relative to the model's input, as in a 1080p capture)."""
        fine = min(1.0, self.size / (self.fine_window * min(width, height)))
        coarse = self.size / min(width, height)
        if coarse >= fine * 0.75:
            return [("fine", fine)]  # the fine scale already sees the whole frame at about the coarse scale
        return [("fine", fine), ("coarse", coarse)]

    def detect(self, rgb: np.ndarray) -> tuple[list[Detection], dict[str, float]]:
        """Faces in frame pixels, and the ms spent detecting (resize + model + decode) and merging."""
        started = time.perf_counter()
        height, width = rgb.shape[:2]
        pyramid = _Pyramid(rgb)
        plan = self.plan(width, height)
        found = []
        for level, scale in plan:
            # The model takes [-1, 1] floats.
            scaled = pyramid.scaled(scale).astype(np.float32) * (2 / 255) - 1
            found.append((level, scale, self.model.detect_image(scaled)))
        detected = time.perf_counter()
        boxes, scores, coarse = [], [], []
        for level, scale, (level_boxes, level_scores) in found:
            if len(level_boxes):
                merged, merged_scores = weighted_nms(level_boxes, level_scores)
                boxes.append(merged / scale)
                scores.append(merged_scores)
                coarse.append(np.full(len(merged), level == "coarse"))
        detections = []
        if boxes:
            kept = self._merge(np.concatenate(boxes), np.concatenate(scores), np.concatenate(coarse))
            kept = self._refine(kept, pyramid, [scale for _, scale in plan])
            detections = self._to_detections(kept, width, height)
        merged_at = time.perf_counter()
        return detections, {"detect": (detected - started) * 1000, "merge": (merged_at - detected) * 1000}

    @staticmethod
    def _merge(
        boxes: np.ndarray, scores: np.ndarray, coarse: np.ndarray
    ) -> list[tuple[np.ndarray, float, bool]]:
        """One (box, score, precise) per face: fine views first, then coarse ones, by score within each; a coarse
        view only survives where the fine scale saw no such face, and is not `precise` (its box is rough:
        `_refine` looks again)."""
        order = np.lexsort((-scores, coarse))
        boxes, scores, rough = boxes[order], scores[order], coarse[order]
        overlap = iou_matrix(boxes, boxes)
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        inside = intersection_matrix(boxes, boxes) / np.maximum(
            np.minimum(areas[:, None], areas[None, :]), 1e-9
        )
        same_face = (overlap > 0.3) | (inside > 0.6)
        alive = np.ones(len(boxes), bool)
        kept = []
        for index in range(len(boxes)):
            if alive[index]:
                kept.append((boxes[index], float(scores[index]), not rough[index]))
                alive &= ~same_face[index]
        return kept

    def _refine(self, kept, pyramid: _Pyramid, scales: list[float]):
        """Look again at faces seen only by the coarse scale: its view of a 100-150 px face boxes it loosely
        (measured: 176 px for a 118 px face). One 128x128 window centred on the face, at the finest scale where it
        fills at most 45% of the window, gives the precise box; only such faces cost a window (none in 5x5 and 7x7
        1080p galleries, a few in a 4x4)."""
        size = self.size
        scales = sorted(scales, reverse=True)
        if len(scales) == 2:
            scales.insert(1, math.sqrt(scales[0] * scales[1]))
        scaled_frames: dict[float, np.ndarray] = {}
        result = []
        for box, score, precise in kept:
            if precise:
                result.append((box, score))
                continue
            side = max(box[2] - box[0], box[3] - box[1])
            scale = next((s for s in scales if side * s <= 0.45 * size), scales[-1])
            if scale not in scaled_frames:
                scaled_frames[scale] = pyramid.scaled(scale)
            frame = scaled_frames[scale]
            frame_h, frame_w = frame.shape[:2]
            cx, cy = (box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale
            x0 = int(min(max(0, round(cx - size / 2)), max(0, frame_w - size)))
            y0 = int(min(max(0, round(cy - size / 2)), max(0, frame_h - size)))
            cut = frame[y0 : y0 + size, x0 : x0 + size].astype(np.float32) * (2 / 255) - 1
            found_boxes, found_scores = self.model.detect_image(cut)  # padded to 128x128 like any small image
            if len(found_boxes):
                found_boxes, found_scores = weighted_nms(found_boxes, found_scores)
                found_boxes = (found_boxes + np.array([x0, y0, x0, y0], np.float32)) / scale
                overlap = iou_matrix(box[np.newaxis], found_boxes)[0]
                best = int(overlap.argmax())
                if overlap[best] > 0.3:
                    box, score = found_boxes[best], float(found_scores[best])
            result.append((box, score))
        return result

    def _to_detections(self, kept, width: int, height: int) -> list[Detection]:
        detections = []
        for box, score in kept:
            x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
            x1, y1 = min(width, int(round(box[2]))), min(height, int(round(box[3])))
            if min(x1 - x0, y1 - y0) >= self.min_face_size:
                detections.append(Detection((x0, y0, x1 - x0, y1 - y0), score))
        detections.sort(key=lambda d: (d.box[1], d.box[0]))
        return detections


@dataclass(eq=False)
class GalleryFace:
    """One face of a gallery frame. `participant` is set by `tracking.ParticipantTracker.update`."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float  # detection score
    probabilities: tuple[float, ...] | None  # 7 values in EMOTIONS order; None in presence-only mode
    emotion: str | None
    confidence: float | None
    embedding: np.ndarray = field(
        repr=False
    )  # appearance vector (appearance.py); in memory only, never stored
    participant: int | None = None

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    def to_dict(self) -> dict:
        """JSON-ready, without the appearance vector."""
        data = {
            "box": list(self.box),
            "score": self.score,
            "emotion": self.emotion,
            "confidence": self.confidence,
            "probabilities": None,
            "participant": self.participant,
        }
        if self.probabilities is not None:
            data["probabilities"] = dict(zip(EMOTIONS, self.probabilities, strict=True))
        return data


@dataclass
class GalleryResult:
    width: int
    height: int
    faces: list[GalleryFace]
    timings: dict[str, float]  # ms per stage: decode, detect, merge, classify, embed, total

    def to_dict(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "faces": [face.to_dict() for face in self.faces],
            "timings": dict(self.timings),
        }
