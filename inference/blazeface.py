"""BlazeFace run directly on the TFLite runtime, for the faces of one large frame.

MediaPipe's `FaceDetector` (detector.py) takes one image per call and resizes it to the model's 128x128 input itself,
so a 1080p screen capture's 60-120 px gallery faces would shrink to 4-8 px. Here the model runs on images of any
size: BlazeFace is fully convolutional (SSD heads on feature maps of stride 8 and 16, reshaped to (1, -1, C)), so
its input tensor can be resized to a whole downscaled frame. Each anchor then sees what it would see in a 128x128
window around it, except that the frame's real pixels stand where a window would have padding, and no face is cut by
a window's edge. Per pixel that costs about what 128x128 windows cost (1.46 against 1.32 ms per 128x128 of input on
one core), without the windows' overlap (a 1080p frame at the gallery's fine scale: 16.4 ms whole against 18
overlapping windows, 23.8 ms). The raw
outputs are decoded in NumPy with the configuration MediaPipe uses for these models (SSD anchors, sigmoid scores
clipped at 100, weighted non-maximum suppression at IoU 0.3; see MediaPipe's face_detector_graph), so a face in a
128x128 input gets the same box either way (tests/inference/test_gallery.py compares them).
"""

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from .detector import check_detector_file


@dataclass(frozen=True)
class AnchorConfig:
    input_size: int
    strides: tuple[int, ...]
    interpolated: bool  # one extra anchor per layer between this layer's scale and the next's


# MediaPipe's SsdAnchorsCalculator options for the two BlazeFace models (fixed anchor size, aspect ratio 1).
CONFIGS = {
    "short": AnchorConfig(128, (8, 16, 16, 16), True),
    "full": AnchorConfig(192, (4,), False),
}


def anchor_centres(
    config: AnchorConfig, height: int | None = None, width: int | None = None
) -> list[np.ndarray]:
    """Per output head (one per distinct stride), its (N, 2) anchor centres (x, y) in input pixels, in the model's
    output order, for an input of height x width (by default the model's own square input). With a fixed anchor
    size every anchor is 1 x 1, so only the centres matter; layers of equal stride share one feature map (their
    anchors interleave)."""
    height = height or config.input_size
    width = width or config.input_size
    centres = []
    index = 0
    strides = config.strides
    while index < len(strides):
        stride = strides[index]
        per_cell = 0
        while index < len(strides) and strides[index] == stride:
            per_cell += 2 if config.interpolated else 1
            index += 1
        rows, cols = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(
            (np.arange(rows) + 0.5) * stride, (np.arange(cols) + 0.5) * stride, indexing="ij"
        )
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0).astype(np.float32))
    return centres


@dataclass
class _Runner:
    """An interpreter whose input is sized for one input shape, with that shape's anchors."""

    interpreter: Interpreter
    input: int
    scores: int
    boxes: int
    head_sizes: list[int]
    anchors: np.ndarray


