"""Two Daphne processes on one PostgreSQL and Redis: the teacher's capture of the video call goes into one, the
dashboard watches the other; an assignment and the end of the session come from a third process."""

import asyncio
import json

import pytest

from .servers import Daphne, manage, seed, server_env
from .test_scale_out import REDIS_URL, connect, receive_until
from .test_scale_out import scale_out_database as scale_out_database  # a fixture, used by name

pytestmark = [pytest.mark.slow]


@pytest.fixture
def gallery_frame():
    from inference.paths import shared_data_dir

    if not (shared_data_dir() / "faces").is_dir():
        pytest.skip(f"No shared face photos at {shared_data_dir() / 'faces'} (set FERMONITOR_SHARED_DIR)")
    from inference.gallery_builder import build_gallery, shared_people

    return build_gallery(shared_people(4, seed=7), 2, 2, (1280, 720)).jpeg()


def _shell(env, code: str) -> None:
    manage(
        env,
        "shell",
        "-c",
        "from django_scopes import scopes_disabled; ctx = scopes_disabled(); ctx.__enter__(); " + code,
    )


def test_a_capture_on_one_process_shows_its_participants_on_a_dashboard_served_by_another(
    tmp_path, scale_out_database, gallery_frame
):
    import psycopg

    env = server_env(DATABASE_URL=scale_out_database, REDIS_URL=REDIS_URL, FERMONITOR_INFERENCE_WORKERS="1")
    manage(env, "migrate", "--noinput", "-v0")
    seeded = seed(env, "--students", "1", "--frame-rate", "2", "--cookies", "--call-capture")
    uuid, teacher = seeded["session_uuid"], seeded["cookies"]["teacher"]

    def cards(message):
        return [s for s in message.get("students", []) if s.get("kind") == "participant"]

    async def scenario(capture_server, dashboard_server):
        dashboard = await connect(dashboard_server, f"/ws/live/{uuid}/dashboard/", teacher)
        await receive_until(dashboard, lambda m: m["type"] == "history", 10)
        capture = await connect(capture_server, f"/ws/live/{uuid}/capture/", teacher)
        assert json.loads(await asyncio.wait_for(capture.recv(), 60))["type"] == "hello"
        await capture.send(gallery_frame)
        result = json.loads(await asyncio.wait_for(capture.recv(), 60))
        assert result["type"] == "result" and result["faces"] >= 3, result
        seen = await receive_until(dashboard, lambda m: len(cards(m)) >= result["faces"], 10)
        assert all(c["emotion"] and c["name"].startswith("Participant ") for c in cards(seen))

        one = next(p for p in result["participants"] if p["number"] == 1)
        _shell(
            env,
            "from analytics.models import CallParticipant; from classes.models import User; "
            "from analytics.services import assign_participant; "
            f"assign_participant(CallParticipant.objects.get(uuid='{one['participant']}'), "
            f"User.objects.get(username='{seeded['students'][0]}'), by=None)",
        )
        renamed = await receive_until(
            dashboard,
            lambda m: any(c["id"] == one["id"] and c["name"] == "Student 000" for c in cards(m)),
            10,
        )
        assert renamed["type"] == "students"
        await asyncio.sleep(0.6)
        await capture.send(gallery_frame)
        again = json.loads(await asyncio.wait_for(capture.recv(), 60))
        assert next(p for p in again["participants"] if p["number"] == 1)["name"] == "Student 000"

        _shell(
            env,
            "from classes.models import LiveSession; from classes.services import end_session; "
            f"end_session(LiveSession.objects.get(uuid='{uuid}'))",
        )
        ended = await receive_until(capture, lambda m: m["type"] == "ended", 10)
        assert ended["type"] == "ended"
        await capture.wait_closed()
        assert capture.close_code == 4410
        await dashboard.close()
        return result["faces"]

    with Daphne(env, tmp_path / "a.log") as first, Daphne(env, tmp_path / "b.log") as second:
        faces = asyncio.run(scenario(first, second))
    with psycopg.connect(scale_out_database) as conn:
        rows = conn.execute(
            "SELECT p.number, s.student_id FROM analytics_emotionsample s "
            "JOIN analytics_callparticipant p ON p.id = s.participant_id "
            "JOIN classes_livesession l ON l.id = s.session_id WHERE l.uuid = %s",
            (uuid,),
        ).fetchall()
    assert len(rows) >= 2 * faces
    assert {student for number, student in rows if number == 1} != {None}, (
        "participant 1's samples are the student's"
    )
    assert all(student is None for number, student in rows if number != 1)
