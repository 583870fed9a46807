"""Load benchmark of a live session: N simulated students and one teacher dashboard against a running server.

    python bench/load.py --students 50 --start-server          # start Daphne itself (DATABASE_URL/REDIS_URL env)
    python bench/load.py --students 50 --url http://127.0.0.1:8000 --server-pid 1234

Each student is a WebSocket client logged in as a seeded student (`manage.py seed_live_session --cookies`), sending
real face photos (../shared/data/faces, 320x240, JPEG q70) at the session rate, one frame in flight, honouring the
server's `next_in_ms`. The dashboard client records when each student's frame number first shows on the dashboard.
Prints: latency frame sent -> dashboard message reflecting it (p50/p95/p99, overall and once every student has
joined), ack latency, frames processed / refused / failed, samples stored vs accepted, and the server's CPU and
RSS (psutil).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FERMONITOR_SHARED_DIR", REPO.parent / "shared"))
# Single-person photos (see ../shared/data/faces/SOURCES.md).
PHOTOS = [
    "face_recognition__obama-480p.jpg",
    "face_recognition__biden2.jpg",
    "face_recognition__obama_small.jpg",
    "deepface__img10.jpg",
    "deepface__img20.jpg",
    "deepface__img50.jpg",
]


def frames() -> list[bytes]:
    from PIL import Image

    out = []
    for name in PHOTOS:
        path = SHARED / "data" / "faces" / name
        if not path.exists():
            continue
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").resize((320, 240)).save(buffer, format="JPEG", quality=70)
        out.append(buffer.getvalue())
    if not out:
        sys.exit(f"No face photos under {SHARED / 'data' / 'faces'} (set FERMONITOR_SHARED_DIR)")
    return out


def manage(*args: str, env=None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


class Stats:
    def __init__(self):
        self.sent: dict[tuple[int, int], float] = {}  # (student, n) -> sent at
        self.shown: dict[tuple[int, int], float] = {}  # (student, n) -> first dashboard message showing n
        self.acks: list[float] = []
        self.processed = self.refused = self.failed = 0
        self.dashboard_messages = 0
        self.snapshots = 0
        self.connect_retries = self.connect_failures = 0
        self.all_joined_at: float | None = None  # time.time() when the last student received its hello
        self.joined = 0


class ServerMonitor(threading.Thread):
    """Samples the server's CPU and RSS (children included) once a second."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.rss: list[int] = []
        self.stop_event = threading.Event()
        self.cpu_start = self.wall_start = None

    def _processes(self):
        return [self.process, *self.process.children(recursive=True)]

    def cpu(self) -> float:
        return sum(sum(p.cpu_times()[:2]) for p in self._processes())

    def run(self):
        while not self.stop_event.wait(1.0):
            self.rss.append(sum(p.memory_info().rss for p in self._processes()))

    def begin(self):
        self.cpu_start, self.wall_start = self.cpu(), time.monotonic()
        self.start()

    def end(self) -> dict:
        self.stop_event.set()
        cpu = self.cpu() - self.cpu_start
        wall = time.monotonic() - self.wall_start
        return {"cpu_percent": 100 * cpu / wall, "rss_max_mib": max(self.rss or [0]) / 2**20}


async def student(index, student_id, cookie, base, session_uuid, photos, stats, stop_at, args):
    from websockets.asyncio.client import connect

    url = base.replace("http", "ws", 1) + f"/ws/live/{session_uuid}/stream/"
    # A class joins over a few seconds, not in one instant (JOIN_RATE joins/s), then at a random phase.
    await asyncio.sleep(index / args.join_rate + random.random() / args.rate)
    for attempt in range(5):
        try:
            ws = await connect(url, additional_headers=[("Cookie", f"sessionid={cookie}"), ("Origin", base)])
            break
        except Exception:
            stats.connect_retries += 1
            await asyncio.sleep(2**attempt)
    else:
        stats.connect_failures += 1
        return
    async with ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello
        stats.joined += 1
        if stats.joined == args.students:
            stats.all_joined_at = time.time()
        n = 0
        while time.monotonic() < stop_at:
            frame = photos[(index + n) % len(photos)]
            sent = time.time()
            stats.sent[(student_id, n + 1)] = sent
            await ws.send(frame)
            try:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            except TimeoutError:
                stats.failed += 1
                break
            if reply["type"] == "result":
                n = reply["n"]
                stats.processed += 1
                stats.acks.append(time.time() - sent)
            elif reply.get("code") in ("too_fast", "too_large"):
                stats.refused += 1
                stats.sent.pop((student_id, n + 1), None)
            else:
                stats.failed += 1
                stats.sent.pop((student_id, n + 1), None)
            await asyncio.sleep(reply.get("next_in_ms", 1000 / args.rate) / 1000)


async def dashboard(cookie, base, session_uuid, stats, done: asyncio.Event):
    from websockets.asyncio.client import connect

    url = base.replace("http", "ws", 1) + f"/ws/live/{session_uuid}/dashboard/"
    async with connect(
        url, additional_headers=[("Cookie", f"sessionid={cookie}"), ("Origin", base)], max_size=2**24
    ) as ws:
        while not done.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            message = json.loads(raw)
            stats.dashboard_messages += 1
            stats.snapshots += message["type"] == "snapshot"
            for state in message.get("students", []):
                key = (state["id"], state.get("n", 0))
                if key[1] and key not in stats.shown:
                    stats.shown[key] = now


