"""Time the session report and the school report on seeded demo data (prints milliseconds).

    .venv/bin/python bench/bench_reports.py [--students 30] [--sessions 6] [--runs 10]
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_reports.py

Creates a throwaway test database (test_<name>), seeds one class of N students with weekly 45-minute demo
lessons at one frame a second, times each report page and its JSON endpoint through Django's test client, and
drops the database again.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fermonitor.settings")
os.environ.setdefault("FERMONITOR_FAST_HASHER", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402


def seed(students: int, sessions: int):
    from analytics.demo import seed_demo_samples
    from classes import services
    from classes.models import Classroom, LiveSession, Role, School, SessionStatus, User

    with scopes_disabled():
        school = School.objects.create(name="Bench School", slug="bench")
        admin = User.objects.create_user("bench-admin", school=school, role=Role.ADMIN)
        teacher = User.objects.create_user("bench-teacher", school=school, role=Role.TEACHER)
        classroom = Classroom.objects.create(school=school, name="Physics", teacher=teacher)
        pupils = [
            User.objects.create_user(
                f"bench-pupil-{i}", school=school, role=Role.STUDENT, first_name=f"Pupil {i}"
            )
            for i in range(students)
        ]
        services.enrol_students(classroom, pupils)
        now = timezone.now()
        created = []
        samples = 0
        for week in range(sessions):
            start = now - timedelta(weeks=week, days=1)
            session = LiveSession.objects.create(
                classroom=classroom,
                title=f"Lesson {sessions - week}",
                scheduled_start=start,
                status=SessionStatus.ENDED,
                started_at=start,
                ended_at=start + timedelta(minutes=45),
            )
            t = time.perf_counter()
            samples += seed_demo_samples(session)
            print(f"seeded {session.title}: {time.perf_counter() - t:.1f} s")
            created.append(session)
    return admin, created[0], samples


def timed(client: Client, url: str, runs: int) -> tuple[float, float]:
    response = client.get(url)  # warm-up (template and query compilation)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        t = time.perf_counter()
        admin, session, samples = seed(args.students, args.sessions)
        print(f"seeded {samples} samples ({args.students} students x {args.sessions} sessions) "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        client = Client()
        client.force_login(admin)
        pages = [
            ("session report page", reverse("session_report", args=[session.uuid])),
            ("session report JSON", reverse("session_report_data", args=[session.uuid])),
            ("session CSV (student-minutes)", reverse("session_report_csv", args=[session.uuid])),
            ("school report page", reverse("school_report")),
            ("school report JSON", reverse("school_report_data")),
            ("school CSV", reverse("school_report_csv")),
        ]
        for label, url in pages:
            median, best = timed(client, url, args.runs)
            print(f"{label:32s} median {median:7.1f} ms   best {best:7.1f} ms")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
