"""What each caller sees, derived from the caller alone (API keys act like the school's admins).

Lists are narrowed to what the role may see; single objects are looked up in the whole (school-scoped) table so
that another school's object is 404 and a same-school object the role may not touch is 403, as on the pages.
"""

import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from analytics.models import EmotionSample
from classes.access import can_manage_classroom, can_view_classroom
from classes.models import Classroom, Enrolment, LiveSession, Role, User

from .permissions import is_school_wide

can_manage = can_manage_classroom


def as_uuid(value) -> uuid.UUID:
    """A URL's id as a UUID; anything else names no object (404, not a validation error)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as error:
        raise Http404("No such object.") from error


def visible_classrooms(user):
    classrooms = Classroom.objects.all()
    if is_school_wide(user):
        return classrooms
    if user.role == Role.TEACHER:
        return classrooms.filter(teacher_id=user.pk)
    return classrooms.filter(enrolments__student_id=user.pk)


def visible_sessions(user):
    sessions = LiveSession.objects.all()
    if is_school_wide(user):
        return sessions
    return sessions.filter(classroom__in=visible_classrooms(user))


def visible_enrolments(user):
    enrolments = Enrolment.objects.all()
    if is_school_wide(user):
        return enrolments
    if user.role == Role.TEACHER:
        return enrolments.filter(classroom__teacher_id=user.pk)
    return enrolments.filter(student_id=user.pk)


def visible_people(user, role: str):
    people = User.in_school.filter(role=role)
    if is_school_wide(user):
        return people
    if user.role == Role.TEACHER:
        if role == Role.TEACHER:
            return people.filter(pk=user.pk)
        return people.filter(enrolments__classroom__teacher_id=user.pk).distinct()
    if role == Role.STUDENT:
        return people.filter(pk=user.pk)
    return people.filter(taught_classes__enrolments__student_id=user.pk).distinct()


def visible_samples(user):
    samples = EmotionSample.objects.all()
    if is_school_wide(user):
        return samples
    if user.role == Role.TEACHER:
        return samples.filter(session__classroom__teacher_id=user.pk)
    return samples.filter(student_id=user.pk)


def get_classroom(user, classroom_uuid, *, manage: bool = False) -> Classroom:
    classroom = get_object_or_404(Classroom.objects.select_related("teacher"), uuid=as_uuid(classroom_uuid))
    allowed = can_manage_classroom(user, classroom) if manage else can_view_classroom(user, classroom)
    if not allowed:
        raise PermissionDenied("You do not have access to this class.")
    return classroom


def get_session(user, session_uuid, *, manage: bool = False) -> LiveSession:
    session = get_object_or_404(
        LiveSession.objects.select_related("classroom__teacher", "classroom__school"),
        uuid=as_uuid(session_uuid),
    )
    classroom = session.classroom
    allowed = can_manage_classroom(user, classroom) if manage else can_view_classroom(user, classroom)
    if not allowed:
        raise PermissionDenied("You do not have access to this session.")
    return session


def get_person(user, person_uuid, role: str, *, manage: bool = False) -> User:
    person = get_object_or_404(User.in_school.filter(role=role), uuid=as_uuid(person_uuid))
    if is_school_wide(user):
        return person
    if manage:
        raise PermissionDenied("Only school admins (or read-write API keys) may change people.")
    if not visible_people(user, role).filter(pk=person.pk).exists():
        raise PermissionDenied("You do not have access to this person.")
    return person
