"""The live service under the faults a school's server meets: Redis restarted or away, PostgreSQL away, a student
flooding frames, the session ending with frames in flight. Each test brings its own Redis and PostgreSQL
(`servers.ThrowawayRedis`, `servers.ThrowawayPostgres`: own port, own data directory) and really stops them."""

import asyncio
import json
import os
import shutil
import time

import psutil
import pytest

from fermonitor.settings import redis_channel_layer

from ..faces import webcam_jpeg
from .conftest import FRAME_GAP, db, open_stream, send_frame, socket
from .servers import (
    Daphne,
    ThrowawayPostgres,
    ThrowawayRedis,
    http_json,
    manage,
    receive_until,
    seed,
    server_env,
    ws_connect,
)

needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def _has_postgres() -> bool:
    from pathlib import Path

    return shutil.which("initdb") is not None or any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


needs_postgres = pytest.mark.skipif(not _has_postgres(), reason="PostgreSQL's initdb is not installed")


@pytest.fixture
def redis_server():
    with ThrowawayRedis() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_template():
    """A throwaway cluster with a migrated template database; each test copies it (CREATE DATABASE ... TEMPLATE)."""
    if not _has_postgres():
        pytest.skip("PostgreSQL's initdb is not installed")
    with ThrowawayPostgres() as cluster:
        url = cluster.create_database("fm_template")
        manage(server_env(DATABASE_URL=url), "migrate", "--noinput", "-v0")
        yield cluster


