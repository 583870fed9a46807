from django.utils import translation

from .tenancy import scope_for_user


class SchoolScopeMiddleware:
    """Runs every request inside its user's school scope (pretix-style tenancy)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with scope_for_user(request.user):
            return self.get_response(request)


def preferred_language(user) -> str:
    """The language a signed-in user reads fermonitor in: their own choice, else their school's default ("" for
    none: the language cookie or the browser decides)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    if user.language:
        return user.language
    school = user.school if user.school_id else None
    return school.language if school is not None else ""


class UserLanguageMiddleware:
    """Activates the user's language (see `preferred_language`) after LocaleMiddleware has picked one from the
    cookie or the browser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = preferred_language(getattr(request, "user", None))
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