async def run(args, seeded, photos, monitor) -> Stats:
    stats = Stats()
    done = asyncio.Event()
    watcher = asyncio.create_task(
        dashboard(seeded["cookies"]["teacher"], args.url, seeded["session_uuid"], stats, done)
    )
    await asyncio.sleep(1.0)
    if monitor:
        monitor.begin()
    ramp = args.students / args.join_rate
    stop_at = time.monotonic() + ramp + args.duration
    await asyncio.gather(
        *(
            student(i, sid, cookie, args.url, seeded["session_uuid"], photos, stats, stop_at, args)
            for i, (sid, cookie) in enumerate(
                zip(seeded["student_ids"], seeded["cookies"]["students"], strict=True)
            )
        ),
        return_exceptions=False,
    )
    await asyncio.sleep(1.5)  # the last updates reach the dashboard
    done.set()
    await watcher
    return stats


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


LOG = REPO / "bench" / "out" / "daphne-load.log"


def start_server(env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    LOG.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("daphne")),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "fermonitor.asgi:application",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(LOG, "w"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit(f"Daphne did not start (see {LOG})")


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of streaming")
    parser.add_argument("--rate", type=float, default=1.0, help="frames per second per student")
    parser.add_argument(
        "--join-rate", type=float, default=20.0, help="students joining per second at the start"
    )
    parser.add_argument("--url", default="")
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--start-server", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ, FERMONITOR_FAST_HASHER="1", DEBUG=os.environ.get("DEBUG", "0"))
    env.setdefault("SECRET_KEY", "bench-only-secret")
    env.setdefault("LOG_LEVEL", "WARNING")
    server = None
    if args.start_server:
        ensure_database(env.get("DATABASE_URL", ""))
        manage("migrate", "--noinput", "-v0", env=env)
        server, args.url = start_server(env)
        args.server_pid = server.pid
    if not args.url:
        sys.exit("Give --url (and --server-pid) or --start-server")
    print(
        f"fermonitor live load: {args.students} students x {args.rate:g} frame/s for {args.duration:g} s "
        f"against {args.url} (DB: {'PostgreSQL' if env.get('DATABASE_URL') else 'SQLite'}, "
        f"layer: {'Redis' if env.get('REDIS_URL') else 'in-memory'}, {os.cpu_count()} cores)",
        flush=True,
    )
    seeded = json.loads(
        manage(
            "seed_live_session",
            "--slug",
            f"bench-{args.students}",
            "--students",
            str(args.students),
            "--frame-rate",
            str(args.rate),
            "--cookies",
            env=env,
        )
        .strip()
        .splitlines()[-1]
    )
    monitor = ServerMonitor(args.server_pid) if args.server_pid else None
    client = psutil.Process()
    client_cpu = sum(client.cpu_times()[:2])
    started = time.monotonic()
    try:
        stats = asyncio.run(run(args, seeded, frames(), monitor))
        usage = monitor.end() if monitor else None
        client_cpu = 100 * (sum(client.cpu_times()[:2]) - client_cpu) / (time.monotonic() - started)
        time.sleep(2.0)  # one more flush interval
        stored = int(
            manage(
                "shell",
                "-c",
                "from django_scopes import scopes_disabled; from analytics.models import EmotionSample\n"
                f"with scopes_disabled(): print(EmotionSample.objects.filter(session_id={seeded['session_id']}).count())",
                env=env,
            ).split()[-1]
        )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    latencies = [1000 * (stats.shown[k] - sent) for k, sent in stats.sent.items() if k in stats.shown]
    # The class joining (a WebSocket handshake, a session lookup and the consent checks per student) competes
    # with the streams already running; once everyone is in, the numbers show the steady state.
    steady_from = (stats.all_joined_at or float("inf")) + 2.0
    steady = [
        1000 * (stats.shown[k] - sent)
        for k, sent in stats.sent.items()
        if k in stats.shown and sent >= steady_from
    ]
    missing = sum(1 for k in stats.sent if k not in stats.shown)
    acks = [1000 * a for a in stats.acks]
    print(
        f"frames processed {stats.processed}, refused {stats.refused}, failed {stats.failed}; "
        f"connect retries {stats.connect_retries}, students who never connected {stats.connect_failures}"
    )
    print(f"samples stored {stored} vs accepted {stats.processed} (lost {stats.processed - stored})")
    print(
        f"frame sent -> dashboard: p50 {percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms (n={len(latencies)}, not shown {missing})"
    )
    print(
        f"  after everyone joined: p50 {percentile(steady, 0.5):.1f} ms, p95 {percentile(steady, 0.95):.1f} ms, "
        f"p99 {percentile(steady, 0.99):.1f} ms (n={len(steady)})"
    )
    print(
        f"frame sent -> ack:       p50 {percentile(acks, 0.5):.1f} ms, p95 {percentile(acks, 0.95):.1f} ms, "
        f"p99 {percentile(acks, 0.99):.1f} ms, mean {statistics.fmean(acks) if acks else float('nan'):.1f} ms"
    )
    print(
        f"dashboard: {stats.dashboard_messages} messages ({stats.snapshots} snapshots) in "
        f"{args.duration:g} s (+{args.students / args.join_rate:.0f} s joining); "
        f"throughput {stats.processed / (args.duration + args.students / args.join_rate):.1f} frames/s"
    )
    if usage:
        print(f"server: CPU {usage['cpu_percent']:.0f}% of one core, RSS max {usage['rss_max_mib']:.0f} MiB")
    print(f"bench client: CPU {client_cpu:.0f}% of one core (shares the machine with the server)")


if __name__ == "__main__":
    main()
