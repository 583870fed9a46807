"""The production server: `make serve WORKERS=N` (`python -m fermonitor.serve --workers N --port 8000`).

N Daphne processes serve one port. Each gets its own listening socket, bound with SO_REUSEPORT to the same address
and handed over with Daphne's `--fd`, so the kernel spreads new connections (HTTP and WebSocket alike) evenly over
the processes. There is no proxy hop between the browser and Daphne: on a 2-core machine a proxy's CPU per camera
frame would come straight out of the analysis budget, and there is no second configuration to maintain. Put nginx
(or any proxy) in front only for TLS or static files; it then needs a single upstream.

The processes share nothing but PostgreSQL and Redis: a student's stream and the teacher's dashboard may land on
different processes, and every process merges the others' results through the session's channel-layer group
(`analytics.live.hub`). So this command refuses to start without `DATABASE_URL` (PostgreSQL) and `REDIS_URL`;
the one-process demo (`make run`) needs neither.

The supervisor starts the processes, restarts one that dies (backing off while it keeps dying), and on SIGTERM or
SIGINT stops them all gracefully: each writes every acknowledged sample before it exits.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

STOP_TIMEOUT_SECONDS = 30.0
START_TIMEOUT_SECONDS = 90.0
# A process that dies sooner than this after its start is crash-looping: wait longer before each restart.
STABLE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 30.0


class ServeError(Exception):
    """Something the operator has to fix before the server can start; the message says what."""


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def check_environment(env: dict[str, str], check_reachable: bool = True) -> None:
    """Several processes need PostgreSQL and Redis; say exactly what is missing rather than fail later."""
    database_url = env.get("DATABASE_URL", "")
    redis_url = env.get("REDIS_URL", "")
    missing = []
    if not database_url.startswith(("postgres://", "postgresql://")):
        missing.append("DATABASE_URL=postgres://USER@HOST:5432/NAME (PostgreSQL)")
    if not redis_url.startswith(("redis://", "rediss://", "unix://")):
        missing.append("REDIS_URL=redis://HOST:6379/0")
    if missing:
        raise ServeError(
            "Several server processes share their sessions through Redis and write through PostgreSQL; set "
            + " and ".join(missing)
            + ". (SQLite and the in-memory channel layer work with one process only: `make run`.)"
        )
    if not check_reachable:
        return
    try:
        import psycopg

        psycopg.connect(database_url, connect_timeout=5).close()
    except Exception as error:
        hint = ""
        if "does not exist" in str(error):
            name = database_url.rsplit("/", 1)[-1].split("?")[0]
            hint = f" Create it first, e.g. `createdb -h 127.0.0.1 -U postgres {name}`."
        raise ServeError(f"Cannot reach PostgreSQL at DATABASE_URL: {error}".strip() + hint) from None
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
    except Exception as error:
        raise ServeError(f"Cannot reach Redis at REDIS_URL: {error}".strip()) from None


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeError(f"Cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


@dataclass
class Worker:
    index: int
    sock: socket.socket
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # consecutive quick deaths
    restart_at: float | None = None
    history: list[int] = field(default_factory=list)  # pids, oldest first


class Supervisor:
    """Starts `workers` Daphne processes on host:port and keeps them running until stopped."""

    def __init__(
        self,
        host: str,
        port: int,
        workers: int,
        env: dict[str, str] | None = None,
        daphne_args: list[str] | None = None,
        inference_workers: int | None = None,
        output=None,
    ):
        self.host, self.workers_wanted = host, workers
        self.env = dict(os.environ if env is None else env)
        # The cores are shared by the processes: each gets its share of inference threads unless told otherwise.
        self.env.setdefault(
            "FERMONITOR_INFERENCE_WORKERS", str(inference_workers or max(1, cores() // workers))
        )
        self.daphne_args = daphne_args or []
        self.output = output  # where the processes' stdout and stderr go (default: this process's)
        first = listening_socket(host, port)
        self.port = first.getsockname()[1]  # with port 0 the first bind chooses one; the others share it
        self.sockets = [first, *(listening_socket(host, self.port) for _ in range(workers - 1))]
        self.workers = [Worker(i, s) for i, s in enumerate(self.sockets)]
        self.stopping = False

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '') else host}:{self.port}"

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w.process and w.process.poll() is None]

    def _spawn(self, worker: Worker) -> None:
        fd = worker.sock.fileno()
        command = [
            sys.executable,
            "-m",
            "daphne",
            "--fd",
            str(fd),
            *self.daphne_args,
            "fermonitor.asgi:application",
        ]
        worker.process = subprocess.Popen(
            command, env=self.env, pass_fds=(fd,), stdout=self.output, stderr=self.output
        )
        worker.started_at = time.monotonic()
        worker.restart_at = None
        worker.history.append(worker.process.pid)

    def start(self, wait: bool = True) -> None:
        for worker in self.workers:
            self._spawn(worker)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until the port answers /healthz; a process that exits meanwhile fails the start (its output above)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for worker in self.workers:
                code = worker.process.poll()
                if code is not None:
                    self.stop()
                    raise ServeError(
                        f"Server process {worker.index + 1} exited with code {code} while starting "
                        "(its output is above)."
                    )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise ServeError(f"The server did not answer on {self.url} within {timeout:.0f} s.")

    def check(self) -> None:
        """Restart processes that died (called by the supervising loop, about every second)."""
        now = time.monotonic()
        for worker in self.workers:
            if self.stopping or worker.process is None:
                continue
            code = worker.process.poll()
            if code is None:
                continue
            if worker.restart_at is None:
                quick = now - worker.started_at < STABLE_SECONDS
                worker.failures = worker.failures + 1 if quick else 0
                delay = min(MAX_BACKOFF_SECONDS, 2**worker.failures - 1 if quick else 0)
                worker.restart_at = now + delay
                print(
                    f"fermonitor: server process {worker.index + 1} (pid {worker.process.pid}) exited with code "
                    f"{code}; restarting it{f' in {delay:.0f} s' if delay else ''}",
                    file=sys.stderr,
                    flush=True,
                )
            if now >= worker.restart_at:
                self._spawn(worker)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM every process (each flushes its samples), then wait; kill what is still there at the end."""
        self.stopping = True
        running = [w.process for w in self.workers if w.process and w.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sock in self.sockets:
            sock.close()

    def run_forever(self) -> int:
        stop_requested = []

        def request_stop(signum, _frame):
            stop_requested.append(signum)

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        while not stop_requested:
            self.check()
            time.sleep(0.5)
        print(
            "fermonitor: stopping the server processes (samples are written first)",
            file=sys.stderr,
            flush=True,
        )
        self.stop()
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fermonitor.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=0, help="Daphne processes (default: one per core)")
    parser.add_argument(
        "--check", action="store_true", help="only check DATABASE_URL and REDIS_URL (reachable), then exit"
    )
    parser.add_argument(
        "--proxy-headers", action="store_true", help="trust X-Forwarded-For from a proxy in front (Daphne)"
    )
    args = parser.parse_args(argv)
    workers = args.workers or cores()
    try:
        check_environment(dict(os.environ))
        if args.check:
            return 0
        if workers < 1:
            raise ServeError("--workers must be at least 1")
        supervisor = Supervisor(
            args.host, args.port, workers, daphne_args=["--proxy-headers"] if args.proxy_headers else []
        )
        supervisor.start()
    except ServeError as error:
        print(f"fermonitor: {error}", file=sys.stderr)
        return 2
    print(
        f"fermonitor on {supervisor.url}/ : {workers} Daphne processes (pids "
        f"{', '.join(map(str, supervisor.pids()))}), PostgreSQL + Redis. Ctrl+C stops them.",
        flush=True,
    )
    return supervisor.run_forever()


if __name__ == "__main__":
    raise SystemExit(main())
