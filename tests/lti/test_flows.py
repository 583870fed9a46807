"""The whole LTI 1.3 Advantage conversation against a real platform on a real HTTP server: OIDC login -> launch
(users and classes made, people landed), deep linking (the signed answer checked by the platform with our JWKS),
names and roles (the roster synced into the class, paged), assignments and grades (attendance as scores, through
the client-credentials token). Each LTI service is driven here; the bad launches are in test_bad_launches.py."""

import re
from datetime import timedelta
from urllib.parse import urljoin

import jwt
import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.lms.models import LtiAttendancePost, LtiCourse, LtiIdentity, LtiLaunch, LtiLogin
from analytics.services import SampleRecord, record_samples
from classes import services as class_services
from classes.models import Enrolment, LiveSession, Role, SessionStatus, User

from .conftest import auto_posted_form, forms
from .platform import LaunchSpec

pytestmark = pytest.mark.slow

HAPPY = (0.02, 0.01, 0.02, 0.80, 0.05, 0.05, 0.05)
ANGRY = (0.80, 0.02, 0.08, 0.02, 0.04, 0.02, 0.02)


def lti_user(platform_sub, issuer):
    with scopes_disabled():
        return LtiIdentity.objects.select_related("user").get(issuer=issuer, sub=platform_sub).user


def course_class(lti):
    with scopes_disabled():
        return (
            LtiCourse.objects.select_related("classroom").get(context_id=lti.platform.context["id"]).classroom
        )


def enrolled_subs(lti, classroom):
    with scopes_disabled():
        students = Enrolment.objects.filter(classroom=classroom).values_list("student_id", flat=True)
        return set(LtiIdentity.objects.filter(user_id__in=list(students)).values_list("sub", flat=True))


def signed_in_as(browser, lti):
    """The fermonitor user the browser's session belongs to (None: nobody)."""
    page = browser.http.get(lti.url + reverse("home"), allow_redirects=False)
    if page.status_code != 302 or page.headers["Location"].startswith("/accounts/login/"):
        return None
    return page.headers["Location"]


def post_page_form(browser, page, action_contains, data=None):
    # action_contains=None: the form that posts back to the page itself (no action).
    form = next(
        f
        for f in forms(page.text)
        if (action_contains in f["action"] if action_contains else not f["action"])
    )
    url = urljoin(page.url, form["action"])
    return browser.http.post(url, data={**form["fields"], **(data or {})}, allow_redirects=True)


def start_lesson(classroom, title="Optics", **fields):
    with scopes_disabled():
        now = timezone.now()
        return LiveSession.objects.create(
            classroom=classroom,
            title=title,
            scheduled_start=now - timedelta(minutes=1),
            status=SessionStatus.LIVE,
            started_at=now - timedelta(minutes=1),
            **fields,
        )


# --- launch ---------------------------------------------------------------------------------------------------


def test_first_instructor_launch_creates_teacher_and_class_syncs_roster_and_lands_on_class_page(lti, browser):
    page = browser.launch(lti.platform, "t-1")

    assert page.status_code == 200
    classroom = course_class(lti)
    assert page.url == lti.url + reverse("classroom_detail", args=[classroom.uuid])
    teacher = lti_user("t-1", lti.platform.issuer)
    assert (teacher.school, teacher.role, teacher.first_name, teacher.last_name, teacher.email) == (
        lti.cast.school_a,
        Role.TEACHER,
        "Tara",
        "Teach",
        "tara.teach@lms.example.org",
    )
    assert re.fullmatch(r"tara\.[0-9a-f]{6}", teacher.username)
    assert not teacher.has_usable_password()
    assert (classroom.name, classroom.subject, classroom.teacher_id, classroom.school_id) == (
        "Physics 2B",
        "PHY2B",
        teacher.pk,
        lti.cast.school_a.pk,
    )
    # NRPS after the instructor launch: three learners, in two pages, through an access token.
    assert enrolled_subs(lti, classroom) == {"s-1", "s-2", "s-3"}
    nrps_calls = [path for method, path in lti.platform.service_calls if path.startswith("/nrps")]
    assert nrps_calls == ["/nrps", "/nrps?page=2"]
    assert lti.platform.token_requests[0]["grant_type"] == "client_credentials"
    assert "Sync the roster now" in page.text and "3 enrolled, 0 unenrolled, 3 new students" in page.text
    assert signed_in_as(browser, lti) == reverse("teacher_home")
    # The launch was made in an LMS frame: the class page may be framed by that LMS only.
    assert page.headers["Content-Security-Policy"] == f"frame-ancestors 'self' {lti.platform.base}"
    assert "X-Frame-Options" not in page.headers


