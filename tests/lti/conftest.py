"""The LTI cast: a live fermonitor (pytest-django's live server), a live test platform (tests/lti/platform.py) with a
teacher and three students in its course, school A's registration of that platform, and a requests-based browser
that walks the OIDC login -> platform authentication -> launch like a browser does (cookies, redirects, the
auto-posting launch form, and the cookie check page's script)."""

import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.urls import reverse
from django_scopes import scopes_disabled

from .platform import INSTRUCTOR, LEARNER, LaunchSpec, Platform


@pytest.fixture(autouse=True)
def _lti_settings(settings):
    settings.FERMONITOR_LTI_BACKGROUND = "sync"  # roster syncs and attendance run before the response returns
    settings.FERMONITOR_LTI_ATTENDANCE_DELAY = 0
    cache.clear()  # cached platform JWKS and access tokens of earlier tests
    yield
    cache.clear()


@pytest.fixture
def platform():
    with Platform() as lms:
        lms.add_person("t-1", "Tara", "Teach", [INSTRUCTOR])
        lms.add_person("s-1", "Sara", "Stone", [LEARNER])
        lms.add_person("s-2", "Sid", "Shore", [LEARNER])
        lms.add_person("s-3", "Sol", "Sand", [LEARNER])
        yield lms


def register(school, platform: Platform, live_url: str, **extra):
    """The school admin's registration of the platform, and the platform's configuration of the tool."""
    from analytics.lms.lti import keys
    from analytics.lms.models import LtiRegistration

    with scopes_disabled():
        registration = LtiRegistration.objects.create(
            school=school,
            name="Test LMS",
            client_id=platform.client_id,
            deployment_ids=[platform.deployment_id],
            platform_url=platform.base,
            **platform.urls,
            **extra,
        )
        keys.current_key(school)
    args = [registration.uuid]
    platform.connect_tool(
        login_url=live_url + reverse("lti_login", args=args),
        launch_url=live_url + reverse("lti_launch", args=args),
        jwks_url=live_url + reverse("lti_jwks", args=args),
    )
    return registration


@pytest.fixture
def lti(transactional_cast, live_server, platform):
    """Everything a flow test needs."""
    registration = register(transactional_cast.school_a, platform, live_server.url)
    return SimpleNamespace(
        cast=transactional_cast, platform=platform, registration=registration, url=live_server.url
    )


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "id": attrs.get("id", ""),
                    "action": attrs.get("action", ""),
                    "method": attrs.get("method", "get"),
                    "fields": {},
                }
            )
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def forms(page: str) -> list[dict]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


# The forms that pages post by script: the platform's launch, fermonitor's deep-linking answer.
AUTO_POSTED = ("launch", "lti-deep-link-return")


def auto_posted_form(page: str) -> dict:
    return next(f for f in forms(page) if f["id"] in AUTO_POSTED)


class Browser:
    """A cookie-keeping HTTP client that does what the launch pages' scripts do."""

    def __init__(self):
        self.http = requests.Session()

    def login(
        self, platform: Platform, sub: str, spec: LaunchSpec | None = None, **initiation
    ) -> requests.Response:
        """The LMS starts a launch: the tool's login initiation, its cookie check (the script re-requests with
        the same parameters added), then the redirect to the platform, which answers with the launch form."""
        params = {**platform.login_initiation(sub, spec), **initiation}
        response = self.http.get(platform.tool_login_url, params=params)
        if 'id="lti-login-params"' in response.text:
            script_params = json.loads(
                re.search(
                    r'<script id="lti-login-params" type="application/json">(.*?)</script>', response.text
                ).group(1)
            )
            response = self.http.get(platform.tool_login_url, params={**params, **script_params})
        return response

    def submit(self, response: requests.Response, **changes) -> requests.Response:
        """Post the page's auto-submitting form, as its script does; no redirects followed."""
        form = auto_posted_form(response.text)
        return self.http.post(form["action"], data={**form["fields"], **changes}, allow_redirects=False)

    def follow(self, response: requests.Response) -> requests.Response:
        while response.status_code in (301, 302, 303):
            target = response.headers["Location"]
            if target.startswith("/"):
                parts = urlsplit(response.url)
                target = f"{parts.scheme}://{parts.netloc}{target}"
            response = self.http.get(target, allow_redirects=False)
        return response

    def launch(self, platform: Platform, sub: str, spec: LaunchSpec | None = None) -> requests.Response:
        """A whole launch, ending on the landing page."""
        return self.follow(self.submit(self.login(platform, sub, spec)))


@pytest.fixture
def browser():
    browser = Browser()
    yield browser
    # Close keep-alive connections before the live server stops, so no server thread outlives the test's database.
    browser.http.close()


def query(url: str, **params) -> str:
    return f"{url}?{urlencode(params)}"
