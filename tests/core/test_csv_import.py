"""CSV roster import: good rows are imported, bad rows are reported with their row number, nothing else changes."""

import re

from django_scopes import scopes_disabled

from classes import services
from classes.models import Enrolment, Role, User


def test_csv_import_enrols_good_rows_and_reports_each_bad_row(cast):
    data = (
        "name,email\n"
        "Ada Lovelace,ada@example.org\n"
        "No Email,not-an-email\n"
        "Too,Many,Columns\n"
        ",empty-name@example.org\n"
        "Ada Again,ADA@example.org\n"
        "Tess Teacher,tess@example.org\n"
        "Sam Existing,sam@example.org\n"
    )
    with scopes_disabled():
        report = services.import_students_csv(cast.class_a, data.encode())
        rows = {number: message for number, _raw, message in report.errors}
        assert sorted(rows) == [3, 4, 5, 6, 7]
        assert "valid email" in rows[3]
        assert "2 columns" in rows[4]
        assert "name is empty" in rows[5]
        assert "more than once" in rows[6]
        assert "not a student of this school" in rows[7]
        assert [u.email for u in report.created] == ["ada@example.org"]
        assert [u.email for u in report.already_enrolled] == ["sam@example.org"]
        ada = User.objects.get(email="ada@example.org")
        assert ada.school == cast.school_a and ada.role == Role.STUDENT and not ada.has_usable_password()
        assert Enrolment.objects.filter(classroom=cast.class_a, student=ada).exists()
        assert cast.bea.school == cast.school_b
        assert not Enrolment.objects.filter(classroom=cast.class_a, student=cast.bea).exists()


def test_csv_import_rejects_non_utf8_file_without_importing(cast):
    with scopes_disabled():
        before = User.objects.count()
        report = services.import_students_csv(cast.class_a, "Zoë,zoe@example.org\n".encode("utf-16"))
        assert not report.ok and "UTF-8" in report.errors[0][2]
        assert User.objects.count() == before


def test_enrolling_a_student_of_another_school_is_refused(cast):
    import pytest

    with scopes_disabled(), pytest.raises(services.ValidationError):
        services.enrol_students(cast.class_a, [cast.bea])


GENERATED = r"[a-z2-9]{4}"  # the random suffix of a generated username


def test_an_email_used_in_another_school_is_imported_exactly_like_an_unknown_one(cast):
    """No "does this exist in another school?" oracle: bea@example.org belongs to school B's student."""
    with scopes_disabled():
        report = services.import_students_csv(
            cast.class_a, b"Bea Twin,bea@example.org\nNo Body,nobody@example.org\n"
        )
        assert report.errors == []
        assert [u.email for u in report.created] == ["bea@example.org", "nobody@example.org"]
        assert all(u.school == cast.school_a and u.role == Role.STUDENT for u in report.created)
        twin, nobody = report.created
        assert re.fullmatch(rf"bea\.{GENERATED}", twin.username), twin.username
        assert re.fullmatch(rf"nobody\.{GENERATED}", nobody.username), nobody.username
        # School B's student is untouched and not enrolled here.
        assert twin.pk != cast.bea.pk and cast.bea.school == cast.school_b
        assert not Enrolment.objects.filter(classroom=cast.class_a, student=cast.bea).exists()


def test_generated_usernames_do_not_depend_on_names_taken_in_another_school(cast):
    with scopes_disabled():
        taken_elsewhere = services.create_school_user(cast.school_a, Role.STUDENT, email="bea@example.com")
        free = services.create_school_user(cast.school_a, Role.STUDENT, email="zed@example.com")
    assert re.fullmatch(rf"bea\.{GENERATED}", taken_elsewhere.username), "`bea` is school B's"
    assert re.fullmatch(rf"zed\.{GENERATED}", free.username)
