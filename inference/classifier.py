"""The emotion CNN, served by the TFLite runtime (ai-edge-litert) with one interpreter thread.

Measured per face: TFLite 1 thread ~0.37 ms; Keras `model(x)` ~37 ms and `model.predict` ~51 ms (never used here);
an interpreter with more threads than the process's cores was seen 500x slower, so num_threads is always 1 and
parallelism comes from one interpreter per worker thread.
"""

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

from .model_cards import EMOTIONS, ModelCard


class EmotionClassifier:
    """One interpreter. Not thread-safe: the engine gives each thread its own."""

    def __init__(self, card: ModelCard):
        self.card = card
        self._interpreter = Interpreter(model_path=str(card.path), num_threads=1)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = None
        self._resize(1)
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
        """(N, H, W, C) float input -> (N, 7) probabilities in EMOTIONS order."""
        self._resize(len(batch))
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        output = self._interpreter.get_tensor(self._output["index"])[:, self._order].astype(np.float64)
        if self.card.temperature != 1.0:
            logits = np.log(np.clip(output, 1e-12, 1.0)) / self.card.temperature
            output = np.exp(logits - logits.max(axis=1, keepdims=True))
        return output / output.sum(axis=1, keepdims=True)

    def classify(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.predict(self.prepare(crops))
