"""OpenAPI details shared by every endpoint: the error responses each one can give."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample

from .serializers import ErrorSerializer

ERROR_RESPONSES = {
    "400": ("Invalid input: see `error.fields` for messages per field.", "validation_error"),
    "401": ("No API key (or session), or a revoked or unknown key.", "not_authenticated"),
    "403": ("The caller may not do this (role, or a read-only key writing).", "permission_denied"),
    "404": ("No such object in the caller's school.", "not_found"),
    "429": ("Too many requests for this key; retry after `Retry-After` seconds.", "throttled"),
}
WRITE_ERRORS = {
    "409": ("The object's state does not allow this (e.g. starting an ended session).", "conflict")
}


class ApiAutoSchema(AutoSchema):
    def get_auth(self):
        # One requirement per scheme: OpenAPI reads schemes listed in one requirement as "all of them".
        return [{name: scopes} for requirement in super().get_auth() for name, scopes in requirement.items()]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(ERROR_RESPONSES)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(WRITE_ERRORS)
        for code, (description, error_code) in errors.items():
            if code in responses:
                continue
            response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            response["description"] = description
            response["content"]["application/json"]["examples"] = {
                error_code: {"value": {"error": {"code": error_code, "message": description}}}
            }
            responses[code] = response
        return responses


def example(name: str, value, *, request: bool = False, status: int | str | None = None, summary: str = ""):
    return OpenApiExample(
        name,
        value=value,
        request_only=request,
        response_only=not request,
        status_codes=[str(status)] if status else None,
        summary=summary or name,
    )
