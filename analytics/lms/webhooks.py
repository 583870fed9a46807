"""Webhooks: signed JSON POSTs to the URLs a school registered, retried with exponential backoff.

Each event becomes one `Delivery` row (kind "webhook") per subscribed endpoint in the shared outbox
(`outbox.py`), carrying the payload as it was when the event happened. The first attempt is made right after the
event's transaction commits (in a background thread, so nothing waits on a slow receiver); failed attempts are
retried by `manage.py deliver_outbox` (run it with `--loop` as a worker, or from cron) after 30 s, 1, 2, 4 …
minutes, up to MAX_ATTEMPTS attempts.

Signature (Stripe-style, so common verification code works)::

    X-Fermonitor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

Receivers recompute the HMAC over the raw body with their endpoint's secret, compare in constant time and reject
timestamps older than a few minutes (replays). `verify_signature` below does exactly that.
"""

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from classes.models import LiveSession, School
from classes.tenancy import school_scope

from . import outbox
from .models import Delivery, DeliveryKind, DeliveryStatus, Webhook, WebhookEvent

# The outbox's scheduling, under the names webhook code and its tests have always used.
from .outbox import backoff, deliver_due, deliver_pending  # noqa: F401

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Fermonitor-Signature"
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10
PING = "ping"


# --- signing ------------------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: check the HMAC of the raw body and that the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), sign(secret, timestamp, body))


# --- queueing -----------------------------------------------------------------------------------------------


def _json_ready(data):
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def enqueue(
    school: School, event: str, data: dict, *, webhooks=None, now: datetime | None = None, kick: bool = True
) -> list:
    """One pending delivery per active endpoint of the school that wants `event` (or of `webhooks`); the first
    attempt follows the commit unless kick=False."""
    now = now or timezone.now()
    with school_scope(school):
        if webhooks is None:
            webhooks = [hook for hook in Webhook.objects.filter(is_active=True) if hook.wants(event)]
        if not webhooks:
            return []
        payload = _json_ready(
            {
                "id": str(uuid.uuid4()),
                "event": event,
                "created_at": now,
                "school": {"uuid": school.uuid, "name": school.name, "lms_id": school.lms_id},
                "data": data,
            }
        )
        deliveries = Delivery.objects.bulk_create(
            [
                Delivery(
                    school=school,
                    kind=DeliveryKind.WEBHOOK,
                    webhook=hook,
                    event=event,
                    payload=payload,
                    next_attempt_at=now,
                )
                for hook in webhooks
            ]
        )
    if kick:
        pks = [d.pk for d in deliveries]
        transaction.on_commit(lambda: outbox.kick(school.pk, pks))
    return deliveries


# --- sending ------------------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn the POST into a GET without the body; report it instead so the admin fixes the URL.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass
class Attempt:
    ok: bool
    status: int | None
    error: str


def post(url: str, body: bytes, headers: dict) -> Attempt:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            code = response.status
            return Attempt(200 <= code < 300, code, "" if 200 <= code < 300 else f"HTTP {code}")
    except urllib.error.HTTPError as error:
        snippet = error.read(200).decode("utf-8", "replace").strip()
        return Attempt(False, error.code, f"HTTP {error.code}" + (f": {snippet}" if snippet else ""))
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return Attempt(False, None, f"{type(error).__name__}: {reason}")


def attempt(delivery: Delivery, *, now: datetime | None = None) -> Delivery:
    """One POST of one delivery, and its outcome recorded (success, retry time, or giving up)."""
    now = now or timezone.now()
    webhook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "fermonitor-webhooks/1",
        "X-Fermonitor-Event": delivery.event,
        "X-Fermonitor-Delivery": str(delivery.uuid),
        SIGNATURE_HEADER: signature_header(webhook.secret, body, int(now.timestamp())),
    }
    result = post(webhook.url, body, headers)
    return outbox.record(
        delivery, outbox.Outcome(result.ok, result.status, result.error), now, max_attempts=MAX_ATTEMPTS
    )


def redeliver(delivery: Delivery) -> Delivery:
    """Send again now (the admin's "Retry now"); a delivery that had given up gets one more attempt."""
    if delivery.status == DeliveryStatus.FAILED:
        delivery.attempts = MAX_ATTEMPTS - 1
    return attempt(delivery)


def send_ping(webhook: Webhook) -> Delivery:
    """A test event to one endpoint, sent at once so the admin sees the result."""
    message = "A test event from fermonitor. Verify its signature with your endpoint's secret."
    (delivery,) = enqueue(webhook.school, PING, {"message": message}, webhooks=[webhook], kick=False)
    delivery.webhook = webhook
    if outbox.claim(delivery, timezone.now()):
        attempt(delivery)
    return delivery


# --- events -------------------------------------------------------------------------------------------------


def session_data(session: LiveSession) -> dict:
    from .api.serializers import LiveSessionSerializer

    return {"session": LiveSessionSerializer(session).data}


def session_started(session: LiveSession) -> None:
    session = _reload(session)
    enqueue(session.classroom.school, WebhookEvent.SESSION_STARTED, session_data(session))


def session_ended(session: LiveSession) -> None:
    from .api.serializers import SessionSummarySerializer
    from .api.summaries import session_summary

    session = _reload(session)
    with school_scope(session.classroom.school_id):
        summary = SessionSummarySerializer(session_summary(session)).data
    enqueue(
        session.classroom.school, WebhookEvent.SESSION_ENDED, {**session_data(session), "summary": summary}
    )


def alert_raised(alert) -> None:
    session = _reload(alert.session)
    student = alert.student
    data = {
        "alert": {
            "kind": alert.kind,
            "label": alert.get_kind_display(),
            "message": alert.message,
            "raised_at": alert.raised_at,
            "student": {"uuid": student.uuid, "lms_id": student.lms_id, "name": str(student)}
            if student
            else None,
        },
        **session_data(session),
    }
    enqueue(session.classroom.school, WebhookEvent.ALERT_RAISED, data)


def _reload(session: LiveSession) -> LiveSession:
    # Signals may come from any thread or scope: read the session and its school without relying on either.
    return LiveSession._base_manager.select_related("classroom__school").get(pk=session.pk)


def _safely(handler, *args) -> None:
    """Webhooks must never break the operation that caused the event."""
    try:
        handler(*args)
    except Exception:
        logger.exception("Could not queue webhook deliveries (%s)", handler.__name__)
