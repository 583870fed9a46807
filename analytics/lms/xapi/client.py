"""HTTP to a Learning Record Store: the Statement resource with Basic auth and the xAPI version header."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from django.utils import timezone

from ..secrets import SecretUnreadable
from .models import LrsSettings

TIMEOUT_SECONDS = 15
ANSWER_EXCERPT = 500


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect turns a POST into a GET without the body; report it so the admin fixes the endpoint.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer at all (refused, timed out, bad credentials stored)
    body: str = ""
    error: str = ""
    retry_after: float | None = None  # seconds, from a Retry-After header

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        if self.status is None:
            return self.error
        return f"HTTP {self.status}" + (f": {self.body[:ANSWER_EXCERPT]}" if self.body.strip() else "")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - timezone.now()).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def headers(lrs: LrsSettings) -> dict:
    credentials = base64.b64encode(f"{lrs.key}:{lrs.secret()}".encode()).decode()
    return {
        "Authorization": f"Basic {credentials}",
        "X-Experience-API-Version": lrs.version,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "fermonitor-xapi/1",
    }


def request(lrs: LrsSettings, method: str, params: dict | None = None, body=None) -> Answer:
    url = lrs.statements_url + (f"?{urllib.parse.urlencode(params)}" if params else "")
    try:
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        req = urllib.request.Request(url, data=data, headers=headers(lrs), method=method)
        with _opener.open(req, timeout=TIMEOUT_SECONDS) as response:
            text = response.read(64 * 1024).decode("utf-8", "replace")
            return Answer(response.status, text)
    except urllib.error.HTTPError as error:
        text = error.read(ANSWER_EXCERPT * 2).decode("utf-8", "replace").strip()
        return Answer(error.code, text, f"HTTP {error.code}", _retry_after(error.headers.get("Retry-After")))
    except SecretUnreadable as error:
        return Answer(None, error=str(error))
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        cause = reason if isinstance(reason, BaseException) else error  # e.g. ConnectionRefusedError
        return Answer(None, error=f"{type(cause).__name__}: {reason}")


def post_statements(lrs: LrsSettings, statements: list[dict]) -> Answer:
    return request(lrs, "POST", body=statements)


def put_statement(lrs: LrsSettings, statement: dict) -> Answer:
    return request(lrs, "PUT", params={"statementId": statement["id"]}, body=statement)


def get_statement(lrs: LrsSettings, statement_id: str) -> Answer:
    return request(lrs, "GET", params={"statementId": statement_id})
