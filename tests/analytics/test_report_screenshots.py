"""The session and school reports rendered from seeded demo data in headless Chromium, charts drawn."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from .conftest import add_students

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def seeded_school(transactional_cast):
    # Seeded before Playwright starts: its sync API runs an event loop, and Django refuses ORM calls beside one.
    _seed_school(transactional_cast)
    return transactional_cast


@pytest.fixture
def page(seeded_school, live_server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        yield page
        browser.close()


def _log_in(page, base, user, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _seed_school(cast):
    """class A: the 45-minute demo lesson with 30 students, plus two earlier weekly lessons; a second class
    with its own teacher and three lessons."""
    from analytics.demo import seed_demo_samples
    from classes.models import Classroom, LiveSession, SessionStatus

    add_students(cast, 28)
    with scopes_disabled():
        seed_demo_samples(cast.a_ended)
        chemistry = Classroom.objects.create(school=cast.school_a, name="Chemistry 2C", teacher=cast.tess)
        add_students(cast, 8, classroom=chemistry, prefix="chem")
        now = timezone.now()
        for classroom, weeks in ((cast.class_a, (1, 2)), (chemistry, (0, 1, 2))):
            for week in weeks:
                start = now - timedelta(weeks=week, days=2, hours=3)
                session = LiveSession.objects.create(
                    classroom=classroom,
                    title=f"Lesson {3 - week}",
                    scheduled_start=start,
                    status=SessionStatus.ENDED,
                    started_at=start,
                    ended_at=start + timedelta(minutes=45),
                )
                seed_demo_samples(session)


def test_session_and_school_reports_render_with_charts(seeded_school, live_server, page, tmp_path):
    cast = seeded_school

    _log_in(page, live_server.url, cast.alice, cast.password)
    page.goto(f"{live_server.url}/reports/sessions/{cast.a_ended.uuid}/")
    page.wait_for_selector('[data-report][data-charts-ready="1"]', timeout=15_000)
    assert page.js_errors == []
    # Every chart got drawn (Chart.js registers an instance per canvas).
    drawn = page.evaluate(
        "Array.from(document.querySelectorAll('canvas')).filter(c => Chart.getChart(c)).length"
    )
    canvases = page.evaluate("document.querySelectorAll('canvas').length")
    assert drawn == canvases >= 2 + 30
    assert page.locator(".moment-mood_drop").count() >= 1
    assert page.locator(".moment-presence_dip").count() >= 1
    assert page.locator(".students-table tbody tr").count() == 30
    session_png = tmp_path / "session-report.png"
    page.screenshot(path=str(session_png), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(tmp_path / "session-report-print.png"), full_page=True)
    page.emulate_media(media="screen")
    pdf = page.pdf(path=str(tmp_path / "session-report.pdf"), format="A4", landscape=True)
    assert len(pdf) > 20_000

    page.goto(f"{live_server.url}/reports/school/?negative=16&consecutive=2&presence=88")
    page.wait_for_selector('[data-report][data-charts-ready="1"]', timeout=15_000)
    assert page.js_errors == []
    assert page.locator("#weeks-chart").count() == 1 and page.locator("#classes-chart").count() == 1
    assert "Chemistry 2C" in page.content() and "Physics 1A" in page.content()
    assert page.input_value("#id_negative") == "16"
    school_png = tmp_path / "school-report.png"
    page.screenshot(path=str(school_png), full_page=True)

    for png in (session_png, school_png):
        assert png.stat().st_size > 50_000
