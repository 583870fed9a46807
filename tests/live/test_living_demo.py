"""The living demo end to end in Chromium, as a newcomer sees it after `make run`: the demo school (`seed_demo`, a
term of history) behind a real Daphne, the simulated class streaming into today's lesson. The teacher's dashboard
moves; the language menu switches it to Hindi; a student's join page reads in Hindi with a camera running; the
school report shows the term.

Screenshots go to $FERMONITOR_SCREENSHOTS when set (`make screenshots` writes docs/screenshots/ for the README),
else to the test's temporary folder."""

import io
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from ..faces import webcam_photo
from .servers import PYTHON, REPO, Daphne, manage, server_env
from .test_browser import browser_factory, log_in, wait_until, write_y4m  # noqa: F401 - browser_factory is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "demo-pass-2026"
TEACHER = "daniel.okafor"  # Physics 10A, whose live lesson the simulated class streams into
STUDENT = "elena.popescu"  # History 10B only: her own camera, not a simulated one
ADMIN = "helen.marsh"
HINDI_EMOTIONS = ("गुस्सा", "घृणा", "डर", "खुश", "उदास", "हैरानी", "सामान्य")
ENGLISH_EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def save(page, folder: Path, name: str) -> Path:
    """A README-sized PNG of what the page shows (1000 px wide, 256 colours)."""
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image = image.resize((1000, round(image.height * 1000 / image.width)), Image.Resampling.LANCZOS)
    path = folder / f"{name}.png"
    image.quantize(256).save(path, optimize=True)
    return path


def live_lesson(db: Path, classroom: str) -> str:
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute(
            "SELECT l.uuid FROM classes_livesession l JOIN classes_classroom c ON c.id = l.classroom_id "
            "WHERE l.lms_id = 'demo-live' AND c.name = ?",
            (classroom,),
        ).fetchone()
    return str(uuid.UUID(value))


def wait_for_moving_dashboard(page, logs: list[Path], faces: int = 3) -> None:
    tiles = f"document.querySelectorAll('.student-tile[data-face=\"1\"]').length >= {faces}"
    wait_until(page, tiles, 240_000, logs, show="#live-dashboard")
    snapshots = "Number(document.getElementById('live-dashboard').dataset.snapshots || 0) >= 3"
    wait_until(page, snapshots, 60_000, logs, show="#live-dashboard")


def test_the_living_demo_moves_switches_to_hindi_and_shows_a_term_of_reports(tmp_path, browser_factory):  # noqa: F811
    shots = Path(os.environ.get("FERMONITOR_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    db = tmp_path / "demo.sqlite3"
    env = server_env(SQLITE_PATH=str(db), FERMONITOR_INFERENCE_WORKERS="2")
    manage(env, "migrate", "--noinput", "-v0")
    # Nine weeks: the school report covers eight by default. A longer limit than manage()'s: on a busy machine
    # the term's roll-ups take minutes.
    subprocess.run(
        [PYTHON, "manage.py", "seed_demo", "--weeks", "9"], cwd=REPO, env=env, check=True, timeout=1200
    )
    physics, history = live_lesson(db, "Physics 10A"), live_lesson(db, "History 10B")
    camera = write_y4m(webcam_photo(), tmp_path / "camera.y4m")

    with Daphne(env, tmp_path / "daphne.log") as server:
        simulation = subprocess.Popen(
            [PYTHON, "manage.py", "simulate_class", "--url", server.url, "--seconds", "600"],
            cwd=REPO,
            env=env,
            stdout=open(tmp_path / "simulation.log", "w"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )
        logs = [tmp_path / "simulation.log", tmp_path / "daphne.log"]
        try:
            browser = browser_factory(camera)
            viewport = {"width": 1280, "height": 860}

            # The teacher's dashboard moves from the first minute ...
            teacher = browser.new_context(viewport=viewport).new_page()
            log_in(teacher, server.url, TEACHER, PASSWORD)
            teacher.goto(f"{server.url}/live/{physics}/dashboard/")
            wait_for_moving_dashboard(teacher, logs)
            tile = teacher.text_content('.student-tile[data-face="1"] .emotion')
            assert any(name in tile for name in ENGLISH_EMOTIONS), tile
            save(teacher, shots, "dashboard")

            # ... and reads in Hindi once the teacher picks it in the language menu (stored on the account).
            teacher.select_option("#language-choice", "hi")
            teacher.wait_for_selector('html[lang="hi"]')
            wait_for_moving_dashboard(teacher, logs)
            assert "सत्र के दौरान कक्षा का मूड" in teacher.text_content("main")
            assert "जुड़े" in teacher.text_content(".dash-counts")
            tiles = " ".join(teacher.locator('.student-tile[data-face="1"] .emotion').all_text_contents())
            assert any(name in tiles for name in HINDI_EMOTIONS), tiles
            assert not any(f" {name}" in tiles for name in ENGLISH_EMOTIONS), tiles
            save(teacher, shots, "dashboard-hi")

            # A student's join page, switched to Hindi, with the camera running.
            student = browser.new_context(viewport=viewport, permissions=["camera"]).new_page()
            log_in(student, server.url, STUDENT, PASSWORD)
            student.goto(f"{server.url}/live/{history}/join/")
            save(student, shots, "join")
            student.select_option("#language-choice", "hi")
            student.wait_for_selector('html[lang="hi"]')
            assert "जब आप अपना कैमरा शुरू करते हैं तो क्या होता है" in student.text_content("main")
            student.click("#start")
            wait_until(
                student, "Number(document.getElementById('seen-count').textContent) >= 2", 60_000, logs
            )
            assert student.text_content("#seen-face") == "चेहरा मिला"
            assert student.text_content("#seen-emotion") in HINDI_EMOTIONS
            assert student.text_content("#state") == "स्ट्रीम हो रहा है"
            save(student, shots, "join-hi")

            # The school report: a term of lessons, week over week.
            admin = browser.new_context(viewport=viewport).new_page()
            log_in(admin, server.url, ADMIN, PASSWORD)
            admin.goto(f"{server.url}/reports/school/")
            admin.wait_for_selector("#weeks-chart")
            admin.wait_for_timeout(500)  # charts draw without animation, right after their data arrives
            weeks = admin.locator(".chart-section:has(#weeks-chart) tbody tr").count()
            save(admin, shots, "school-report")
        finally:
            simulation.terminate()
            simulation.wait(timeout=30)
    assert weeks >= 8, "the report's default eight weeks all hold lessons of the demo's term"
