"""Every teaching and student page and action, for every member of the cast: the exact status, and for actions
whether the change happened (only when allowed)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from classes.models import Classroom, Consent, Enrolment, LiveSession

CAST = [None, "alice", "tom", "tess", "sam", "nina", "nora", "bob", "bill", "bea", "op"]


def statuses(anonymous, alice, tom, tess, sam, nina, nora, bob, bill, bea, op):
    return dict(zip(CAST, [anonymous, alice, tom, tess, sam, nina, nora, bob, bill, bea, op], strict=True))


# Pages of one class of school A: its teacher, its school's admins and operators; another school's staff get 404.
MANAGE_CLASS_PAGE = statuses(302, 200, 200, 403, 403, 403, 403, 404, 404, 403, 200)
MANAGE_CLASS_ACTION = statuses(302, 302, 302, 403, 403, 403, 403, 404, 404, 403, 302)
TEACHING_HOME = statuses(302, 200, 200, 200, 403, 403, 403, 200, 200, 403, 200)
# Operators have no school to create a class in.
CREATE_CLASS_PAGE = statuses(302, 200, 200, 200, 403, 403, 403, 200, 200, 403, 403)
STUDENT_PAGE = statuses(302, 403, 403, 403, 200, 200, 200, 403, 403, 200, 403)
STUDENT_ACTION = statuses(302, 403, 403, 403, 302, 302, 302, 403, 403, 302, 403)
IMPORT_ACTION = statuses(302, 200, 200, 403, 403, 403, 403, 404, 404, 403, 200)


def future(hours=2):
    return (timezone.localtime() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def session_post(title):
    return {
        "title": title,
        "scheduled_start": future(),
        "duration_minutes": "50",
        "frame_rate": "1.0",
        "no_face_alert_seconds": "30",
        "negative_alert_seconds": "60",
        "class_drop_threshold": "0.25",
    }


PAGES = {
    "teacher_home": (lambda c: reverse("teacher_home"), TEACHING_HOME),
    "classroom_create": (lambda c: reverse("classroom_create"), CREATE_CLASS_PAGE),
    "classroom_detail": (lambda c: reverse("classroom_detail", args=[c.class_a.uuid]), MANAGE_CLASS_PAGE),
    "classroom_edit": (lambda c: reverse("classroom_edit", args=[c.class_a.uuid]), MANAGE_CLASS_PAGE),
    "classroom_import": (lambda c: reverse("classroom_import", args=[c.class_a.uuid]), MANAGE_CLASS_PAGE),
    "session_create": (lambda c: reverse("session_create", args=[c.class_a.uuid]), MANAGE_CLASS_PAGE),
    "session_edit": (lambda c: reverse("session_edit", args=[c.a_scheduled.uuid]), MANAGE_CLASS_PAGE),
    "student_home": (lambda c: reverse("student_home"), STUDENT_PAGE),
    "consent": (lambda c: reverse("consent"), STUDENT_PAGE),
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("page", list(PAGES))
def test_page_access_matrix(cast, client_for, page, who):
    url, expected = PAGES[page]
    response = client_for(getattr(cast, who) if who else None).get(url(cast))
    assert response.status_code == expected[who]
    if who is None:
        assert response["Location"].startswith("/accounts/login/")


def _enrolled(c, student):
    return Enrolment.objects.filter(classroom=c.class_a, student=student).exists()


def _status(session):
    return LiveSession.objects.get(pk=session.pk).status


# name: (url, POST data, "was it done?" check, expected statuses)
ACTIONS = {
    "enrol": (
        lambda c: reverse("classroom_enrol", args=[c.class_a.uuid]),
        lambda c: {"students": [c.nina.pk]},
        lambda c: _enrolled(c, c.nina),
        MANAGE_CLASS_ACTION,
    ),
    "unenrol": (
        lambda c: reverse("classroom_unenrol", args=[c.class_a.uuid, c.sam.uuid]),
        lambda c: {},
        lambda c: not _enrolled(c, c.sam),
        MANAGE_CLASS_ACTION,
    ),
    "edit_class": (
        lambda c: reverse("classroom_edit", args=[c.class_a.uuid]),
        lambda c: {"name": "Renamed", "subject": "Optics", "teacher": c.tom.pk},
        lambda c: Classroom.objects.get(pk=c.class_a.pk).name == "Renamed",
        MANAGE_CLASS_ACTION,
    ),
    "schedule_session": (
        lambda c: reverse("session_create", args=[c.class_a.uuid]),
        lambda c: session_post("Matrix lesson"),
        lambda c: LiveSession.objects.filter(classroom=c.class_a, title="Matrix lesson").exists(),
        MANAGE_CLASS_ACTION,
    ),
    "edit_session": (
        lambda c: reverse("session_edit", args=[c.a_scheduled.uuid]),
        lambda c: session_post("Waves, part 2"),
        lambda c: LiveSession.objects.get(pk=c.a_scheduled.pk).title == "Waves, part 2",
        MANAGE_CLASS_ACTION,
    ),
    "start": (
        lambda c: reverse("session_start", args=[c.a_scheduled.uuid]),
        lambda c: {},
        lambda c: _status(c.a_scheduled) == "live",
        MANAGE_CLASS_ACTION,
    ),
    "end": (
        lambda c: reverse("session_end", args=[c.a_live.uuid]),
        lambda c: {},
        lambda c: _status(c.a_live) == "ended",
        MANAGE_CLASS_ACTION,
    ),
    "cancel": (
        lambda c: reverse("session_cancel", args=[c.a_scheduled.uuid]),
        lambda c: {},
        lambda c: _status(c.a_scheduled) == "cancelled",
        MANAGE_CLASS_ACTION,
    ),
    "import_csv": (
        lambda c: reverse("classroom_import", args=[c.class_a.uuid]),
        lambda c: {"file": SimpleUploadedFile("s.csv", b"name,email\nNew Kid,newkid@example.org\n")},
        lambda c: Enrolment.objects.filter(classroom=c.class_a, student__email="newkid@example.org").exists(),
        IMPORT_ACTION,
    ),
    "consent": (
        lambda c: reverse("consent"),
        lambda c: {"decision": "refuse"},
        lambda c: Consent.objects.filter(granted=False).exists(),
        STUDENT_ACTION,
    ),
}


@pytest.mark.parametrize("who", CAST)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_action_access_matrix(cast, client_for, action, who):
    url, data, done, expected = ACTIONS[action]
    response = client_for(getattr(cast, who) if who else None).post(url(cast), data(cast))
    assert response.status_code == expected[who]
    allowed = expected[who] in (200, 302) and who is not None
    if who is None:
        assert response["Location"].startswith("/accounts/login/")
    elif response.status_code == 302:
        assert not response["Location"].startswith("/accounts/login/")
    with scopes_disabled():
        assert done(cast) is allowed


@pytest.mark.parametrize("name", ["session_start", "session_end", "session_cancel", "classroom_enrol"])
def test_state_changing_actions_refuse_get(cast, client_for, name):
    target = cast.class_a.uuid if name == "classroom_enrol" else cast.a_scheduled.uuid
    assert client_for(cast.tom).get(reverse(name, args=[target])).status_code == 405
