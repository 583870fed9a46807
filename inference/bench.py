"""`python -m inference bench`: what one frame costs, and how many frames per second the cores sustain.

Frames are built from the real photos in ../shared/data/faces: each single-person photo is cropped around its face
to 4:3 and scaled to 640x480 and 320x240, then JPEG-encoded at quality 70 (what the browser sends).
"""

import dataclasses
import io
import json
import multiprocessing
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .paths import shared_data_dir

MULTI_FACE_PHOTOS = {"couple", "selfie-many-people", "two_people", "obama_and_biden", "kit_with_rose"}


def malloc_settings() -> str:
    """The glibc thresholds this process runs with (the Makefile sets them; decoding speed depends on them)."""
    return " ".join(
        f"{name}={os.environ.get(name, 'unset')}"
        for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    )


def build_frames(size: tuple[int, int], limit: int = 16) -> list[bytes]:
    from PIL import Image

    from .engine import Engine

    engine = Engine()
    frames = []
    folder = shared_data_dir() / "faces"
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in {".jpg", ".png"} or any(m in path.stem for m in MULTI_FACE_PHOTOS):
            continue
        image = Image.open(path).convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        face = (
            engine.analyze(buffer.getvalue(), emotions=False).largest_face
            if image.width * image.height < 4e6
            else None
        )
        if face is None:
            continue
        x, y, w, h = face.box
        # A webcam frame: the face takes about 40% of the frame height.
        crop_h = min(image.height, int(h / 0.4))
        crop_w = min(image.width, int(crop_h * 4 / 3))
        crop_h = int(crop_w * 3 / 4)
        left = int(min(max(0, x + w / 2 - crop_w / 2), image.width - crop_w))
        top = int(min(max(0, y + h / 2 - crop_h / 2), image.height - crop_h))
        frame = image.crop((left, top, left + crop_w, top + crop_h)).resize(size, Image.BILINEAR)
        buffer = io.BytesIO()
        frame.save(buffer, "JPEG", quality=70)
        frames.append(buffer.getvalue())
        if len(frames) >= limit:
            break
    if not frames:
        raise SystemExit(f"No usable photos in {folder}")
    return frames


def _time_loop(engine, frames: list[bytes], seconds: float) -> tuple[int, float, dict]:
    stages = {"decode": 0.0, "detect": 0.0, "classify": 0.0, "total": 0.0}
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for frame in frames:
            result = engine.analyze(frame)
            for key in stages:
                stages[key] += result.timings[key]
            count += 1
    elapsed = time.perf_counter() - started
    return count, elapsed, {k: v / count for k, v in stages.items()}


def _process_worker(args) -> tuple[int, float]:
    frames, seconds, models_dir, emotion_model = args
    from .engine import Engine

    engine = Engine(models_dir=models_dir, emotion_model=emotion_model)
    engine.warm_up()
    for frame in frames[:4]:
        engine.analyze(frame)
    count, elapsed, _ = _time_loop(engine, frames, seconds)
    return count, elapsed


def _threads_fps(engine, frames, seconds, threads) -> float:
    def work(_):
        engine.warm_up()
        for frame in frames[:4]:
            engine.analyze(frame)
        count, elapsed, _ = _time_loop(engine, frames, seconds)
        return count / elapsed

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(work, range(threads)))


def _processes_fps(frames, seconds, processes, models_dir, emotion_model) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        results = pool.map(_process_worker, [(frames, seconds, models_dir, emotion_model)] * processes)
    return sum(count / elapsed for count, elapsed in results)


READY_PROBE = """
import importlib.abc, os, sys, time
mode = sys.argv[2]
if mode == "blocked":
    class BlockTensorFlow(importlib.abc.MetaPathFinder):  # as if TensorFlow were not installed
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, BlockTensorFlow())
elif mode == "imported":
    import tensorflow  # what every process paid before the MediaPipe shim
from inference import Engine
engine = Engine()
engine.warm_up()
result = engine.analyze(open(sys.argv[1], "rb").read())
assert result.faces and result.faces[0].emotion
ready = time.time() - float(os.environ["BENCH_T0"])
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
print(ready, rss, "tensorflow" in sys.modules)
"""
PROBE_MODES = {
    "blocked": "TensorFlow not importable (blocked by a meta-path finder, as if not installed)",
    "installed": "TensorFlow installed, default serving path",
    "imported": "TensorFlow imported (as plain `import mediapipe` does when it is installed)",
}


