"""Every kind of bad launch gets a clear error page (4xx) and creates or signs in nobody; a launch from school A's
LMS never reaches school B. Each launch goes through the real OIDC login and the real platform, with exactly one
thing spoiled."""

import uuid

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from analytics.lms.models import LtiCourse, LtiIdentity, LtiLaunch, LtiLogin
from classes.models import Classroom, User

from .conftest import auto_posted_form, register
from .platform import MENTOR, LaunchSpec, rsa_pem_pair

pytestmark = pytest.mark.slow

LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def counts():
    with scopes_disabled():
        return (
            User.objects.count(),
            LtiIdentity.objects.count(),
            LtiLaunch.objects.count(),
            Classroom.objects.count(),
            LtiCourse.objects.count(),
        )


def assert_refused(response, status, text, before, browser, lti):
    assert response.status_code == status, response.text[:500]
    assert "fermonitor could not open this link" in response.text
    assert text in response.text
    assert counts() == before, "a refused launch created something"
    home = browser.http.get(lti.url + reverse("home"), allow_redirects=False)
    assert home.headers["Location"].startswith("/accounts/login/"), "a refused launch signed someone in"


def spoiled_launch(browser, lti, spec: LaunchSpec, sub="s-1", **changes):
    return browser.submit(browser.login(lti.platform, sub, spec), **changes)


@pytest.mark.parametrize(
    ("spec", "status", "text"),
    [
        (LaunchSpec(issued_ago=900, expires_in=300), 403, "This launch has expired"),
        (
            LaunchSpec(overrides={"iss": "https://other-lms.example.org"}),
            403,
            "not issued for this LMS registration",
        ),
        (
            LaunchSpec(overrides={"aud": "another-tool", "azp": "another-tool"}),
            403,
            "not issued for this LMS registration",
        ),
        (
            LaunchSpec(overrides={"aud": ["another-tool", "fm-client"], "azp": "another-tool"}),
            403,
            "not issued for this LMS registration",
        ),
        (
            LaunchSpec(overrides={LTI + "deployment_id": "deployment-9"}),
            403,
            "deployment that is not registered",
        ),
        (LaunchSpec(kid="no-such-key"), 403, "unknown key id"),
        (LaunchSpec(tamper=True), 403, "signature is not valid"),
        (LaunchSpec(signing_key=rsa_pem_pair()[0]), 403, "signature is not valid"),
        (LaunchSpec(overrides={"nonce": "made-up"}), 403, "unknown nonce"),
        (LaunchSpec(remove=("sub",)), 400, "Must have a user (sub)"),
        (LaunchSpec(remove=(LTI + "roles",)), 400, "Missing Roles Claim"),
        (LaunchSpec(remove=(LTI + "message_type",)), 400, "Invalid message type"),
        (LaunchSpec(remove=(LTI + "version",)), 400, "Incorrect version"),
        (LaunchSpec(remove=(LTI + "resource_link",)), 400, "Missing Resource Link Id"),
        (LaunchSpec(remove=(LTI + "deployment_id",)), 400, "deployment_id"),
        (LaunchSpec(remove=("nonce",)), 403, "unknown nonce"),
        (LaunchSpec(remove=("exp",)), 400, "missing the “exp” claim"),
        (LaunchSpec(remove=("iat",)), 400, "missing the “iat” claim"),
        (LaunchSpec(overrides={LTI + "message_type": "LtiSomethingElse"}), 400, "Unrecognized message type"),
    ],
    ids=[
        "expired",
        "wrong-issuer",
        "wrong-audience",
        "audience-list-without-our-azp",
        "wrong-deployment",
        "unknown-kid",
        "tampered-payload",
        "signed-with-another-key",
        "wrong-nonce",
        "missing-sub",
        "missing-roles",
        "missing-message-type",
        "missing-version",
        "missing-resource-link",
        "missing-deployment",
        "missing-nonce",
        "missing-exp",
        "missing-iat",
        "unknown-message-type",
    ],
)
def test_a_spoiled_launch_is_refused_and_changes_nothing(lti, browser, spec, status, text):
    before = counts()
    assert_refused(spoiled_launch(browser, lti, spec), status, text, before, browser, lti)


def test_a_replayed_launch_is_refused(lti, browser):
    form_page = browser.login(lti.platform, "s-1")
    first = browser.submit(form_page)
    assert first.status_code == 302
    browser.http.post(
        lti.url + reverse("logout"), data={"csrfmiddlewaretoken": browser.http.cookies.get("csrftoken", "")}
    )
    before = counts()

    again = browser.submit(form_page)

    assert_refused(again, 403, "already used once", before, browser, lti)


def test_a_launch_posted_from_another_browser_is_refused(lti, browser):
    form_page = browser.login(lti.platform, "s-1")
    other = type(browser)()
    before = counts()
    form = auto_posted_form(form_page.text)

    stolen = other.http.post(form["action"], data=form["fields"], allow_redirects=False)

    assert_refused(stolen, 403, "did not start in this browser", before, other, lti)
    other.http.close()


def test_a_forged_state_is_refused(lti, browser):
    before = counts()
    response = spoiled_launch(browser, lti, LaunchSpec(), state="state-forged")
    assert_refused(response, 403, "did not start in this browser", before, browser, lti)


def test_a_role_without_a_page_is_refused(lti, browser):
    lti.platform.add_person("m-1", "Max", "Mentor", [MENTOR])
    before = counts()
    assert_refused(
        spoiled_launch(browser, lti, LaunchSpec(), sub="m-1"),
        403,
        "has no fermonitor page",
        before,
        browser,
        lti,
    )


