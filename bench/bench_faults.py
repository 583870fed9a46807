"""Fault benchmark: a class streaming into two Daphne processes on PostgreSQL + Redis while things go wrong.

    python bench/bench_faults.py                                # every scenario, this checkout
    python bench/bench_faults.py --scenarios redis-restart,sigkill --students 60
    python bench/bench_faults.py --repo /path/to/other/checkout   # serve another checkout (a "before" run)

Everything runs on throwaway servers the benchmark starts itself: a PostgreSQL cluster (initdb in a temporary
directory) and a redis-server without persistence, each on a free port, so restarting or stopping them touches
nothing shared. Two Daphne processes (A and B) serve the checkout; N students (bench/loadclient.py's real face photos,
one frame in flight, the server's `next_in_ms` honoured) stream into them alternately and reconnect like the
browser does (1, 2, 4 ... 8 s, trying the other process first, as a load balancer would); one teacher dashboard
watches on B, so students on A reach it only through Redis. Each scenario starts fresh servers and a fresh
session, streams for --lead seconds, injects one fault, watches --window seconds after it ends, then ends the
session from a third process (as `manage.py` or another server would) and counts every stored sample.

Scenarios: baseline (no fault), redis-restart (Redis stopped, --redis-down s, started empty), redis-outage (the
same for --redis-outage s), pg-restart
(`pg_ctl restart -m fast`), pg-outage (PostgreSQL stopped for --pg-down s), sigterm / sigkill (process A, restarted
as a supervisor would once it has exited), flood (one extra student sends --flood-messages frames at once).

Prints per scenario: results acknowledged vs samples stored (lost = acknowledged but not stored), storage_unavailable
replies, sockets the server closed (students + dashboard, with close codes), the longest gap between two acks of
any student, recovery time (fault end until every student is acknowledged again and the dashboard on B shows a
student streaming into A again), how many students the session end reached, process A's peak RSS, log lines
and tracebacks, and for the flood the RSS growth and what the flooder saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]

from loadclient import face_frames, percentile  # noqa: E402

from tests.live.servers import Daphne, ThrowawayPostgres, ThrowawayRedis  # noqa: E402

FINAL_CODES = {4401, 4403, 4404, 4408, 4409, 4410, 4500}
SCENARIOS = [
    "baseline",
    "redis-restart",
    "redis-outage",
    "pg-restart",
    "pg-outage",
    "sigterm",
    "sigkill",
    "flood",
]


def backoff(attempt: int) -> float:
    return min(8.0, 2.0 ** max(0, attempt - 1)) * (0.75 + random.random() * 0.5)


@dataclass
class Drop:
    at: float
    code: int
    who: str


@dataclass
class Run:
    servers: list
    session_uuid: str
    stopping: bool = False
    ending_at: float | None = None  # when the session end was requested (closes after it are expected)
    drops: list[Drop] = field(default_factory=list)
    acks: list[tuple[float, float, int]] = field(default_factory=list)  # (at, latency s, student index)
    codes: Counter = field(default_factory=Counter)  # error replies by code
    connect_failures: int = 0
    refusals: Counter = field(default_factory=Counter)
    ended: dict[int, float] = field(default_factory=dict)  # student index -> "ended" received at
    cross_updates: list[float] = field(default_factory=list)  # dashboard on B: updates of students on A
    dashboard_status_ended: float | None = None
    dashboard_layer: list[tuple[float, str]] = field(default_factory=list)
    client_errors: Counter = field(default_factory=Counter)  # a client task that died: a bench bug, shown


def ws_url(server, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def student(index: int, cookie: str, run: Run, photos: list[bytes], join_delay: float):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    await asyncio.sleep(join_delay)
    path = f"/ws/live/{run.session_uuid}/stream/"
    attempt = 0
    n = 0
    while not run.stopping:
        server = run.servers[(index + attempt) % len(run.servers)]
        try:
            ws = await connect(
                ws_url(server, path),
                additional_headers=[
                    ("Cookie", f"sessionid={cookie}"),
                    ("Origin", f"http://127.0.0.1:{server.port}"),
                ],
                open_timeout=30,  # a browser waits for a slow handshake rather than give up
                max_size=2**20,
            )
        except Exception:
            run.connect_failures += 1
            attempt += 1
            await asyncio.sleep(backoff(attempt))
            continue
        final = False
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if hello["type"] != "hello":
                run.refusals[hello.get("code", hello["type"])] += 1
                final = hello.get("code") == "not_live"
                await ws.close()
            else:
                attempt = 0
                while not run.stopping:
                    frame = photos[(index + n) % len(photos)]
                    sent = time.time()
                    await ws.send(frame)
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if reply["type"] == "result":
                        n += 1
                        run.acks.append((time.time(), time.time() - sent, index))
                    elif reply["type"] == "error":
                        run.codes[reply["code"]] += 1
                    elif reply["type"] == "ended":
                        run.ended[index] = time.time()
                        final = True
                        await ws.wait_closed()
                        break
                    await asyncio.sleep(reply.get("next_in_ms", 1000) / 1000)
                if run.stopping:
                    await ws.close()
        except (ConnectionClosed, TimeoutError, OSError):
            code = ws.close_code if ws.close_code is not None else 1006
            if code == 4410:  # the session ended while a frame was on its way: the close says so
                run.ended.setdefault(index, time.time())
            elif not run.stopping and (run.ending_at is None or code != 1000):
                run.drops.append(Drop(time.time(), code, "student"))
            final = final or code in FINAL_CODES
        if final:
            return
        attempt += 1
        await asyncio.sleep(backoff(attempt))


async def dashboard(cookie: str, run: Run, a_students: set[int]):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    server = run.servers[-1]
    path = f"/ws/live/{run.session_uuid}/dashboard/"
    attempt = 0
    while not run.stopping:
        try:
            ws = await connect(
                ws_url(server, path),
                additional_headers=[
                    ("Cookie", f"sessionid={cookie}"),
                    ("Origin", f"http://127.0.0.1:{server.port}"),
                ],
                open_timeout=30,  # a browser waits for a slow handshake rather than give up
                max_size=2**24,
            )
        except Exception:
            attempt += 1
            await asyncio.sleep(backoff(attempt))
            continue
        try:
            attempt = 0
            while not run.stopping:
                try:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except TimeoutError:
                    continue
                now = time.time()
                kind = message.get("type")
                if kind == "students" and any(
                    s["id"] in a_students and s.get("n") for s in message["students"]
                ):
                    run.cross_updates.append(now)
                elif kind == "status" and message.get("status") == "ended":
                    run.dashboard_status_ended = now
                elif kind in ("layer", "live_updates"):
                    run.dashboard_layer.append((now, message.get("state", "")))
            await ws.close()
        except (ConnectionClosed, OSError):
            code = ws.close_code if ws.close_code is not None else 1006
            if not run.stopping:
                run.drops.append(Drop(time.time(), code, "dashboard"))
            attempt += 1
            await asyncio.sleep(backoff(attempt))


class RssMonitor(threading.Thread):
    """Process A's RSS every 0.2 s (the process changes when a scenario restarts it)."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.samples: list[tuple[float, int]] = []
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.wait(0.2):
            with contextlib.suppress(psutil.Error, AttributeError):
                self.samples.append((time.time(), psutil.Process(self.server.pid).memory_info().rss))

    def between(self, start: float, end: float) -> list[int]:
        return [rss for t, rss in self.samples if start <= t <= end]


