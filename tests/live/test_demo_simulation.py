"""`make demo` (what `make run` ends with) starts Daphne and, in the same process group, the demo's simulated
class, whose real face photos reach the demo's live lesson; Ctrl+C (SIGINT to the group, as a terminal sends it)
stops them all. DEMO_SIM=0 starts the server alone."""

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.request

import psutil
import pytest

from .servers import REPO, free_port, manage, server_env

pytestmark = [pytest.mark.slow]

LIVE_LESSON_SAMPLES = """
SELECT count(*), sum(s.face_count > 0), count(DISTINCT s.student_id)
FROM analytics_emotionsample s JOIN classes_livesession l ON l.id = s.session_id
WHERE l.lms_id = 'demo-live'
"""


def group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def wait_until(predicate, timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("simulation", ["1", "0"])
def test_make_serve_streams_a_simulated_class_unless_turned_off_and_ctrl_c_stops_the_group(
    tmp_path, simulation
):
    if shutil.which("make") is None:
        pytest.skip("GNU make is not installed")
    db = tmp_path / "demo.sqlite3"
    env = server_env(SQLITE_PATH=str(db), FERMONITOR_INFERENCE_WORKERS="1")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo", "--weeks", "0")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        # A session of its own, like a terminal's foreground job: Ctrl+C signals this whole group.
        make = subprocess.Popen(
            ["make", "--no-print-directory", "demo", f"PORT={port}", f"DEMO_SIM={simulation}"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # A terminal's foreground job takes Ctrl+C; a test runner started in the background (nohup, `&`) passes
            # on an ignored SIGINT, which Daphne and make would keep ignoring.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    pgid = make.pid
    try:
        assert wait_until(lambda: answers(url), 90), log_path.read_text()
        # An argument of its own: the shell running the recipe also has "simulate_class" in its script text.
        simulators = [p for p in group_members(pgid) if "simulate_class" in (p.info["cmdline"] or [])]
        if simulation == "1":
            assert simulators, "the simulated class runs in the server's process group"

            def streamed():
                with sqlite3.connect(db, timeout=20) as conn:
                    samples, faces, students = conn.execute(LIVE_LESSON_SAMPLES).fetchone()
                return samples >= 20 and faces >= 10 and students >= 3 and (samples, faces, students)

            assert wait_until(streamed, 120), log_path.read_text()
        else:
            assert not simulators
            time.sleep(3)
            with sqlite3.connect(db, timeout=20) as conn:
                assert conn.execute(LIVE_LESSON_SAMPLES).fetchone()[0] == 0

        os.killpg(pgid, signal.SIGINT)
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            left = group_members(pgid)
            # PYTHONFAULTHANDLER (servers.server_env): a Python process prints every thread's stack on SIGABRT.
            for process in left:
                with contextlib.suppress(psutil.Error):
                    process.send_signal(signal.SIGABRT)
            time.sleep(2)
            names = [(p.pid, p.info["cmdline"]) for p in left]
            raise AssertionError(f"Ctrl+C left {names}:\n{log_path.read_text()[-12000:]}") from None
        assert wait_until(lambda: not group_members(pgid), 30), [
            p.info["cmdline"] for p in group_members(pgid)
        ]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    output = log_path.read_text()
    assert ("Simulated class stopped after" in output) == (simulation == "1"), output
