"""Many faces in one screen capture: per-stage ms of `Engine.analyze_gallery` on one core, and recall.

    python bench/bench_gallery.py [--seconds 5] [--seeds 3]
    make bench-gallery                  # the same, with the server's glibc settings from the Makefile

Galleries of the real photos in ../shared/data/faces (FERMONITOR_SHARED_DIR), 5x5 and 7x7 at 1920x1080 with name
labels, sent as JPEG (quality 85, what a screen capture sends), plus shared slides without people. The process is
pinned to one core and every model runs on one thread. Per stage: the median wall ms per frame; "cpu" is the
process's CPU ms per frame, which a busy machine inflates less than wall time (both are printed with the load).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from inference import Engine  # noqa: E402
from inference.bench import malloc_settings  # noqa: E402
from inference.blazeface import iou_matrix  # noqa: E402
from inference.gallery_builder import build_gallery, build_slide, encode_jpeg, shared_people  # noqa: E402

STAGES = ("decode", "detect", "merge", "classify", "embed", "total")


def xyxy(boxes) -> np.ndarray:
    return np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32).reshape(-1, 4)


def recall(engine: Engine, seeds: int) -> None:
    print("Recall (a face counts as found at IoU > 0.3 with its true box):")
    for rows, cols in ((5, 5), (7, 7)):
        found = total = extra = 0
        for seed in range(seeds):
            gallery = build_gallery(shared_people(rows * cols, seed), rows, cols)
            boxes = xyxy([face.box for face in engine.analyze_gallery(gallery.jpeg()).faces])
            overlap = iou_matrix(xyxy(gallery.faces), boxes)
            found += int((overlap.max(axis=1) > 0.3).sum()) if len(boxes) else 0
            extra += int((overlap.max(axis=0) <= 0.3).sum()) if len(boxes) else 0
            total += rows * cols
        print(
            f"  {rows}x{cols} at 1920x1080, {seeds} galleries: {found}/{total} faces found ({found / total:.1%}); "
            f"{extra} other detections (background people in the photos, or false)"
        )
    false = sum(len(engine.analyze_gallery(encode_jpeg(build_slide(seed=s))).faces) for s in range(seeds * 2))
    print(f"  shared slides without people: {false} false faces on {seeds * 2} slides")


def speed(engine: Engine, seconds: float, emotions: bool) -> None:
    mode = "emotions" if emotions else "presence only"
    print(f"Per 1920x1080 JPEG frame, one core ({mode}); median wall ms per stage, then CPU ms per frame:")
    for rows, cols in ((5, 5), (7, 7)):
        data = build_gallery(shared_people(rows * cols, 1), rows, cols).jpeg()
        for _ in range(3):
            engine.analyze_gallery(data, emotions=emotions)
        samples = {stage: [] for stage in STAGES}
        frames = 0
        faces = 0
        cpu_started, started = time.process_time(), time.perf_counter()
        while time.perf_counter() - started < seconds:
            result = engine.analyze_gallery(data, emotions=emotions)
            for stage in STAGES:
                samples[stage].append(result.timings[stage])
            frames += 1
            faces = len(result.faces)
        cpu = (time.process_time() - cpu_started) * 1000 / frames
        line = "  ".join(f"{stage} {statistics.median(samples[stage]):.1f}" for stage in STAGES)
        print(f"  {rows}x{cols} ({faces} faces, {frames} frames): {line}  | cpu {cpu:.1f} ms/frame")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of timing per gallery")
    parser.add_argument("--seeds", type=int, default=3, help="galleries per layout for recall")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
    # `make serve` runs with the Makefile's thresholds; decoding a 1080p frame depends on them (inference/decode.py).
    print(f"glibc: {malloc_settings()}")
    engine = Engine()
    engine.warm_up_gallery()
    recall(engine, args.seeds)
    speed(engine, args.seconds, emotions=True)
    speed(engine, args.seconds, emotions=False)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
