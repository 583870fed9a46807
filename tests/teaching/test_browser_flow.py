"""In headless Chromium against a live server: a teacher logs in, schedules a session and starts it; a student
(second browser context) sees it live with a Join button. Screenshots land in the test's tmp_path."""

from pathlib import Path

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from classes.models import LiveSession, SessionStatus

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM reads are plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def log_in(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_teacher_schedules_and_starts_a_session_and_the_student_sees_it_live(
    transactional_cast, live_server, browser, tmp_path
):
    cast, base = transactional_cast, live_server.url

    teacher = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(teacher, base, "tom", cast.password)
    assert teacher.url == f"{base}{reverse('teacher_home')}"
    teacher.screenshot(path=tmp_path / "1-teacher-home.png", full_page=True)

    teacher.click("article.class-card >> text=Schedule a session")
    teacher.fill("#id_title", "Refraction")
    teacher.click("summary:has-text('Advanced')")
    assert teacher.input_value("#id_frame_rate") == "1.0"
    teacher.fill("#id_duration_minutes", "40")
    teacher.screenshot(path=tmp_path / "2-schedule-form.png", full_page=True)
    teacher.click("#session-form button[type=submit]")
    teacher.wait_for_load_state()
    assert "Refraction" in teacher.inner_text("#upcoming")
    assert "scheduled for" in teacher.inner_text(".messages")
    teacher.screenshot(path=tmp_path / "3-class-page.png", full_page=True)

    with scopes_disabled():
        session = LiveSession.objects.get(title="Refraction")
    teacher.click(f"tr[data-session='{session.uuid}'] button.start-session")
    teacher.wait_for_load_state()
    assert teacher.url == f"{base}{reverse('live_dashboard', args=[session.uuid])}"
    assert "is live" in teacher.inner_text(".messages")
    teacher.screenshot(path=tmp_path / "4-dashboard.png")
    with scopes_disabled():
        session.refresh_from_db()
    assert session.status == SessionStatus.LIVE

    student_context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    student = student_context.new_page()
    log_in(student, base, "sam", cast.password)
    assert student.url == f"{base}{reverse('student_home')}"
    card = student.locator(f"article.live-card[data-session='{session.uuid}']")
    assert "Refraction" in card.inner_text()
    join = card.locator("a.join-button")
    assert join.is_visible() and join.inner_text() == "Join"
    assert join.get_attribute("href") == reverse("live_join", args=[session.uuid])
    student.screenshot(path=tmp_path / "5-student-home-mobile.png", full_page=True)

    student.click("nav >> text=Camera consent")
    student.wait_for_load_state()
    assert student.get_attribute("#current-decision", "data-decision") == "granted"
    student.screenshot(path=tmp_path / "6-consent-mobile.png", full_page=True)
    student_context.close()
