"""What teachers (and school admins) see and do: their classes, rosters, CSV import and scheduling."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from classes import services
from classes.models import Classroom, LiveSession, SessionStatus, User


def test_teacher_home_lists_own_classes_with_live_badge_and_next_session(cast, client_for):
    page = client_for(cast.tom).get(reverse("teacher_home")).content.decode()
    assert "Physics 1A" in page and "Biology 2B" not in page
    assert "● LIVE" in page
    assert reverse("live_dashboard", args=[cast.a_live.uuid]) in page
    assert "Next: <strong>Waves</strong>" in page
    assert reverse("classroom_detail", args=[cast.class_a.uuid]) in page


def test_teacher_without_classes_is_invited_to_create_one(cast, client_for):
    page = client_for(cast.tess).get(reverse("teacher_home")).content.decode()
    assert "No classes yet" in page and "Physics 1A" not in page


def test_school_admin_sees_every_class_of_their_school_only(cast, client_for):
    page = client_for(cast.alice).get(reverse("teacher_home")).content.decode()
    assert "Physics 1A" in page and "Tom Alpha" in page and "Biology 2B" not in page


def test_teacher_creates_a_class_and_teaches_it(cast, client_for):
    response = client_for(cast.tess).post(
        reverse("classroom_create"), {"name": "Chemistry 3C", "subject": "Chem"}
    )
    with scopes_disabled():
        classroom = Classroom.objects.get(name="Chemistry 3C")
    assert response["Location"] == reverse("classroom_detail", args=[classroom.uuid])
    assert classroom.teacher == cast.tess and classroom.school == cast.school_a


def test_class_needs_a_name(cast, client_for):
    response = client_for(cast.tess).post(reverse("classroom_create"), {"name": "", "subject": "x"})
    assert response.status_code == 200 and b"This field is required" in response.content


def test_admin_picks_the_teacher_of_a_new_class(cast, client_for):
    form_page = client_for(cast.alice).get(reverse("classroom_create")).content.decode()
    assert "Tess Alpha" in form_page and "Bill" not in form_page
    client_for(cast.alice).post(
        reverse("classroom_create"), {"name": "Art", "subject": "", "teacher": cast.tess.pk}
    )
    with scopes_disabled():
        assert Classroom.objects.get(name="Art").teacher == cast.tess


def test_class_page_shows_roster_linking_to_history_and_sessions_by_state(cast, client_for):
    page = client_for(cast.tom).get(reverse("classroom_detail", args=[cast.class_a.uuid])).content.decode()
    assert reverse("student_history", args=[cast.sam.uuid]) in page
    assert reverse("student_history", args=[cast.nora.uuid]) in page
    assert reverse("live_dashboard", args=[cast.a_live.uuid]) in page
    assert reverse("session_report", args=[cast.a_ended.uuid]) in page
    assert reverse("session_start", args=[cast.a_scheduled.uuid]) in page
    # Only students of the school who are not enrolled yet are offered for enrolment.
    picker = page[page.index('id="enrol"') :]
    assert "Nina Alpha" in picker and "Sam Alpha (" not in picker and "Bea" not in picker


def test_enrol_and_unenrol(cast, client_for):
    client = client_for(cast.tom)
    client.post(reverse("classroom_enrol", args=[cast.class_a.uuid]), {"students": [cast.nina.pk]})
    client.post(reverse("classroom_unenrol", args=[cast.class_a.uuid, cast.sam.uuid]))
    with scopes_disabled():
        assert set(cast.class_a.students.all()) == {cast.nina, cast.nora}


def test_enrolling_nobody_says_what_to_do(cast, client_for):
    response = client_for(cast.tom).post(reverse("classroom_enrol", args=[cast.class_a.uuid]), {})
    assert response.status_code == 400 and b"Pick at least one student" in response.content


def test_csv_upload_imports_good_rows_and_reports_bad_ones(cast, client_for):
    csv = (
        b"name,email\n"
        b"Ada Lovelace,ada@example.org\n"
        b"Sam Alpha,sam@example.org\n"
        b"No Email,not-an-email\n"
        b"Too,many,columns\n"
        b"Tom Alpha,tom@example.org\n"
        b"Alan Turing,alan@example.org\n"
    )
    response = client_for(cast.tom).post(
        reverse("classroom_import", args=[cast.class_a.uuid]),
        {"file": SimpleUploadedFile("roster.csv", csv, content_type="text/csv")},
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert [s.email for s in report.created] == ["ada@example.org", "alan@example.org"]
    assert [s.email for s in report.already_enrolled] == ["sam@example.org"]
    assert [number for number, _, _ in report.errors] == [4, 5, 6]
    page = response.content.decode()
    assert "<td>4</td><td><code>No Email,not-an-email</code></td>" in page
    assert "not a valid email address" in page
    assert "Expected 2 columns (name,email), found 3." in page
    assert "not a student of this school" in page
    assert 'id="count-created">2<' in page and 'id="count-errors">3<' in page
    with scopes_disabled():
        assert set(cast.class_a.students.values_list("email", flat=True)) == {
            "sam@example.org",
            "nora@example.org",
            "ada@example.org",
            "alan@example.org",
        }
        assert User.objects.get(email="ada@example.org").school == cast.school_a


def test_csv_upload_that_is_not_text_is_refused_clearly(cast, client_for):
    response = client_for(cast.tom).post(
        reverse("classroom_import", args=[cast.class_a.uuid]),
        {"file": SimpleUploadedFile("photo.csv", b"\xff\xd8\xff\xe0 binary")},
    )
    assert response.status_code == 200 and "is not UTF-8 text" in response.content.decode()


def test_csv_upload_without_a_file_asks_for_one(cast, client_for):
    response = client_for(cast.tom).post(reverse("classroom_import", args=[cast.class_a.uuid]), {})
    assert response.status_code == 400 and b"Choose a CSV file to upload." in response.content


def _start_in(hours):
    return (timezone.localtime() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def test_schedule_session_with_defaults_and_advanced_settings(cast, client_for):
    client = client_for(cast.tom)
    form = client.get(reverse("session_create", args=[cast.class_a.uuid])).content.decode()
    assert "<details" in form and 'name="frame_rate" value="1.0"' in form
    assert 'name="class_drop_threshold" value="0.25"' in form and 'name="duration_minutes" value="45"' in form
    response = client.post(
        reverse("session_create", args=[cast.class_a.uuid]),
        {
            "title": "Lenses",
            "scheduled_start": _start_in(3),
            "duration_minutes": "30",
            "frame_rate": "2",
            "no_face_alert_seconds": "20",
            "negative_alert_seconds": "90",
            "class_drop_threshold": "0.3",
        },
    )
    assert response["Location"] == reverse("classroom_detail", args=[cast.class_a.uuid])
    with scopes_disabled():
        session = LiveSession.objects.get(title="Lenses")
    assert session.status == SessionStatus.SCHEDULED and session.planned_duration == timedelta(minutes=30)
    assert (session.frame_rate, session.no_face_alert_seconds, session.negative_alert_seconds) == (2, 20, 90)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("frame_rate", "9", "less than or equal to 5.0"),
        ("frame_rate", "0.1", "greater than or equal to 0.2"),
        ("duration_minutes", "0", "greater than or equal to 5"),
        ("no_face_alert_seconds", "1", "greater than or equal to 5"),
        ("class_drop_threshold", "2", "less than or equal to 1.0"),
        ("scheduled_start", "yesterday", "Enter a valid date/time"),
        ("title", "", "This field is required"),
    ],
)
def test_bad_session_settings_are_refused_with_the_reason(cast, client_for, field, value, error):
    data = {
        "title": "Lenses",
        "scheduled_start": _start_in(3),
        "duration_minutes": "30",
        "frame_rate": "1",
        "no_face_alert_seconds": "30",
        "negative_alert_seconds": "60",
        "class_drop_threshold": "0.25",
        field: value,
    }
    response = client_for(cast.tom).post(reverse("session_create", args=[cast.class_a.uuid]), data)
    assert response.status_code == 200 and error in response.content.decode()
    with scopes_disabled():
        assert not LiveSession.objects.filter(title="Lenses").exists()


def test_session_cannot_be_scheduled_in_the_past(cast, client_for):
    data = {
        "title": "Too late",
        "scheduled_start": _start_in(-2),
        "duration_minutes": "30",
        "frame_rate": "1",
        "no_face_alert_seconds": "30",
        "negative_alert_seconds": "60",
        "class_drop_threshold": "0.25",
    }
    response = client_for(cast.tom).post(reverse("session_create", args=[cast.class_a.uuid]), data)
    assert "This time is in the past" in response.content.decode()


def test_edit_scheduled_session_keeps_its_values_in_the_form(cast, client_for):
    page = client_for(cast.tom).get(reverse("session_edit", args=[cast.a_scheduled.uuid])).content.decode()
    assert 'value="Waves"' in page and 'name="duration_minutes" value="45"' in page


@pytest.mark.parametrize("classes", [1, 4])
def test_teacher_home_query_count_does_not_grow_with_classes(
    cast, client_for, django_assert_num_queries, classes
):
    with scopes_disabled():
        for n in range(classes - 1):
            extra = Classroom.objects.create(school=cast.school_a, name=f"Extra {n}", teacher=cast.tom)
            services.enrol_students(extra, [cast.sam])
            for hours in (1, 2):
                LiveSession.objects.create(
                    classroom=extra,
                    title=f"S{n}{hours}",
                    scheduled_start=timezone.now() + timedelta(hours=hours),
                )
        assert Classroom.objects.filter(teacher=cast.tom).count() == classes
    client = client_for(cast.tom)
    with django_assert_num_queries(5):
        response = client.get(reverse("teacher_home"))
    assert response.content.decode().count('class="class-card"') == classes