def test_student_launch_goes_through_the_camera_policy_to_the_live_lessons_join_page(lti, browser):
    browser.launch(lti.platform, "t-1")
    lesson = start_lesson(course_class(lti))
    student_browser = type(browser)()

    page = student_browser.launch(lti.platform, "s-1")

    join = reverse("live_join", args=[lesson.uuid])
    assert page.status_code == 200 and "/learn/consent/" in page.url and "next=" in page.url
    consented = post_page_form(student_browser, page, None, {"decision": "agree", "next": join})
    assert consented.url == lti.url + join
    assert "Optics" in consented.text and "Sara Stone" in consented.text
    assert signed_in_as(student_browser, lti) == reverse("student_home")

    again = student_browser.launch(lti.platform, "s-1")  # consent given: straight to the join page
    assert again.url == lti.url + join
    student_browser.http.close()


def test_student_without_a_live_lesson_sees_the_next_one_and_is_taken_in_when_it_starts(lti, browser):
    browser.launch(lti.platform, "t-1")
    classroom = course_class(lti)
    with scopes_disabled():
        later = LiveSession.objects.create(
            classroom=classroom, title="Waves", scheduled_start=timezone.now() + timedelta(hours=2)
        )
        student = lti_user("s-2", lti.platform.issuer)
        class_services.record_consent(student, granted=True)
    student_browser = type(browser)()

    page = student_browser.launch(lti.platform, "s-2")

    assert page.status_code == 200 and "/lti/launches/" in page.url
    assert "No live lesson now" in page.text and "Waves" in page.text
    assert f'data-next-session="{later.uuid}"' in page.text
    with scopes_disabled():
        class_services.start_session(later)
    reloaded = student_browser.follow(student_browser.http.get(page.url, allow_redirects=False))
    assert reloaded.url == lti.url + reverse("live_join", args=[later.uuid])
    student_browser.http.close()


def test_student_launch_before_the_teacher_opened_the_course_signs_in_and_explains(lti, browser):
    page = browser.launch(lti.platform, "s-3")

    assert page.status_code == 200
    assert "fermonitor is not set up for this course yet" in page.text
    student = lti_user("s-3", lti.platform.issuer)
    assert (student.role, student.school) == (Role.STUDENT, lti.cast.school_a)
    with scopes_disabled():
        assert not LtiCourse.objects.exists()


def test_a_second_launch_signs_in_the_same_user_with_updated_details(lti, browser):
    browser.launch(lti.platform, "s-1")
    first = lti_user("s-1", lti.platform.issuer)
    lti.platform.people["s-1"].family_name = "Stone-Hill"
    lti.platform.people["s-1"].email = "sara@lms.example.org"

    browser.launch(lti.platform, "s-1")

    again = lti_user("s-1", lti.platform.issuer)
    assert again.pk == first.pk
    assert (again.last_name, again.email, again.username) == (
        "Stone-Hill",
        "sara@lms.example.org",
        first.username,
    )
    with scopes_disabled():
        assert User.objects.filter(lti_identities__sub="s-1").count() == 1


def test_roles_map_to_fermonitor_roles_and_an_lms_promotion_upgrades(lti, browser):
    from .platform import ADMINISTRATOR, INSTRUCTOR

    lti.platform.add_person("a-1", "Ada", "Admin", [ADMINISTRATOR, INSTRUCTOR])
    page = browser.launch(lti.platform, "a-1")
    assert lti_user("a-1", lti.platform.issuer).role == Role.ADMIN
    assert page.url == lti.url + reverse("school_admin_home")

    browser.launch(lti.platform, "s-1")
    lti.platform.people["s-1"].roles = [INSTRUCTOR]
    browser.launch(lti.platform, "s-1")
    assert lti_user("s-1", lti.platform.issuer).role == Role.TEACHER


def test_generated_usernames_do_not_reveal_names_used_in_other_schools(lti, browser):
    with scopes_disabled():
        User.objects.create(username="sara", school=lti.cast.school_b, role=Role.STUDENT)
        User.objects.create(username="sara.stone", school=lti.cast.school_b, role=Role.STUDENT)

    browser.launch(lti.platform, "s-1")

    username = lti_user("s-1", lti.platform.issuer).username
    assert re.fullmatch(r"sara\.[0-9a-f]{6}", username)


