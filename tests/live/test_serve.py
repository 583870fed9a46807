"""The production server (`make serve`, `python -m fermonitor.serve`): several Daphne processes on one port."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from fermonitor.serve import ServeError, Supervisor, check_environment

from ..faces import webcam_jpeg
from .servers import REPO, manage, seed, server_env
from .test_scale_out import REDIS_URL, connect, receive_until, scale_out_database  # noqa: F401 - a fixture

WORKERS = 2


def test_refuses_to_start_without_postgresql_and_redis_and_says_what_to_set():
    with pytest.raises(ServeError) as refused:
        check_environment({"DATABASE_URL": "sqlite:///db.sqlite3"})
    assert "DATABASE_URL=postgres://" in str(refused.value) and "REDIS_URL=redis://" in str(refused.value)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "fermonitor.serve", "--workers", "2", "--port", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "set DATABASE_URL=postgres://" in done.stderr and "make run" in done.stderr


def test_a_missing_database_is_named_with_the_command_that_creates_it():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs a PostgreSQL server: set DATABASE_URL=postgres://...")
    missing = url.rsplit("/", 1)[0] + "/fermonitor_no_such_database"
    with pytest.raises(ServeError) as refused:
        check_environment({"DATABASE_URL": missing, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert "does not exist" in str(refused.value)
    assert "createdb -h 127.0.0.1 -U postgres fermonitor_no_such_database" in str(refused.value)


def _owner(supervisor: Supervisor, ws) -> int | None:
    """The pid of the server process holding this client's connection."""
    client_port = ws.local_address[1]
    for pid in supervisor.pids():
        for conn in psutil.Process(pid).net_connections("tcp"):
            if conn.laddr.port == supervisor.port and conn.raddr and conn.raddr.port == client_port:
                return pid
    return None


@pytest.fixture
def production(tmp_path, scale_out_database):  # noqa: F811 - the fixture imported above
    env = server_env(DATABASE_URL=scale_out_database, REDIS_URL=REDIS_URL, FERMONITOR_INFERENCE_WORKERS="1")
    manage(env, "migrate", "--noinput", "-v0")
    with open(tmp_path / "serve.log", "w") as log:
        supervisor = Supervisor("127.0.0.1", 0, WORKERS, env=env, output=log)
        supervisor.start()
        try:
            yield env, supervisor
        finally:
            supervisor.stop()


@pytest.mark.slow
def test_two_worker_production_server_streams_through_one_port_to_dashboards_on_both_processes(production):
    env, supervisor = production
    assert len(supervisor.pids()) == WORKERS
    seeded = seed(env, "--students", "4", "--frame-rate", "2", "--cookies")
    uuid, ids = seeded["session_uuid"], seeded["student_ids"]
    frame = webcam_jpeg()

    async def scenario():
        # Dashboards until each server process holds one (the kernel spreads connections by their addresses).
        dashboards: dict[int, object] = {}
        spare = []
        for _ in range(60):
            ws = await connect(supervisor, f"/ws/live/{uuid}/dashboard/", seeded["cookies"]["teacher"])
            history = await receive_until(ws, lambda m: m["type"] == "history", 10)
            assert history["enrolled"] == 4
            owner = _owner(supervisor, ws)
            if owner is not None and owner not in dashboards:
                dashboards[owner] = ws
            else:
                spare.append(ws)
            if len(dashboards) == WORKERS:
                break
        assert set(dashboards) == set(supervisor.pids()), "one port reaches every server process"
        for ws in spare:
            await ws.close()

        students = []
        for cookie in seeded["cookies"]["students"]:
            ws = await connect(supervisor, f"/ws/live/{uuid}/stream/", cookie)
            assert json.loads(await ws.recv())["type"] == "hello"
            students.append(ws)
        acks = 0
        for _ in range(3):
            for ws in students:
                await ws.send(frame)
            for ws in students:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert reply["type"] == "result" and reply["face"] and reply["emotion"], reply
                acks += 1
            await asyncio.sleep(0.55)
        # Both dashboards, each on its own process, show every student's third frame, wherever it was analysed.
        for pid, dashboard in dashboards.items():
            shown = {}
            deadline = time.monotonic() + 10
            while set(shown) != set(ids) and time.monotonic() < deadline:
                message = json.loads(await asyncio.wait_for(dashboard.recv(), 10))
                for state in message.get("students", []):
                    if state.get("n") == 3 and state.get("emotion"):
                        shown[state["id"]] = state
            assert set(shown) == set(ids), f"the dashboard on process {pid} saw every student's frames"
        for ws in [*students, *dashboards.values()]:
            await ws.close()
        return acks

    acks = asyncio.run(scenario())
    supervisor.stop()  # SIGTERM: each process writes what it acknowledged before it exits
    stored = manage(
        env,
        "shell",
        "-c",
        "from django_scopes import scopes_disabled; from analytics.models import EmotionSample\n"
        f"with scopes_disabled(): print(EmotionSample.objects.filter(session__uuid='{uuid}').count())",
    )
    assert acks == 12 and int(stored.split()[-1]) == acks


@pytest.mark.slow
def test_a_server_process_that_dies_is_restarted_and_the_port_keeps_serving(production):
    _env, supervisor = production
    victim = supervisor.pids()[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        supervisor.check()
        pids = supervisor.pids()
        if len(pids) == WORKERS and victim not in pids:
            break
        time.sleep(0.2)
    assert len(supervisor.pids()) == WORKERS and victim not in supervisor.pids()
    supervisor.wait_ready()
    for _ in range(10):  # whichever process the kernel picks
        with urllib.request.urlopen(f"{supervisor.url}/healthz", timeout=10) as response:
            assert response.status == 200
