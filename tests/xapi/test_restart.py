"""No statement is lost when the LRS is down and fermonitor restarts meanwhile: the outbox worker
(`manage.py deliver_outbox --loop`, a real process on its own database) is killed mid-outage and started again,
the LRS comes up later, and every statement arrives exactly once."""

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from tests.live.servers import PYTHON, REPO, free_port, manage, server_env

from .conftest import PASSWORDS
from .lrs import Ralph, require_ralph

pytestmark = [pytest.mark.slow]

SEED = """
import json
from datetime import timedelta
from django.utils import timezone
from django_scopes import scopes_disabled
from analytics.lms.xapi.models import LrsSettings
from analytics.services import SampleRecord, record_samples
from classes import services
from classes.models import Classroom, LiveSession, Role, School, SessionStatus

with scopes_disabled():
    school = School.objects.create(name="Restart School", slug="restart")
    teacher = services.create_school_user(school, Role.TEACHER, email="t@restart.example", full_name="T")
    students = [
        services.create_school_user(school, Role.STUDENT, email=f"s{n}@restart.example", full_name=f"S {n}")
        for n in range(3)
    ]
    classroom = Classroom.objects.create(school=school, name="Restart 1", teacher=teacher)
    services.enrol_students(classroom, students)
    now = timezone.now()
    session = LiveSession.objects.create(
        classroom=classroom, title="Outage", scheduled_start=now - timedelta(minutes=10),
        status=SessionStatus.LIVE, started_at=now - timedelta(minutes=10),
    )
    lrs = LrsSettings(school=school, enabled=True, endpoint="__ENDPOINT__", key="alpha",
                      platform_url="https://fermonitor.restart.example")
    lrs.set_secret("__SECRET__")
    lrs.save()
    record_samples([
        SampleRecord(session_id=session.pk, student_id=s.pk, captured_at=now - timedelta(minutes=9, seconds=-k),
                     face_count=1, probabilities=None)
        for s in students for k in range(30)
    ])
    services.end_session(session)
print(json.dumps({"session": str(session.uuid)}))
"""


def rows(db_path) -> list[tuple]:
    with sqlite3.connect(db_path, timeout=20) as conn:
        return conn.execute(
            "SELECT event, status, attempts FROM lms_delivery WHERE kind = 'xapi' AND event != 'xapi.lesson'"
        ).fetchall()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def worker(env, log):
    return subprocess.Popen(
        [PYTHON, "manage.py", "deliver_outbox", "--loop", "--interval", "0.3"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_statements_survive_a_killed_worker_and_an_lrs_outage_and_arrive_once(tmp_path):
    require_ralph()
    db_path = tmp_path / "db.sqlite3"
    port = free_port()
    env = server_env(
        SQLITE_PATH=str(db_path),
        FERMONITOR_WEBHOOK_DELIVERY="queue",
        FERMONITOR_OUTBOX_BACKOFF_SECONDS="1",
        FERMONITOR_XAPI_SETTLE_SECONDS="0",
    )
    manage(env, "migrate", "--noinput", "-v0")
    seed = SEED.replace("__ENDPOINT__", f"http://127.0.0.1:{port}/xAPI/").replace(
        "__SECRET__", PASSWORDS["alpha"]
    )
    session = json.loads(manage(env, "shell", "-c", seed).strip().splitlines()[-1])["session"]

    with open(tmp_path / "worker.log", "w") as log:
        first = worker(env, log)
        try:
            # Down: the lesson is composed into 10 statements that keep failing.
            wait_for(
                lambda: len(rows(db_path)) == 10 and min(r[2] for r in rows(db_path)) >= 2, 120, "retries"
            )
        finally:
            first.send_signal(signal.SIGKILL)  # the server goes away without any chance to clean up
            first.wait()
        attempts_first = min(r[2] for r in rows(db_path))
        assert {r[1] for r in rows(db_path)} == {"pending"}

        second = worker(env, log)
        try:
            wait_for(lambda: min(r[2] for r in rows(db_path)) > attempts_first, 120, "the restarted worker")
            with Ralph(tmp_path / "lrs", {"alpha": PASSWORDS["alpha"]}, port=port) as lrs:
                up = time.monotonic()
                wait_for(lambda: {r[1] for r in rows(db_path)} == {"succeeded"}, 120, "delivery")
                delay = time.monotonic() - up
                stored = lrs.stored_lines("alpha")
                found = lrs.statements("alpha", registration=session)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(second.pid, signal.SIGKILL)
                second.wait()

    attempts = [r[2] for r in rows(db_path)]
    assert len(stored) == 10 and len({s["id"] for s in stored}) == 10  # all of them, once
    assert len(found) == 10
    assert sorted(s["verb"]["id"].rsplit("/", 1)[1] for s in found) == sorted(
        ["join"] * 3 + ["leave"] * 3 + ["attended"] * 3 + ["terminated"]
    )
    print(
        f"\nworker killed after {attempts_first} failed attempts per statement, restarted; LRS up after "
        f"{max(attempts) - 1} failed attempts; all 10 statements stored {delay:.1f} s after the LRS came up, "
        f"{len(stored)} stored, 0 duplicates"
    )