@pytest.fixture
def postgres(postgres_template, request):
    import psycopg

    name = f"fm_{request.node.name[:40].lower()}_{os.getpid()}".replace("[", "_").replace("]", "_")
    with psycopg.connect(postgres_template.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE fm_template')
    yield postgres_template, postgres_template.url(name)
    postgres_template.start_if_stopped()


def frame() -> bytes:
    return webcam_jpeg()


async def stream(ws, image: bytes, count: int) -> list[dict]:
    """Send `count` frames the way the browser does: one in flight, the next when the server says."""
    replies = []
    for _ in range(count):
        await ws.send(image)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
        replies.append(reply)
        await asyncio.sleep(reply.get("next_in_ms", 500) / 1000)
    return replies


def log_lines(server, needle: str) -> list[str]:
    return [line for line in server.log_path.read_text().splitlines() if needle in line]


def end_session_from_another_process(env: dict, uuid: str) -> None:
    manage(
        env,
        "shell",
        "-c",
        "from django_scopes import scopes_disabled; from classes.models import LiveSession; "
        "from classes.services import end_session; ctx = scopes_disabled(); ctx.__enter__(); "
        f"end_session(LiveSession.objects.get(uuid='{uuid}'))",
    )


# --- Redis away ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_redis
def test_a_redis_outage_closes_no_socket_and_updates_and_the_session_end_work_across_processes_after_it(
    tmp_path, postgres, redis_server
):
    _, database_url = postgres
    env = server_env(DATABASE_URL=database_url, REDIS_URL=redis_server.url, FERMONITOR_INFERENCE_WORKERS="1")
    seeded = seed(env, "--students", "2", "--frame-rate", "2", "--cookies")
    uuid, ids, cookies = seeded["session_uuid"], seeded["student_ids"], seeded["cookies"]
    image = frame()

    async def scenario(a, b):
        dashboard_b = await ws_connect(b, f"/ws/live/{uuid}/dashboard/", cookies["teacher"])
        await receive_until(dashboard_b, lambda m: m["type"] == "history", 10)
        students = []
        for cookie in cookies["students"]:
            ws = await ws_connect(a, f"/ws/live/{uuid}/stream/", cookie)
            assert json.loads(await ws.recv())["type"] == "hello"
            students.append(ws)
        for ws in students:
            assert all(r["type"] == "result" for r in await stream(ws, image, 2))
        # Students on A show on B's dashboard only through Redis.
        await receive_until(
            dashboard_b, lambda m: m["type"] == "students" and any(s["id"] in ids for s in m["students"]), 10
        )

        redis_server.stop()
        paused = await receive_until(dashboard_b, lambda m: m["type"] == "live_updates", 15)
        assert paused["state"] == "paused"
        # Streaming goes on: every frame is analysed, stored and acknowledged while Redis is away.
        during = await asyncio.gather(*(stream(ws, image, 8) for ws in students))
        assert all(r["type"] == "result" for replies in during for r in replies), during
        # A dashboard that (re)connects during the outage is served (joining no longer needs Redis).
        dashboard_a = await ws_connect(a, f"/ws/live/{uuid}/dashboard/", cookies["teacher"])
        await receive_until(dashboard_a, lambda m: m["type"] == "history", 10)
        snapshot = await receive_until(dashboard_a, lambda m: m["type"] == "snapshot", 10)
        assert snapshot["live_updates"] == "paused"

        redis_server.start()
        resumed = await receive_until(dashboard_b, lambda m: m["type"] == "live_updates", 20)
        assert resumed["state"] == "live"
        last_n = during[0][-1]["n"]
        after = await stream(students[0], image, 2)
        assert all(r["type"] == "result" for r in after)
        update = await receive_until(
            dashboard_b,
            lambda m: (
                m["type"] == "students" and any(s["id"] == ids[0] and s["n"] > last_n for s in m["students"])
            ),
            10,
        )
        assert update, "cross-process updates flow again"

        # Ended from a third process: it reaches both processes' hubs through the restarted Redis.
        await asyncio.get_running_loop().run_in_executor(None, end_session_from_another_process, env, uuid)
        for ws in students:
            ended = await receive_until(ws, lambda m: m["type"] == "ended", 15)
            assert "ended" in ended["message"]
            await ws.wait_closed()
            assert ws.close_code == 4410
        for dashboard in (dashboard_a, dashboard_b):
            status = await receive_until(dashboard, lambda m: m["type"] == "status", 15)
            assert status["status"] == "ended"
            assert dashboard.close_code is None, "no dashboard was closed by the outage"
            await dashboard.close()

    with Daphne(env, tmp_path / "a.log") as a, Daphne(env, tmp_path / "b.log") as b:
        asyncio.run(scenario(a, b))
    for server in (a, b):
        assert len(log_lines(server, "channel layer unavailable")) == 1, "one line when the layer goes"
        assert len(log_lines(server, "channel layer back after")) == 1, "one line when it is back"
        assert log_lines(server, "Traceback") == []


async def live_updates(dashboard, timeout: float) -> str:
    """The next "live_updates" state a dashboard communicator is told (other messages are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await dashboard.receive_json_from(timeout=max(0.01, deadline - time.monotonic()))
        if message["type"] == "live_updates":
            return message["state"]


async def open_dashboard(session, cookie):
    from .conftest import dashboard_path

    dashboard = socket(dashboard_path(session), cookie)
    connected, _ = await dashboard.connect(timeout=10)
    assert connected
    assert (await dashboard.receive_json_from(timeout=10))["type"] == "history"
    return dashboard


def production_layer(url: str, prefix: str, socket_timeout: float | None):
    """A channel layer with production's settings on `url`, or (the tests' control) with a `socket_timeout`."""
    from analytics.live.layers import RedisChannelLayer

    config = redis_channel_layer(url, prefix=prefix)["default"]["CONFIG"]
    if socket_timeout:
        config["hosts"][0]["socket_timeout"] = socket_timeout
    return RedisChannelLayer(**config)


@needs_redis
@pytest.mark.parametrize("socket_timeout", [None, 10])
async def test_production_s_redis_layer_never_goes_through_asyncio_wait_for(
    redis_server, monkeypatch, socket_timeout
):
    """Python 3.11's `asyncio.wait_for` swallows a cancellation that arrives just as its call finishes (CPython
    gh-86296). redis-py sends every command through it once a `socket_timeout` is set: a hub's receive loop cancelled
    at that moment ran on for ever and hung a test run's teardown. Production's settings keep redis-py off it (the
    `socket_timeout=10` case shows that this test sees it when it is used; redis-py 8 uses 5 s unless told None)."""
    calls = []
    wait_for = asyncio.wait_for

    def recording_wait_for(awaitable, timeout):
        calls.append(timeout)
        return wait_for(awaitable, timeout)

    monkeypatch.setattr(asyncio, "wait_for", recording_wait_for)
    layer = production_layer(redis_server.url, "waitfor", socket_timeout)
    channel = await layer.new_channel()
    await layer.group_add("live.session.1", channel)
    await layer.group_send("live.session.1", {"type": "live.sync"})
    assert await layer.receive(channel) == {"type": "live.sync"}
    await layer.group_discard("live.session.1", channel)
    await layer.flush()
    await layer.close_pools()
    if socket_timeout is None:
        assert calls == []
    else:
        assert calls and set(calls) == {socket_timeout}


@needs_redis
@pytest.mark.parametrize("socket_timeout", [None, 10])
async def test_a_receive_loop_on_production_s_redis_layer_ends_when_cancelled_as_a_command_is_sent(
    redis_server, monkeypatch, socket_timeout
):
    """The hang itself, made certain: the cancellation lands right after a command's bytes are written, the moment
    `asyncio.wait_for` (used by redis-py when a `socket_timeout` is set) loses it on Python 3.11. With production's
    settings the loop ends; with `socket_timeout=10` (the `None` case's control) it runs on."""
    import sys

    layer = production_layer(redis_server.url, "cancel", socket_timeout)
    channel = await layer.new_channel()
    main = asyncio.current_task()
    target = None
    armed = False
    drain = asyncio.StreamWriter.drain

    async def cancelling_drain(writer):
        nonlocal armed
        if armed and asyncio.current_task() is not main:
            armed = False
            asyncio.get_running_loop().call_soon(target.cancel)  # runs before the send's waiter wakes up
        await drain(writer)

    async def receive_forever():  # as the hub's receive loop: layer errors are retried, cancellation ends it
        while True:
            try:
                await layer.receive(channel)
            except Exception:
                await asyncio.sleep(0.05)

    monkeypatch.setattr(asyncio.StreamWriter, "drain", cancelling_drain)
    await layer.send(channel, {"type": "live.sync"})  # connects the pool before arming
    armed = True
    target = asyncio.create_task(receive_forever())
    try:
        done, _ = await asyncio.wait([target], timeout=3)
        if socket_timeout is None:
            assert target in done and target.cancelled()
        elif sys.version_info < (3, 12):
            assert not done and target.cancelling() == 1, "the control: wait_for swallowed the cancellation"
    finally:
        target.cancel()
        await asyncio.wait([target], timeout=3)
        await layer.flush()
        await layer.close_pools()


@needs_redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
async def test_the_hub_rejoins_its_group_after_a_redis_restart_so_the_session_end_reaches_the_student(
    fast_session, cookies, face_jpeg, redis_server, settings
):
    from channels.layers import channel_layers
    from django_scopes import scopes_disabled

    from classes import services

    settings.CHANNEL_LAYERS = redis_channel_layer(redis_server.url)
    channel_layers.backends.clear()
    communicator, _ = await open_stream(fast_session, cookies.sam)
    dashboard = await open_dashboard(fast_session, cookies.tom)
    assert (await send_frame(communicator, face_jpeg))["type"] == "result"

    redis_server.stop()
    assert await live_updates(dashboard, 10) == "paused"
    await asyncio.sleep(FRAME_GAP)
    assert (await send_frame(communicator, face_jpeg))["type"] == "result", "the stream survives the outage"
    redis_server.start()  # empty: the group membership is gone with it
    assert await live_updates(dashboard, 15) == "live"

    def end():
        with scopes_disabled():
            services.end_session(fast_session)

    await db(end)
    ended = await communicator.receive_json_from(timeout=10)
    assert ended["type"] == "ended"
    assert (await communicator.receive_output(timeout=5))["code"] == 4410
    await dashboard.disconnect()
    channel_layers.backends.clear()


@needs_redis
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
async def test_a_session_ended_while_redis_is_away_still_ends_the_streams(
    fast_session, cookies, face_jpeg, redis_server, settings, caplog
):
    from channels.layers import channel_layers
    from django_scopes import scopes_disabled

    from classes import services

    settings.CHANNEL_LAYERS = redis_channel_layer(redis_server.url)
    channel_layers.backends.clear()
    communicator, _ = await open_stream(fast_session, cookies.sam)
    dashboard = await open_dashboard(fast_session, cookies.tom)
    assert (await send_frame(communicator, face_jpeg))["type"] == "result"
    redis_server.stop()
    assert await live_updates(dashboard, 10) == "paused"

    def end():
        with scopes_disabled():
            services.end_session(fast_session)

    await db(end)  # its broadcast fails: the hub finds out from the database
    ended = await communicator.receive_json_from(timeout=15)  # hub.STATUS_POLL_SECONDS and a backoff
    assert ended["type"] == "ended"
    assert (await communicator.receive_output(timeout=5))["code"] == 4410
    assert any("Could not broadcast session.ended" in r.getMessage() for r in caplog.records)
    await dashboard.disconnect()
    channel_layers.backends.clear()


# --- PostgreSQL away ----------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_postgres
def test_a_postgresql_outage_keeps_sockets_open_buffers_a_bounded_number_of_acks_and_stores_them_after(
    tmp_path, postgres
):
    cluster, database_url = postgres
    env = server_env(
        DATABASE_URL=database_url, FERMONITOR_INFERENCE_WORKERS="1", FERMONITOR_SAMPLE_BUFFER_ROWS="6"
    )
    seeded = seed(env, "--students", "1", "--frame-rate", "2", "--cookies")
    uuid, cookies, session_id = seeded["session_uuid"], seeded["cookies"], seeded["session_id"]
    image = frame()

    async def scenario(server):
        dashboard = await ws_connect(server, f"/ws/live/{uuid}/dashboard/", cookies["teacher"])
        await receive_until(dashboard, lambda m: m["type"] == "history", 10)
        ws = await ws_connect(server, f"/ws/live/{uuid}/stream/", cookies["students"][0])
        assert json.loads(await ws.recv())["type"] == "hello"
        before = await stream(ws, image, 2)
        assert [r["type"] for r in before] == ["result", "result"]
        await asyncio.sleep(1.5)  # the periodic flush has written them

        await asyncio.get_running_loop().run_in_executor(None, cluster.stop)
        assert http_json(f"{server.url}/healthz")[0] == 200, "liveness does not depend on the database"
        status, ready = http_json(f"{server.url}/readyz")
        assert status == 503 and ready["checks"]["database"] != "ok", ready
        assert ready["checks"]["channel_layer"] == ready["checks"]["models"] == "ok"
        during = await stream(ws, image, 7)
        # Six acknowledged into the buffer (FERMONITOR_SAMPLE_BUFFER_ROWS), then refused rather than acknowledged.
        assert [r["type"] for r in during[:6]] == ["result"] * 6, during
        refused = during[6]
        assert refused["type"] == "error" and refused["code"] == "storage_unavailable", refused
        assert refused["next_in_ms"] >= 5000
        _, ready = http_json(f"{server.url}/readyz")
        assert ready["checks"]["sample_buffer"] == "full"
        assert await receive_until(dashboard, lambda m: m["type"] == "snapshot", 5), "the dashboard is served"
        # A socket that cannot even be set up now (its login session is in the database) is told to retry.
        newcomer = await ws_connect(server, f"/ws/live/{uuid}/dashboard/", cookies["teacher"])
        refusal = json.loads(await newcomer.recv())
        assert refusal["type"] == "refused" and refusal["code"] == "unavailable"
        await newcomer.wait_closed()
        assert newcomer.close_code == 4503

        await asyncio.get_running_loop().run_in_executor(None, cluster.start)
        deadline = time.monotonic() + 20
        while http_json(f"{server.url}/readyz")[0] != 200:
            assert time.monotonic() < deadline, http_json(f"{server.url}/readyz")
            await asyncio.sleep(0.5)
        after = await stream(ws, image, 1)
        assert after[0]["type"] == "result"
        await ws.close()
        await dashboard.close()
        return sum(r["type"] == "result" for r in before + during + after)

    with Daphne(env, tmp_path / "daphne.log") as server:
        acked = asyncio.run(scenario(server))
    import psycopg

    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM analytics_emotionsample WHERE session_id = %s", (session_id,)
        ).fetchone()[0]
    assert acked == 9 and stored == acked, "every acknowledged result is stored, nothing refused is"
    assert len(log_lines(server, "Sample storage unavailable")) == 1
    assert len(log_lines(server, "Sample buffer full")) == 1
    assert len(log_lines(server, "Sample storage back after")) == 1
    assert log_lines(server, "Traceback") == []