def test_a_student_cannot_add_fermonitor_to_a_course(lti, browser):
    before = counts()
    response = spoiled_launch(browser, lti, LaunchSpec(message_type="LtiDeepLinkingRequest"))
    assert_refused(response, 403, "Only the course", before, browser, lti)


def test_a_co_teacher_is_refused_with_the_reason(lti, browser):
    from .platform import INSTRUCTOR

    browser.launch(lti.platform, "t-1")
    browser.http.post(
        lti.url + reverse("logout"), data={"csrfmiddlewaretoken": browser.http.cookies.get("csrftoken", "")}
    )
    lti.platform.add_person("t-2", "Theo", "Two", [INSTRUCTOR])
    before = counts()
    response = spoiled_launch(browser, lti, LaunchSpec(), sub="t-2")
    assert_refused(response, 403, "taught by Tara Teach", before, browser, lti)


def test_a_launch_for_school_a_posted_to_school_bs_registration_of_the_same_lms_is_refused(lti, browser):
    """School B registered the very same LMS (same issuer, client id and deployment): a launch made through A's
    login still cannot reach B, because B never issued its state and nonce."""
    with scopes_disabled():
        from analytics.lms.models import LtiRegistration

        school_b_registration = LtiRegistration.objects.create(
            school=lti.cast.school_b,
            name="Same LMS",
            client_id=lti.platform.client_id,
            deployment_ids=[lti.platform.deployment_id],
            **lti.platform.urls,
        )
    form_page = browser.login(lti.platform, "s-1")
    form = auto_posted_form(form_page.text)
    before = counts()

    response = browser.http.post(
        lti.url + reverse("lti_launch", args=[school_b_registration.uuid]),
        data=form["fields"],
        allow_redirects=False,
    )

    assert_refused(response, 403, "unknown nonce", before, browser, lti)
    with scopes_disabled():
        assert not User.objects.filter(school=lti.cast.school_b, lti_identities__isnull=False).exists()
    # The same launch still works where it was meant to go.
    assert browser.submit(form_page).status_code == 302
    with scopes_disabled():
        assert LtiIdentity.objects.get(sub="s-1").user.school == lti.cast.school_a


def test_the_same_lms_account_becomes_separate_users_in_two_schools(lti, browser, live_server):
    """Two schools registering one LMS (e.g. a district's Moodle) each get their own user for the same person."""
    from .platform import Platform

    browser.launch(lti.platform, "s-1")
    with Platform() as district:
        district.issuer = lti.platform.issuer  # the same LMS issuer, another client registration
        district.private_key, district.public_key = lti.platform.private_key, lti.platform.public_key
        district.client_id = "fm-client-b"
        district.people = lti.platform.people
        register(lti.cast.school_b, district, live_server.url)
        other = type(browser)()
        other.launch(district, "s-1")
        other.http.close()
    with scopes_disabled():
        users = {i.school_id: i.user for i in LtiIdentity.objects.filter(sub="s-1")}
    assert set(users) == {lti.cast.school_a.pk, lti.cast.school_b.pk}
    assert users[lti.cast.school_a.pk].pk != users[lti.cast.school_b.pk].pk
    assert users[lti.cast.school_b.pk].school == lti.cast.school_b


def test_a_switched_off_or_incomplete_registration_refuses_logins(lti, browser):
    with scopes_disabled():
        lti.registration.is_active = False
        lti.registration.save()
    before = counts()
    response = browser.login(lti.platform, "s-1")
    assert_refused(response, 403, "switched off", before, browser, lti)

    with scopes_disabled():
        lti.registration.is_active = True
        lti.registration.deployment_ids = []
        lti.registration.save()
    response = browser.login(lti.platform, "s-1")
    assert_refused(
        response, 403, "not complete on fermonitor (missing: deployment ids)", before, browser, lti
    )
    with scopes_disabled():
        assert not LtiLogin.objects.exists()


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"iss": "https://other-lms.example.org"}, "not started for this LMS registration"),
        ({"client_id": "another-tool"}, "not started for this LMS registration"),
        ({"iss": ""}, "names no issuer"),
        ({"login_hint": ""}, "has no login hint"),
    ],
    ids=["other-issuer", "other-client", "no-issuer", "no-login-hint"],
)
def test_a_bad_login_initiation_is_refused_before_the_platform_is_asked(lti, browser, change, text):
    before = counts()
    response = browser.login(lti.platform, "s-1", **change)
    assert response.status_code in (400, 403)
    assert text in response.text
    assert counts() == before
    assert lti.platform.auth_requests == []
    with scopes_disabled():
        assert not LtiLogin.objects.exists()


def test_unknown_registrations_and_wrong_methods(lti, browser):
    missing = uuid.uuid4()
    assert browser.http.get(lti.url + reverse("lti_login", args=[missing])).status_code == 404
    assert browser.http.post(lti.url + reverse("lti_launch", args=[missing])).status_code == 404
    assert browser.http.get(lti.url + reverse("lti_jwks", args=[missing])).status_code == 404
    assert browser.http.get(lti.url + reverse("lti_launch", args=[lti.registration.uuid])).status_code == 405


def test_an_unreachable_platform_keyset_is_explained(lti, browser):
    with scopes_disabled():
        lti.registration.jwks_url = "http://127.0.0.1:9/jwks"  # nothing listens on the discard port
        lti.registration.save()
    before = counts()
    response = browser.submit(browser.login(lti.platform, "s-1"))
    assert response.status_code == 502
    assert "could not read the LMS" in response.text and "/jwks" in response.text
    assert counts() == before
