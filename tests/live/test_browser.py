"""End to end in headless Chromium: a student streams a fake camera built from a real photo into a live Daphne,
and the teacher's dashboard (a second browser context) shows that student with a face and an emotion."""

import sqlite3
from pathlib import Path

import pytest

from ..faces import webcam_photo
from .servers import Daphne, manage, seed, server_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"

# The dashboard's own chart (its options and tick labels), given 3 minutes of 10-second buckets; returns the
# x-axis labels it draws. The next snapshot redraws the real data.
YOUNG_LESSON_AXIS = """() => {
  const chart = Chart.getChart(document.getElementById("mood-chart"));
  const start = Math.floor(Date.now() / 60000) * 60000;
  for (const dataset of chart.data.datasets) {
    dataset.data = Array.from({ length: 19 }, (_, i) => ({ x: start + i * 10000, y: 0.5 }));
  }
  chart.update("none");
  return chart.scales.x.ticks.map((tick) => tick.label);
}"""


def write_y4m(photo, path, size=(640, 480), frames=10):
    """A Y4M clip (what Chromium's fake camera plays in a loop) of one still photo, 4:2:0 planar."""
    from PIL import Image

    image = Image.open(photo).convert("RGB").resize(size)
    y, cb, cr = image.convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    frame = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + frame)
    return path


def wait_until(page, expression: str, timeout_ms: int, logs: list[Path] = (), show: str = "#state"):
    """Wait for a page's JavaScript `expression` to be truthy and return its value. On a timeout, fail with what
    the page showed (`show`'s element and dataset) and the tails of the servers' logs, so that a failure on a busy
    CI machine says whether the server refused, reconnected or was only slow.

    A value, not an element handle: a handle must be adopted into the page's main world after the selector
    matched, and on a loaded machine Playwright was seen matching a visible tile and still timing out."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_function(expression, timeout=timeout_ms).json_value()
    except PlaywrightTimeout:
        shown = page.evaluate(
            "(selector) => { const el = document.querySelector(selector);"
            " return el ? JSON.stringify({text: el.textContent.trim(), data: {...el.dataset}}) : 'absent'; }",
            show,
        )
        tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in logs)
        raise AssertionError(
            f"waited {timeout_ms} ms for {expression!r}; {show} showed {shown}\n{tails}"
        ) from None


def log_in(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.fixture
def browser_factory():
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browsers = []

        def launch(camera_file):
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--use-fake-device-for-media-stream",
                    "--use-fake-ui-for-media-stream",
                    f"--use-file-for-fake-video-capture={camera_file}",
                ],
            )
            browsers.append(browser)
            return browser

        yield launch
        for browser in browsers:
            browser.close()


def test_student_streams_a_fake_camera_and_the_teacher_sees_the_face_and_emotion(tmp_path, browser_factory):
    db_path = tmp_path / "live.sqlite3"
    env = server_env(SQLITE_PATH=str(db_path), FERMONITOR_INFERENCE_WORKERS="2")
    manage(env, "migrate", "--noinput", "-v0")
    seeded = seed(env, "--students", "1", "--frame-rate", "2")
    student, student_id = seeded["students"][0], seeded["student_ids"][0]
    camera = write_y4m(webcam_photo(), tmp_path / "camera.y4m")

    with Daphne(env, tmp_path / "daphne.log") as server:
        browser = browser_factory(camera)
        teacher_page = browser.new_context().new_page()
        log_in(teacher_page, server.url, seeded["teacher"], seeded["password"])
        teacher_page.goto(f"{server.url}/live/{seeded['session_uuid']}/dashboard/")
        teacher_page.wait_for_selector(f'.student-tile[data-student-id="{student_id}"]')

        student_context = browser.new_context(permissions=["camera"])
        student_page = student_context.new_page()
        log_in(student_page, server.url, student, seeded["password"])
        student_page.goto(f"{server.url}/live/{seeded['session_uuid']}/join/")
        assert "No picture is stored" in student_page.content()
        student_page.click("#start")
        logs = [tmp_path / "daphne.log"]
        wait_until(
            student_page, "document.querySelector('#state').dataset.state === 'streaming'", 30_000, logs
        )
        wait_until(
            student_page, "Number(document.getElementById('seen-count').textContent) >= 3", 30_000, logs
        )
        assert student_page.text_content("#seen-face") == "face found"
        seen_emotion = student_page.text_content("#seen-emotion")
        assert seen_emotion in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

        tile = f'.student-tile[data-student-id="{student_id}"]'
        emotion = wait_until(
            teacher_page,
            f"(() => {{ const tile = document.querySelector('{tile}');"
            " return tile?.dataset.face === '1' && tile.dataset.streaming === '1' && tile.dataset.emotion; })()",
            15_000,
            logs,
            show=tile,
        )
        assert emotion in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
        assert emotion in teacher_page.text_content(tile)
        teacher_page.wait_for_function("Number(document.getElementById('count-faces').textContent) === 1")
        teacher_page.wait_for_function(
            "Number(document.getElementById('live-dashboard').dataset.snapshots) >= 2"
        )
        # A lesson three minutes old: its time axis names each tick once (ticks every 15-30 s need seconds).
        labels = teacher_page.evaluate(YOUNG_LESSON_AXIS)
        assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
        student_page.screenshot(path=str(tmp_path / "student-join.png"), full_page=True)
        teacher_page.screenshot(path=str(tmp_path / "teacher-dashboard.png"), full_page=True)

        # The teacher ends the session: the student's stream stops gracefully.
        teacher_page.on("dialog", lambda dialog: dialog.accept())
        teacher_page.click("#end-session")
        wait_until(student_page, "document.querySelector('#state').dataset.state === 'ended'", 15_000, logs)
        assert "Session ended" in student_page.text_content("#state")
        acknowledged = int(student_page.text_content("#seen-count"))

    assert (tmp_path / "student-join.png").stat().st_size > 10_000
    assert (tmp_path / "teacher-dashboard.png").stat().st_size > 10_000
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT face_count, emotion, confidence FROM analytics_emotionsample WHERE student_id = ?",
            (student_id,),
        ).fetchall()
    assert len(rows) >= acknowledged >= 3
    assert all(
        face_count == 1 and emotion and 0 < confidence <= 1 for face_count, emotion, confidence in rows
    )