class BlazeFace:
    """The model on one thread (not thread-safe: one per thread).

    - `detect(windows)` / `detect_scaled(windows)`: a batch of the model's own 128x128 inputs, as MediaPipe sees
      them; per window, boxes (K, 4) as x0, y0, x1, y1 in window pixels and scores (K,), before non-maximum
      suppression.
    - `detect_image(image)`: the same for one image of any size (a whole downscaled frame), in image pixels.

    Resizing an interpreter's input reallocates its tensors (and XNNPACK's plan), which costs more than a call, so
    each input shape keeps its own interpreter; a frame uses two or three (its fine and coarse scales, and 128x128
    for a second look), and the few most recent shapes are kept for frames of other sizes."""

    KEPT_SHAPES = 4
    MULTIPLE = 16  # the largest stride: an input of a multiple of it gives whole cells on every feature map

    def __init__(self, models_dir: Path, kind: str = "short", min_score: float = 0.5):
        self.config = CONFIGS[kind]
        self.size = self.config.input_size
        self.min_score = min_score
        self._path = str(check_detector_file(models_dir, kind))
        self._runners: OrderedDict[tuple[int, int, int], _Runner] = OrderedDict()
        # Clip before the sigmoid as MediaPipe does (score_clipping_thresh = 100); the logit threshold is exact.
        self._min_logit = float(np.log(min_score / (1 - min_score)))

    def _runner(self, batch: int, height: int, width: int) -> _Runner:
        key = (batch, height, width)
        runner = self._runners.get(key)
        if runner is not None:
            self._runners.move_to_end(key)
            return runner
        interpreter = Interpreter(model_path=self._path, num_threads=1)
        index = interpreter.get_input_details()[0]["index"]
        if (height, width) != (self.size, self.size) or batch != 1:
            interpreter.resize_tensor_input(index, [batch, height, width, 3])
        interpreter.allocate_tensors()
        outputs = sorted(interpreter.get_output_details(), key=lambda o: o["shape"][-1])
        heads = anchor_centres(self.config, height, width)
        runner = _Runner(
            interpreter,
            index,
            outputs[0]["index"],  # (1, N, 1) scores
            outputs[1]["index"],  # (1, N, 16) box and keypoint regressors
            [len(head) for head in heads],
            np.concatenate(heads),
        )
        self._runners[key] = runner
        while len(self._runners) > self.KEPT_SHAPES:
            self._runners.popitem(last=False)
        return runner

    def _run(self, windows: np.ndarray) -> tuple[_Runner, np.ndarray, np.ndarray]:
        """(B, H, W, 3) float32 in [-1, 1] (MediaPipe's input range) -> the runner (its anchors), logits (B, N) and
        box regressors (B, N, 4)."""
        batch = len(windows)
        runner = self._runner(*windows.shape[:3])
        runner.interpreter.set_tensor(runner.input, np.ascontiguousarray(windows, np.float32))
        runner.interpreter.invoke()
        # The models reshape each head's output to (1, -1, C) and concatenate the heads, so a batch comes back as
        # head 1 of every window, then head 2 of every window: regroup by window.
        logits = self._per_window(runner, runner.interpreter.get_tensor(runner.scores)[0, :, 0], batch)
        boxes = self._per_window(runner, runner.interpreter.get_tensor(runner.boxes)[0, :, :4], batch)
        return runner, logits, boxes

    @staticmethod
    def _per_window(runner: _Runner, flat: np.ndarray, batch: int) -> np.ndarray:
        parts, start = [], 0
        for size in runner.head_sizes:
            parts.append(flat[start : start + batch * size].reshape(batch, size, *flat.shape[1:]))
            start += batch * size
        return np.concatenate(parts, axis=1)

    def detect(self, windows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(B, S, S, 3) uint8 RGB windows -> per window (boxes, scores)."""
        return self.detect_scaled(windows.astype(np.float32) * (2 / 255) - 1)

    def detect_scaled(self, windows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The same for windows already in the model's [-1, 1] range."""
        if len(windows) == 0:
            return []
        runner, logits, regressors = self._run(windows)
        return [self._decode(runner.anchors, *outputs) for outputs in zip(logits, regressors, strict=True)]

    def detect_image(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One (H, W, 3) image of any size, in the model's [-1, 1] range -> (boxes, scores) in image pixels. The
        image is padded with black to a multiple of 16 px (at least the model's own size)."""
        height, width = image.shape[:2]
        padded_h = max(self.size, -(-height // self.MULTIPLE) * self.MULTIPLE)
        padded_w = max(self.size, -(-width // self.MULTIPLE) * self.MULTIPLE)
        if (padded_h, padded_w) != (height, width):
            padded = np.full((padded_h, padded_w, 3), -1, np.float32)
            padded[:height, :width] = image
            image = padded
        return self.detect_scaled(image[np.newaxis])[0]

    def _decode(self, anchors: np.ndarray, logits: np.ndarray, regressors: np.ndarray):
        keep = np.flatnonzero(logits >= self._min_logit)
        raw = regressors[keep]
        # MediaPipe: centre = raw / 128 * anchor_size + anchor, with anchor size 1 and raw in 128-px input units;
        # in input pixels that is raw + the anchor's centre, whatever the input's size.
        centre = raw[:, :2] + anchors[keep]
        half = raw[:, 2:] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        scores = 1 / (1 + np.exp(-np.clip(logits[keep], -100, 100)))
        return boxes, scores


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N, 4) with every box in b (M, 4); boxes as x0, y0, x1, y1."""
    inter = intersection_matrix(a, b)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def intersection_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-maximum suppression: the best-scoring box absorbs every remaining box overlapping it
    by more than `threshold` IoU; the merged box is their score-weighted mean and keeps the best score."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    alive = np.ones(len(boxes), bool)
    overlaps = iou_matrix(boxes, boxes) if len(boxes) else np.zeros((0, 0))
    merged, merged_scores = [], []
    for index in range(len(boxes)):
        if not alive[index]:
            continue
        group = alive & (overlaps[index] > threshold)
        group[index] = True
        weights = scores[group]
        merged.append((boxes[group] * weights[:, None]).sum(axis=0) / weights.sum())
        merged_scores.append(scores[index])
        alive &= ~group
    if not merged:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    return np.array(merged, np.float32), np.array(merged_scores, np.float32)
