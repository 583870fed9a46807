"""Another school's objects stay invisible through every teaching URL, and the session state machine refuses
impossible moves with a message instead of an error page."""

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from classes.models import LiveSession, SessionStatus

CLASS_URLS = ["classroom_detail", "classroom_edit", "classroom_import", "session_create"]
SESSION_GETS = ["session_edit"]
SESSION_POSTS = ["session_start", "session_end", "session_cancel"]


@pytest.mark.parametrize("who", ["alice", "tom"])
@pytest.mark.parametrize("name", CLASS_URLS)
def test_other_schools_class_uuid_is_not_found(cast, client_for, who, name):
    client = client_for(getattr(cast, who))
    assert client.get(reverse(name, args=[cast.class_b.uuid])).status_code == 404
    assert client.get(reverse(name, args=[cast.class_a.uuid])).status_code == 200


@pytest.mark.parametrize("who", ["alice", "tom"])
def test_other_schools_session_uuids_are_not_found_and_untouched(cast, client_for, who):
    client = client_for(getattr(cast, who))
    assert client.get(reverse("session_edit", args=[cast.b_live.uuid])).status_code == 404
    for name in SESSION_POSTS:
        assert client.post(reverse(name, args=[cast.b_live.uuid])).status_code == 404
    with scopes_disabled():
        assert LiveSession.objects.get(pk=cast.b_live.pk).status == SessionStatus.LIVE


def test_other_schools_student_cannot_be_enrolled_or_unenrolled(cast, client_for):
    client = client_for(cast.tom)
    response = client.post(reverse("classroom_enrol", args=[cast.class_a.uuid]), {"students": [cast.bea.pk]})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    # A class's roster link with a student of another class (or school) is not found.
    url = reverse("classroom_unenrol", args=[cast.class_a.uuid, cast.bea.uuid])
    assert client.post(url).status_code == 404
    url = reverse("classroom_unenrol", args=[cast.class_b.uuid, cast.bea.uuid])
    assert client.post(url).status_code == 404
    with scopes_disabled():
        assert cast.class_b.enrolments.filter(student=cast.bea).exists()
        assert not cast.class_a.enrolments.filter(student=cast.bea).exists()


def test_admin_cannot_give_a_class_to_another_schools_teacher(cast, client_for):
    response = client_for(cast.alice).post(
        reverse("classroom_create"), {"name": "Chemistry", "subject": "", "teacher": cast.bill.pk}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    with scopes_disabled():
        assert not cast.school_a.classrooms.filter(name="Chemistry").exists()


@pytest.mark.parametrize(
    ("action", "session", "status", "message"),
    [
        ("session_start", "a_ended", SessionStatus.ENDED, "already ended and cannot be started again"),
        ("session_end", "a_scheduled", SessionStatus.SCHEDULED, "has not started yet, so it cannot be ended"),
        (
            "session_cancel",
            "a_live",
            SessionStatus.LIVE,
            "A live session cannot be cancelled; end it instead",
        ),
        ("session_cancel", "a_ended", SessionStatus.ENDED, "cannot become cancelled"),
    ],
)
def test_impossible_transition_shows_a_clear_message_and_changes_nothing(
    cast, client_for, action, session, status, message
):
    target = getattr(cast, session)
    response = client_for(cast.tom).post(reverse(action, args=[target.uuid]), follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("classroom_detail", args=[cast.class_a.uuid])
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and message in shown[0]
    assert message.encode() in response.content
    with scopes_disabled():
        assert LiveSession.objects.get(pk=target.pk).status == status


def test_start_then_end_moves_through_the_states_and_lands_on_the_right_pages(cast, client_for):
    client = client_for(cast.tom)
    started = client.post(reverse("session_start", args=[cast.a_scheduled.uuid]))
    assert started["Location"] == reverse("live_dashboard", args=[cast.a_scheduled.uuid])
    ended = client.post(reverse("session_end", args=[cast.a_scheduled.uuid]), follow=True)
    assert any("has ended" in str(m) for m in ended.context["messages"])
    with scopes_disabled():
        session = LiveSession.objects.get(pk=cast.a_scheduled.pk)
    assert session.status == SessionStatus.ENDED and session.started_at and session.ended_at
    # The class page now lists it as past with its report.
    page = client.get(reverse("classroom_detail", args=[cast.class_a.uuid])).content.decode()
    assert reverse("session_report", args=[session.uuid]) in page


def test_started_or_finished_session_cannot_be_edited(cast, client_for):
    client = client_for(cast.tom)
    for session in (cast.a_live, cast.a_ended):
        response = client.get(reverse("session_edit", args=[session.uuid]), follow=True)
        assert "only scheduled sessions can be edited" in response.content.decode()
        response = client.post(reverse("session_edit", args=[session.uuid]), {"title": "Changed"})
        assert response.status_code == 302
        with scopes_disabled():
            assert LiveSession.objects.get(pk=session.pk).title == session.title
