"""Business operations on schools, classes and sessions. Views, consumers, the API and commands call these."""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from . import signals
from .models import (
    CALL_CAPTURE_POLICY_MARK,
    CALL_CAPTURE_POLICY_TEXT,
    DEFAULT_POLICY_TEXT,
    Classroom,
    Consent,
    ConsentPolicy,
    Enrolment,
    LiveSession,
    Role,
    School,
    SessionStatus,
    User,
)


class TransitionError(ValidationError):
    """A session state change that the state machine does not allow."""


# --- sessions -----------------------------------------------------------------------------------------------

ALLOWED_TRANSITIONS = {
    SessionStatus.SCHEDULED: {SessionStatus.LIVE, SessionStatus.CANCELLED},
    SessionStatus.LIVE: {SessionStatus.ENDED},
    SessionStatus.ENDED: set(),
    SessionStatus.CANCELLED: set(),
}

TRANSITION_ERRORS = {
    (SessionStatus.ENDED, SessionStatus.LIVE): "This session has already ended and cannot be started again.",
    (SessionStatus.CANCELLED, SessionStatus.LIVE): "This session was cancelled and cannot be started.",
    (
        SessionStatus.SCHEDULED,
        SessionStatus.ENDED,
    ): "This session has not started yet, so it cannot be ended.",
    (SessionStatus.LIVE, SessionStatus.CANCELLED): "A live session cannot be cancelled; end it instead.",
}


def _transition(session: LiveSession, new_status: str) -> LiveSession:
    with transaction.atomic():
        # Lock the row so two clicks (or a click and the API) cannot both start or end a session.
        locked = LiveSession.objects.select_for_update().get(pk=session.pk)
        previous = locked.status
        if previous == new_status or new_status not in ALLOWED_TRANSITIONS[previous]:
            message = TRANSITION_ERRORS.get(
                (previous, new_status),
                f"This session is {locked.get_status_display().lower()}; "
                f"it cannot become {SessionStatus(new_status).label.lower()}.",
            )
            raise TransitionError(message)
        now = timezone.now()
        locked.status = new_status
        if new_status == SessionStatus.LIVE:
            locked.started_at = now
        elif new_status == SessionStatus.ENDED:
            locked.ended_at = now
        locked.save(update_fields=["status", "started_at", "ended_at"])
    session.status, session.started_at, session.ended_at = locked.status, locked.started_at, locked.ended_at
    return session


def start_session(session: LiveSession) -> LiveSession:
    _transition(session, SessionStatus.LIVE)
    transaction.on_commit(lambda: signals.session_started.send(LiveSession, session=session))
    return session


def end_session(session: LiveSession) -> LiveSession:
    _transition(session, SessionStatus.ENDED)
    transaction.on_commit(lambda: signals.session_ended.send(LiveSession, session=session))
    return session


def cancel_session(session: LiveSession) -> LiveSession:
    _transition(session, SessionStatus.CANCELLED)
    transaction.on_commit(lambda: signals.session_cancelled.send(LiveSession, session=session))
    return session


def schedule_session(classroom: Classroom, **fields) -> LiveSession:
    session = LiveSession(classroom=classroom, **fields)
    session.full_clean()
    session.save()
    return session


# --- enrolment ----------------------------------------------------------------------------------------------


def enrol_students(classroom: Classroom, students) -> int:
    """Enrol students of the class's school; returns how many were newly enrolled."""
    added = 0
    for student in students:
        if student.school_id != classroom.school_id or student.role != Role.STUDENT:
            raise ValidationError(
                _("%(student)s is not a student of %(school)s.")
                % {"student": student, "school": classroom.school}
            )
        _enrolment, created = Enrolment.objects.get_or_create(classroom=classroom, student=student)
        added += created
    return added


def unenrol_student(classroom: Classroom, student: User) -> None:
    Enrolment.objects.filter(classroom=classroom, student=student).delete()


@dataclass
class CsvImportReport:
    created: list[User] = field(default_factory=list)
    enrolled: list[User] = field(default_factory=list)
    already_enrolled: list[User] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row number, raw row, message)

    @property
    def ok(self) -> bool:
        return not self.errors


MAX_CSV_BYTES = 1024 * 1024