# --- a flooding client ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_student_flooding_frames_gets_too_fast_then_4429_with_bounded_server_memory(tmp_path):
    env = server_env(SQLITE_PATH=str(tmp_path / "flood.sqlite3"), FERMONITOR_INFERENCE_WORKERS="1")
    manage(env, "migrate", "--noinput", "-v0")
    seeded = seed(env, "--students", "2", "--frame-rate", "2", "--cookies")
    uuid, cookies = seeded["session_uuid"], seeded["cookies"]["students"]
    image = frame()

    async def scenario(server):
        from websockets.exceptions import ConnectionClosed

        calm = await ws_connect(server, f"/ws/live/{uuid}/stream/", cookies[1])
        assert json.loads(await calm.recv())["type"] == "hello"
        assert (await stream(calm, image, 2))[-1]["type"] == "result"  # the models are loaded
        process = psutil.Process(server.pid)
        rss_before = process.memory_info().rss

        flooder = await ws_connect(server, f"/ws/live/{uuid}/stream/", cookies[0])
        assert json.loads(await flooder.recv())["type"] == "hello"
        replies = []

        async def read():
            try:
                async for raw in flooder:
                    replies.append(json.loads(raw))
            except ConnectionClosed:
                pass

        reader = asyncio.create_task(read())
        calm_replies = asyncio.create_task(stream(calm, image, 4))
        peak = rss_before
        sent = 0
        try:
            for _ in range(6000):
                await asyncio.wait_for(flooder.send(image), 10)
                sent += 1
                if sent % 200 == 0:
                    peak = max(peak, process.memory_info().rss)
        except (ConnectionClosed, TimeoutError):
            pass
        await asyncio.wait_for(flooder.wait_closed(), 15)
        await reader
        peak = max(peak, process.memory_info().rss)
        assert flooder.close_code == 4429
        codes = [r.get("code") for r in replies]
        assert "too_fast" in codes and codes[-1] == "too_fast" and replies[-1]["type"] == "refused"
        assert all(r["type"] == "result" for r in await calm_replies), "the other student was not disturbed"
        await calm.close()
        return (peak - rss_before) / 2**20, sent

    with Daphne(env, tmp_path / "daphne.log") as server:
        growth, sent = asyncio.run(scenario(server))
    # Before the bound, Daphne queued every frame: +48 MiB for this burst (bench/bench_faults.py), never returned.
    assert growth < 24, f"the server grew {growth:.0f} MiB for a burst of {sent} frames"
    assert len(log_lines(server, "frames kept coming faster")) == 1


