"""End to end in headless Chromium against a live Daphne: the teacher clicks "Read my video call", Chromium's
tab capture picks a local page that shows a gallery of real faces (selected by its title with
`--auto-select-tab-capture-source-by-title`, which works headless), and the dashboard shows a card per participant
with an emotion; the teacher assigns one to a consenting student and stops the share."""

import base64
import sqlite3

import pytest

from .servers import Daphne, manage, seed, server_env
from .test_browser import CHROMIUM, log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = "Physics call - gallery view"


def gallery_page(jpeg: bytes) -> str:
    data = base64.b64encode(jpeg).decode()
    return (
        f"<!doctype html><html><head><title>{TITLE}</title>"
        "<style>html,body{margin:0;background:#1a1a1a}img{display:block;width:100vw;height:100vh;"
        f"object-fit:contain}}</style></head><body><img alt='' src='data:image/jpeg;base64,{data}'></body></html>"
    )


@pytest.fixture
def gallery_jpeg():
    from inference.paths import shared_data_dir

    if not (shared_data_dir() / "faces").is_dir():
        pytest.skip(f"No shared face photos at {shared_data_dir() / 'faces'} (set FERMONITOR_SHARED_DIR)")
    from inference.gallery_builder import build_gallery, shared_people

    return build_gallery(shared_people(9, seed=5), 3, 3, (1280, 720)).jpeg(quality=90)


def test_teacher_reads_a_gallery_tab_and_the_dashboard_shows_participants_with_emotions(
    tmp_path, gallery_jpeg
):
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    db_path = tmp_path / "capture.sqlite3"
    env = server_env(SQLITE_PATH=str(db_path), FERMONITOR_INFERENCE_WORKERS="2")
    manage(env, "migrate", "--noinput", "-v0")
    seeded = seed(env, "--students", "2", "--frame-rate", "1", "--call-capture")
    session_uuid = seeded["session_uuid"]

    with Daphne(env, tmp_path / "daphne.log") as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[f"--auto-select-tab-capture-source-by-title={TITLE}"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            call = context.new_page()
            call.set_viewport_size({"width": 1280, "height": 720})
            call.set_content(gallery_page(gallery_jpeg))
            dashboard = context.new_page()
            log_in(dashboard, server.url, seeded["teacher"], seeded["password"])
            dashboard.goto(f"{server.url}/live/{session_uuid}/dashboard/")
            dashboard.wait_for_selector('#conn:text("Live")', timeout=15_000)
            assert dashboard.get_attribute("#capture-state", "data-state") == "idle"

            dashboard.click("#capture-start")
            try:
                dashboard.wait_for_selector('#capture-state[data-state="sharing"]', timeout=30_000)
            except Exception as error:  # say where it stopped: the browser's picker, or our socket
                state = dashboard.get_attribute("#capture-state", "data-state")
                text = dashboard.text_content("#capture-state")
                tabs = [page.title() for page in context.pages]
                raise AssertionError(
                    f"the share never started: state {state!r} ({text!r}); tabs {tabs}"
                ) from error
            dashboard.wait_for_function(
                "Number(document.getElementById('capture').dataset.frames || 0) >= 2", timeout=60_000
            )
            faces = int(dashboard.get_attribute("#capture", "data-faces"))
            assert faces >= 7, f"{faces} of the 9 faces found in the captured tab"
            dashboard.wait_for_function(
                f'document.querySelectorAll(\'.participant-tile[data-face="1"][data-emotion]:not([data-emotion=""])\')'
                f".length >= {faces - 1}",
                timeout=30_000,
            )
            tile = dashboard.query_selector('.participant-tile[data-number="1"]')
            assert "Participant 1" in tile.text_content()
            assert tile.get_attribute("data-emotion") in (
                "angry",
                "disgust",
                "fear",
                "happy",
                "sad",
                "surprise",
                "neutral",
            )
            assert int(dashboard.text_content("#count-participants")) >= faces - 1
            assert not dashboard.is_hidden("#capture-preview")
            call.screenshot(path=str(tmp_path / "call-gallery.png"))
            dashboard.screenshot(path=str(tmp_path / "dashboard-participants.png"), full_page=True)

            # Assign participant 1 to a consenting student: the card takes the student's name.
            student_name = "Student 000"
            tile.query_selector("select").select_option(label=student_name)
            tile.query_selector("button[type=submit]").click()
            dashboard.wait_for_function(
                "document.querySelector('.participant-tile[data-number=\"1\"] .name').textContent === "
                f"'{student_name}'",
                timeout=15_000,
            )
            dashboard.screenshot(path=str(tmp_path / "dashboard-assigned.png"), full_page=True)

            dashboard.click("#capture-stop")
            dashboard.wait_for_selector('#capture-state[data-state="stopped"]', timeout=10_000)
            assert dashboard.is_hidden("#capture-preview")
            dashboard.wait_for_selector(
                '.participant-tile[data-number="2"][data-connected="0"]', timeout=15_000
            )
        finally:
            browser.close()

    for name in ("call-gallery.png", "dashboard-participants.png", "dashboard-assigned.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
    with sqlite3.connect(db_path) as database:
        participants = database.execute(
            "SELECT number, student_id FROM analytics_callparticipant ORDER BY number"
        ).fetchall()
        anonymous = database.execute(
            "SELECT count(*) FROM analytics_emotionsample WHERE participant_id IS NOT NULL AND student_id IS NULL"
        ).fetchone()[0]
        assigned = database.execute(
            "SELECT count(*) FROM analytics_emotionsample s JOIN analytics_callparticipant p "
            "ON s.participant_id = p.id WHERE p.number = 1 AND s.student_id = p.student_id"
        ).fetchone()[0]
    assert len(participants) >= faces and participants[0][1] is not None
    assert anonymous >= 2 * (faces - 1) and assigned >= 2
