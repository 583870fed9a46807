"""One error format for the whole API::

    {"error": {"code": "validation_error", "message": "Check the highlighted fields.",
               "fields": {"scheduled_start": ["This field is required."], "items.2.email": ["Enter a valid email address."]}}}

`code` is stable for programs, `message` is for people, `fields` (validation errors only) maps each field path to its
messages. Django-level errors raised by the services (ValidationError, TransitionError, PermissionDenied, Http404)
arrive in the same shape.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from classes import errors
from classes.errors import error_body
from classes.services import TransitionError

logger = logging.getLogger(__name__)

NON_FIELD_KEYS = {"non_field_errors", "__all__"}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


def flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"a.0.b": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_fields(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def database_unavailable_response() -> Response:
    """The database is unreachable (an outage, a failover): 503 with Retry-After, so clients retry."""
    response = Response(
        error_body("database_unavailable", errors.database_unavailable_message()),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(errors.RETRY_AFTER_SECONDS)
    return response


def _translate(exc):
    if isinstance(exc, TransitionError):
        return Conflict(" ".join(exc.messages), code="invalid_transition")
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, IntegrityError):
        # A uniqueness race the serializers' own checks lost: the same request again will get a clear 400.
        return Conflict("Another request changed the same data at the same time; try again.")
    return exc


def api_exception_handler(exc, context):
    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None and errors.database_unavailable(exc):
        logger.warning("API request while the database is unreachable: %s", exc)
        return database_unavailable_response()
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on our side; the error was logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        general = [m for key in NON_FIELD_KEYS for m in fields.pop(key, [])]
        message = " ".join(general) if general else "Check the highlighted fields."
        response.data = error_body("validation_error", message, fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = error_body(code, str(detail))
    return response
