"""Every LTI endpoint for every member of the fixed cast: the exact status and, for actions, whether the change
happened (only when allowed). School A's registration, course, launches and keys against school B's people."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.lms.lti import keys
from analytics.lms.models import LtiAttendancePost, LtiCourse, LtiKey, LtiLaunch, LtiRegistration

CAST = [None, "alice", "tom", "tess", "sam", "nina", "nora", "bob", "bill", "bea", "op"]
UNREACHABLE = "http://127.0.0.1:9"  # nothing listens there: service calls fail fast and are recorded


def statuses(anonymous, alice, tom, tess, sam, nina, nora, bob, bill, bea, op):
    return dict(zip(CAST, [anonymous, alice, tom, tess, sam, nina, nora, bob, bill, bea, op], strict=True))


# School admins only; another school's admin gets 404 for this school's registration; operators have no school.
ADMIN_OWN_PAGE = statuses(302, 200, 403, 403, 403, 403, 403, 200, 403, 403, 403)
ADMIN_OBJECT_PAGE = statuses(302, 200, 403, 403, 403, 403, 403, 404, 403, 403, 403)
ADMIN_OWN_ACTION = statuses(302, 302, 403, 403, 403, 403, 403, 302, 403, 403, 403)
ADMIN_OBJECT_ACTION = statuses(302, 302, 403, 403, 403, 403, 403, 404, 403, 403, 403)
# The class page's LTI buttons: like every class action (teacher, school admins, operators).
MANAGE_CLASS_ACTION = statuses(302, 302, 302, 403, 403, 403, 403, 404, 404, 403, 302)
# A launch's own pages: only the person launched; anyone else does not see that it exists.
# (Sam's class has a live lesson: his landing sends him on to its join page.)
SAMS_LAUNCH_PAGE = statuses(302, 404, 404, 404, 302, 404, 404, 404, 404, 404, 404)
TOMS_LAUNCH_PAGE = statuses(302, 404, 200, 404, 404, 404, 404, 404, 404, 404, 404)
PUBLIC = statuses(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200)


@pytest.fixture
def lti_cast(cast):
    with scopes_disabled():
        for school, letter in ((cast.school_a, "a"), (cast.school_b, "b")):
            registration = LtiRegistration.objects.create(
                school=school,
                name=f"LMS {letter}",
                issuer=f"https://lms-{letter}.example.org",
                client_id=f"client-{letter}",
                deployment_ids=["1"],
                auth_login_url=f"https://lms-{letter}.example.org/auth",
                auth_token_url=f"{UNREACHABLE}/token",
                jwks_url=f"https://lms-{letter}.example.org/jwks",
            )
            setattr(cast, f"reg_{letter}", registration)
            setattr(cast, f"key_{letter}", keys.current_key(school))
        cast.course_a = LtiCourse.objects.create(
            school=cast.school_a,
            issuer=cast.reg_a.issuer,
            context_id="course-1",
            classroom=cast.class_a,
            registration=cast.reg_a,
            memberships_url=f"{UNREACHABLE}/nrps",
            lineitems_url=f"{UNREACHABLE}/lineitems",
            ags_scopes=[
                "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                "https://purl.imsglobal.org/spec/lti-ags/scope/score",
            ],
            grades_enabled=True,
        )
        later = timezone.now() + timedelta(minutes=5)
        cast.sams_launch = LtiLaunch.objects.create(
            registration=cast.reg_a,
            user=cast.sam,
            course=cast.course_a,
            message_type="LtiResourceLinkRequest",
            landing_url="/learn/",
            expires_at=later,
        )
        cast.toms_deep_link = LtiLaunch.objects.create(
            registration=cast.reg_a,
            user=cast.tom,
            course=cast.course_a,
            message_type="LtiDeepLinkingRequest",
            deployment_id="1",
            landing_url="/",
            deep_link_settings={
                "deep_link_return_url": "https://lms-a.example.org/return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe"],
            },
            expires_at=later,
        )
    return cast


PAGES = {
    "registration_create": (lambda c: reverse("lti_registration_create"), ADMIN_OWN_PAGE),
    "registration_detail": (lambda c: reverse("lti_registration", args=[c.reg_a.uuid]), ADMIN_OBJECT_PAGE),
    "lesson": (lambda c: reverse("lti_lesson", args=[c.sams_launch.uuid]), SAMS_LAUNCH_PAGE),
    "deep_link": (lambda c: reverse("lti_deep_link", args=[c.toms_deep_link.uuid]), TOMS_LAUNCH_PAGE),
    "jwks": (lambda c: reverse("lti_jwks", args=[c.reg_a.uuid]), PUBLIC),
    "canvas_config": (lambda c: reverse("lti_canvas_config", args=[c.reg_a.uuid]), PUBLIC),
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("page", list(PAGES))
def test_lti_page_access_matrix(lti_cast, client_for, page, who):
    url, expected = PAGES[page]
    response = client_for(getattr(lti_cast, who) if who else None).get(url(lti_cast))
    assert response.status_code == expected[who]
    if who is None and expected[who] == 302:
        assert response["Location"].startswith("/accounts/login/")
    elif expected[who] == 302:
        assert response["Location"] == reverse("live_join", args=[lti_cast.a_live.uuid])
    if response.status_code == 200 and page in ("registration_detail", "registration_create"):
        assert lti_cast.reg_b.name not in response.content.decode()


def test_a_schools_jwks_publishes_its_own_keys_only(lti_cast, client_for):
    a = client_for(None).get(reverse("lti_jwks", args=[lti_cast.reg_a.uuid])).json()
    b = client_for(None).get(reverse("lti_jwks", args=[lti_cast.reg_b.uuid])).json()
    assert [k["kid"] for k in a["keys"]] == [lti_cast.key_a.kid]
    assert [k["kid"] for k in b["keys"]] == [lti_cast.key_b.kid]


def _key_count(school):
    return LtiKey.objects.filter(school=school).count()


def _registration(pk):
    return LtiRegistration.objects.filter(pk=pk).first()


# name: (url, POST data, "was it done?", expected statuses)
ACTIONS = {
    "registration_create": (
        lambda c: reverse("lti_registration_create"),
        lambda c: {"name": "Matrix LMS", "kind": "canvas", "deployment_ids": "", "is_active": "on"},
        lambda c, who: (
            who is not None
            and LtiRegistration.objects.filter(name="Matrix LMS", school=getattr(c, who).school).exists()
        ),
        ADMIN_OWN_ACTION,
    ),
    "registration_update": (
        lambda c: reverse("lti_registration", args=[c.reg_a.uuid]),
        lambda c: {
            "name": "Renamed",
            "kind": "other",
            "issuer": c.reg_a.issuer,
            "client_id": "client-a",
            "deployment_ids": "1",
            "auth_login_url": c.reg_a.auth_login_url,
            "jwks_url": c.reg_a.jwks_url,
            "is_active": "on",
        },
        lambda c, who: _registration(c.reg_a.pk).name == "Renamed",
        ADMIN_OBJECT_ACTION,
    ),
    "registration_delete": (
        lambda c: reverse("lti_registration_delete", args=[c.reg_a.uuid]),
        lambda c: {},
        lambda c, who: _registration(c.reg_a.pk) is None,
        ADMIN_OBJECT_ACTION,
    ),
    "key_rotate": (
        lambda c: reverse("lti_key_rotate"),
        lambda c: {},
        # Each admin rotates their own school's key; school A's rotates only for alice.
        lambda c, who: _key_count(c.school_a) == 2 if who == "alice" else _key_count(c.school_b) == 2,
        ADMIN_OWN_ACTION,
    ),
    "roster_sync": (
        lambda c: reverse("lti_roster_sync", args=[c.class_a.uuid]),
        lambda c: {},
        lambda c, who: LtiCourse.objects.get(pk=c.course_a.pk).roster_error != "",
        MANAGE_CLASS_ACTION,
    ),
    "grades_setting": (
        lambda c: reverse("lti_grades_setting", args=[c.class_a.uuid]),
        lambda c: {},
        lambda c, who: not LtiCourse.objects.get(pk=c.course_a.pk).grades_enabled,
        MANAGE_CLASS_ACTION,
    ),
    "post_attendance": (
        lambda c: reverse("lti_post_attendance", args=[c.a_ended.uuid]),
        lambda c: {},
        lambda c, who: LtiAttendancePost.objects.filter(session=c.a_ended).exists(),
        MANAGE_CLASS_ACTION,
    ),
    "deep_link_answer": (
        lambda c: reverse("lti_deep_link", args=[c.toms_deep_link.uuid]),
        lambda c: {"lesson": "all"},
        lambda c, who: LtiLaunch.objects.get(pk=c.toms_deep_link.pk).deep_link_settings is None,
        TOMS_LAUNCH_PAGE,
    ),
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_lti_action_access_matrix(lti_cast, client_for, action, who):
    url, data, done, expected = ACTIONS[action]
    response = client_for(getattr(lti_cast, who) if who else None).post(url(lti_cast), data(lti_cast))
    assert response.status_code == expected[who]
    allowed = expected[who] in (200, 302) and who is not None
    if who is None:
        assert response["Location"].startswith("/accounts/login/")
    with scopes_disabled():
        assert done(lti_cast, who) is allowed
        if action == "key_rotate" and who == "bob":
            assert _key_count(lti_cast.school_a) == 1


@pytest.mark.parametrize("who", CAST)
def test_entering_someone_elses_launch_never_signs_in_as_them_without_the_new_window_step(
    lti_cast, client_for, who
):
    """The enter page is what the launch redirects to: its own user goes on; anyone else (or a browser that lost
    the cookie) gets the new-window page, and only that page's link, used once, signs in."""
    client = client_for(getattr(lti_cast, who) if who else None)
    response = client.get(reverse("lti_enter", args=[lti_cast.sams_launch.uuid]))
    if who == "sam":
        assert response.status_code == 302 and response["Location"] == lti_cast.sams_launch.landing_url
    else:
        assert response.status_code == 200 and b"opens in a new window" in response.content
        signed_in = client.session.get("_auth_user_id")
        assert signed_in == (str(getattr(lti_cast, who).pk) if who else None)


@pytest.mark.parametrize("who", ["tom", "bob", "op"])
def test_class_page_shows_the_lms_panel_only_to_those_who_manage_the_class(lti_cast, client_for, who):
    response = client_for(getattr(lti_cast, who)).get(
        reverse("classroom_detail", args=[lti_cast.class_a.uuid])
    )
    if who == "bob":
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert b'id="lms-course"' in response.content and b"Sync the roster now" in response.content
    other = client_for(lti_cast.bill).get(reverse("classroom_detail", args=[lti_cast.class_b.uuid]))
    assert other.status_code == 200 and b'id="lms-course"' not in other.content
