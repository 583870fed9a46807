"""What a caller may do. Keys act for the whole school; people keep the rights their pages give them:
admins the whole school, teachers their own classes, students their own data (read-only)."""

from rest_framework import permissions

from .authentication import ApiKeyPrincipal


def principal_key(request):
    return request.user.key if isinstance(request.user, ApiKeyPrincipal) else None


def is_school_wide(user) -> bool:
    """API keys and school admins see the whole school."""
    return user.role == "admin"


class SchoolMember(permissions.BasePermission):
    """An API key, or a logged-in member of a school. Platform operators have no school to act in."""

    message = "The API works inside one school: use a school account or a school's API key."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "school_id", None) is not None)


class KeyScopeAllows(permissions.BasePermission):
    message = "This API key is read-only; ask a school admin for a read-write key."

    def has_permission(self, request, view):
        key = principal_key(request)
        return key is None or request.method in permissions.SAFE_METHODS or key.can_write


class StudentsReadOnly(permissions.BasePermission):
    message = "Students may only read their own data."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or request.user.role != "student"


class SchoolWideWrites(permissions.BasePermission):
    """Changes to the school's people: admins and keys only."""

    message = "Only school admins (or read-write API keys) may change people."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or is_school_wide(request.user)
