"""Load benchmark of a live session: N simulated students and one teacher dashboard against a running server.

    python bench/load.py --students 50 --start-server               # the production server (fermonitor.serve)
    python bench/load.py --students 300 --start-server --servers 2  # ... with 2 Daphne processes on one port
    python bench/load.py --students 50 --url http://127.0.0.1:8000 --server-pid 1234 [--server-pid 1235]
    env -u DATABASE_URL -u REDIS_URL python bench/load.py --start-server   # the zero-setup default (make run)

With --start-server the server is `fermonitor.serve` (DATABASE_URL/REDIS_URL from the environment; `--servers`
processes, default 1, sharing one port: the kernel spreads the students over them; the dashboard lands on any), or
with neither variable set, one plain Daphne process on SQLite and the in-memory channel layer (the demo's setup).
The clients are `bench/loadclient.py`: students send real face photos (320x240, JPEG q70; the same frames as
`make bench`) at the session rate, one frame in flight, honouring the server's `next_in_ms`.

Prints: latency frame sent -> dashboard message reflecting it (p50/p95/p99, overall and once every student has
joined), ack latency, frames processed / refused / failed / never shown, samples stored vs accepted, and per
server process its CPU, RSS and connections in the steady state, plus the server's CPU time per frame.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import loadclient  # noqa: E402

REPO = loadclient.REPO
LOG = REPO / "bench" / "out" / "daphne-load.log"


def bench_env(**overrides) -> dict:
    env = dict(os.environ, FERMONITOR_FAST_HASHER="1", DEBUG=os.environ.get("DEBUG", "0"))
    env.setdefault("SECRET_KEY", "bench-only-secret")
    env.setdefault("LOG_LEVEL", "WARNING")
    env.update(overrides)
    return env


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in DATABASE_URL if it does not exist yet."""
    if not url.startswith("postgres"):
        return
    from urllib.parse import urlparse, urlunparse

    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunparse(parts._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def production_server(env: dict, workers: int):
    """`fermonitor.serve` with `workers` Daphne processes on a free port (logs in bench/out/daphne-load.log)."""
    from fermonitor.serve import ServeError, Supervisor, check_environment

    try:
        check_environment(env)
    except ServeError as error:
        sys.exit(f"{error}\n(bench: `make bench-load` sets both; see the Makefile's BENCH_* variables)")
    ensure_database(env["DATABASE_URL"])
    loadclient.manage("migrate", "--noinput", "-v0", env=env)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "w") as log:
        supervisor = Supervisor("127.0.0.1", 0, workers, env=env, daphne_args=["-v", "0"], output=log)
        try:
            supervisor.start()
        except ServeError as error:
            sys.exit(f"{error} See {LOG}.")
        try:
            yield supervisor
        finally:
            supervisor.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Demo:
    def __init__(self, process, url):
        self.process, self.url = process, url

    def pids(self) -> list[int]:
        return [self.process.pid]


@contextlib.contextmanager
def demo_server(env: dict):
    """The zero-setup default (`make run`): one Daphne process, SQLite, the in-memory channel layer."""
    import signal
    import subprocess
    import urllib.request

    loadclient.manage("migrate", "--noinput", "-v0", env=env)
    port = free_port()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-v",
                "0",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "fermonitor.asgi:application",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{url}/healthz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                sys.exit(f"Daphne did not start (see {LOG})")
            yield _Demo(process, url)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def frames_like_make_bench() -> list[bytes]:
    """The frames `make bench` times (faces cropped as a webcam shows them), so both benchmarks analyse the same."""
    try:
        from inference.bench import build_frames

        return build_frames((320, 240))
    except Exception as error:  # models missing: fall back to whole photos
        print(f"(using whole photos: {error})", file=sys.stderr)
        return loadclient.face_frames()


def measure(env: dict, urls: list[str], pids: list[int], students: int, args, photos, slug=None) -> dict:
    """One run: seed a class, stream it, count what was stored. Returns the summary with `stored` and `server`."""
    seeded = loadclient.seed_session(env, students, args.rate, slug=slug)
    client_cpu = time.process_time()
    from urllib.parse import urlparse

    monitor = loadclient.ServerMonitor(pids, port=urlparse(urls[0]).port) if pids else None
    stats = asyncio.run(
        loadclient.run_class(
            urls,
            seeded,
            photos,
            duration=args.duration,
            rate=args.rate,
            join_rate=args.join_rate,
            monitor=monitor,
        )
    )
    client_cpu = time.process_time() - client_cpu
    time.sleep(2.0)  # one more flush interval of the sample writer
    summary = stats.summary()
    # The load client shares the machine with the server: what it costs per frame (dashboard included).
    summary["client_cpu_ms_per_frame"] = 1000 * client_cpu / max(1, stats.processed)
    summary["stored"] = loadclient.stored_samples(env, seeded["session_id"])
    summary["lost"] = stats.processed - summary["stored"]
    summary["server"] = stats.server
    return summary


