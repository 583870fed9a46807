"""Two Daphne processes on one PostgreSQL and Redis: students stream into one, the dashboard watches the other."""

import asyncio
import json
import os
import time
from urllib.parse import urlparse, urlunparse

import pytest

from ..faces import webcam_jpeg
from .servers import Daphne, manage, seed, server_env

pytestmark = [pytest.mark.slow]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def scale_out_database():
    if not DATABASE_URL.startswith("postgres") or not REDIS_URL:
        pytest.skip(
            "Scale-out needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and REDIS_URL=redis://..."
        )
    import psycopg

    parts = urlparse(DATABASE_URL)
    name = f"{parts.path.lstrip('/') or 'fermonitor'}_scaleout_{os.getpid()}"
    admin_url = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunparse(parts._replace(path=f"/{name}"))
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def connect(server, path, cookie):
    from websockets.asyncio.client import connect

    return await connect(
        f"ws://127.0.0.1:{server.port}{path}",
        additional_headers=[("Cookie", f"sessionid={cookie}"), ("Origin", server.url)],
        max_size=2**20,
    )


async def receive_until(ws, predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
        if predicate(message):
            return message


def test_students_on_one_process_show_on_a_dashboard_served_by_another(tmp_path, scale_out_database):
    import psycopg

    env = server_env(DATABASE_URL=scale_out_database, REDIS_URL=REDIS_URL, FERMONITOR_INFERENCE_WORKERS="1")
    manage(env, "migrate", "--noinput", "-v0")
    seeded = seed(env, "--students", "3", "--frame-rate", "2", "--cookies")
    uuid = seeded["session_uuid"]
    frame = webcam_jpeg()
    ids = seeded["student_ids"]

    async def scenario(streams_server, dashboard_server):
        dashboard = await connect(
            dashboard_server, f"/ws/live/{uuid}/dashboard/", seeded["cookies"]["teacher"]
        )
        history = await receive_until(dashboard, lambda m: m["type"] == "history", 10)
        assert history["enrolled"] == 3
        students = []
        for cookie in seeded["cookies"]["students"]:
            ws = await connect(streams_server, f"/ws/live/{uuid}/stream/", cookie)
            assert json.loads(await ws.recv())["type"] == "hello"
            students.append(ws)

        acks = 0
        seen = {}
        for _ in range(4):
            for ws in students:
                await ws.send(frame)
            for ws in students:
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
                assert reply["type"] == "result" and reply["face"], reply
                acks += 1
            await asyncio.sleep(0.55)
            while True:
                try:
                    message = json.loads(await asyncio.wait_for(dashboard.recv(), 0.05))
                except TimeoutError:
                    break
                for state in message.get("students", []):
                    if state.get("faces") == 1 and state.get("emotion"):
                        seen[state["id"]] = state
        assert set(seen) == set(ids), (
            "the dashboard on the other process saw every student's face and emotion"
        )
        snapshot = await receive_until(
            dashboard, lambda m: m["type"] == "snapshot" and m["counts"]["faces"] == 3, timeout=5
        )
        assert snapshot["counts"] == {"joined": 3, "streaming": 3, "faces": 3}

        # Ending the session (here from a third process) closes the streams on the first one.
        manage(
            env,
            "shell",
            "-c",
            "from django_scopes import scopes_disabled; "
            "from classes.models import LiveSession; from classes.services import end_session; "
            f"ctx = scopes_disabled(); ctx.__enter__(); end_session(LiveSession.objects.get(uuid='{uuid}'))",
        )
        for ws in students:
            ended = await receive_until(ws, lambda m: m["type"] == "ended", 10)
            assert "ended" in ended["message"]
            await ws.wait_closed()
            assert ws.close_code == 4410
        status = await receive_until(dashboard, lambda m: m["type"] == "status", 10)
        assert status["status"] == "ended"
        await dashboard.close()
        return acks

    with Daphne(env, tmp_path / "a.log") as first, Daphne(env, tmp_path / "b.log") as second:
        acks = asyncio.run(scenario(first, second))
    with psycopg.connect(scale_out_database) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM analytics_emotionsample s JOIN classes_livesession l ON l.id = s.session_id "
            "WHERE l.uuid = %s AND s.face_count = 1 AND s.emotion <> ''",
            (uuid,),
        ).fetchone()[0]
    assert acks == 12 and stored == acks
