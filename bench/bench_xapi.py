"""Time composing and delivering the xAPI statements of demo lessons to a real local LRS (prints numbers).

    .venv/bin/python bench/bench_xapi.py [--students 30] [--sessions 3] [--batch 50]
    DATABASE_URL=postgres://... .venv/bin/python bench/bench_xapi.py

Needs the test LRS (`make lrs`). Creates a throwaway test database, seeds one class of N students with 45-minute
demo lessons at one frame a second, starts ralph on a free port, then times per lesson: composing (reading the
samples, building and validating the statements, queueing them) and delivering them (batched POSTs until the
outbox is empty). Drops the database and stops ralph again.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fermonitor.settings")
os.environ.setdefault("FERMONITOR_FAST_HASHER", "1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["FERMONITOR_WEBHOOK_DELIVERY"] = "queue"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402


def seed(students: int, sessions: int):
    from analytics.demo import seed_demo_samples
    from classes import services
    from classes.models import Classroom, LiveSession, Role, School, SessionStatus, User

    school = School.objects.create(name="Bench School", slug="bench")
    teacher = User.objects.create_user("bench-teacher", school=school, role=Role.TEACHER)
    classroom = Classroom.objects.create(school=school, name="Physics", teacher=teacher, lms_id="PHY")
    pupils = [
        User.objects.create_user(f"bench-pupil-{i}", school=school, role=Role.STUDENT)
        for i in range(students)
    ]
    services.enrol_students(classroom, pupils)
    now = timezone.now()
    lessons = []
    for week in range(sessions):
        start = now - timedelta(weeks=week, days=1)
        session = LiveSession.objects.create(
            classroom=classroom,
            title=f"Lesson {week}",
            scheduled_start=start,
            status=SessionStatus.ENDED,
            started_at=start,
            ended_at=start + timedelta(minutes=45),
        )
        seed_demo_samples(session)
        lessons.append(session)
    return school, lessons


def main():
    from analytics.lms import outbox
    from analytics.lms.models import Delivery
    from analytics.lms.xapi.models import LrsSettings
    from analytics.lms.xapi.services import queue_lesson
    from analytics.models import EmotionSample
    from classes.tenancy import school_scope
    from tests.xapi.lrs import RALPH, Ralph

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    if not RALPH.exists():
        sys.exit("The test LRS is not installed: run `make lrs` first.")
    from django.conf import settings

    settings.FERMONITOR_XAPI_BATCH_SIZE = args.batch

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with scopes_disabled():
            school, lessons = seed(args.students, args.sessions)
            samples = EmotionSample.objects.count()
        print(
            f"database: {connection.vendor}; {args.students} students, {len(lessons)} lessons, {samples} samples"
        )
        with Ralph(Path(tempfile.mkdtemp()), {"bench": "bench-secret"}) as lrs_server:
            lrs = LrsSettings(
                school=school,
                enabled=True,
                endpoint=lrs_server.endpoint,
                key="bench",
                platform_url="https://fm.bench",
            )
            lrs.set_secret("bench-secret")
            lrs.save()
            for session in lessons:
                with school_scope(school):
                    t = time.perf_counter()
                    rows = queue_lesson(lrs, session, now=timezone.now())
                    composed = time.perf_counter() - t
                t = time.perf_counter()
                posts = 0
                while True:
                    report = outbox.deliver_due(school=school, limit=10_000)
                    posts += 1
                    if not report.attempted:
                        break
                delivered = time.perf_counter() - t
                with scopes_disabled():
                    ok = Delivery.objects.filter(session=session, status="succeeded").count()
                print(
                    f"{session.title}: {len(rows)} statements composed in {composed * 1000:.0f} ms, "
                    f"{ok} delivered in {delivered * 1000:.0f} ms "
                    f"({ok / delivered:.0f} statements/s, batches of {args.batch})"
                )
            stored = len(lrs_server.stored_lines("bench"))
            print(f"LRS holds {stored} statements")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
