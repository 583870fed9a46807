"""Demo data for trying fermonitor: one school with an admin, two teachers, 30 students, two classes, and per class
a live, a scheduled and an ended session (with a realistic recorded lesson). Safe to run again: it creates only
what is missing and prints the same logins.
"""

from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.demo import seed_demo_samples
from classes import services
from classes.models import Classroom, LiveSession, Role, School, SessionStatus, User
from classes.tenancy import school_scope

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed on purpose; demo data only
DEMO_SLUG = "demo-school"

ADMIN = ("Helen", "Marsh")
TEACHERS = (("Daniel", "Okafor"), ("Maria", "Rossi"))
STUDENTS = (
    ("Amara", "Okoye"), ("Liam", "Novak"), ("Sofia", "Garcia"), ("Noah", "Schmidt"), ("Aisha", "Khan"),
    ("Lucas", "Martin"), ("Mei", "Chen"), ("Ethan", "Walker"), ("Zara", "Ahmed"), ("Mateo", "Fernandez"),
    ("Chloe", "Dubois"), ("Yusuf", "Demir"), ("Hannah", "Becker"), ("Kenji", "Tanaka"), ("Olivia", "Brown"),
    ("Ravi", "Patel"), ("Ingrid", "Larsen"), ("Samuel", "Mensah"), ("Elena", "Popescu"), ("Tomás", "Silva"),
    ("Leila", "Haddad"), ("Oscar", "Nilsson"), ("Priya", "Sharma"), ("Jakub", "Kowalski"), ("Grace", "Murphy"),
    ("Diego", "Ramírez"), ("Nadia", "Ivanova"), ("Felix", "Wagner"), ("Ama", "Boateng"), ("Isaac", "Cohen"),
)  # fmt: skip
# The last two students have not decided on camera analysis yet, so the demo shows that state too.
UNDECIDED = 2
CLASSES = (
    # (name, subject, teacher index, student index range)
    ("Physics 10A", "Physics", 0, range(0, 18)),
    ("History 10B", "History", 1, range(12, 30)),
)
SESSIONS = (
    # (lms_id, title)
    ("demo-live", "Today's lesson"),
    ("demo-scheduled", "Next lesson"),
    ("demo-ended", "Yesterday's lesson"),
)


def username_for(first: str, last: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
    return ascii_name.lower().replace(" ", "")


class Command(BaseCommand):
    help = (
        "Create (or complete) the demo school and print its logins. Demo data only: never use in production."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--slug", default=DEMO_SLUG, help=f"The demo school's slug (default {DEMO_SLUG})."
        )

    def handle(self, *args, slug, **options):
        with transaction.atomic():
            # The command's own cross-school lookups: is the school there, are its usernames free?
            with scopes_disabled():
                school, _ = School.objects.get_or_create(slug=slug, defaults={"name": "Demo School"})
                self._check_usernames_free(school)
            with school_scope(school):
                logins = self._seed(school)
        self._print_logins(school, logins)

    def _check_usernames_free(self, school: School) -> None:
        names = [ADMIN, *TEACHERS, *STUDENTS]
        taken = User.objects.filter(username__in=[username_for(*n) for n in names]).exclude(school=school)
        if taken.exists():
            raise CommandError(
                "These usernames belong to another school, so the demo school cannot use them: "
                + ", ".join(taken.values_list("username", flat=True))
            )

    def _person(self, school, role, first, last) -> User:
        username = username_for(first, last)
        user = User.objects.filter(username=username).first()
        if user is None:
            user = services.create_school_user(
                school,
                role,
                email=f"{username}@demo.fermonitor.invalid",
                full_name=f"{first} {last}",
                username=username,
            )
            # One slow hash for all 33 demo accounts instead of one each: they share the password anyway.
            user.password = self._password_hash
            user.is_staff = role == Role.ADMIN  # the demo admin may also open the data administration
            user.save(update_fields=["password", "is_staff"])
        return user

    def _seed(self, school: School) -> list[User]:
        self._password_hash = make_password(DEMO_PASSWORD)
        admin = self._person(school, Role.ADMIN, *ADMIN)
        teachers = [self._person(school, Role.TEACHER, *name) for name in TEACHERS]
        students = [self._person(school, Role.STUDENT, *name) for name in STUDENTS]
        decided, undecided = students[:-UNDECIDED], students[-UNDECIDED:]
        for student in decided:
            if services.consent_status(student) is None:
                services.record_consent(student, granted=True)

        now = timezone.now()
        for name, subject, teacher_index, members in CLASSES:
            classroom, _ = Classroom.objects.get_or_create(
                school=school, name=name, defaults={"subject": subject, "teacher": teachers[teacher_index]}
            )
            pupils = [students[i] for i in members]
            services.enrol_students(classroom, [p for p in pupils if p not in undecided])
            self._sessions(classroom, now)
            # Undecided students join after the recorded lesson: nothing was ever recorded without consent.
            services.enrol_students(classroom, [p for p in pupils if p in undecided])
        return [admin, *teachers, *students]

    def _sessions(self, classroom: Classroom, now) -> None:
        start_of_hour = now.replace(minute=0, second=0, microsecond=0)
        defaults = {
            "demo-live": {
                "status": SessionStatus.LIVE,
                "scheduled_start": now - timedelta(minutes=5),
                "started_at": now - timedelta(minutes=5),
                "planned_duration": timedelta(hours=2),
            },
            "demo-scheduled": {"scheduled_start": start_of_hour + timedelta(days=1, hours=1)},
            "demo-ended": {
                "status": SessionStatus.ENDED,
                "scheduled_start": start_of_hour - timedelta(days=1),
                "started_at": start_of_hour - timedelta(days=1),
                "ended_at": start_of_hour - timedelta(days=1) + timedelta(minutes=46),
            },
        }
        for lms_id, title in SESSIONS:
            session, _ = LiveSession.objects.get_or_create(
                classroom=classroom, lms_id=lms_id, defaults={"title": title, **defaults[lms_id]}
            )
            if session.status == SessionStatus.ENDED and not session.samples.exists():
                seed_demo_samples(session)

    def _print_logins(self, school: School, logins: list[User]) -> None:
        out = self.stdout
        out.write(
            f"Demo logins for {school.name} (DEMO DATA ONLY: the shared password is public; never use it for real accounts)"
        )
        out.write(f"{'username':<22} {'password':<16} role")
        out.write(f"{'-' * 22} {'-' * 16} {'-' * 12}")
        for user in logins:
            out.write(f"{user.username:<22} {DEMO_PASSWORD:<16} {user.get_role_display()}")
        out.write(
            f"{len(logins)} logins. Classes: {', '.join(c[0] for c in CLASSES)}; "
            f"{UNDECIDED} students have not decided on camera consent yet."
        )