def test_a_launch_in_a_new_window_without_the_frame_cookie_enters_once_through_the_fallback(lti, browser):
    """The launch response's session cookie is lost (as in a frame whose cookies the browser blocks): the enter
    page offers a new window, whose link signs the person in once."""
    response = browser.submit(browser.login(lti.platform, "s-1"))
    enter_url = lti.url + response.headers["Location"]
    browser.http.cookies.clear()

    fallback = browser.http.get(enter_url, allow_redirects=False)

    assert fallback.status_code == 200 and "opens in a new window" in fallback.text
    assert signed_in_as(browser, lti) is None
    new_window = forms_link(fallback.text)
    entered = browser.follow(browser.http.get(lti.url + new_window, allow_redirects=False))
    assert "not set up for this course yet" in entered.text
    assert signed_in_as(browser, lti) == reverse("student_home")
    other = type(browser)()
    assert other.http.get(lti.url + new_window, allow_redirects=False).status_code == 410
    other.http.close()


def forms_link(page: str) -> str:
    return re.search(r'id="lti-open-new-window" href="([^"]+)"', page).group(1).replace("&amp;", "&")


# --- deep linking ---------------------------------------------------------------------------------------------


def test_deep_linking_answers_the_lms_with_a_signed_link_to_the_class_live_lessons(lti, browser):
    picker = browser.launch(lti.platform, "t-1", LaunchSpec(message_type="LtiDeepLinkingRequest"))
    assert picker.status_code == 200 and "Add fermonitor to your course" in picker.text

    answer = post_page_form(browser, picker, None, {"lesson": "all"})
    added = browser.submit(answer)  # the auto-posting form to the platform's deep_link_return_url

    assert added.status_code == 200 and "Added to the course" in added.text
    returned = lti.platform.deep_link_returns[-1]
    (item,) = returned["items"]
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == lti.platform.tool_launch_url
    assert item["title"] == "Physics 2B: live lessons"
    assert "custom" not in item
    response = returned["response"]
    assert response["aud"] == [lti.platform.issuer] and response["iss"] == lti.platform.client_id
    assert response["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"n": 7}
    assert response["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == lti.platform.deployment_id
    # Signed with the school's current key, which the platform read from our JWKS over HTTP.
    with scopes_disabled():
        from analytics.lms.models import LtiKey

        kid = LtiKey.objects.get(school=lti.cast.school_a, retired_at=None).kid
    assert jwt.get_unverified_header(answer_jwt(answer))["kid"] == kid
    # Answered once.
    assert browser.http.post(picker.url, data={"lesson": "all"}).status_code in (403, 410)


def answer_jwt(page) -> str:
    return auto_posted_form(page.text)["fields"]["JWT"]


def test_deep_linking_one_scheduled_lesson_takes_students_to_that_lesson(lti, browser):
    browser.launch(lti.platform, "t-1")
    classroom = course_class(lti)
    with scopes_disabled():
        waves = LiveSession.objects.create(
            classroom=classroom, title="Waves", scheduled_start=timezone.now() + timedelta(days=1)
        )
        LiveSession.objects.create(
            classroom=classroom, title="Sound", scheduled_start=timezone.now() + timedelta(days=2)
        )
    picker = browser.launch(lti.platform, "t-1", LaunchSpec(message_type="LtiDeepLinkingRequest"))
    assert "Waves" in picker.text and "Sound" in picker.text

    browser.submit(post_page_form(browser, picker, None, {"lesson": str(waves.uuid)}))

    (item,) = lti.platform.deep_link_returns[-1]["items"]
    assert item["custom"] == {"fermonitor_session": str(waves.uuid)}
    assert item["title"].startswith("Waves (")
    # The LMS now launches the link with its custom parameter.
    student = type(browser)()
    page = student.launch(lti.platform, "s-1", LaunchSpec(custom=item["custom"]))
    assert "No live lesson now" in page.text and f'data-next-session="{waves.uuid}"' in page.text
    with scopes_disabled():
        class_services.record_consent(lti_user("s-1", lti.platform.issuer), granted=True)
        other = start_lesson(classroom, title="Unrelated")
        class_services.start_session(waves)
    page = student.launch(lti.platform, "s-1", LaunchSpec(custom=item["custom"]))
    assert (
        page.url
        == lti.url + reverse("live_join", args=[waves.uuid])
        != lti.url + reverse("live_join", args=[other.uuid])
    )
    student.http.close()


# --- names and roles ------------------------------------------------------------------------------------------


def test_roster_sync_from_the_class_page_enrols_unenrols_and_creates_students(lti, browser):
    browser.launch(lti.platform, "t-1")
    classroom = course_class(lti)
    with scopes_disabled():
        class_services.enrol_students(classroom, [lti.cast.nina])  # by hand: not the LMS's to remove
    lti.platform.people["s-2"].status = "Inactive"
    lti.platform.add_person("s-4", "Sam", "Sky", [lti.platform.people["s-1"].roles[0]])
    from .platform import INSTRUCTOR

    lti.platform.add_person("t-2", "Theo", "Two", [INSTRUCTOR])
    page = browser.http.get(lti.url + reverse("classroom_detail", args=[classroom.uuid]))

    synced = post_page_form(browser, page, "roster-sync")

    assert "Roster synced with the LMS: 1 enrolled, 1 unenrolled, 1 new students, 2 unchanged" in synced.text
    assert enrolled_subs(lti, classroom) == {"s-1", "s-3", "s-4"}
    with scopes_disabled():
        assert Enrolment.objects.filter(classroom=classroom, student=lti.cast.nina).exists()
        assert not LtiIdentity.objects.filter(sub="t-2").exists()  # instructors are not enrolled as students
        sam = lti_user("s-4", lti.platform.issuer)
        assert (sam.first_name, sam.last_name, sam.role) == ("Sam", "Sky", Role.STUDENT)


def test_roster_sync_failure_is_reported_and_changes_nothing(lti, browser):
    browser.launch(lti.platform, "t-1")
    classroom = course_class(lti)
    before = enrolled_subs(lti, classroom)
    lti.platform.outage = True  # the LMS answers its services with 503
    page = browser.http.get(lti.url + reverse("classroom_detail", args=[classroom.uuid]))

    synced = post_page_form(browser, page, "roster-sync")

    assert "Roster sync failed" in synced.text
    assert enrolled_subs(lti, classroom) == before
    with scopes_disabled():
        assert LtiCourse.objects.get(classroom=classroom).roster_error.startswith("Roster sync failed")


# --- assignments and grades -----------------------------------------------------------------------------------


def record(session, student, start, minutes, present_every, probabilities):
    """One sample a second for `minutes`; the face is visible in `present_every` of every 10 seconds."""
    rows = [
        SampleRecord(
            session_id=session.pk,
            student_id=student.pk,
            captured_at=start + timedelta(seconds=second),
            face_count=1 if second % 10 < present_every else 0,
            probabilities=probabilities if second % 10 < present_every else None,
        )
        for second in range(minutes * 60)
    ]
    with scopes_disabled():
        record_samples(rows)


def test_attendance_goes_to_the_gradebook_after_the_lesson_when_the_teacher_switched_it_on(lti, browser):
    browser.launch(lti.platform, "t-1")
    classroom = course_class(lti)
    page = browser.http.get(lti.url + reverse("classroom_detail", args=[classroom.uuid]))
    switched = post_page_form(browser, page, "grades", {"enabled": "on"})
    assert "attendance is sent to the LMS gradebook" in switched.text
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    with scopes_disabled():
        lesson = LiveSession.objects.create(
            classroom=classroom,
            title="Optics",
            scheduled_start=start,
            status=SessionStatus.LIVE,
            started_at=start,
        )
        sara, sid = lti_user("s-1", lti.platform.issuer), lti_user("s-2", lti.platform.issuer)
    record(lesson, sara, start, 8, 10, HAPPY)  # 8 of 10 minutes present
    record(lesson, sid, start, 5, 4, ANGRY)  # 5 minutes streamed, face visible under half of each: 0 present
    with scopes_disabled():
        class_services.end_session(lesson)
        LiveSession.objects.filter(pk=lesson.pk).update(ended_at=start + timedelta(minutes=10))
    # end_session stamped "now" as the end; post once more with the 10-minute lesson to read exact numbers.
    page = browser.http.get(lti.url + reverse("classroom_detail", args=[classroom.uuid]))
    resent = post_page_form(browser, page, f"/lti/sessions/{lesson.uuid}/attendance")
    assert "sent to the LMS gradebook for 3 students" in resent.text

    (lineitem,) = lti.platform.lineitems
    assert lineitem["resourceId"] == str(lesson.uuid) and lineitem["tag"] == "fermonitor-attendance"
    assert lineitem["scoreMaximum"] == 100 and lineitem["label"].startswith("Attendance: Optics (")
    latest = {s["userId"]: s for s in lti.platform.scores[lineitem["id"]]}
    assert {k: latest[k]["scoreGiven"] for k in latest} == {"s-1": 80.0, "s-2": 0.0, "s-3": 0.0}
    assert latest["s-1"]["comment"] == "Present 8 of 10 minutes"
    for score in latest.values():
        assert score["content_type"] == "application/vnd.ims.lis.v1.score+json"
        assert set(score) == {
            "content_type",
            "userId",
            "scoreGiven",
            "scoreMaximum",
            "comment",
            "timestamp",
            "activityProgress",
            "gradingProgress",
        }
        assert (score["scoreMaximum"], score["activityProgress"], score["gradingProgress"]) == (
            100,
            "Completed",
            "FullyGraded",
        )
    # The automatic post at the lesson's end came first (same line item, found by resourceId, not duplicated).
    assert len(lti.platform.scores[lineitem["id"]]) == 6
    with scopes_disabled():
        post = LtiAttendancePost.objects.get(session=lesson)
    assert (post.scores, post.lineitem_url, post.error) == (3, lineitem["id"], "")


def test_attendance_scores_ignore_emotions(lti, browser):
    from analytics.lms.lti.services import attendance

    browser.launch(lti.platform, "t-1")
    classroom = course_class(lti)
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=6)
    with scopes_disabled():
        lesson = LiveSession.objects.create(
            classroom=classroom,
            title="Optics",
            scheduled_start=start,
            status=SessionStatus.ENDED,
            started_at=start,
            ended_at=start + timedelta(minutes=6),
        )
        sara, sid = lti_user("s-1", lti.platform.issuer), lti_user("s-2", lti.platform.issuer)
    record(lesson, sara, start, 6, 7, HAPPY)
    record(lesson, sid, start, 6, 7, ANGRY)
    with scopes_disabled():
        shares = attendance(lesson)
    assert shares[sara.pk] == shares[sid.pk] == (6, 6)


def test_attendance_is_not_sent_unless_the_class_switched_it_on(lti, browser):
    browser.launch(lti.platform, "t-1")
    classroom = course_class(lti)
    lesson = start_lesson(classroom)
    with scopes_disabled():
        class_services.end_session(lesson)
        assert not LtiAttendancePost.objects.exists()
    assert lti.platform.lineitems == []
    assert not any(path.startswith("/lineitems") for _method, path in lti.platform.service_calls)
    page = browser.http.get(lti.url + reverse("classroom_detail", args=[classroom.uuid]))
    assert "lti/sessions/" not in page.text  # no send buttons while it is off
    refused = browser.http.post(
        lti.url + reverse("lti_post_attendance", args=[lesson.uuid]),
        data={"csrfmiddlewaretoken": browser.http.cookies.get("csrftoken")},
    )
    assert "switched off for this class" in refused.text


# --- keys -----------------------------------------------------------------------------------------------------


def test_a_rotated_key_signs_from_then_on_and_the_old_one_stays_published(lti, browser):
    from analytics.lms.lti import keys
    from analytics.lms.models import LtiKey

    with scopes_disabled():
        old = keys.current_key(lti.cast.school_a)
        new = keys.rotate(lti.cast.school_a)
    published = browser.http.get(lti.platform.tool_jwks_url).json()["keys"]
    assert [k["kid"] for k in published] == [new.kid, old.kid]
    assert all(set(k) >= {"kty", "n", "e", "kid", "alg", "use"} and "d" not in k for k in published)

    picker = browser.launch(lti.platform, "t-1", LaunchSpec(message_type="LtiDeepLinkingRequest"))
    answer = post_page_form(browser, picker, None, {"lesson": "all"})
    assert jwt.get_unverified_header(answer_jwt(answer))["kid"] == new.kid
    assert "Added to the course" in browser.submit(answer).text

    with scopes_disabled():
        LtiKey.objects.filter(pk=old.pk).update(retired_at=timezone.now() - timedelta(days=8))
    assert [k["kid"] for k in browser.http.get(lti.platform.tool_jwks_url).json()["keys"]] == [new.kid]


def test_logins_and_launch_records_are_kept_only_as_long_as_needed(lti, browser):
    browser.launch(lti.platform, "s-1")
    with scopes_disabled():
        login = LtiLogin.objects.get()
        launch = LtiLaunch.objects.get()
    assert login.used_at is not None and login.expires_at > timezone.now()
    assert launch.entered_at is not None
    with scopes_disabled():
        LtiLogin.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    browser.launch(lti.platform, "s-1")
    with scopes_disabled():
        assert not LtiLogin.objects.filter(pk=login.pk).exists()
