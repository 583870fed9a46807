"""Real servers in subprocesses for the browser, scale-out and fault tests, and for `bench/bench_faults.py`:
Daphne serving fermonitor, and throwaway Redis and PostgreSQL instances (own port, own data directory) that a
test may stop, restart or starve without touching the shared ones."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DAPHNE = str(Path(PYTHON).with_name("daphne"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
    env.update(
        DEBUG="1",
        FERMONITOR_FAST_HASHER="1",
        PYTHONUNBUFFERED="1",
        PYTHONFAULTHANDLER="1",  # a hung server killed with SIGABRT prints its threads' stacks into its log
        DJANGO_SETTINGS_MODULE="fermonitor.settings",
    )
    env.update({k: v for k, v in overrides.items() if v is not None})
    return env


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def seed(env: dict, *args: str) -> dict:
    out = manage(env, "seed_live_session", *args)
    return json.loads(out.strip().splitlines()[-1])


class Daphne:
    """`with Daphne(env) as server:` serves fermonitor on a free port until the block ends (SIGTERM, then wait).

    `repo` serves another checkout (the fault benchmark's "before" run); `start()` after `stop()` or `kill()`
    serves again on the same port, as a supervisor restarting the process would."""

    def __init__(self, env: dict, log_path: Path, repo: Path = REPO):
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.repo = Path(repo)
        self.process = None
        self.log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def __enter__(self):
        return self.start()

    def start(self):
        if self.log is None:
            self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [DAPHNE, "-b", "127.0.0.1", "-p", str(self.port), "fermonitor.asgi:application"],
            cwd=self.repo,
            env={**self.env, "PYTHONPATH": str(self.repo)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Daphne exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"Daphne did not come up:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> int:
        self.process.kill()
        return self.process.wait()

    def __exit__(self, *exc):
        self.stop()
        if self.log is not None:
            self.log.close()
            self.log = None


# --- throwaway Redis and PostgreSQL ---------------------------------------------------------------------------


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"Nothing listens on port {port} after {timeout:g} s")


class ThrowawayRedis:
    """A redis-server of its own on a free port, without persistence: a restart loses every key, as a Redis
    restarted by an operator (or a crash) does. `stop()`/`start()` keep the port."""

    def __init__(self, port: int | None = None):
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.port = port or free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"PostgreSQL's {name} is not installed")


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary directory, a free port, trust auth, fsync off) that
    a test or the fault benchmark stops and starts at will. As root, the cluster runs as the `postgres` user."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="fermonitor-pg-"))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self._as = []
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.initialised = False

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=120, check=check, cwd=self.dir
        )

    def start(self):
        if not self.initialised:
            self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
            self.initialised = True
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log_path), "-w", "start"
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast` ends every session at once, as a crash or an operator's restart would)."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0

    def start_if_stopped(self) -> None:
        if not self.running:
            self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


# --- WebSocket clients against a real server ----------------------------------------------------------------


async def ws_connect(server, path: str, cookie: str):
    from websockets.asyncio.client import connect

    return await connect(
        f"ws://127.0.0.1:{server.port}{path}",
        additional_headers=[("Cookie", f"sessionid={cookie}"), ("Origin", server.url)],
        max_size=2**20,
    )


async def receive_until(ws, predicate, timeout: float):
    """The first message (JSON) that satisfies `predicate` within `timeout` seconds; others are skipped."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if predicate(message):
            return message


def http_json(url: str, timeout: float = 10) -> tuple[int, dict]:
    import urllib.error

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
