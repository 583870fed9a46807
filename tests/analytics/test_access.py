"""Every report's access matrix over the fixed cast: exact statuses for access and for denial."""

import pytest
from django.urls import reverse

CAST = ["anonymous", "alice", "tom", "tess", "sam", "nina", "nora", "bob", "bill", "bea", "op"]

SESSION_REPORT = {  # class A's ended session: its teacher and school admins (students are the wrong role)
    "anonymous": 302, "alice": 200, "tom": 200, "tess": 403, "sam": 403, "nina": 403, "nora": 403,
    "bob": 404, "bill": 404, "bea": 403, "op": 200,
}  # fmt: skip
STUDENT_HISTORY = {  # sam's history: his teacher, his school's admin, sam himself
    "anonymous": 302, "alice": 200, "tom": 200, "tess": 403, "sam": 200, "nina": 403, "nora": 403,
    "bob": 404, "bill": 404, "bea": 404, "op": 200,
}  # fmt: skip
SCHOOL_REPORT = {  # each admin sees their own school; operators choose one
    "anonymous": 302, "alice": 200, "tom": 403, "tess": 403, "sam": 403, "nina": 403, "nora": 403,
    "bob": 200, "bill": 403, "bea": 403, "op": 200,
}  # fmt: skip
MY_DATA = {  # students only, their own data
    "anonymous": 302, "alice": 403, "tom": 403, "tess": 403, "sam": 200, "nina": 200, "nora": 200,
    "bob": 403, "bill": 403, "bea": 200, "op": 403,
}  # fmt: skip


def _user(cast, name):
    return None if name == "anonymous" else getattr(cast, name)


def _session_urls(c):
    uuid = c.a_ended.uuid
    return [
        reverse("session_report", args=[uuid]),
        reverse("session_report_data", args=[uuid]),
        reverse("session_report_csv", args=[uuid]) + "?rows=students",
        reverse("session_report_csv", args=[uuid]) + "?rows=minutes",
    ]


def _history_urls(c):
    return [
        reverse("student_history", args=[c.sam.uuid]),
        reverse("student_history_data", args=[c.sam.uuid]),
        reverse("student_history_csv", args=[c.sam.uuid]),
        reverse("student_session", args=[c.sam.uuid, c.a_ended.uuid]),
        reverse("student_session_data", args=[c.sam.uuid, c.a_ended.uuid]),
    ]


def _school_urls(c):
    return [reverse("school_report"), reverse("school_report_data"), reverse("school_report_csv")]


@pytest.mark.parametrize("who", CAST)
def test_session_report_access(reported_session, cast, client_for, who):
    client = client_for(_user(cast, who))
    for url in _session_urls(cast):
        assert client.get(url).status_code == SESSION_REPORT[who], url


@pytest.mark.parametrize("who", CAST)
def test_student_history_access(reported_session, cast, client_for, who):
    client = client_for(_user(cast, who))
    for url in _history_urls(cast):
        assert client.get(url).status_code == STUDENT_HISTORY[who], url


@pytest.mark.parametrize("who", CAST)
def test_school_report_access(reported_session, cast, client_for, who):
    client = client_for(_user(cast, who))
    urls = _school_urls(cast)[:1] if who == "op" else _school_urls(cast)
    for url in urls:
        assert client.get(url).status_code == SCHOOL_REPORT[who], url


@pytest.mark.parametrize("who", CAST)
def test_my_data_access(reported_session, cast, client_for, who):
    assert client_for(_user(cast, who)).get(reverse("my_data")).status_code == MY_DATA[who]


def test_anonymous_is_sent_to_login(cast, client_for):
    response = client_for(None).get(reverse("session_report", args=[cast.a_ended.uuid]))
    assert response.url.startswith(reverse("login"))


def test_teacher_cannot_see_a_student_of_another_teachers_class(cast, client_for):
    # nina is in no class of tom's; tess teaches nothing.
    assert client_for(cast.tom).get(reverse("student_history", args=[cast.nina.uuid])).status_code == 403
    assert client_for(cast.tess).get(reverse("student_history", args=[cast.sam.uuid])).status_code == 403


