"""The emotion CNN, served by the TFLite runtime (ai-edge-litert) with one interpreter thread.

Measured per face: TFLite 1 thread ~0.37 ms; Keras `model(x)` ~37 ms and `model.predict` ~51 ms (never used here);
an interpreter with more threads than the process's cores was seen 500x slower, so num_threads is always 1 and
parallelism comes from one interpreter per worker thread.

Flip test-time augmentation (on by default): every face is classified together with its mirror image in the same
interpreter call, and the two probability rows are averaged. On the FER2013 dev set it lifts fer's model by about
2 points of accuracy (docs/training.md) for twice the classifier's cost per face.
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

    `predict` makes exactly one interpreter call per batch: with `flip_tta` that call holds the N faces and their
    N mirror images (2N rows), so flip TTA costs no extra call whatever path the batch came from.
    """

    def __init__(self, card: ModelCard, flip_tta: bool = True):
        self.card = card
        self.flip_tta = flip_tta
        self._interpreter = Interpreter(model_path=str(card.path), num_threads=1)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = None
        self._resize(2 if flip_tta else 1)
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
        image when `flip_tta`)."""
        count = len(batch)
        if self.flip_tta:
            batch = np.concatenate([batch, batch[:, :, ::-1]])  # axis 2 is the image's width
        self._resize(len(batch))
        self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(batch, dtype=np.float32))
        self._interpreter.invoke()
        output = self._interpreter.get_tensor(self._output["index"])[:, self._order].astype(np.float64)
        if self.flip_tta:
            output = (output[:count] + output[count:]) / 2
        if self.card.temperature != 1.0:
            logits = np.log(np.clip(output, 1e-12, 1.0)) / self.card.temperature
            output = np.exp(logits - logits.max(axis=1, keepdims=True))
        return output / output.sum(axis=1, keepdims=True)

    def classify(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.predict(self.prepare(crops))
