"""The emotion CNN, served by the TFLite runtime (ai-edge-litert) with one interpreter thread.

Measured per face: TFLite 1 thread ~0.37 ms; Keras `model(x)` ~37 ms and `model.predict` ~51 ms (never used here);
an interpreter with more threads than the process's cores was seen 500x slower, so num_threads is always 1 and
parallelism comes from one interpreter per worker thread.

Flip test-time augmentation (on by default): a face is classified together with its mirror image and the two
probability rows are averaged. On the FER2013 dev set it lifts fer's model by about 2 points of accuracy
(docs/training.md). Mirroring every face doubles the classifier's cost, so a card may ask for the mirror only where
the first look is unsure (`flip_tta_below`, 0.8 for fer's model): the faces' own rows come first, in one call, then
the unsure faces' mirrors in a second. On dev that keeps the accuracy (64.6% against 64.5% mirroring every face)
and mirrors fewer than half of a gallery's faces (the 5x5 benchmark frame: 11 of 25; 7x7: 21 of 49).
"""

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from .model_cards import EMOTIONS, ModelCard


class EmotionClassifier:
    """One interpreter. Not thread-safe: the engine gives each thread its own.

    The batch API, stable for every caller (`Engine.analyze`, `Engine.analyze_batch`, `Engine.classify_faces`
    and any other path that classifies several faces at once):

        prepare(crops) -> batch     uint8 crops of any size -> the model's (N, H, W, C) float input
        predict(batch) -> probs     (N, H, W, C) -> (N, 7) probabilities in EMOTIONS order, rows summing to 1
        classify(crops) -> probs    predict(prepare(crops))

    `predict` makes one interpreter call per batch: with `flip_tta` mirroring every face (the card's
    `flip_tta_below` 1.0) that call holds the N faces and their N mirror images (2N rows); with a lower
    `flip_tta_below`, a second call holds the mirrors of the faces whose top probability is below it, if any. The
    same on every path a batch comes from.
    """

    KEPT_MIRROR_SIZES = 6

    def __init__(self, card: ModelCard, flip_tta: bool = True):
        self.card = card
        self.flip_tta = flip_tta
        self._interpreter = Interpreter(model_path=str(card.path), num_threads=1)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = None
        self._resize(2 if flip_tta and card.flip_tta_below >= 1.0 else 1)
        self._mirror_interpreters: dict[int, Interpreter] = {}
        # Reorder the model's classes to FER2013 order once, so every caller sees EMOTIONS order.
        self._order = np.array([card.classes.index(name) for name in EMOTIONS])

    def _resize(self, batch: int) -> None:
        if batch != self._batch:
            width, height = self.card.input_size
            channels = 1 if self.card.color == "gray" else 3
            self._interpreter.resize_tensor_input(self._input["index"], [batch, height, width, channels])
            self._interpreter.allocate_tensors()
            self._batch = batch

    def prepare(self, crops: list[np.ndarray]) -> np.ndarray:
        """Gray (or RGB) uint8 crops of any size -> the model's float input batch."""
        width, height = self.card.input_size
        resized = [cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR) for crop in crops]
        batch = np.stack(resized).astype(np.float32) * self.card.scale + self.card.offset
        if self.card.color == "gray":
            batch = batch[..., np.newaxis]
        return batch

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """(N, H, W, C) float input -> (N, 7) probabilities in EMOTIONS order (averaged with each face's mirror
        image when `flip_tta`, for every face or for the unsure ones, as the card says)."""
        count = len(batch)
        mirror = batch[:, :, ::-1]  # axis 2 is the image's width
        if not self.flip_tta:
            output = self._invoke(batch)
        elif self.card.flip_tta_below >= 1.0:
            both = self._invoke(np.concatenate([batch, mirror]))
            output = (both[:count] + both[count:]) / 2
        else:
            output = self._invoke(batch)
            unsure = np.flatnonzero(output.max(axis=1) < self.card.flip_tta_below)
            if len(unsure):
                output[unsure] = (output[unsure] + self._invoke_mirrors(mirror[unsure])) / 2
        if self.card.temperature != 1.0:
            logits = np.log(np.clip(output, 1e-12, 1.0)) / self.card.temperature
            output = np.exp(logits - logits.max(axis=1, keepdims=True))
        return output / output.sum(axis=1, keepdims=True)

    def _invoke(self, batch: np.ndarray) -> np.ndarray:
        """One interpreter call: (N, 7) probabilities in EMOTIONS order."""
        self._resize(len(batch))
        return self._call(self._interpreter, batch, len(batch))

    def _invoke_mirrors(self, batch: np.ndarray) -> np.ndarray:
        """The unsure faces' mirrors, on interpreters of their own: their number changes from frame to frame, and
        resizing an interpreter costs 2-4 ms (XNNPACK plans again), more than a few rows. So the batch is padded to
        1-4 rows or a multiple of 4, and the most recently used sizes keep their interpreters (4-8 MiB each). A row
        costs ~0.38 ms: padding to multiples of 8 made a 5x5 gallery's 9 mirrors cost 16 rows (6.0 ms against
        4.6 ms for 12 rows)."""
        count = len(batch)
        rows = count if count <= 4 else -(-count // 4) * 4
        interpreter = self._mirror_interpreters.pop(rows, None)
        if interpreter is None:
            interpreter = Interpreter(model_path=str(self.card.path), num_threads=1)
            interpreter.resize_tensor_input(self._input["index"], [rows, *batch.shape[1:]])
            interpreter.allocate_tensors()
        # Re-inserted last: the dict's order is least to most recently used.
        self._mirror_interpreters[rows] = interpreter
        while len(self._mirror_interpreters) > self.KEPT_MIRROR_SIZES:
            del self._mirror_interpreters[next(iter(self._mirror_interpreters))]
        padded = np.zeros((rows, *batch.shape[1:]), np.float32)
        padded[:count] = batch
        return self._call(interpreter, padded, count)

    def _call(self, interpreter: Interpreter, batch: np.ndarray, count: int) -> np.ndarray:
        """Run `interpreter` on `batch` (sized as its input) -> the first `count` rows in EMOTIONS order."""
        interpreter.set_tensor(self._input["index"], np.ascontiguousarray(batch, dtype=np.float32))
        interpreter.invoke()
        return interpreter.get_tensor(self._output["index"])[:count, self._order].astype(np.float64)

    def classify(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.predict(self.prepare(crops))
