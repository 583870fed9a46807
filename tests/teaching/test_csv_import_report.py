"""The CSV import page reports every bad row (number, the row as sent, why) and still imports the good rows."""

import html
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scopes_disabled

from classes.models import Enrolment, User

ERROR_ROW = re.compile(
    r'<tr><td>(?P<number>[^<]*)</td><td><code>(?P<row>[^<]*)</code></td><td class="error-text">(?P<message>[^<]*)</td></tr>'
)

MIXED_CSV = (
    b"name,email\n"  # 1: header
    b"Ada Lovelace,ada@example.org\n"  # 2: new student
    b"Only A Name\n"  # 3: missing column
    b"Ada Again,ada@example.org\n"  # 4: duplicate of row 2
    b"Alice Alpha,alice@example.org\n"  # 5: the admin of this school
    b"Tom Alpha,tom@example.org\n"  # 6: a teacher of this school
    b"Nina Alpha,NINA@example.org\n"  # 7: existing student of this school, not yet in the class
    b"Bad Address,not-an-email\n"  # 8: bad email
    b"Grace Hopper,grace@example.org\n"  # 9: new student
)


def _upload(client, classroom, content, name="roster.csv"):
    return client.post(
        reverse("classroom_import", args=[classroom.uuid]),
        {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
    )


def _reported_rows(response):
    page = response.content.decode()
    return [
        (m["number"], html.unescape(m["row"]), html.unescape(m["message"])) for m in ERROR_ROW.finditer(page)
    ]


def test_every_bad_row_is_reported_with_its_number_content_and_reason(cast, client_for):
    response = _upload(client_for(cast.tom), cast.class_a, MIXED_CSV)
    assert response.status_code == 200
    rows = _reported_rows(response)
    assert [(number, row) for number, row, _ in rows] == [
        ("3", "Only A Name"),
        ("4", "Ada Again,ada@example.org"),
        ("5", "Alice Alpha,alice@example.org"),
        ("6", "Tom Alpha,tom@example.org"),
        ("8", "Bad Address,not-an-email"),
    ]
    messages = [message for _, _, message in rows]
    assert messages[0] == "Expected 2 columns (name,email), found 1."
    assert messages[1] == "ada@example.org appears more than once in the file."
    assert "alice@example.org" in messages[2] and "not a student of this school" in messages[2]
    assert "tom@example.org" in messages[3] and "not a student of this school" in messages[3]
    assert "not-an-email" in messages[4] and "not a valid email address" in messages[4]


def test_good_rows_are_imported_despite_bad_ones(cast, client_for):
    response = _upload(client_for(cast.tom), cast.class_a, MIXED_CSV)
    page = response.content.decode()
    assert 'id="count-created">2<' in page
    assert 'id="count-enrolled">3<' in page
    assert 'id="count-errors">5<' in page
    with scopes_disabled():
        enrolled = set(
            Enrolment.objects.filter(classroom=cast.class_a).values_list("student__email", flat=True)
        )
        assert enrolled == {
            "sam@example.org",
            "nora@example.org",
            "ada@example.org",
            "nina@example.org",
            "grace@example.org",
        }
        # Matched by email, not duplicated; the school's admin and teacher were left alone.
        assert User.objects.filter(email="nina@example.org").count() == 1
        assert User.objects.get(email="ada@example.org").school == cast.school_a
        assert not Enrolment.objects.filter(
            classroom=cast.class_a, student__in=[cast.alice, cast.tom]
        ).exists()
        assert Enrolment.objects.filter(classroom=cast.class_b, student=cast.bea).exists()


def test_uploading_the_same_file_again_creates_nobody_twice(cast, client_for):
    client = client_for(cast.tom)
    _upload(client, cast.class_a, MIXED_CSV)
    again = _upload(client, cast.class_a, MIXED_CSV)
    page = again.content.decode()
    assert 'id="count-created">0<' in page and 'id="count-enrolled">0<' in page
    assert 'id="count-already">3<' in page
    with scopes_disabled():
        assert User.objects.filter(email="ada@example.org").count() == 1


def test_non_utf8_file_is_reported_once_and_imports_nothing(cast, client_for):
    latin1 = "name,email\nJosé Núñez,jose@example.org\n".encode("latin-1")
    response = _upload(client_for(cast.tom), cast.class_a, latin1)
    assert response.status_code == 200
    rows = _reported_rows(response)
    assert len(rows) == 1
    number, row, message = rows[0]
    assert number == "–" and row == "(whole file)" and "not UTF-8" in message
    with scopes_disabled():
        assert not User.objects.filter(email="jose@example.org").exists()