def report(summary: dict, args) -> None:
    s = summary
    print(
        f"frames processed {s['processed']}, refused {s['refused']}, failed {s['failed']}; "
        f"connect retries {s['connect_retries']}, students who never connected {s['connect_failures']}"
    )
    print(f"samples stored {s['stored']} vs accepted {s['processed']} (lost {s['lost']})")
    print(
        f"frame sent -> dashboard: p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms "
        f"(never shown {s['not_shown']}; shown only through the student's next result {s['superseded']})"
    )
    if s["not_shown_frames"]:
        listed = ", ".join(
            f"student {i} frame {n} sent at {t} s, next frame {gap} ms later (shown up to {top})"
            for i, n, t, gap, top in s["not_shown_frames"]
        )
        print(f"  not shown as such: {listed}")
    print(
        f"  after everyone joined: p50 {s['steady_p50_ms']:.1f} ms, p95 {s['steady_p95_ms']:.1f} ms, "
        f"p99 {s['steady_p99_ms']:.1f} ms (n={s['steady_n']})"
    )
    print(f"frame sent -> ack:       p50 {s['ack_p50_ms']:.1f} ms, p95 {s['ack_p95_ms']:.1f} ms")
    print(
        f"dashboard: {s['dashboard_messages']} messages ({s['snapshots']} snapshots); "
        f"throughput {s['frames_per_s']:.1f} frames/s"
    )
    server = s.get("server")
    if server:
        for i, p in enumerate(server["processes"], 1):
            print(
                f"server process {i} (pid {p['pid']}): CPU {p['cpu_percent']:.0f}% of one core, "
                f"RSS max {p['rss_mib']:.0f} MiB, {p['connections']} connections"
            )
        print(
            f"server in the steady state: {server['frames_per_s']:.0f} frames/s, "
            f"{server['cpu_ms_per_frame']:.2f} ms of CPU per frame (all processes, analysis included)"
        )
    print(f"load client: {s['client_cpu_ms_per_frame']:.2f} ms of CPU per frame (it shares the machine)")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of streaming after joining")
    parser.add_argument("--rate", type=float, default=1.0, help="frames per second per student")
    parser.add_argument("--join-rate", type=float, default=20.0, help="students joining per second")
    parser.add_argument(
        "--url", action="append", default=[], help="a running server (repeat: spread over them)"
    )
    parser.add_argument("--server-pid", type=int, action="append", default=[])
    parser.add_argument("--start-server", action="store_true", help="start fermonitor.serve itself")
    parser.add_argument("--servers", type=int, default=1, help="Daphne processes with --start-server")
    args = parser.parse_args()

    env = bench_env()
    photos = frames_like_make_bench()
    load = os.getloadavg()
    with contextlib.ExitStack() as stack:
        if (
            args.start_server
            and not env.get("DATABASE_URL")
            and not env.get("REDIS_URL")
            and args.servers == 1
        ):
            server = stack.enter_context(demo_server(env))
            urls, pids = [server.url], server.pids()
        elif args.start_server:
            server = stack.enter_context(production_server(env, args.servers))
            urls, pids = [server.url], server.pids()
        elif args.url:
            urls, pids = args.url, args.server_pid
        else:
            sys.exit("Give --url (and --server-pid) or --start-server")
        print(
            f"fermonitor live load: {args.students} students x {args.rate:g} frame/s for {args.duration:g} s "
            f"against {', '.join(urls)} ({len(pids) or '?'} server process(es); DB: "
            f"{'PostgreSQL' if env.get('DATABASE_URL') else 'SQLite'}, layer: "
            f"{'Redis' if env.get('REDIS_URL') else 'in-memory'}; {os.cpu_count()} cores, load average "
            f"{load[0]:.2f} {load[1]:.2f})",
            flush=True,
        )
        summary = measure(env, urls, pids, args.students, args, photos)
    report(summary, args)


if __name__ == "__main__":
    main()
