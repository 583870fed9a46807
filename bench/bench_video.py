"""How long a recorded lesson takes to analyse: a synthetic 60-minute call recording at 1 frame/s.

    python bench/bench_video.py [--minutes 60] [--fps 1] [--video PATH] [--workers N]

Builds (once; `--video` keeps it for the next run) a 1920x1080 H.264 MP4 of a 5x5 call gallery of the real photos
in ../shared/data/faces (FERMONITOR_SHARED_DIR): 2 frames/s, a keyframe every 10 s, faces moving every 5 s, the
gallery re-ordered half-way, a clock changing every frame. Then analyses it as the web job and
`python -m inference analyze-video` do, and prints the wall-clock minutes (the target: <= 5 minutes for 60 minutes
of video on the 2-core machine), CPU minutes, frames read and decoded, and the load, since the machine is shared.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference import Engine  # noqa: E402
from inference.gallery_builder import lesson_video, shared_people  # noqa: E402
from inference.video import FrameSampler, analyze_video, probe  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the synthetic recording")
    parser.add_argument("--fps", type=float, default=1.0, help="sampled frames per second of video")
    parser.add_argument("--video", help="where to keep the recording (reused if it exists)")
    parser.add_argument("--workers", type=int, help="analysis threads (default: the machine's cores)")
    parser.add_argument("--presence-only", action="store_true")
    args = parser.parse_args(argv)

    path = Path(args.video) if args.video else Path(tempfile.mkdtemp()) / f"lesson-{args.minutes:g}min.mp4"
    if not path.exists():
        started = time.perf_counter()
        seconds = args.minutes * 60
        lesson_video(path, shared_people(25, seed=1), seconds, reorder_at=seconds / 2)
        print(f"built {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s")
    info = probe(path)
    print(
        f"video: {info.duration / 60:.1f} min, {info.width}x{info.height} {info.codec}, "
        f"{info.frame_rate:g} frames/s; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} "
        f"on {os.cpu_count()} cores"
    )
    engine = Engine()
    sampler = FrameSampler(path, args.fps)
    totals = {"decode": [], "detect": [], "classify": [], "total": []}
    participants: set[int] = set()
    samples = faces = 0
    cpu_started, started = time.process_time(), time.perf_counter()
    for sample in analyze_video(
        path, args.fps, engine, not args.presence_only, workers=args.workers, info=info, sampler=sampler
    ):
        samples += 1
        faces += len(sample.faces)
        participants.update(sample.participants)
        for key, values in totals.items():
            values.append(sample.timings.get(key, 0.0))
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(
        f"analysed {samples} instants at {args.fps:g} frame/s in {wall / 60:.2f} min wall, {cpu / 60:.2f} min CPU "
        f"({wall / samples * 1000:.0f} ms wall per instant); {faces / samples:.1f} faces per instant, "
        f"{len(participants)} participant numbers"
    )
    print(f"packets read {sampler.packets}, frames decoded {sampler.decoded}")
    print(
        "median ms per analysed frame: "
        + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in totals.items())
    )
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