def test_student_cannot_see_another_students_history(cast, client_for):
    client = client_for(cast.sam)
    assert client.get(reverse("student_history", args=[cast.nora.uuid])).status_code == 403
    assert client.get(reverse("student_history_csv", args=[cast.nora.uuid])).status_code == 403
    assert client.get(reverse("student_session", args=[cast.nora.uuid, cast.a_ended.uuid])).status_code == 403


def test_history_of_a_non_student_is_not_found(cast, client_for):
    assert client_for(cast.alice).get(reverse("student_history", args=[cast.tom.uuid])).status_code == 404


def test_students_may_not_open_their_class_report(reported_session, cast, client_for):
    assert client_for(cast.sam).get(reverse("session_report", args=[cast.a_ended.uuid])).status_code == 403


def test_school_report_shows_only_the_admins_own_school(reported_session, cast, client_for):
    page_b = client_for(cast.bob).get(reverse("school_report") + "?date_from=2000-01-01").content.decode()
    assert "Beta School" in page_b and "Physics 1A" not in page_b and "Mechanics" not in page_b
    page_a = client_for(cast.alice).get(reverse("school_report") + "?date_from=2000-01-01").content.decode()
    assert "Physics 1A" in page_a and "Mechanics" in page_a


def test_operator_chooses_a_school_then_gets_its_report(reported_session, cast, client_for):
    client = client_for(cast.op)
    chooser = client.get(reverse("school_report")).content.decode()
    assert str(cast.school_a.uuid) in chooser and str(cast.school_b.uuid) in chooser
    report = client.get(reverse("school_report") + f"?school={cast.school_a.uuid}&date_from=2000-01-01")
    assert report.status_code == 200 and "Mechanics" in report.content.decode()
    assert client.get(reverse("school_report") + "?school=not-a-uuid").status_code == 404
    assert client.get(reverse("school_report_data")).status_code == 404


def test_school_filter_of_another_school_is_ignored_as_invalid(reported_session, cast, client_for):
    # bob asks for class A's uuid: it is not a choice in his school, so the filter errors instead of leaking.
    response = client_for(cast.bob).get(reverse("school_report") + f"?classroom={cast.class_a.uuid}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Select a valid choice" in body and "Physics" not in body


@pytest.fixture
def other_class_session(cast):
    """A session of another class of school A, which sam is not enrolled in."""
    from django.utils import timezone
    from django_scopes import scopes_disabled

    from classes.models import Classroom, LiveSession, SessionStatus

    with scopes_disabled():
        chemistry = Classroom.objects.create(
            school=cast.school_a, name="Chemistry 3C", subject="Chemistry", teacher=cast.tess
        )
        return LiveSession.objects.create(
            classroom=chemistry,
            title="Titration secrets",
            scheduled_start=timezone.now(),
            status=SessionStatus.ENDED,
            started_at=timezone.now(),
            ended_at=timezone.now(),
        )


@pytest.mark.parametrize("view", ["student_session", "student_session_data"])
def test_a_student_opening_their_own_data_of_another_class_session_gets_the_same_404_as_an_unknown_session(
    reported_session, other_class_session, cast, client_for, view
):
    import uuid

    sam = client_for(cast.sam)
    other = sam.get(reverse(view, args=[cast.sam.uuid, other_class_session.uuid]))
    unknown = sam.get(reverse(view, args=[cast.sam.uuid, uuid.uuid4()]))
    assert other.status_code == unknown.status_code == 404
    assert (
        b"Titration" not in other.content
        and b"Chemistry" not in other.content
        and b"Tess" not in other.content
    )
    assert sam.get(reverse(view, args=[cast.sam.uuid, cast.a_ended.uuid])).status_code == 200
    # The school's admin still opens any session of the student's school.
    assert (
        client_for(cast.alice).get(reverse(view, args=[cast.sam.uuid, other_class_session.uuid])).status_code
        == 200
    )
