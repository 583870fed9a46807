"""The load report: what this machine's inference can do, and how much of it the live server holds, in one run.

    make bench-capacity                      # DATABASE_URL / REDIS_URL from BENCH_DATABASE_URL / BENCH_REDIS_URL
    python bench/capacity.py [--workers N] [--duration 20] [--json out.json]

1. Inference only: `make bench`'s measurement, one process per core analysing the same 320x240 frames with no
   server around them (frames/s), taken before and after the live steps (the mean is the reference: other work on
   the machine moves both).
2. Live capacity: `fermonitor.serve` with --workers processes (default one per core) on PostgreSQL + Redis; classes
   of N students at 1 frame/s each stream the same frames (bench/loadclient.py), N stepped up until a step fails. A
   step passes when, once the whole class has joined, p95 frame sent -> shown on the teacher's dashboard is at
   most --p95-limit ms (300) and nothing was lost: every acknowledged result stored and shown on the dashboard
   (as itself, or through the student's next result when that came before the hub published the first),
   no frame failed or refused, every student connected. The capacity is the largest passing N (students at
   1 frame/s = frames/s).
3. Their ratio, p95 at 50 students, and at the capacity point each server process's CPU and RSS, and the samples
   lost. The load client shares the machine with the server (its CPU is printed too); so do other users of the
   machine: the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import bench_env, frames_like_make_bench, measure, production_server  # noqa: E402


def inference_only(frames: list[bytes], processes: int, seconds: float) -> float:
    from inference.bench import _processes_fps

    return _processes_fps(frames, seconds, processes, None, None)


def inference_cpu_ms_per_frame(frames: list[bytes], seconds: float) -> float:
    """CPU time (all threads of this process, MediaPipe's included) per frame analysed alone: unlike frames/s,
    hardly moved by other work on the machine."""
    from inference import Engine

    engine = Engine()
    engine.warm_up()
    for frame in frames:
        engine.analyze(frame)
    count, cpu0, started = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - started < seconds:
        for frame in frames:
            engine.analyze(frame)
            count += 1
    return 1000 * (time.process_time() - cpu0) / count


def passed(step: dict, limit_ms: float) -> bool:
    return (
        step["steady_p95_ms"] <= limit_ms
        and step["lost"] == 0
        and step["failed"] == 0
        and step["refused"] == 0
        and step["not_shown"] == 0
        and step["connect_failures"] == 0
        and step["steady_n"] > 0
    )


def line(step: dict, ok: bool) -> str:
    server = step.get("server") or {}
    processes = server.get("processes", [])
    cpu = "/".join(f"{p['cpu_percent']:.0f}" for p in processes) or "?"
    rss = "/".join(f"{p['rss_mib']:.0f}" for p in processes) or "?"
    conns = "/".join(str(p["connections"]) for p in processes) or "?"
    return (
        f"  {step['students']:>5} {server.get('frames_per_s', float('nan')):>8.0f} "
        f"{step['steady_p95_ms']:>9.0f} {step['p95_ms']:>8.0f} {step['lost'] + step['failed'] + step['not_shown']:>5} "
        f"{server.get('cpu_ms_per_frame', float('nan')):>8.2f}  {cpu:>9}  {rss:>9}  {conns:>9}  "
        f"{step['client_cpu_ms_per_frame']:>6.2f}  {'pass' if ok else 'FAIL'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cores = len(os.sched_getaffinity(0))
    parser.add_argument("--workers", type=int, default=cores, help="server processes (default: one per core)")
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of streaming per step, after joining"
    )
    parser.add_argument("--join-rate", type=float, default=25.0, help="students joining per second")
    parser.add_argument("--p95-limit", type=float, default=300.0, help="ms, frame sent -> dashboard")
    parser.add_argument(
        "--start", type=int, default=0, help="first N after 50 (default: half the inference fps)"
    )
    parser.add_argument("--step", type=int, default=0, help="students added per step (default: 10%% of it)")
    parser.add_argument("--max-steps", type=int, default=8)
    parser.add_argument("--inference-seconds", type=float, default=5.0)
    parser.add_argument("--json", default="", help="also write the numbers here")
    args = parser.parse_args()
    args.rate = 1.0

    env = bench_env()
    frames = frames_like_make_bench()
    load_start = os.getloadavg()
    print(
        f"fermonitor capacity report: {cores} cores, load average {load_start[0]:.2f} {load_start[1]:.2f} "
        f"{load_start[2]:.2f} at the start; {len(frames)} real-photo 320x240 frames",
        flush=True,
    )
    before = inference_only(frames, cores, args.inference_seconds)
    print(f"inference only ({cores} processes, no server): {before:.0f} frames/s", flush=True)
    alone_ms = inference_cpu_ms_per_frame(frames, args.inference_seconds)
    print(f"inference only, CPU per frame: {alone_ms:.2f} ms", flush=True)

    steps: list[dict] = []
    with production_server(env, args.workers) as server:
        print(
            f"live: fermonitor.serve, {args.workers} Daphne processes (pids {', '.join(map(str, server.pids()))}), "
            f"PostgreSQL + Redis, 1 frame/s per student, {args.duration:g} s per step after joining",
            flush=True,
        )
        print(
            "  students frames/s  p95 steady  p95 all  lost  CPU ms/f  CPU% proc   RSS MiB   sockets  client  "
            "(frames/s, CPU: steady state, all server processes; lost = unstored + failed + never on the dashboard)"
        )

        def run(students: int) -> dict:
            step = measure(
                env, [server.url], server.pids(), students, args, frames, slug=f"capacity-{students}"
            )
            step["passed"] = passed(step, args.p95_limit)
            steps.append(step)
            print(line(step, step["passed"]), flush=True)
            return step

        at_50 = run(50)
        start = args.start or max(100, int(round(before * 0.5 / 25)) * 25)
        step_size = args.step or max(25, int(round(before * 0.1 / 25)) * 25)
        best = at_50 if at_50["passed"] else None
        failed_at = None
        students = start
        for _ in range(args.max_steps):
            result = run(students)
            if result["passed"]:
                best = result
                students += step_size
            else:
                failed_at = students
                break
        if best is not None and failed_at is not None and failed_at - best["students"] > 25:
            middle = int(round((best["students"] + failed_at) / 2 / 25)) * 25
            if best["students"] < middle < failed_at:
                result = run(middle)
                if result["passed"]:
                    best = result

    after = inference_only(frames, cores, args.inference_seconds)
    reference = (before + after) / 2
    load_end = os.getloadavg()
    capacity = best["students"] if best else 0
    ratio = capacity * args.rate / reference if reference else float("nan")
    print(
        f"inference only again: {after:.0f} frames/s; reference {reference:.0f} frames/s "
        f"(load average at the end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f})"
    )
    print(
        f"live capacity: {capacity} students at 1 frame/s (p95 <= {args.p95_limit:.0f} ms, nothing lost) = "
        f"{ratio:.0%} of the inference-only {reference:.0f} frames/s"
        + (f"; {failed_at} students failed" if failed_at else "; no step failed (raise --max-steps)")
    )
    print(
        f"p95 at 50 students: {at_50['steady_p95_ms']:.0f} ms (all frames, joining included: {at_50['p95_ms']:.0f} ms)"
    )
    if best and best.get("server"):
        for i, p in enumerate(best["server"]["processes"], 1):
            print(
                f"at capacity, server process {i}: CPU {p['cpu_percent']:.0f}% of a core, RSS {p['rss_mib']:.0f} MiB, "
                f"{p['connections']} sockets"
            )
    print(f"samples lost (acknowledged, not stored) over all steps: {sum(s['lost'] for s in steps)}")
    # What the cores would allow if they were all ours: the analysis alone against the live server plus the load
    # client, CPU per frame, from the busiest step that kept up (the load on a shared machine moves this little).
    busiest = max(
        (s for s in steps if s.get("server")), key=lambda s: s["server"]["frames_per_s"], default=None
    )
    if busiest:
        live_ms = busiest["server"]["cpu_ms_per_frame"]
        client_ms = busiest["client_cpu_ms_per_frame"]
        print(
            f"CPU per frame at {busiest['students']} students: live server {live_ms:.2f} ms (analysis included) + load "
            f"client {client_ms:.2f} ms, against {alone_ms:.2f} ms for the analysis alone: with the cores to "
            f"itself the live server could reach about {alone_ms / (live_ms + client_ms):.0%} of the "
            f"inference-only rate ({alone_ms / live_ms:.0%} without the load client on the same cores)"
        )
    rss_max = max(
        (p["rss_mib"] for p in (best or {}).get("server", {}).get("processes", [])), default=float("nan")
    )
    print(
        "targets: live capacity >= 70% of inference-only: "
        f"{'met' if ratio >= 0.7 else 'NOT met'} ({ratio:.0%}); p95 at 50 students <= 100 ms: "
        f"{'met' if at_50['steady_p95_ms'] <= 100 else 'NOT met'} ({at_50['steady_p95_ms']:.0f} ms); "
        f"RSS <= 400 MiB per process at capacity: {'met' if rss_max <= 400 else 'NOT met'} ({rss_max:.0f} MiB)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "cores": cores,
                    "workers": args.workers,
                    "load_average": {"start": load_start, "end": load_end},
                    "inference_only_fps": {"before": before, "after": after, "reference": reference},
                    "inference_only_cpu_ms_per_frame": alone_ms,
                    "capacity_students": capacity,
                    "ratio": ratio,
                    "steps": steps,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