def ready_and_rss(frame: bytes, mode: str) -> tuple[float, int, bool]:
    """Seconds from process start to a first analysed frame, and the RSS then, in a fresh interpreter."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".jpg") as handle:
        handle.write(frame)
        handle.flush()
        env = dict(os.environ, BENCH_T0=str(time.time()))
        output = subprocess.run(
            [sys.executable, "-c", READY_PROBE, handle.name, mode],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    return float(output[0]), int(output[1]), output[2] == "True"


def classifier_ms_per_face(
    engine, batch: int, seconds: float, flip_tta: bool | None = None, clock: str = "wall"
) -> float:
    """ms per face of the classifier alone on one thread: `batch` faces per call, each with its mirror image in
    the same call when flip TTA is on (the engine's setting unless `flip_tta` says otherwise).

    clock "wall" is elapsed time; "cpu" is this thread's CPU time (the interpreter runs on the calling thread),
    which other work on a shared machine inflates far less: what one core costs per face.

    With flip TTA every face is mirrored, whatever the card's `flip_tta_below`: how many faces a real batch mirrors
    depends on the faces, so this is the most it costs."""
    from .classifier import EmotionClassifier

    flip = engine.flip_tta if flip_tta is None else flip_tta
    classifier = EmotionClassifier(dataclasses.replace(engine.card, flip_tta_below=1.0), flip_tta=flip)
    height, width = engine.card.input_size[1], engine.card.input_size[0]
    channels = 1 if engine.card.color == "gray" else 3
    x = np.random.default_rng(0).uniform(-1, 1, (batch, height, width, channels)).astype(np.float32)
    classifier.predict(x)
    count, started, cpu_started = 0, time.perf_counter(), time.thread_time()
    while time.perf_counter() - started < seconds:
        classifier.predict(x)
        count += batch
    elapsed = time.thread_time() - cpu_started if clock == "cpu" else time.perf_counter() - started
    return elapsed / count * 1000


def run_bench(models_dir=None, seconds: float = 3.0, emotion_model=None) -> dict:
    from .engine import Engine

    cores = len(os.sched_getaffinity(0))
    engine = Engine(models_dir=models_dir, emotion_model=emotion_model)
    engine.warm_up()
    report = {"cores": cores, "model": engine.card.name, "flip_tta": engine.flip_tta, "sizes": {}}
    print(
        f"fermonitor inference bench: {cores} core(s), emotion model {engine.card.name}, "
        f"flip TTA {'on' if engine.flip_tta else 'off'}"
    )
    print(
        f"{malloc_settings()}, "
        f"load average {os.getloadavg()[0]:.1f} (other work on the cores skews every number below)"
    )
    for size in [(320, 240), (640, 480)]:
        frames = build_frames(size)
        for frame in frames:
            engine.analyze(frame)
        count, elapsed, stages = _time_loop(engine, frames, seconds)
        faces = sum(len(engine.analyze(f).faces) for f in frames) / len(frames)
        one = count / elapsed
        threads = _threads_fps(engine, frames, seconds, cores)
        processes = _processes_fps(frames, seconds, cores, models_dir, emotion_model)
        label = f"{size[0]}x{size[1]}"
        report["sizes"][label] = {
            "frames": len(frames),
            "faces_per_frame": faces,
            "ms": stages,
            "fps_1_thread": one,
            f"fps_{cores}_threads": threads,
            f"fps_{cores}_processes": processes,
        }
        print(
            f"{label}: {len(frames)} real-photo frames, {faces:.2f} faces/frame | ms per frame: "
            + ", ".join(f"{k} {v:.2f}" for k, v in stages.items())
        )
        print(
            f"{label}: frames/s  1 thread {one:.0f} | {cores} threads, one process {threads:.0f} | "
            f"{cores} processes {processes:.0f} -> {'processes' if processes > threads else 'threads'} "
            f"{max(processes, threads) / max(min(processes, threads), 1e-9):.2f}x"
        )
    for batch in (1, 8, 32):
        for flip in (True, False):
            ms = classifier_ms_per_face(engine, batch, seconds / 2, flip_tta=flip)
            cpu_ms = classifier_ms_per_face(engine, batch, seconds / 2, flip_tta=flip, clock="cpu")
            suffix = f"_batch{batch}" + ("_flip_tta" if flip else "")
            report[f"classifier_ms_per_face{suffix}"], report[f"classifier_cpu_ms_per_face{suffix}"] = (
                ms,
                cpu_ms,
            )
            print(
                f"classifier alone, batch {batch:>2}, {'with' if flip else 'without'} flip TTA: "
                f"{ms:.3f} ms per face ({cpu_ms:.3f} ms of CPU)"
            )
    frame = build_frames((320, 240), limit=1)[0]
    for mode, label in PROBE_MODES.items():
        try:
            ready, rss, tf_loaded = ready_and_rss(frame, mode)
        except subprocess.CalledProcessError as error:
            print(f"{label}: not measurable here ({error.stderr.strip().splitlines()[-1:]})")
            continue
        report[f"process_{mode}"] = {"ready_s": ready, "rss_mib": rss, "tensorflow_in_sys_modules": tf_loaded}
        print(
            f"{label}: ready {ready:.2f} s after process start, RSS {rss} MiB "
            f"(tensorflow in sys.modules: {tf_loaded})"
        )
    if os.environ.get("BENCH_JSON"):
        Path(os.environ["BENCH_JSON"]).write_text(json.dumps(report, indent=2))
    return report
