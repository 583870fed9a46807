"""BlazeFace run directly on the TFLite runtime, for many small windows of one large frame.

MediaPipe's `FaceDetector` (detector.py) takes one image per call, resizes it to the model's 128x128 input itself,
and hands the work to a dispatcher thread; for a 1080p screen capture cut into ~20 windows that fixed cost per call
dominates. Here the windows are cut from a frame that was downscaled once, all of them go through one interpreter
call, and their raw outputs are decoded in NumPy with the very configuration MediaPipe uses for these models
(SSD anchors, sigmoid scores clipped at 100, weighted non-maximum suppression at IoU 0.3; see MediaPipe's
face_detector_graph), so a face gets the same box either way (tests/inference/test_gallery.py compares them).
"""

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


def anchor_centres(config: AnchorConfig) -> list[np.ndarray]:
    """Per output head (one per distinct stride), its (N, 2) anchor centres (x, y) in [0, 1], in the model's output
    order. With a fixed anchor size every anchor is 1 x 1, so only the centres matter; layers of equal stride share
    one feature map (their anchors interleave)."""
    centres = []
    index = 0
    strides = config.strides
    while index < len(strides):
        stride = strides[index]
        per_cell = 0
        while index < len(strides) and strides[index] == stride:
            per_cell += 2 if config.interpolated else 1
            index += 1
        cells = int(np.ceil(config.input_size / stride))
        ys, xs = np.meshgrid(
            (np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij"
        )
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0).astype(np.float32))
    return centres


class BlazeFace:
    """One interpreter (not thread-safe: one per thread). `detect(windows)` takes uint8 RGB windows of the model's
    input size and returns, per window, boxes (K, 4) as x0, y0, x1, y1 in window pixels and scores (K,), before
    non-maximum suppression (the caller merges across windows)."""

    def __init__(self, models_dir: Path, kind: str = "short", min_score: float = 0.5):
        self.config = CONFIGS[kind]
        self.size = self.config.input_size
        self.min_score = min_score
        self._interpreter = Interpreter(model_path=str(check_detector_file(models_dir, kind)), num_threads=1)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = sorted(self._interpreter.get_output_details(), key=lambda o: o["shape"][-1])
        self._scores, self._boxes = outputs[0]["index"], outputs[1]["index"]  # (1, N, 1) and (1, N, 16)
        heads = anchor_centres(self.config)
        self._head_sizes = [len(head) for head in heads]
        self._anchors = np.concatenate(heads)
        self._batch = 0
        # Clip before the sigmoid as MediaPipe does (score_clipping_thresh = 100); the logit threshold is exact.
        self._min_logit = float(np.log(min_score / (1 - min_score)))

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            self._interpreter.resize_tensor_input(self._input, [batch, self.size, self.size, 3])
            self._interpreter.allocate_tensors()
            self._batch = batch

    def raw(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, S, S, 3) float32 in [-1, 1] (MediaPipe's input range) -> logits (B, N) and box regressors (B, N, 4)."""
        self._resize(len(windows))
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(windows, np.float32))
        self._interpreter.invoke()
        # The models reshape each head's output to (1, -1, C) and concatenate the heads, so a batch comes back as
        # head 1 of every window, then head 2 of every window: regroup by window.
        batch = len(windows)
        logits = self._per_window(self._interpreter.get_tensor(self._scores)[0, :, 0], batch)
        boxes = self._per_window(self._interpreter.get_tensor(self._boxes)[0, :, :4], batch)
        return logits, boxes

    def _per_window(self, flat: np.ndarray, batch: int) -> np.ndarray:
        parts, start = [], 0
        for size in self._head_sizes:
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
        logits, regressors = self.raw(windows)
        found = []
        for window_logits, window_boxes in zip(logits, regressors, strict=True):
            keep = np.flatnonzero(window_logits >= self._min_logit)
            raw = window_boxes[keep]
            centre = raw[:, :2] + self._anchors[keep] * self.size
            half = raw[:, 2:] / 2
            boxes = np.concatenate([centre - half, centre + half], axis=1)
            scores = 1 / (1 + np.exp(-np.clip(window_logits[keep], -100, 100)))
            found.append((boxes, scores))
        return found


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
