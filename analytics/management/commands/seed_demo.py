"""Demo data for trying fermonitor: one school with an admin, two teachers, 30 students, four classes with a term
of past lessons (TERM_WEEKS weeks, twice a week), and in the first two classes today's live lesson, the next one
and yesterday's (recorded second by second). Safe to run again: it creates only what is missing and prints the
same logins.
"""

from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics.demo import LESSON_MINUTES, TERM_WEEKS, seed_demo_samples, seed_term_lesson
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
    # (name, subject, teacher index, student index range, has today's live lesson)
    ("Physics 10A", "Physics", 0, range(0, 18), True),
    ("History 10B", "History", 1, range(12, 30), True),
    ("Mathematics 10A", "Mathematics", 0, range(0, 18), False),
    ("English 10B", "English", 1, range(12, 30), False),
)
# The term's timetable: (weekday, hour) of each class's two weekly lessons (Monday is 0).
TIMETABLE = {
    "Physics 10A": ((0, 9), (3, 11)),
    "History 10B": ((1, 10), (4, 13)),
    "Mathematics 10A": ((0, 10), (2, 9)),
    "English 10B": ((2, 14), (4, 9)),
}
# The student whose term goes downhill (less happy, more anxious, more often away): something for the reports'
# flags to find.
STRUGGLING = ("Ravi", "Patel")
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
        parser.add_argument(
            "--weeks", type=int, default=TERM_WEEKS, help=f"Weeks of past lessons (default {TERM_WEEKS})."
        )

    def handle(self, *args, slug, weeks, **options):
        self.weeks = weeks
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
        struggling = {students[STUDENTS.index(STRUGGLING)].pk}
        for name, subject, teacher_index, members, today in CLASSES:
            classroom, _ = Classroom.objects.get_or_create(
                school=school, name=name, defaults={"subject": subject, "teacher": teachers[teacher_index]}
            )
            pupils = [students[i] for i in members]
            services.enrol_students(classroom, [p for p in pupils if p not in undecided])
            self._term(classroom, now, {p.pk for p in decided}, struggling)
            self._sessions(classroom, now, today)
            # Undecided students join after the recorded lessons: nothing was ever recorded without consent.
            services.enrol_students(classroom, [p for p in pupils if p in undecided])
        return [admin, *teachers, *students]

    def _term(self, classroom: Classroom, now, consenting: set[int], struggling: set[int]) -> None:
        """The class's lessons of the past `weeks` weeks (ending last week), with samples; bulk inserts."""
        this_monday = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        this_monday -= timedelta(days=this_monday.weekday())
        wanted = {}
        for week in range(1, self.weeks + 1):
            monday = this_monday - timedelta(weeks=self.weeks - week + 1)
            for slot, (weekday, hour) in enumerate(TIMETABLE[classroom.name]):
                start = monday + timedelta(days=weekday, hours=hour)
                wanted[f"demo-term-{week:02d}-{slot}"] = (week, start)
        have = set(classroom.sessions.filter(lms_id__in=wanted).values_list("lms_id", flat=True))
        LiveSession.objects.bulk_create(
            [
                LiveSession(
                    classroom=classroom,
                    lms_id=lms_id,
                    title=f"{classroom.subject}, week {week}",
                    status=SessionStatus.ENDED,
                    scheduled_start=start,
                    started_at=start,
                    ended_at=start + timedelta(minutes=LESSON_MINUTES),
                )
                for lms_id, (week, start) in wanted.items()
                if lms_id not in have
            ]
        )
        for session in classroom.sessions.filter(lms_id__in=wanted).select_related("classroom__school"):
            seed_term_lesson(session, wanted[session.lms_id][0], consenting, struggling)

    def _sessions(self, classroom: Classroom, now, today: bool) -> None:
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
            if not today and lms_id != "demo-scheduled":
                continue
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
