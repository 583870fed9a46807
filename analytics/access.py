"""Who may see whose emotion history (the classes/access.py pattern, for reports on one student).

Another school's student is 404 (the scope hides them); a student of the user's own school whom the user may not
see is 403.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404

from classes.models import Classroom, LiveSession, Role, School, User


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
    raise PermissionDenied("You may not see this student's history.")


def get_student_session_for_user(user: User, student_uuid, session_uuid) -> tuple[StudentAccess, LiveSession]:
    access = get_student_for_user(user, student_uuid)
    session = get_object_or_404(
        LiveSession.objects.select_related("classroom__school", "classroom__teacher"), uuid=session_uuid
    )
    if access.classrooms is not None and session.classroom_id not in {c.pk for c in access.classrooms}:
        raise PermissionDenied("You may not see this session of this student.")
    return access, session


def get_report_school(user: User, school_uuid: str | None) -> School | None:
    """The school a school report is about: the admin's own; platform operators pick one (None: not yet)."""
    if user.is_superuser and user.school_id is None:
        if not school_uuid:
            return None
        try:
            return School.objects.get(uuid=school_uuid)
        except (School.DoesNotExist, ValidationError) as error:
            raise Http404("No such school.") from error
    if not user.is_school_admin:
        raise PermissionDenied("School reports are for school admins.")
    return user.school
