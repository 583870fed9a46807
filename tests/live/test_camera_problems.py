"""The join page tells camera problems apart (permission denied, camera in use, no camera, insecure page), each
with its own message and help, in English and in Hindi. getUserMedia is overridden in the page to fail as each
browser does."""

from pathlib import Path

import pytest
from django_scopes import scopes_disabled

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"

FAILURES = {
    "denied": 'Promise.reject(new DOMException("Permission denied", "NotAllowedError"))',
    "in-use": 'Promise.reject(new DOMException("Could not start video source", "NotReadableError"))',
    "no-camera": 'Promise.reject(new DOMException("Requested device not found", "NotFoundError"))',
}
OVERRIDES = {
    problem: f"navigator.mediaDevices.getUserMedia = () => {failure};"
    for problem, failure in FAILURES.items()
}
# An http:// page on a real host name: the browser hides the camera API and says the context is not secure.
OVERRIDES["insecure"] = (
    "Object.defineProperty(window, 'isSecureContext', { get: () => false });"
    "Object.defineProperty(navigator, 'mediaDevices', { get: () => undefined });"
)
EXPECTED = {
    # problem: (state text, help heading) in English, then in Hindi
    "denied": (
        ("Camera access is blocked.", "Your browser is not allowed to use the camera"),
        ("कैमरा इस्तेमाल करने पर रोक है।", "आपके ब्राउज़र को कैमरा इस्तेमाल करने की अनुमति नहीं है"),
    ),
    "in-use": (
        ("Your camera is in use by another program.", "Another program is using your camera"),
        ("आपका कैमरा कोई दूसरा प्रोग्राम इस्तेमाल कर रहा है।", "आपका कैमरा कोई दूसरा प्रोग्राम इस्तेमाल कर रहा है"),
    ),
    "no-camera": (
        ("No camera was found on this computer.", "No camera was found"),
        ("इस कंप्यूटर पर कोई कैमरा नहीं मिला।", "कोई कैमरा नहीं मिला"),
    ),
    "insecure": (
        ("The camera only works on a secure (https://) page.", "This page is not secure"),
        ("कैमरा केवल सुरक्षित (https://) पेज पर चलता है।", "यह पेज सुरक्षित नहीं है"),
    ),
}


@pytest.fixture
def student_cookie(transactional_cast, client, request):
    """Sam's session cookie, with the language of the test; made before Playwright starts its event loop (Django
    refuses ORM calls beside a running loop)."""
    with scopes_disabled():
        transactional_cast.sam.language = request.node.callspec.params["language"]
        transactional_cast.sam.save(update_fields=["language"])
    client.force_login(transactional_cast.sam)
    return client.cookies["sessionid"].value


@pytest.fixture
def browser(student_cookie):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("problem", sorted(EXPECTED))
def test_each_camera_problem_gets_its_own_message_and_help(
    transactional_cast, live_server, student_cookie, browser, problem, language
):
    cast = transactional_cast
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": student_cookie, "url": live_server.url}])
    context.add_init_script(OVERRIDES[problem])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/live/{cast.a_live.uuid}/join/")
    page.click("#start")
    page.wait_for_selector('#state[data-state="camera-error"]')

    message, heading = EXPECTED[problem][language == "hi"]
    assert page.get_attribute("#state", "data-problem") == problem
    assert message in page.text_content("#state")
    shown = page.locator("[data-camera-problem]:visible")
    assert shown.count() == 1 and shown.get_attribute("data-camera-problem") == problem
    assert heading in shown.text_content()
    if problem == "denied":
        for browser_name in ("Chrome", "Firefox", "Edge", "Safari"):
            assert browser_name in shown.text_content()
    if problem == "in-use":
        assert "Read my video call" in shown.text_content()
    assert page.is_enabled("#start"), "the student can try again"
    assert errors == []
    context.close()


@pytest.mark.parametrize("language", ["en"])
def test_start_camera_is_disabled_until_the_page_s_script_listens(
    transactional_cast, live_server, student_cookie, browser, language
):
    """A click before live-student.js listens would be lost (the page would say "Ready when you are" for ever):
    the button is disabled in the page and enabled by the script."""
    url = f"{live_server.url}/live/{transactional_cast.a_live.uuid}/join/"
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": student_cookie, "url": live_server.url}])
    page = context.new_page()
    page.route("**/js/live-student.js*", lambda route: route.abort())
    page.goto(url)
    assert page.is_visible("#start") and page.is_disabled("#start")

    page.unroute("**/js/live-student.js*")
    page.goto(url)
    page.wait_for_selector("#start:enabled")
    assert page.get_attribute("#state", "data-state") == "idle"