# --- the session ending with frames in flight ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_ending_the_session_answers_and_stores_the_frame_in_flight_before_closing(
    fast_session, cookies, face_jpeg, transactional_cast, monkeypatch
):
    from django_scopes import scopes_disabled

    from analytics.live import pipeline
    from classes import services

    original = pipeline._analyze_batch

    def slow(frames, emotions):
        time.sleep(1.0)  # the teacher ends the session while this frame is being analysed
        return original(frames, emotions)

    monkeypatch.setattr(pipeline, "_analyze_batch", slow)
    communicator, _ = await open_stream(fast_session, cookies.sam)
    await communicator.send_input({"type": "websocket.receive", "bytes": face_jpeg})
    await asyncio.sleep(0.3)

    def end():
        with scopes_disabled():
            services.end_session(fast_session)

    await db(end)
    result = await communicator.receive_json_from(timeout=10)
    assert result["type"] == "result" and result["n"] == 1, result
    ended = await communicator.receive_json_from(timeout=10)
    assert ended["type"] == "ended"
    assert (await communicator.receive_output(timeout=5))["code"] == 4410
    assert await communicator.receive_nothing(timeout=0.5), "nothing is sent on the closed socket"

    def samples():
        from analytics.models import EmotionSample

        return EmotionSample.objects.filter(session=fast_session).count()

    assert await db(samples) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_frame_sent_while_the_previous_is_analysed_is_refused_at_once_not_queued(
    fast_session, cookies, face_jpeg, monkeypatch
):
    from analytics.live import pipeline

    original = pipeline._analyze_batch

    def slow(frames, emotions):
        time.sleep(0.5)
        return original(frames, emotions)

    monkeypatch.setattr(pipeline, "_analyze_batch", slow)
    communicator, _ = await open_stream(fast_session, cookies.sam)
    await communicator.send_input({"type": "websocket.receive", "bytes": face_jpeg})
    await asyncio.sleep(0.3)  # past the rate's interval, but the first frame is still being analysed
    await communicator.send_input({"type": "websocket.receive", "bytes": face_jpeg})
    first = await communicator.receive_json_from(timeout=10)
    assert first["type"] == "error" and first["code"] == "too_fast", "answered before the analysis ends"
    second = await communicator.receive_json_from(timeout=10)
    assert second["type"] == "result" and second["n"] == 1
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_stream_that_keeps_ignoring_too_fast_is_closed_with_4429(fast_session, cookies, face_jpeg):
    from analytics.live.consumers import FLOOD_STRIKES

    communicator, _ = await open_stream(fast_session, cookies.sam)
    for _ in range(FLOOD_STRIKES + 2):
        await communicator.send_input({"type": "websocket.receive", "bytes": face_jpeg})
    replies = []
    while True:
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
        replies.append(json.loads(output["text"]))
    assert output["code"] == 4429
    codes = [r.get("code") for r in replies]
    assert codes.count("too_fast") == FLOOD_STRIKES + 1  # FLOOD_STRIKES errors, then the refusal
    assert replies[-1]["type"] == "refused"


