"""The join page and the dashboard page: who gets them, what they say, start/end from the dashboard."""

import warnings

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled


def join_url(session):
    return reverse("live_join", kwargs={"session_uuid": session.uuid})


def dashboard_url(session):
    return reverse("live_dashboard", kwargs={"session_uuid": session.uuid})


def test_enrolled_consenting_student_gets_the_join_page_with_the_explanation(cast, client_for):
    response = client_for(cast.sam).get(join_url(cast.a_live))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/ws/live/{cast.a_live.uuid}/stream/" in html
    assert 'data-width="320"' in html and 'data-height="240"' in html and 'data-rate="1.0"' in html
    assert "No picture is stored" in html and "expression" in html
    assert "js/live-student.js" in html


@pytest.mark.parametrize(
    "rate,sentence",
    [(1.0, "About 1 time a second"), (0.5, "About 0.5 times a second"), (1.5, "About 1.5 times a second")],
)
def test_the_join_page_says_how_often_a_picture_is_sent_in_the_right_number(cast, client_for, rate, sentence):
    with scopes_disabled():
        cast.a_live.frame_rate = rate
        cast.a_live.save(update_fields=["frame_rate"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # gettext deprecates a float as the plural's count
        html = client_for(cast.sam).get(join_url(cast.a_live)).content.decode()
    assert sentence in " ".join(html.split())


def test_presence_only_join_page_says_emotions_are_off(cast, client_for):
    with scopes_disabled():
        cast.school_a.presence_only = True
        cast.school_a.save()
    html = client_for(cast.sam).get(join_url(cast.a_live)).content.decode()
    assert "whether a face is visible" in html and "switched emotion analysis off" in html
    assert 'data-presence-only="1"' in html


@pytest.mark.parametrize(
    "who,session,status,refusal",
    [
        ("nora", "a_live", 403, "no_consent"),
        ("sam", "a_scheduled", 403, "not_live"),
        ("sam", "a_ended", 403, "not_live"),
        ("nina", "a_live", 403, None),  # not enrolled: no access to the class at all
        ("bea", "a_live", 404, None),  # another school's session does not exist for her
        ("tom", "a_live", 403, None),  # teachers do not join as students
    ],
)
def test_join_page_refuses_with_a_clear_reason(cast, client_for, who, session, status, refusal):
    response = client_for(getattr(cast, who)).get(join_url(getattr(cast, session)))
    assert response.status_code == status
    if refusal:
        assert f'data-refusal="{refusal}"' in response.content.decode()


def test_anonymous_visitor_is_sent_to_log_in(cast, client):
    response = client.get(join_url(cast.a_live))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.get(dashboard_url(cast.a_live))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    "who,status",
    [("tom", 200), ("alice", 200), ("op", 200), ("tess", 403), ("sam", 403), ("bill", 404), ("bob", 404)],
)
def test_dashboard_page_is_for_the_class_teacher_and_school_admins(cast, client_for, who, status):
    response = client_for(getattr(cast, who)).get(dashboard_url(cast.a_live))
    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert f"/ws/live/{cast.a_live.uuid}/dashboard/" in html
        assert "chart.umd.min.js" in html and "js/live-dashboard.js" in html
        assert reverse("live_end", kwargs={"session_uuid": cast.a_live.uuid}) in html


def test_dashboard_page_renders_in_a_bounded_number_of_queries(
    cast, client_for, django_assert_max_num_queries
):
    client = client_for(cast.tom)
    with django_assert_max_num_queries(8):
        assert client.get(dashboard_url(cast.a_live)).status_code == 200


def test_teacher_starts_and_ends_a_session_from_the_dashboard(cast, client_for):
    client = client_for(cast.tom)
    start = reverse("live_start", kwargs={"session_uuid": cast.a_scheduled.uuid})
    response = client.post(start)
    assert response.status_code == 302 and response["Location"] == dashboard_url(cast.a_scheduled)
    with scopes_disabled():
        cast.a_scheduled.refresh_from_db()
    assert cast.a_scheduled.status == "live"
    html = client.get(dashboard_url(cast.a_scheduled)).content.decode()
    assert 'id="end-session"' in html
    end = reverse("live_end", kwargs={"session_uuid": cast.a_scheduled.uuid})
    assert client.post(end).status_code == 302
    with scopes_disabled():
        cast.a_scheduled.refresh_from_db()
    assert cast.a_scheduled.status == "ended"
    # Ending twice is refused with a message, not an error page.
    response = client.post(end, follow=True)
    assert response.status_code == 200 and "message-error" in response.content.decode()
    with scopes_disabled():
        cast.a_scheduled.refresh_from_db()
    assert cast.a_scheduled.status == "ended"


@pytest.mark.parametrize("who,status", [("tess", 403), ("sam", 403), ("bill", 404)])
def test_only_managers_start_or_end_sessions(cast, client_for, who, status):
    client = client_for(getattr(cast, who))
    assert client.post(reverse("live_end", kwargs={"session_uuid": cast.a_live.uuid})).status_code == status
    assert (
        client.post(reverse("live_start", kwargs={"session_uuid": cast.a_scheduled.uuid})).status_code
        == status
    )
    with scopes_disabled():
        cast.a_live.refresh_from_db()
        cast.a_scheduled.refresh_from_db()
    assert (cast.a_live.status, cast.a_scheduled.status) == ("live", "scheduled")


def test_start_and_end_only_accept_post(cast, client_for):
    client = client_for(cast.tom)
    assert client.get(reverse("live_end", kwargs={"session_uuid": cast.a_live.uuid})).status_code == 405
