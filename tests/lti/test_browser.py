"""In headless Chromium: a page standing in for the LMS's course posts the launch into an iframe and into a new
window; the student goes through the camera policy (inside the frame) and lands on the live lesson's join page,
signed in. Over plain HTTP a frame of another site keeps no cookies, so there the launch offers a new window, and
the student lands there. Screenshots are saved in the test's tmp_path (printed)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from classes.models import LiveSession, SessionStatus

from .conftest import Browser, register
from .platform import INSTRUCTOR, LEARNER, Platform

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture
def chromium(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


def course_with_live_lesson(cast, live_url, lms_host):
    """A platform whose course page is served as `lms_host`, registered by school A; its teacher has opened
    fermonitor once (the class exists) and started a lesson."""
    platform = Platform(public_host=lms_host).__enter__()
    platform.add_person("t-1", "Tara", "Teach", [INSTRUCTOR])
    platform.add_person("s-1", "Sara", "Stone", [LEARNER])
    register(cast.school_a, platform, live_url)
    teacher = Browser()
    teacher.launch(platform, "t-1")
    teacher.http.close()
    with scopes_disabled():
        from analytics.lms.models import LtiCourse

        classroom = LtiCourse.objects.get().classroom
        now = timezone.now()
        lesson = LiveSession.objects.create(
            classroom=classroom,
            title="Refraction",
            scheduled_start=now - timedelta(minutes=2),
            status=SessionStatus.LIVE,
            started_at=now - timedelta(minutes=2),
        )
    return platform, lesson


def test_student_launched_in_the_lms_frame_and_in_a_new_window_lands_on_the_join_page(
    transactional_cast, live_server, chromium, tmp_path
):
    # The course page and fermonitor share the site (localhost, other ports): the frame keeps its cookies.
    platform, lesson = course_with_live_lesson(transactional_cast, live_server.url, "localhost")
    join = re.compile(rf".*/live/{lesson.uuid}/join/$")
    try:
        context = chromium.new_context(viewport={"width": 1280, "height": 1000})
        lms = context.new_page()
        lms.goto(f"{platform.base}/course?user=s-1")
        lms.click("#open-in-frame")
        frame = lms.frame(name="tool-frame")
        frame.wait_for_url(re.compile(r".*/learn/consent/\?next=.*"))
        lms.screenshot(path=tmp_path / "1-lms-frame-camera-policy.png", full_page=True)
        frame.click("#consent-agree")
        frame.wait_for_url(join)
        frame.wait_for_selector("text=Refraction")
        assert frame.locator("header .dropdown summary").inner_text().strip() == "Sara Stone"
        lms.screenshot(path=tmp_path / "2-lms-frame-join-page.png", full_page=True)

        with context.expect_page() as popup:
            lms.click("#open-in-window")
        window = popup.value
        window.wait_for_url(join)
        window.wait_for_selector("text=Refraction")
        assert window.locator("header .dropdown summary").inner_text().strip() == "Sara Stone"
        window.screenshot(path=tmp_path / "3-new-window-join-page.png", full_page=True)
        context.close()
    finally:
        platform.__exit__(None, None, None)
    print(f"screenshots: {tmp_path}")


def test_over_http_a_frame_of_another_site_offers_a_new_window_where_the_student_lands(
    transactional_cast, live_server, chromium, tmp_path
):
    # The course page is on 127.0.0.1, fermonitor on localhost: another site, and plain HTTP cannot carry
    # SameSite=None cookies into its frame. The cookie check notices and offers a new window.
    platform, lesson = course_with_live_lesson(transactional_cast, live_server.url, "127.0.0.1")
    with scopes_disabled():
        from analytics.lms.models import LtiIdentity
        from classes import services

        student = Browser()
        student.launch(platform, "s-1")  # the account exists and has agreed to the camera policy
        student.http.close()
        services.record_consent(LtiIdentity.objects.get(sub="s-1").user, granted=True)
    try:
        context = chromium.new_context(viewport={"width": 1280, "height": 1000})
        lms = context.new_page()
        lms.goto(f"{platform.base}/course?user=s-1")
        lms.click("#open-in-frame")
        frame = lms.frame(name="tool-frame")
        frame.wait_for_selector("#lti-new-window", state="visible")
        assert "keep fermonitor" in frame.inner_text("article")
        lms.screenshot(path=tmp_path / "1-cross-site-frame-offers-new-window.png", full_page=True)

        with context.expect_page() as popup:
            frame.click("#lti-new-window")
        window = popup.value
        window.wait_for_url(re.compile(rf".*/live/{lesson.uuid}/join/$"))
        window.wait_for_selector("text=Refraction")
        assert window.locator("header .dropdown summary").inner_text().strip() == "Sara Stone"
        assert window.url.startswith(live_server.url + reverse("live_join", args=[lesson.uuid])[:6])
        window.screenshot(path=tmp_path / "2-new-window-join-page.png", full_page=True)
        context.close()
    finally:
        platform.__exit__(None, None, None)
    print(f"screenshots: {tmp_path}")
