"""The server-error handler (`handler500`).

A database outage (PostgreSQL restarting or failing over, SQLite busy for longer than its timeout) is not a bug in
the page that met it: it answers 503 with Retry-After, a page that says to try again in a moment (JSON under
/api/), so that people, LMSs and scripts know the request may simply be repeated. Anything else is a 500.

Neither page touches the database: they are rendered without the request's context processors (which would read
the user and the school again).
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

RETRY_AFTER_SECONDS = 30


def database_unavailable(error: BaseException | None) -> bool:
    """Whether the error (or what it was raised from) says the database cannot be reached right now."""
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, (OperationalError, InterfaceError)):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def database_unavailable_message() -> str:
    return _("fermonitor cannot reach its database right now. Please try again in a moment.")


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """The REST API's error shape (docs/api.md), also for JSON answers from outside it."""
    error = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


@requires_csrf_token
def server_error(request, template_name: str = "500.html"):
    """Django calls this while it handles the uncaught exception, so `sys.exc_info()` is that exception."""
    if database_unavailable(sys.exc_info()[1]):
        message = database_unavailable_message()
        if wants_json(request):
            response = JsonResponse(error_body("database_unavailable", message), status=503)
        else:
            page = loader.get_template("503.html").render(
                {"message": message, "retry_after": RETRY_AFTER_SECONDS}
            )
            response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if wants_json(request):
        return JsonResponse(error_body("server_error", _("Server error. It has been logged.")), status=500)
    return HttpResponse(loader.get_template(template_name).render({}), status=500)
