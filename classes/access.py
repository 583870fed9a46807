"""Object lookups that check the user's right to the object (healthchecks' `_get_check_for_user` style).

Objects of another school are invisible (404: the scope filters them out); an object of the user's own school that
the user's role may not touch is 403. Every view fetches objects through these helpers.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from .models import Classroom, LiveSession, Role, User


def role_required(*roles: str):
    """Allow only logged-in users of a school with one of `roles` (platform operators pass too)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not user.is_superuser and (user.school_id is None or user.role not in roles):
                raise PermissionDenied(_("Your role does not give access to this page."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def can_manage_classroom(user: User, classroom: Classroom) -> bool:
    """The class's teacher and the school's admins manage a class."""
    if user.is_superuser:
        return True
    if classroom.school_id != user.school_id:
        return False
    return user.role == Role.ADMIN or classroom.teacher_id == user.pk


def can_view_classroom(user: User, classroom: Classroom) -> bool:
    if can_manage_classroom(user, classroom):
        return True
    return (
        user.role == Role.STUDENT
        and classroom.school_id == user.school_id
        and classroom.enrolments.filter(student=user).exists()
    )


def get_classroom_for_user(user: User, classroom_uuid, *, manage: bool = False) -> Classroom:
    classroom = get_object_or_404(Classroom.objects.select_related("teacher", "school"), uuid=classroom_uuid)
    allowed = can_manage_classroom(user, classroom) if manage else can_view_classroom(user, classroom)
    if not allowed:
        raise PermissionDenied(_("You do not have access to this class."))
    return classroom


def get_session_for_user(user: User, session_uuid, *, manage: bool = False) -> LiveSession:
    session = get_object_or_404(
        LiveSession.objects.select_related("classroom", "classroom__teacher", "classroom__school"),
        uuid=session_uuid,
    )
    classroom = session.classroom
    allowed = can_manage_classroom(user, classroom) if manage else can_view_classroom(user, classroom)
    if not allowed:
        raise PermissionDenied(_("You do not have access to this session."))
    return session


def get_school_member_for_admin(admin: User, user_uuid, *, role: str | None = None) -> User:
    """A user of the admin's own school (optionally of one role) for the school-admin pages."""
    queryset = User.in_school.all()
    if role:
        queryset = queryset.filter(role=role)
    return get_object_or_404(queryset, uuid=user_uuid)