# --- health checks --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_each_dependency(client, settings):
    from channels.layers import channel_layers

    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "channel_layer": "ok", "models": "ok", "sample_buffer": "ok"},
    }
    from .servers import free_port

    nobody = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.CHANNEL_LAYERS = redis_channel_layer(nobody)
    channel_layers.backends.clear()
    try:
        response = client.get("/readyz")
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["channel_layer"] == "ConnectionError"
    assert body["checks"]["database"] == "ok"


# --- what the teacher sees ----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.slow
@needs_redis
def test_the_dashboard_says_live_updates_are_paused_while_redis_is_away(tmp_path, redis_server):
    from pathlib import Path

    from .test_browser import CHROMIUM, log_in

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    env = server_env(SQLITE_PATH=str(tmp_path / "paused.sqlite3"), REDIS_URL=redis_server.url)
    manage(env, "migrate", "--noinput", "-v0")
    seeded = seed(env, "--students", "1")
    with Daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_context().new_page()
        log_in(page, server.url, seeded["teacher"], seeded["password"])
        page.goto(f"{server.url}/live/{seeded['session_uuid']}/dashboard/")
        page.wait_for_function("Number(document.getElementById('live-dashboard').dataset.snapshots) >= 1")
        assert page.is_hidden("#live-updates-paused")

        redis_server.stop()
        page.wait_for_selector("#live-updates-paused", state="visible", timeout=15_000)
        assert "Live updates paused" in page.text_content("#live-updates-paused")
        assert page.get_attribute("#live-dashboard", "data-live-updates") == "paused"
        page.screenshot(path=str(tmp_path / "dashboard-paused.png"), full_page=True)

        redis_server.start()
        page.wait_for_selector("#live-updates-paused", state="hidden", timeout=20_000)
        assert page.get_attribute("#live-dashboard", "data-live-updates") == "live"
        browser.close()


