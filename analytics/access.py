"""Who may see whose emotion history (the classes/access.py pattern, for reports on one student).

Another school's student is 404 (the scope hides them); a student of the user's own school whom the user may not
see is 403.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from classes.access import get_session_for_user
from classes.models import Classroom, Enrolment, LiveSession, Role, School, User

from .models import CallParticipant


@dataclass(frozen=True)
class StudentAccess:
    student: User
    classrooms: (
        list[Classroom] | None
    )  # None: every class; else only these (a teacher sees their own classes)


def get_student_for_user(user: User, student_uuid) -> StudentAccess:
    """The student's teachers (for their own classes), the school's admins and the student themself."""
    student = get_object_or_404(
        User.in_school.select_related("school").filter(role=Role.STUDENT), uuid=student_uuid
    )
    if (
        user.is_superuser
        or user.pk == student.pk
        or (user.is_school_admin and user.school_id == student.school_id)
    ):
        return StudentAccess(student, None)
    if user.is_teacher and user.school_id == student.school_id:
        classrooms = list(Classroom.objects.filter(teacher=user, enrolments__student=student).distinct())
        if classrooms:
            return StudentAccess(student, classrooms)
    raise PermissionDenied(_("You may not see this student's history."))


def get_student_session_for_user(user: User, student_uuid, session_uuid) -> tuple[StudentAccess, LiveSession]:
    """A student's data in one session. Students themselves see sessions of classes they are enrolled in (or
    took part in before leaving the class); any other session of their school is "not found", exactly like one
    that does not exist, because its page would show another class's title and teacher."""
    access = get_student_for_user(user, student_uuid)
    session = get_object_or_404(
        LiveSession.objects.select_related("classroom__school", "classroom__teacher"), uuid=session_uuid
    )
    if access.classrooms is not None and session.classroom_id not in {c.pk for c in access.classrooms}:
        raise PermissionDenied(_("You may not see this session of this student."))
    if _is_only_themself(user, access.student) and not _took_part(access.student, session):
        raise Http404("No such session.")
    return access, session


def _is_only_themself(user: User, student: User) -> bool:
    """The student looking at their own data, with no other right to it (not an admin or operator)."""
    return user.pk == student.pk and not user.is_superuser and not user.is_school_admin


def _took_part(student: User, session: LiveSession) -> bool:
    from .models import EmotionSample

    return (
        Enrolment.objects.filter(classroom_id=session.classroom_id, student=student).exists()
        or EmotionSample.objects.filter(session=session, student=student).exists()
    )


def get_report_school(user: User, school_uuid: str | None) -> School | None:
    """The school a school report is about: the admin's own; platform operators pick one (None: not yet)."""
    if user.is_superuser and user.school_id is None:
        if not school_uuid:
            return None
        try:
            return School.objects.get(uuid=school_uuid)
        except (School.DoesNotExist, ValidationError) as error:
            raise Http404(_("No such school.")) from error
    if not user.is_school_admin:
        raise PermissionDenied(_("School reports are for school admins."))
    return user.school


def get_participant_for_user(user: User, session_uuid, participant_uuid) -> CallParticipant:
    """A call participant of a session the user manages (the class's teacher, the school's admins, operators):
    another school's session or a participant of another session is 404, a session the user may not manage 403."""
    session = get_session_for_user(user, session_uuid, manage=True)
    participant = get_object_or_404(
        CallParticipant.objects.select_related("student"), session=session, uuid=participant_uuid
    )
    participant.session = session
    return participant


def get_assignable_student(session: LiveSession, student_uuid) -> User:
    """A student of the session's school by uuid (404 otherwise, even for operators whose scope is every school:
    a participant is only ever assigned within its school)."""
    try:
        return User.in_school.get(school_id=session.classroom.school_id, role=Role.STUDENT, uuid=student_uuid)
    except (User.DoesNotExist, ValidationError) as error:
        raise Http404("No such student in this school.") from error
