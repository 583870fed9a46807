"""Simulated clients of a live session: students streaming camera frames and a teacher's dashboard.

bench/load.py and bench/capacity.py drive a server with these; anything else that needs a class on a running
server (a demo simulation) can too:

    seeded = seed_session(env, students=30, rate=1.0)          # manage.py seed_live_session --cookies
    stats = asyncio.run(run_class(["http://127.0.0.1:8000"], seeded, face_frames(), duration=60))
    print(stats.summary())

Each student is a WebSocket client logged in with a seeded session cookie, sending JPEG frames at the session rate
with one frame in flight, honouring the server's `next_in_ms`. The dashboard client notes when each student's frame
number first shows on the dashboard, which gives the latency frame sent -> dashboard.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import io
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
# Single-person photos (see ../shared/data/faces/SOURCES.md).
PHOTOS = [
    "face_recognition__obama-480p.jpg",
    "face_recognition__biden2.jpg",
    "face_recognition__obama_small.jpg",
    "deepface__img10.jpg",
    "deepface__img20.jpg",
    "deepface__img50.jpg",
]


def shared_dir() -> Path:
    return Path(os.environ.get("FERMONITOR_SHARED_DIR") or REPO.parent / "shared")


def face_frames(size: tuple[int, int] = (320, 240), quality: int = 70) -> list[bytes]:
    """Real single-face photos as webcam frames (resized whole, JPEG at the browser's quality)."""
    from PIL import Image

    out = []
    for name in PHOTOS:
        path = shared_dir() / "data" / "faces" / name
        if not path.exists():
            continue
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").resize(size).save(buffer, format="JPEG", quality=quality)
        out.append(buffer.getvalue())
    if not out:
        raise SystemExit(
            f"No face photos under {shared_dir() / 'data' / 'faces'} (set FERMONITOR_SHARED_DIR)"
        )
    return out


def manage(*args: str, env: dict | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def seed_session(env: dict, students: int, rate: float = 1.0, slug: str | None = None) -> dict:
    """A fresh live session with `students` consenting students and their login cookies (seed_live_session)."""
    out = manage(
        "seed_live_session",
        "--slug",
        slug or f"bench-{students}",
        "--students",
        str(students),
        "--frame-rate",
        str(rate),
        "--cookies",
        env=env,
    )
    return json.loads(out.strip().splitlines()[-1])


def stored_samples(env: dict, session_id: int) -> int:
    out = manage(
        "shell",
        "-c",
        "from django_scopes import scopes_disabled; from analytics.models import EmotionSample\n"
        f"with scopes_disabled(): print(EmotionSample.objects.filter(session_id={session_id}).count())",
        env=env,
    )
    return int(out.split()[-1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q
    low, high = int(k), min(int(k) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (k - low)


@dataclass
class Stats:
    students: int = 0
    sent: dict[tuple[int, int], float] = field(default_factory=dict)  # (student, n) -> sent at
    shown: dict[tuple[int, int], float] = field(
        default_factory=dict
    )  # (student, n) -> first on the dashboard: that frame's state or a later one of the student
    exact: set[tuple[int, int]] = field(default_factory=set)  # (student, n) shown with that very frame number
    top_shown: dict[int, int] = field(default_factory=dict)  # student -> highest frame number shown
    acks: list[float] = field(default_factory=list)
    processed: int = 0
    refused: int = 0
    failed: int = 0
    dashboard_messages: int = 0
    snapshots: int = 0
    connect_retries: int = 0
    connect_failures: int = 0
    joined: int = 0
    all_joined_at: float | None = None  # time.time() when the last student got its hello
    started: float = 0.0
    ended: float = 0.0
    server: dict | None = None  # ServerMonitor.end(): the server processes in the steady state

    def latencies_ms(self, since: float = 0.0) -> list[float]:
        return [1000 * (self.shown[k] - t) for k, t in self.sent.items() if k in self.shown and t >= since]

    @property
    def steady_from(self) -> float:
        # The class joining (a handshake, a session lookup and the consent checks per student) competes with the
        # streams already running; from two seconds after the last student joined the numbers are steady.
        return (self.all_joined_at or float("inf")) + 2.0

    @property
    def not_shown(self) -> int:
        """Results the dashboard never reflected: no state of that student at this frame or a later one."""
        return sum(1 for k in self.sent if k not in self.shown)

    @property
    def superseded(self) -> int:
        """Results shown only through a later one: a hub publishes each student's latest state (every 50 ms while
        it keeps up), so a result followed by the student's next one before the hub got to publish shows as that
        one. Seen for first frames on a process still starting: its hub published n=0, then n=2."""
        return sum(1 for k in self.sent if k in self.shown and k not in self.exact)

    def _gap_ms(self, key: tuple[int, int]) -> float | None:
        after = self.sent.get((key[0], key[1] + 1))
        return None if after is None else round(1000 * (after - self.sent[key]))

    def summary(self) -> dict:
        every = self.latencies_ms()
        steady = self.latencies_ms(self.steady_from)
        acks = [1000 * a for a in self.acks]
        return {
            "students": self.students,
            "processed": self.processed,
            "refused": self.refused,
            "failed": self.failed,
            "not_shown": self.not_shown,
            "superseded": self.superseded,
            # The results not shown as themselves, to look into: (student id, frame n, s after the first student
            # could join, ms until the student's next frame was sent, the highest n of that student shown).
            "not_shown_frames": [
                (k[0], k[1], round(t - self.started, 2), self._gap_ms(k), self.top_shown.get(k[0], 0))
                for k, t in sorted(self.sent.items(), key=lambda item: item[1])
                if k not in self.exact
            ][:10],
            "connect_failures": self.connect_failures,
            "connect_retries": self.connect_retries,
            "p50_ms": percentile(every, 0.5),
            "p95_ms": percentile(every, 0.95),
            "p99_ms": percentile(every, 0.99),
            "steady_n": len(steady),
            "steady_p50_ms": percentile(steady, 0.5),
            "steady_p95_ms": percentile(steady, 0.95),
            "steady_p99_ms": percentile(steady, 0.99),
            "ack_p50_ms": percentile(acks, 0.5),
            "ack_p95_ms": percentile(acks, 0.95),
            "dashboard_messages": self.dashboard_messages,
            "snapshots": self.snapshots,
            "frames_per_s": self.processed / max(1e-9, self.ended - self.started),
        }


def _headers(base: str, cookie: str) -> list[tuple[str, str]]:
    return [("Cookie", f"sessionid={cookie}"), ("Origin", base)]


class StreamClient(asyncio.Protocol):
    """The smallest WebSocket client a simulated student needs, so that the load client (which shares the machine
    with the server it measures) spends less CPU per frame: 0.09 ms per 15 kB frame and reply against 0.14 ms with
    the `websockets` client (echo server, 20 sockets at 20 frames/s).
    Frames are masked once when they are built (`masked_frame`; the server unmasks whatever the key), replies are
    the server's unmasked text frames, pings are answered. Not a general client: no fragmentation, no extensions.
    """

    def __init__(self):
        self.transport = None
        self.buffer = bytearray()
        self.handshake: asyncio.Future | None = None
        self.messages: collections.deque[str] = collections.deque()
        self.waiter: asyncio.Future | None = None
        self.closed = False

    @classmethod
    async def connect(cls, url: str, headers: list[tuple[str, str]], timeout: float = 30.0) -> StreamClient:
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(cls, parts.hostname, parts.port)
        client.handshake = loop.create_future()
        key = base64.b64encode(os.urandom(16)).decode()
        request = [
            f"GET {parts.path} HTTP/1.1",
            f"Host: {parts.hostname}:{parts.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers),
        ]
        client.transport.write(("\r\n".join(request) + "\r\n\r\n").encode())
        async with asyncio.timeout(timeout):
            status = await client.handshake
        if not status.startswith("HTTP/1.1 101"):
            client.transport.close()
            raise ConnectionError(f"WebSocket handshake refused: {status}")
        return client

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        if self.handshake is not None and not self.handshake.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")]).decode("latin-1")
            del self.buffer[: end + 4]
            self.handshake.set_result(status)
        while len(self.buffer) >= 2:
            opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + length:
                return
            payload = bytes(self.buffer[start : start + length])
            del self.buffer[: start + length]
            if opcode == 0x1:
                self.messages.append(payload.decode())
            elif opcode == 0x9:  # ping: answer, or the server closes the socket
                self.transport.write(masked_frame(payload, opcode=0xA))
            elif opcode == 0x8:
                self.closed = True
                self.transport.close()
        self._wake()

    def connection_lost(self, exc):
        self.closed = True
        if self.handshake is not None and not self.handshake.done():
            self.handshake.set_exception(ConnectionError("connection closed during the handshake"))
        self._wake()

    def _wake(self):
        if self.waiter is not None and not self.waiter.done() and (self.messages or self.closed):
            self.waiter.set_result(None)

    def send(self, frame: bytes) -> None:
        """Send a frame made by `masked_frame`."""
        self.transport.write(frame)

    async def recv(self) -> str:
        while not self.messages:
            if self.closed:
                raise ConnectionError("the server closed the socket")
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return self.messages.popleft()

    def close(self) -> None:
        if not self.closed:
            self.transport.write(masked_frame(b"\x03\xe8", opcode=0x8))  # 1000, normal closure
            self.transport.close()
            self.closed = True


def masked_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """One client-to-server WebSocket frame (FIN, masked as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    keystream = (mask * (n // 4 + 1))[:n]
    masked = (
        (int.from_bytes(payload, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big") if n else b""
    )
    return header + mask + masked


async def student(index, student_id, cookie, base, session_uuid, photos, stats, stop_at, rate, join_rate):
    """One student: joins at its turn, then sends a frame, waits for the reply, sleeps `next_in_ms`, until stop_at.
    `photos` are JPEG bytes or frames already made by `masked_frame` (cheaper: built once for the whole class)."""
    url = base.replace("http", "ws", 1) + f"/ws/live/{session_uuid}/stream/"
    frames = [p if isinstance(p, MaskedFrame) else MaskedFrame(p) for p in photos]
    # A class joins over a few seconds, not in one instant (join_rate per second), then at a random phase.
    await asyncio.sleep(index / join_rate + random.random() / rate)
    for attempt in range(5):
        try:
            ws = await StreamClient.connect(url, _headers(base, cookie))
            break
        except Exception:
            stats.connect_retries += 1
            await asyncio.sleep(2**attempt)
    else:
        stats.connect_failures += 1
        return
    try:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "hello":
            stats.connect_failures += 1
            return
        stats.joined += 1
        if stats.joined == stats.students:
            stats.all_joined_at = time.time()
        n = 0
        while time.monotonic() < stop_at:
            frame = frames[(index + n) % len(frames)]
            sent = time.time()
            stats.sent[(student_id, n + 1)] = sent
            ws.send(frame.data)
            try:
                async with asyncio.timeout(30):
                    reply = json.loads(await ws.recv())
            except (TimeoutError, ConnectionError):
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
                if reply["type"] in ("refused", "ended"):
                    break
            await asyncio.sleep(reply.get("next_in_ms", 1000 / rate) / 1000)
    finally:
        ws.close()


class MaskedFrame:
    """A JPEG ready to send: masked once, sent as often as needed."""

    __slots__ = ("data",)

    def __init__(self, jpeg: bytes):
        self.data = masked_frame(jpeg)


async def dashboard(cookie, base, session_uuid, stats, done: asyncio.Event, ready: asyncio.Event):
    from websockets.asyncio.client import connect

    url = base.replace("http", "ws", 1) + f"/ws/live/{session_uuid}/dashboard/"
    async with connect(
        url, additional_headers=_headers(base, cookie), max_size=2**24, compression=None
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
            if message["type"] == "snapshot":
                ready.set()
            for state in message.get("students", ()):
                n, student_id = state.get("n", 0), state["id"]
                if n:
                    stats.exact.add((student_id, n))
                    for k in range(stats.top_shown.get(student_id, 0) + 1, n + 1):
                        stats.shown.setdefault((student_id, k), now)
                    stats.top_shown[student_id] = max(n, stats.top_shown.get(student_id, 0))


async def run_class(
    urls: list[str] | str,
    seeded: dict,
    photos: list[bytes],
    *,
    duration: float = 30.0,
    rate: float = 1.0,
    join_rate: float = 20.0,
    dashboard_url: str | None = None,
    monitor: ServerMonitor | None = None,
) -> Stats:
    """Stream a seeded class into the server(s) for `duration` seconds after everyone has started joining, the
    students spread round-robin over `urls`, the dashboard on `dashboard_url` (default: the first). A `monitor`
    measures the server processes from the steady state (the whole class joined) to the end of streaming."""
    urls = [urls] if isinstance(urls, str) else list(urls)
    photos = [MaskedFrame(p) for p in photos]  # masked once for the whole class
    students = list(zip(seeded["student_ids"], seeded["cookies"]["students"], strict=True))
    stats = Stats(students=len(students))
    done, ready = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(
        dashboard(
            seeded["cookies"]["teacher"], dashboard_url or urls[0], seeded["session_uuid"], stats, done, ready
        )
    )
    # Students start once the dashboard has its snapshot: results published before it listened would count as
    # never shown (a cold server process took over a second to open the dashboard of a 50-student step).
    readied = asyncio.create_task(ready.wait())
    await asyncio.wait([readied, watcher], timeout=30, return_when=asyncio.FIRST_COMPLETED)
    readied.cancel()
    if watcher.done():
        watcher.result()  # the dashboard's error
    if not ready.is_set():
        raise RuntimeError("The teacher's dashboard got no snapshot within 30 s")
    stats.started = time.time()
    stop_at = time.monotonic() + len(students) / join_rate + duration

    async def steady_hook():
        while stats.all_joined_at is None and time.monotonic() < stop_at:
            await asyncio.sleep(0.2)
        if monitor is not None and stats.all_joined_at is not None:
            await asyncio.sleep(2.0)
            monitor.begin(stats.processed)

    hook = asyncio.create_task(steady_hook())
    await asyncio.gather(
        *(
            student(
                i,
                sid,
                cookie,
                urls[i % len(urls)],
                seeded["session_uuid"],
                photos,
                stats,
                stop_at,
                rate,
                join_rate,
            )
            for i, (sid, cookie) in enumerate(students)
        )
    )
    stats.ended = time.time()
    hook.cancel()
    if monitor is not None and monitor.started:
        stats.server = monitor.end(stats.processed)
    await asyncio.sleep(1.5)  # the last updates reach the dashboard
    done.set()
    await watcher
    return stats


class ServerMonitor:
    """CPU, RSS and connections of server processes, each on its own, from `begin()` to `end()` (sampled twice a
    second), and the server's CPU time per frame processed meanwhile."""

    def __init__(self, pids: list[int], port: int | None = None):
        import psutil

        self.port = port  # count only the sockets served on this port (not the database's, Redis')
        self.processes = [psutil.Process(pid) for pid in pids]
        self.rss: dict[int, int] = {p.pid: 0 for p in self.processes}
        self.connections: dict[int, int] = {p.pid: 0 for p in self.processes}
        self._cpu0: dict[int, float] = {}
        self._wall0 = 0.0
        self._frames0 = 0
        self._task: asyncio.Task | None = None
        self.started = False

    def _cpu(self, process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    async def _sample(self):
        rounds = 0
        while True:
            for p in self.processes:
                try:
                    self.rss[p.pid] = max(self.rss[p.pid], p.memory_info().rss)
                    if rounds % 10 == 0:  # reading the socket table costs the (shared) CPU: every 5 s
                        established = sum(
                            1
                            for c in p.net_connections("tcp")
                            if c.status == "ESTABLISHED" and (self.port is None or c.laddr.port == self.port)
                        )
                        self.connections[p.pid] = max(self.connections[p.pid], established)
                except Exception:
                    pass
            rounds += 1
            await asyncio.sleep(0.5)

    def begin(self, frames: int = 0) -> None:
        self._cpu0 = {p.pid: self._cpu(p) for p in self.processes}
        self._wall0 = time.monotonic()
        self._frames0 = frames
        self._task = asyncio.get_running_loop().create_task(self._sample())
        self.started = True

    def end(self, frames: int = 0) -> dict:
        wall = time.monotonic() - self._wall0
        if self._task is not None:
            self._task.cancel()
        processes = []
        for p in self.processes:
            try:
                cpu = self._cpu(p) - self._cpu0.get(p.pid, 0.0)
            except Exception:
                cpu = float("nan")
            processes.append(
                {
                    "pid": p.pid,
                    "cpu_percent": 100 * cpu / max(wall, 1e-9),
                    "rss_mib": self.rss[p.pid] / 2**20,
                    "connections": self.connections[p.pid],
                }
            )
        frames = frames - self._frames0
        cpu_total = sum(p["cpu_percent"] for p in processes) / 100 * wall
        return {
            "seconds": wall,
            "frames": frames,
            "frames_per_s": frames / max(wall, 1e-9),
            "cpu_ms_per_frame": 1000 * cpu_total / frames if frames else float("nan"),
            "processes": processes,
        }