# --- reconnect storms -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_handshake_that_completes_late_does_not_close_the_students_newer_socket(
    fast_session, cookies
):
    """Under load a browser gives up on a slow handshake and retries; if the abandoned one completes afterwards it
    must give way to the retry, not close it (it used to: 4408 "replaced" on the socket in use)."""
    from analytics.live import consumers

    original = consumers.hubs.acquire
    first_connect_started = asyncio.Event()

    async def slow_first(info):
        if not first_connect_started.is_set():
            first_connect_started.set()
            await asyncio.sleep(1.5)  # the first handshake is stuck behind a busy server
        return await original(info)

    consumers.hubs.acquire = slow_first
    try:
        abandoned = socket(stream_path_of(fast_session), cookies.sam)
        abandoned_connecting = asyncio.create_task(abandoned.connect(timeout=10))
        await first_connect_started.wait()
        retry, _ = await open_stream(fast_session, cookies.sam)  # begins later, completes first
        await abandoned_connecting
        late = await abandoned.receive_json_from(timeout=5)
        assert late["type"] == "refused" and late["code"] == "replaced", "the late one gives way"
        assert await retry.receive_nothing(timeout=1), "the retry stays open"
        await retry.disconnect()
    finally:
        consumers.hubs.acquire = original


def stream_path_of(session) -> str:
    return f"/ws/live/{session.uuid}/stream/"


def test_ending_a_session_is_not_held_up_by_a_redis_that_accepts_but_never_answers(
    settings, caplog, monkeypatch
):
    """Redis calls carry no socket timeout (see `fermonitor.settings.redis_channel_layer`): the broadcast of a session's
    end bounds itself, so the teacher's request ends, and says in the log what was not sent."""
    import socket as sockets
    from types import SimpleNamespace

    from channels.layers import channel_layers

    from analytics.live import receivers

    monkeypatch.setattr(receivers, "BROADCAST_TIMEOUT_SECONDS", 0.5)
    with sockets.socket() as silent:  # the kernel completes connections to it; nothing ever reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.CHANNEL_LAYERS = redis_channel_layer(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        channel_layers.backends.clear()
        try:
            started = time.monotonic()
            with caplog.at_level("WARNING", logger="analytics.live.receivers"):
                receivers._broadcast(SimpleNamespace(pk=7), "session.ended")
            assert time.monotonic() - started < 3
            assert "Could not broadcast session.ended for session 7 (TimeoutError" in caplog.text
        finally:
            channel_layers.backends.clear()
