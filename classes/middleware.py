from .tenancy import scope_for_user


class SchoolScopeMiddleware:
    """Runs every request inside its user's school scope (pretix-style tenancy)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with scope_for_user(request.user):
            return self.get_response(request)