def import_students_csv(classroom: Classroom, data: bytes | str) -> CsvImportReport:
    """Enrol students from `name,email` rows (a header row is optional). Existing students of the school are
    matched by email; new ones are created with an unusable password (the school admin sends a reset). Bad rows
    are reported with their row number and skipped; good rows are imported.

    Emails are matched within the class's school only (as the school admin's people pages do): an address used in
    another school creates a new student here like any unknown address, so the report never reveals whether it
    exists elsewhere."""
    report = CsvImportReport()
    if isinstance(data, bytes):
        if len(data) > MAX_CSV_BYTES:
            report.errors.append((0, "", "The file is larger than 1 MB."))
            return report
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            report.errors.append((0, "", "The file is not UTF-8 text. Save it as CSV (UTF-8) and try again."))
            return report
    school = classroom.school
    seen_emails: set[str] = set()
    for number, row in enumerate(csv.reader(io.StringIO(data)), start=1):
        raw = ",".join(row)
        if not any(cell.strip() for cell in row):
            continue
        if number == 1 and [c.strip().lower() for c in row[:2]] == ["name", "email"]:
            continue
        if len(row) != 2:
            report.errors.append((number, raw, f"Expected 2 columns (name,email), found {len(row)}."))
            continue
        name, email = row[0].strip(), row[1].strip().lower()
        if not name:
            report.errors.append((number, raw, "The name is empty."))
            continue
        try:
            validate_email(email)
        except ValidationError:
            report.errors.append((number, raw, f"“{email}” is not a valid email address."))
            continue
        if email in seen_emails:
            report.errors.append((number, raw, f"{email} appears more than once in the file."))
            continue
        seen_emails.add(email)
        existing = User.objects.filter(school=school, email__iexact=email).first()
        if existing is not None and existing.role != Role.STUDENT:
            report.errors.append(
                (number, raw, f"{email} belongs to an account that is not a student of this school.")
            )
            continue
        with transaction.atomic():
            student = existing or create_school_user(school, Role.STUDENT, email=email, full_name=name)
            if existing is None:
                report.created.append(student)
            _enrolment, created = Enrolment.objects.get_or_create(classroom=classroom, student=student)
        (report.enrolled if created else report.already_enrolled).append(student)
    return report


# --- people -------------------------------------------------------------------------------------------------


# No 0/O, 1/l/I, as in temporary passwords: people read usernames out and type them.
USERNAME_SUFFIX_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def unique_username(email: str) -> str:
    """A login name for a new account: the email's local part and a random suffix, e.g. `ada.lovelace.k7mq`.

    Usernames are unique across every school (they log in), so which ones are taken says something about other
    schools. The suffix is therefore always random, never "the next free number": the name a school gets does
    not depend on the names other schools use (it used to be `sam2` exactly when `sam` existed elsewhere)."""
    import secrets

    base = slugify(email.split("@")[0]).replace("-", ".")[:140] or "user"
    for length in (4, 4, 4, 6, 8):
        suffix = "".join(secrets.choice(USERNAME_SUFFIX_ALPHABET) for _ in range(length))
        candidate = f"{base}.{suffix}"
        if not User.objects.filter(username=candidate).exists():
            return candidate
    raise RuntimeError(
        "Could not find a free username"
    )  # 5 collisions in 31**4..31**8 names: not in practice


