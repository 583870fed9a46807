"""Set up a live session to stream into: a school, a teacher, N consenting enrolled students, a live session.

Used by the browser tests and `bench/load.py`. Prints JSON (session uuid, usernames, and with --cookies ready
session cookies, so a benchmark of 300 students does not pay 300 password hashes to log in).
"""

import json
from datetime import timedelta

from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from classes import services
from classes.models import Classroom, Enrolment, LiveSession, Role, School, SessionStatus, User


def _session_cookie(user: User) -> str:
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


class Command(BaseCommand):
    help = (
        "Create (or reuse) a school with N consenting students and start a fresh live session; prints JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--slug", default="live-bench", help="School slug; usernames are prefixed with it."
        )
        parser.add_argument("--students", type=int, default=5)
        parser.add_argument("--password", default="live-bench-pass")
        parser.add_argument("--frame-rate", type=float, default=1.0)
        parser.add_argument("--presence-only", action="store_true")
        parser.add_argument(
            "--call-capture",
            action="store_true",
            help="Let the teacher read the lesson's video call (the policy gets its paragraph first).",
        )
        parser.add_argument(
            "--cookies", action="store_true", help="Also create login sessions and print them."
        )

    @transaction.atomic
    def handle(
        self, *args, slug, students, password, frame_rate, presence_only, call_capture, cookies, **options
    ):
        with scopes_disabled():
            school, _ = School.objects.get_or_create(slug=slug, defaults={"name": f"{slug.title()} School"})
            school.presence_only = presence_only
            school.save(update_fields=["presence_only"])
            if call_capture:  # before the students consent: they agree to the words that describe it
                services.set_call_capture(school, True)

            def person(username, role, first, last):
                user = User.objects.filter(username=username).first()
                if user is None:
                    user = User(username=username, school=school, role=role, email=f"{username}@example.org")
                    user.first_name, user.last_name = first, last
                    user.set_password(password)
                    user.save()
                return user

            teacher = person(f"{slug}-teacher", Role.TEACHER, "Terry", "Teacher")
            classroom, _ = Classroom.objects.get_or_create(
                school=school, name="Live class", defaults={"teacher": teacher, "subject": "Benchmarks"}
            )
            pupils = [
                person(f"{slug}-s{i:03d}", Role.STUDENT, "Student", f"{i:03d}") for i in range(students)
            ]
            enrolled = set(Enrolment.objects.filter(classroom=classroom).values_list("student_id", flat=True))
            Enrolment.objects.bulk_create(
                [Enrolment(classroom=classroom, student=p) for p in pupils if p.pk not in enrolled]
            )
            for pupil in pupils:
                if not services.has_consent(pupil):
                    services.record_consent(pupil, granted=True)
            for old in LiveSession.objects.filter(classroom=classroom, status=SessionStatus.LIVE):
                services.end_session(old)
            now = timezone.now()
            session = LiveSession.objects.create(
                classroom=classroom,
                title=f"Live run {now:%H:%M:%S}",
                scheduled_start=now,
                planned_duration=timedelta(hours=2),
                frame_rate=frame_rate,
            )
            services.start_session(session)
            out = {
                "session_uuid": str(session.uuid),
                "session_id": session.pk,
                "teacher": teacher.username,
                "students": [p.username for p in pupils],
                "student_ids": [p.pk for p in pupils],
                "password": password,
            }
            if cookies:
                out["cookies"] = {
                    "teacher": _session_cookie(teacher),
                    "students": [_session_cookie(p) for p in pupils],
                }
        self.stdout.write(json.dumps(out))
