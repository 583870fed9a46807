"""`manage.py seed_demo`: the demo school, idempotent, with logins that work."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from analytics.models import EmotionSample
from classes import services
from classes.models import Classroom, Consent, Enrolment, LiveSession, Role, School, SessionStatus, User


def _counts(school):
    with scopes_disabled():
        return {
            "users": User.objects.filter(school=school).count(),
            "classes": Classroom.objects.filter(school=school).count(),
            "enrolments": Enrolment.objects.filter(classroom__school=school).count(),
            "sessions": LiveSession.objects.filter(classroom__school=school).count(),
            "consents": Consent.objects.filter(policy__school=school).count(),
            "samples": EmotionSample.objects.filter(session__classroom__school=school).count(),
        }


def _run(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_builds_the_demo_school_is_idempotent_and_prints_working_logins(db, client_for):
    first_output = _run("--weeks", "2")
    school = School.objects.get(slug="demo-school")
    first = _counts(school)
    second_output = _run("--weeks", "2")
    assert _counts(school) == first
    assert second_output == first_output

    with scopes_disabled():
        people = User.objects.filter(school=school)
        assert school.name == "Demo School"
        assert people.filter(role=Role.ADMIN).count() == 1
        assert people.filter(role=Role.TEACHER).count() == 2
        students = list(people.filter(role=Role.STUDENT))
        assert len(students) == 30
        assert all(s.first_name and s.last_name for s in students)
        undecided = [s for s in students if services.consent_status(s) is None]
        assert len(undecided) == 2
        assert all(services.has_consent(s) for s in students if s not in undecided)
        assert first["classes"] == 4
        for classroom in Classroom.objects.filter(school=school):
            today = classroom.name in ("Physics 10A", "History 10B")
            assert classroom.sessions.filter(status=SessionStatus.LIVE).count() == int(today)
            assert classroom.sessions.filter(status=SessionStatus.SCHEDULED).count() == 1
            assert not classroom.sessions.get(status=SessionStatus.SCHEDULED).samples.exists()
            ended = classroom.sessions.filter(status=SessionStatus.ENDED)
            assert ended.count() == 2 * 2 + int(today)  # twice a week for the term (+ yesterday's lesson)
            assert all(session.samples.exists() for session in ended)
        # Nothing was ever recorded about students who have not consented.
        assert not EmotionSample.objects.filter(student__in=undecided).exists()

    assert "demo-pass-2026" in first_output and "DEMO DATA ONLY" in first_output
    rows = re.findall(r"^(\S+)\s+(demo-pass-2026)\s+(.+)$", first_output, re.M)
    assert len(rows) == 33
    assert {role for _, _, role in rows} == {"School admin", "Teacher", "Student"}
    admin_username = next(u for u, _, role in rows if role == "School admin")
    client = client_for(None)
    response = client.post("/accounts/login/", {"username": admin_username, "password": "demo-pass-2026"})
    assert response.status_code == 302
    assert client.get("/school/").status_code == 200


def test_seed_demo_refuses_usernames_of_another_school(cast):
    with scopes_disabled():
        User.objects.create(username="helen.marsh", school=cast.school_a, role=Role.TEACHER)
    with pytest.raises(CommandError, match="helen.marsh"):
        _run()
    assert not School.objects.filter(slug="demo-school").exists()


@pytest.mark.slow
def test_the_demo_term_shows_exam_dips_monday_mornings_and_a_struggling_student(db):
    from analytics.models import StudentSession

    _run("--weeks", "12")
    with scopes_disabled():
        school = School.objects.get(slug="demo-school")
        term = LiveSession.objects.filter(classroom__school=school, lms_id__startswith="demo-term-")
        weeks = {s.started_at.isocalendar()[:2] for s in term}
        assert len(weeks) == 12
        samples = EmotionSample.objects.filter(session__in=term, face_count__gt=0)

        def share(queryset, emotions):
            return queryset.filter(emotion__in=emotions).count() / queryset.count()

        negative = ("fear", "sad", "angry")
        exam_weeks = samples.filter(session__title__regex=r"week (5|6|11|12)$")
        calm_weeks = samples.filter(session__title__regex=r"week (2|3|8|9)$")
        assert share(exam_weeks, negative) > share(calm_weeks, negative) + 0.05

        rows = StudentSession.objects.filter(session__in=term)

        def presence(queryset):
            totals = [(r.present_samples, r.samples) for r in queryset]
            return sum(p for p, _ in totals) / sum(n for _, n in totals)

        monday_morning = [s.pk for s in term if s.started_at.weekday() == 0 and s.started_at.hour < 11]
        assert monday_morning
        assert presence(rows.filter(session__in=monday_morning)) < presence(
            rows.exclude(session__in=monday_morning)
        )

        ravi = User.objects.get(username="ravi.patel")
        early = samples.filter(student=ravi, session__title__regex=r"week (1|2|3)$")
        late = samples.filter(student=ravi, session__title__regex=r"week (9|10|11|12)$")
        assert share(late, ("fear", "sad")) > share(early, ("fear", "sad")) + 0.1