def create_school_user(
    school: School,
    role: str,
    *,
    email: str,
    full_name: str = "",
    username: str = "",
    password: str | None = None,
) -> User:
    first, _space, last = full_name.strip().partition(" ")
    user = User(
        school=school,
        role=role,
        email=email.lower(),
        username=username or unique_username(email),
        first_name=first[:150],
        last_name=last[:150],
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def deactivate_user(user: User) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


# --- consent ------------------------------------------------------------------------------------------------


def current_policy(school: School) -> ConsentPolicy:
    """The school's current consent policy, creating version 1 with the default text the first time."""
    policy = ConsentPolicy.objects.filter(school=school).order_by("-version").first()
    if policy is None:
        policy, _created = ConsentPolicy.objects.get_or_create(
            school=school, version=1, defaults={"text": DEFAULT_POLICY_TEXT}
        )
    return policy


def publish_policy(school: School, text: str, author: User | None = None) -> ConsentPolicy:
    """A new policy version. Students must consent again, because they agreed to other words."""
    with transaction.atomic():
        last = ConsentPolicy.objects.select_for_update().filter(school=school).order_by("-version").first()
        version = (last.version + 1) if last else 1
        return ConsentPolicy.objects.create(school=school, version=version, text=text, created_by=author)


def policy_describes_call_capture(policy: ConsentPolicy) -> bool:
    return str(CALL_CAPTURE_POLICY_MARK) in policy.text


def set_call_capture(school: School, enabled: bool, author: User | None = None) -> ConsentPolicy | None:
    """Turn reading lessons' video calls on or off for a school.

    Turning it on publishes a new policy version with the call-capture paragraph (unless the current text already
    has it): students are asked to consent again, and until they do, no call participant can be stored under
    their name. Turning it off changes only the setting: the policy keeps describing call reading until the admin
    edits it (which would ask every student again, for something that only collects less). Returns the new
    policy version, if one was published."""
    with transaction.atomic():
        locked = School.objects.select_for_update().get(pk=school.pk)
        locked.call_capture = enabled
        locked.save(update_fields=["call_capture"])
        school.call_capture = enabled
        if not enabled:
            return None
        policy = current_policy(locked)
        if policy_describes_call_capture(policy):
            return None
        text = policy.text.rstrip("\n") + "\n\n" + str(CALL_CAPTURE_POLICY_TEXT)
        return publish_policy(locked, text, author=author)


def record_consent(student: User, granted: bool) -> Consent:
    if student.role != Role.STUDENT or student.school_id is None:
        raise ValidationError(_("Only students record consent to camera analysis."))
    return Consent.objects.create(student=student, policy=current_policy(student.school), granted=granted)


def consent_status(student: User) -> Consent | None:
    """The student's latest decision on the current policy version, or None if they have not decided."""
    policy = current_policy(student.school)
    return Consent.objects.filter(student=student, policy=policy).order_by("-decided_at", "-pk").first()


def has_consent(student: User) -> bool:
    decision = consent_status(student)
    return decision is not None and decision.granted


def consenting_students(school: School, students) -> set[int]:
    """Ids of those `students` whose latest decision on the school's current policy is granted (two queries,
    whatever their number)."""
    policy = current_policy(school)
    latest: dict[int, bool] = {}
    decisions = (
        Consent.objects.filter(policy=policy, student__in=[s.pk for s in students])
        .order_by("decided_at", "pk")
        .values_list("student_id", "granted")
    )
    for student_id, granted in decisions:
        latest[student_id] = granted
    return {student_id for student_id, granted in latest.items() if granted}


# --- joining ------------------------------------------------------------------------------------------------


class JoinRefused(Exception):
    """Why a student may not stream into a session. `code` is stable: the live socket uses it as close reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def check_can_stream(student: User, session: LiveSession) -> None:
    """Raise JoinRefused unless `student` may stream camera frames into `session` right now."""
    if not student.is_authenticated:
        raise JoinRefused("not_authenticated", _("Log in to join the session."))
    if student.role != Role.STUDENT or student.school_id != session.classroom.school_id:
        raise JoinRefused("not_a_student", _("Only students of this class stream their camera."))
    if not Enrolment.objects.filter(classroom_id=session.classroom_id, student=student).exists():
        raise JoinRefused("not_enrolled", _("You are not enrolled in this class."))
    if not has_consent(student):
        raise JoinRefused(
            "no_consent",
            _("You have not consented to camera analysis. Review the policy on your consent page."),
        )
    if session.status != SessionStatus.LIVE:
        messages = {
            SessionStatus.SCHEDULED: _("This session has not started yet."),
            SessionStatus.ENDED: _("This session has ended."),
            SessionStatus.CANCELLED: _("This session was cancelled."),
        }
        raise JoinRefused("not_live", messages.get(session.status, _("This session is not live.")))


# --- teaching and learning pages ----------------------------------------------------------------------------


def create_classroom(school: School, teacher: User, *, name: str, subject: str = "") -> Classroom:
    classroom = Classroom(school=school, teacher=teacher, name=name, subject=subject)
    classroom.full_clean()
    classroom.save()
    return classroom


def update_scheduled_session(session: LiveSession, **fields) -> LiveSession:
    """Change a session that has not started; a live or finished session keeps what it ran with."""
    with transaction.atomic():
        locked = LiveSession.objects.select_for_update().get(pk=session.pk)
        if locked.status != SessionStatus.SCHEDULED:
            raise TransitionError(
                f"This session is {locked.get_status_display().lower()}; only scheduled sessions can be edited."
            )
        for name, value in fields.items():
            setattr(session, name, value)
        session.full_clean()
        session.save(update_fields=list(fields))
    return session


def _with_open_sessions(classrooms):
    """Attach `live_sessions` and `next_session` to each class from one prefetched list (no query per class)."""
    for classroom in classrooms:
        open_sessions = classroom.open_sessions
        classroom.live_sessions = [s for s in open_sessions if s.status == SessionStatus.LIVE]
        classroom.next_session = next((s for s in open_sessions if s.status == SessionStatus.SCHEDULED), None)
    return classrooms


def _open_sessions_prefetch():
    return models.Prefetch(
        "sessions",
        queryset=LiveSession.objects.filter(
            status__in=[SessionStatus.LIVE, SessionStatus.SCHEDULED]
        ).order_by("scheduled_start", "pk"),
        to_attr="open_sessions",
    )


def classes_managed_by(user: User) -> list[Classroom]:
    """The classes a teacher teaches; a school admin's whole school; every school's for operators (the request
    scope already limits admins and teachers to their school). Each class carries `live_sessions`,
    `next_session` and `student_count`."""
    queryset = Classroom.objects.select_related("teacher", "school")
    if user.role == Role.TEACHER and not user.is_superuser:
        queryset = queryset.filter(teacher=user)
    queryset = queryset.annotate(student_count=models.Count("enrolments", distinct=True)).prefetch_related(
        _open_sessions_prefetch()
    )
    return _with_open_sessions(list(queryset.order_by("school__name", "name", "pk")))


def classes_of_student(student: User) -> list[Classroom]:
    """The classes a student is enrolled in, each with `live_sessions` and `next_session`."""
    queryset = (
        Classroom.objects.filter(enrolments__student=student)
        .select_related("teacher")
        .prefetch_related(_open_sessions_prefetch())
        .order_by("name", "pk")
    )
    return _with_open_sessions(list(queryset))


def enrolable_students(classroom: Classroom):
    """Students of the class's school who are not enrolled in it yet."""
    return (
        User.in_school.filter(school=classroom.school_id, role=Role.STUDENT, is_active=True)
        .exclude(enrolments__classroom=classroom)
        .order_by("last_name", "first_name", "username")
    )


@dataclass
class ClassSessions:
    live: list[LiveSession]
    upcoming: list[LiveSession]
    past: list[LiveSession]


PAST_SESSIONS_SHOWN = 50


def sessions_of_class(classroom: Classroom) -> ClassSessions:
    """A class's sessions split for its page: live now, upcoming (soonest first), past (latest first)."""
    sessions = LiveSession.objects.filter(classroom=classroom)
    open_sessions = list(
        sessions.filter(status__in=[SessionStatus.LIVE, SessionStatus.SCHEDULED]).order_by(
            "scheduled_start", "pk"
        )
    )
    past = list(
        sessions.filter(status__in=[SessionStatus.ENDED, SessionStatus.CANCELLED]).order_by(
            "-scheduled_start", "-pk"
        )[:PAST_SESSIONS_SHOWN]
    )
    return ClassSessions(
        live=[s for s in open_sessions if s.status == SessionStatus.LIVE],
        upcoming=[s for s in open_sessions if s.status == SessionStatus.SCHEDULED],
        past=past,
    )


def consent_history(student: User):
    return Consent.objects.filter(student=student).select_related("policy").order_by("-decided_at", "-pk")


# --- school administration ----------------------------------------------------------------------------------

# No 0/O, 1/l/I: the admin reads the password out or writes it on paper.
TEMPORARY_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_temporary_password() -> str:
    """Three groups of four, e.g. `k7mq-x3pa-h9tz` (about 60 bits): easy to hand over, hard to guess."""
    import secrets

    groups = ("".join(secrets.choice(TEMPORARY_PASSWORD_ALPHABET) for _i in range(4)) for _j in range(3))
    return "-".join(groups)


def create_member_with_temporary_password(
    school: School, role: str, *, email: str, full_name: str
) -> tuple[User, str]:
    """A new teacher or student with a temporary password; the caller shows it once and forgets it."""
    if role not in (Role.TEACHER, Role.STUDENT):
        raise ValidationError(_("School admins add teachers and students only."))
    password = generate_temporary_password()
    user = create_school_user(school, role, email=email, full_name=full_name, password=password)
    return user, password


def reset_password(user: User) -> str:
    """A new temporary password (returned to be shown once). Also lifts a brute-force lockout of the account."""
    from axes.utils import reset as reset_lockouts

    password = generate_temporary_password()
    user.set_password(password)
    user.save(update_fields=["password"])
    reset_lockouts(username=user.username)
    return password


def reactivate_user(user: User) -> None:
    user.is_active = True
    user.save(update_fields=["is_active"])


def policy_decision_counts(school: School) -> dict[int, dict[str, int]]:
    """Per policy version (by pk): how many students' latest decision on it is granted / refused."""
    # One row per decision, oldest first, so the last one seen per (policy, student) is the latest. Decisions are
    # a few per student, so this stays small, and it needs no window functions.
    latest: dict[tuple[int, int], bool] = {}
    decisions = (
        Consent.objects.filter(policy__school=school)
        .order_by("decided_at", "pk")
        .values_list("policy_id", "student_id", "granted")
    )
    for policy_id, student_id, granted in decisions:
        latest[(policy_id, student_id)] = granted
    counts: dict[int, dict[str, int]] = {}
    for (policy_id, _student), granted in latest.items():
        bucket = counts.setdefault(policy_id, {"granted": 0, "refused": 0})
        bucket["granted" if granted else "refused"] += 1
    return counts