async def flood(cookie: str, run: Run, photos: list[bytes], messages: int, report: dict):
    """One student sends `messages` frames at once, without waiting for replies (it reads them to count)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    server = run.servers[0]
    ws = await connect(
        ws_url(server, f"/ws/live/{run.session_uuid}/stream/"),
        additional_headers=[("Cookie", f"sessionid={cookie}"), ("Origin", f"http://127.0.0.1:{server.port}")],
        max_size=2**20,
    )
    assert json.loads(await ws.recv())["type"] == "hello"
    replies: Counter = Counter()

    async def read():
        try:
            async for raw in ws:
                message = json.loads(raw)
                replies[message.get("code") or message["type"]] += 1
        except ConnectionClosed:
            pass

    reader = asyncio.create_task(read())
    sent = 0
    started = time.time()
    try:
        for i in range(messages):
            await asyncio.wait_for(ws.send(photos[i % len(photos)]), 20)
            sent += 1
    except (ConnectionClosed, TimeoutError):
        pass
    report.update(sent=sent, send_seconds=time.time() - started)
    try:
        await asyncio.wait_for(ws.wait_closed(), 15)
    except TimeoutError:
        await ws.close()
    await reader
    report.update(close_code=ws.close_code, replies=dict(replies))


def log_counts(paths: list[Path], offsets: list[int]) -> tuple[int, int]:
    lines = tracebacks = 0
    for path, offset in zip(paths, offsets, strict=True):
        with open(path, errors="replace") as f:
            f.seek(offset)
            for line in f:
                if " WARNING " in line or " ERROR " in line or " CRITICAL " in line:
                    lines += 1
                tracebacks += line.startswith("Traceback")
    return lines, tracebacks


def manage(repo: Path, env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=repo,
        env={**env, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def stored_count(pg: ThrowawayPostgres, database: str, session_id: int) -> int | None:
    import psycopg

    try:
        with psycopg.connect(pg.url(database), connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT count(*) FROM analytics_emotionsample WHERE session_id = %s", (session_id,)
            ).fetchone()
            return row[0]
    except psycopg.Error:
        return None


def run_scenario(name: str, args, infra, photos, out_dir: Path) -> dict:
    pg, redis, database, env = infra
    seeded = json.loads(
        manage(
            args.repo,
            env,
            "seed_live_session",
            "--slug",
            "faults",
            "--students",
            str(args.students + 1),
            "--frame-rate",
            "1",
            "--cookies",
        )
        .strip()
        .splitlines()[-1]
    )
    cookies = seeded["cookies"]["students"]
    flooder_cookie = cookies.pop()
    logs = [out_dir / f"{name}-a.log", out_dir / f"{name}-b.log"]
    for log in logs:
        log.unlink(missing_ok=True)
    servers = [Daphne(env, logs[0], repo=args.repo), Daphne(env, logs[1], repo=args.repo)]
    for server in servers:
        server.start()
    run = Run(servers=servers, session_uuid=seeded["session_uuid"])
    a_students = {seeded["student_ids"][i] for i in range(0, args.students, 2)}
    monitor = RssMonitor(servers[0])
    monitor.start()
    result: dict = {"scenario": name}
    flood_report: dict = {}

    async def scenario():
        tasks = [asyncio.create_task(dashboard(seeded["cookies"]["teacher"], run, a_students))]
        tasks += [
            asyncio.create_task(student(i, cookie, run, photos, join_delay=i / 20))
            for i, cookie in enumerate(cookies)
        ]
        await asyncio.sleep(args.lead)
        fault_start = time.time()
        loop = asyncio.get_running_loop()
        if name in ("redis-restart", "redis-outage"):
            await loop.run_in_executor(None, redis.stop)
            await asyncio.sleep(args.redis_down if name == "redis-restart" else args.redis_outage)
            await loop.run_in_executor(None, redis.start)
        elif name == "pg-restart":
            await loop.run_in_executor(None, pg.restart)
        elif name == "pg-outage":
            await loop.run_in_executor(None, pg.stop)
            await asyncio.sleep(args.pg_down)
            await loop.run_in_executor(None, pg.start)
        elif name in ("sigterm", "sigkill"):
            server = servers[0]
            server.process.send_signal(signal.SIGTERM if name == "sigterm" else signal.SIGKILL)
            await loop.run_in_executor(None, server.process.wait)
            await loop.run_in_executor(None, server.start)
        elif name == "flood":
            await flood(flooder_cookie, run, photos, args.flood_messages, flood_report)
        fault_end = time.time()
        await asyncio.sleep(args.window)
        run.ending_at = time.time()
        await loop.run_in_executor(
            None,
            lambda: manage(
                args.repo,
                env,
                "shell",
                "-c",
                "from django_scopes import scopes_disabled; from classes.models import LiveSession; "
                "from classes.services import end_session; ctx = scopes_disabled(); ctx.__enter__(); "
                f"end_session(LiveSession.objects.get(uuid='{run.session_uuid}'))",
            ),
        )
        deadline = time.time() + 10
        while time.time() < deadline and len(run.ended) < len(cookies):
            await asyncio.sleep(0.2)
        run.stopping = True
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, BaseException):
                run.client_errors[f"{type(outcome).__name__}: {outcome}"[:120]] += 1
        return fault_start, fault_end

    offsets = [0, 0]
    started = time.time()
    fault_start, fault_end = asyncio.run(scenario())
    time.sleep(2.0)  # a flush interval
    for server in servers:
        server.stop()
        server.log.close()
        server.log = None
    monitor.stop_event.set()

    acked = len(run.acks) + flood_report.get("replies", {}).get("result", 0)
    stored = stored_count(pg, database, seeded["session_id"])
    lines, tracebacks = log_counts(logs, offsets)
    drops = [d for d in run.drops if d.at >= fault_start - 1]
    by_student: dict[int, list[float]] = {}
    for at, _, index in run.acks:
        by_student.setdefault(index, []).append(at)
    gaps = []
    recovered_at = []
    for times in by_student.values():
        times.sort()
        window = [t for t in times if fault_start - 5 <= t <= (run.ending_at or time.time())]
        gaps += [b - a for a, b in zip(window, window[1:], strict=False)]
        after = [t for t in times if t >= fault_end]
        recovered_at.append(after[0] if after else None)
    cross_after = [t for t in run.cross_updates if t >= fault_end]
    if recovered_at and all(t is not None for t in recovered_at) and cross_after:
        recovery = max(max(recovered_at), cross_after[0]) - fault_end
    else:
        recovery = None
    before = [lat for at, lat, _ in run.acks if fault_start - 8 <= at < fault_start]  # warmed up
    during = [lat for at, lat, _ in run.acks if fault_start <= at <= fault_end + 5]
    rss_all = monitor.between(started, time.time())
    result.update(
        acked=acked,
        stored=stored,
        lost=None if stored is None else max(0, acked - stored),
        storage_unavailable=run.codes.get("storage_unavailable", 0),
        too_fast=run.codes.get("too_fast", 0),
        other_errors=sum(v for k, v in run.codes.items() if k not in ("storage_unavailable", "too_fast")),
        dropped_students=sum(d.who == "student" for d in drops),
        dropped_dashboard=sum(d.who == "dashboard" for d in drops),
        drop_codes=dict(Counter(d.code for d in drops)),
        connect_failures=run.connect_failures,
        refusals=dict(run.refusals),
        longest_ack_gap=max(gaps) if gaps else None,
        recovery=recovery,
        ended=len(run.ended),
        students=len(cookies),
        dashboard_saw_end=run.dashboard_status_ended is not None,
        dashboard_layer=[state for _, state in run.dashboard_layer],
        client_errors=dict(run.client_errors),
        ack_p95_before_ms=1000 * percentile(before, 0.95) if before else None,
        ack_p95_fault_ms=1000 * percentile(during, 0.95) if during else None,
        rss_max_mib=max(rss_all) / 2**20 if rss_all else None,
        log_lines=lines,
        tracebacks=tracebacks,
        fault_seconds=fault_end - fault_start,
    )
    if name == "flood":
        before_rss = monitor.between(fault_start - 3, fault_start)
        flood_rss = monitor.between(fault_start, fault_end + 2)
        after_rss = monitor.between(fault_end + args.window - 3, fault_end + args.window)
        base = statistics.median(before_rss) if before_rss else 0
        result.update(
            flood=flood_report,
            rss_growth_mib=(max(flood_rss) - base) / 2**20 if flood_rss else None,
            rss_retained_mib=(statistics.median(after_rss) - base) / 2**20 if after_rss else None,
        )
    return result


def fmt(value, spec="{:.1f}", none="—"):
    return none if value is None else spec.format(value)


def print_table(results: list[dict]) -> None:
    print()
    print(
        "| scenario | acked | stored | lost | storage_unavailable | sockets closed by server (codes) | "
        "longest ack gap s | recovery s | end reached | ack p95 before/fault ms | RSS max A MiB | "
        "warn+error lines / tracebacks |"
    )
    print("|" + "---|" * 12)
    for r in results:
        dropped = r["dropped_students"] + r["dropped_dashboard"]
        codes = ", ".join(f"{code}×{n}" for code, n in sorted(r["drop_codes"].items()))
        print(
            f"| {r['scenario']} | {r['acked']} | {fmt(r['stored'], '{}')} | {fmt(r['lost'], '{}')} | "
            f"{r['storage_unavailable']} | {dropped} ({r['dropped_students']} students, "
            f"{r['dropped_dashboard']} dashboard{'; ' + codes if codes else ''}) | "
            f"{fmt(r['longest_ack_gap'])} | {fmt(r['recovery'], none='not recovered')} | "
            f"{r['ended']}/{r['students']}{'' if r['dashboard_saw_end'] else ' (dashboard missed it)'} | "
            f"{fmt(r['ack_p95_before_ms'], '{:.0f}')}/{fmt(r['ack_p95_fault_ms'], '{:.0f}')} | "
            f"{fmt(r['rss_max_mib'], '{:.0f}')} | {r['log_lines']} / {r['tracebacks']} |"
        )
    for r in results:
        if r["scenario"] == "flood":
            f = r.get("flood", {})
            print(
                f"\nflood: the flooder sent {f.get('sent')} frames in {fmt(f.get('send_seconds'))} s, was closed "
                f"with {f.get('close_code')}, replies {f.get('replies')}; process A's RSS grew "
                f"{fmt(r.get('rss_growth_mib'))} MiB during the flood, {fmt(r.get('rss_retained_mib'))} MiB still "
                f"held {r.get('window', '')}after the window"
            )
        if (
            r["refusals"]
            or r["connect_failures"]
            or r["dashboard_layer"]
            or r["other_errors"]
            or r["client_errors"]
        ):
            print(
                f"{r['scenario']}: connect failures {r['connect_failures']}, refusals {r['refusals']}, "
                f"other error replies {r['other_errors']}, too_fast {r['too_fast']}, "
                f"dashboard live-updates states {r['dashboard_layer'][:6]}, client errors {r['client_errors']}"
            )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="checkout the servers run (default: this one)"
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--lead", type=float, default=15.0, help="seconds of streaming before the fault")
    parser.add_argument("--window", type=float, default=20.0, help="seconds watched after the fault ends")
    parser.add_argument("--redis-down", type=float, default=3.0, help="seconds of the Redis restart")
    parser.add_argument("--redis-outage", type=float, default=60.0, help="seconds of the Redis outage")
    parser.add_argument("--pg-down", type=float, default=60.0)
    parser.add_argument("--flood-messages", type=int, default=6000)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "faults")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    args.repo = args.repo.resolve()
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        sys.exit(f"Unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    args.out.mkdir(parents=True, exist_ok=True)
    photos = face_frames()

    load = os.getloadavg()
    print(
        f"fermonitor fault benchmark: {args.students} students x 1 frame/s on 2 Daphne processes serving "
        f"{args.repo} (throwaway PostgreSQL + Redis), {os.cpu_count()} cores, load {load[0]:.1f} at start",
        flush=True,
    )
    with ThrowawayPostgres() as pg, ThrowawayRedis() as redis:
        database = "fm_bench_faults"
        pg.create_database(database)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
        env.update(
            DATABASE_URL=pg.url(database),
            REDIS_URL=redis.url,
            DEBUG="0",
            SECRET_KEY="bench-faults-only",
            LOG_LEVEL="INFO",
            FERMONITOR_FAST_HASHER="1",
            FERMONITOR_INFERENCE_WORKERS="1",
            PYTHONUNBUFFERED="1",
            DJANGO_SETTINGS_MODULE="fermonitor.settings",
            MALLOC_MMAP_THRESHOLD_="16777216",
            MALLOC_TRIM_THRESHOLD_="16777216",
        )
        manage(args.repo, env, "migrate", "--noinput", "-v0")
        results = []
        for name in names:
            print(f"--- {name} (load {os.getloadavg()[0]:.1f})", flush=True)
            result = run_scenario(name, args, (pg, redis, database, env), photos, args.out)
            print(json.dumps(result), flush=True)
            results.append(result)
    print_table(results)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; server logs in {args.out}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
