"""The one place that decides which school's data a piece of code may see.

Requests get their scope from `SchoolScopeMiddleware`; consumers, management commands and workers take ids,
look the school up and enter `school_scope(school)` themselves.
"""

from contextlib import AbstractContextManager, nullcontext

from django_scopes import scope, scopes_disabled

from .models import School


def school_scope(school: School | int) -> AbstractContextManager:
    """Scope to exactly one school. Refuses None: django-scopes would read None as "no filter at all"."""
    school_id = school.pk if isinstance(school, School) else school
    if school_id is None:
        raise ValueError("school_scope needs a school; use scopes_disabled() for cross-school operator code")
    return scope(school=school_id)


def scope_for_user(user) -> AbstractContextManager:
    """The scope a user's requests run in: their school; everything for platform operators; nothing (every
    scoped query raises) for anonymous users and school-less accounts."""
    if not getattr(user, "is_authenticated", False):
        return nullcontext()
    if user.is_superuser:
        return scopes_disabled()
    if user.school_id is None:
        return nullcontext()
    return school_scope(user.school_id)
