"""Webhooks: signed JSON POSTs to the URLs a school registered, retried with exponential backoff.

Each event becomes one `WebhookDelivery` row per subscribed endpoint, carrying the payload as it was when the
event happened. The first attempt is made right after the event's transaction commits (in a background thread,
so nothing waits on a slow receiver); failed attempts are retried by `manage.py deliver_webhooks` (run it with
`--loop` as a worker, or from cron) after 30 s, 1, 2, 4 … minutes, up to MAX_ATTEMPTS attempts.

Signature (Stripe-style, so common verification code works)::

    X-Fermonitor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

Receivers recompute the HMAC over the raw body with their endpoint's secret, compare in constant time and reject
timestamps older than a few minutes (replays). `verify_signature` below does exactly that.
"""

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from classes.models import LiveSession, School
from classes.tenancy import school_scope

from .models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Fermonitor-Signature"
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
TIMEOUT_SECONDS = 10
# A claimed delivery is skipped by other workers this long; a worker that died mid-attempt frees it after that.
CLAIM_LEASE = timedelta(seconds=TIMEOUT_SECONDS * 3)
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


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, 4 min … at most 6 h."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


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
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(webhook=hook, event=event, payload=payload, next_attempt_at=now)
                for hook in webhooks
            ]
        )
    if kick:
        pks = [d.pk for d in deliveries]
        transaction.on_commit(lambda: _first_attempt(school.pk, pks))
    return deliveries


def _mode() -> str:
    """thread (default): first attempt in a background thread; sync: at once (tests, scripts); queue: only the
    `deliver_webhooks` command sends."""
    return getattr(settings, "FERMONITOR_WEBHOOK_DELIVERY", "thread")


def _first_attempt(school_id: int, pks: list[int]) -> None:
    mode = _mode()
    if mode == "sync":
        deliver_pending(school_id, pks)
    elif mode == "thread":
        threading.Thread(target=_deliver_in_thread, args=(school_id, pks), daemon=True).start()


def _deliver_in_thread(school_id: int, pks: list[int]) -> None:
    try:
        deliver_pending(school_id, pks)
    except Exception:  # the command retries whatever this thread could not send
        logger.exception("Webhook delivery thread failed")
    finally:
        connection.close()


def deliver_pending(school_id: int, pks: list[int], now: datetime | None = None) -> None:
    with school_scope(school_id):
        for delivery in WebhookDelivery.objects.filter(
            pk__in=pks, status=DeliveryStatus.PENDING
        ).select_related("webhook"):
            if _claim(delivery, now or timezone.now()):
                attempt(delivery, now=now)


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


def attempt(delivery: WebhookDelivery, *, now: datetime | None = None) -> WebhookDelivery:
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
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = result.status
    delivery.last_error = result.error[:500]
    if result.ok:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.status = DeliveryStatus.PENDING
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save(
        update_fields=[
            "attempts",
            "last_attempt_at",
            "response_status",
            "last_error",
            "status",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delivery


def _claim(delivery: WebhookDelivery, now: datetime) -> bool:
    """Take a due delivery for this worker (a conditional UPDATE, so two workers never send the same attempt)."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, next_attempt_at=delivery.next_attempt_at
    ).update(next_attempt_at=now + CLAIM_LEASE)
    return claimed == 1


@dataclass
class RunReport:
    attempted: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(*, now: datetime | None = None, school: School | None = None, limit: int = 200) -> RunReport:
    """Attempt every delivery whose time has come (of one school, or of all schools in turn)."""
    now = now or timezone.now()
    report = RunReport()
    if school is not None:
        school_ids = [school.pk]
    else:
        school_ids = list(
            WebhookDelivery.objects.with_scopes_disabled()
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .values_list("webhook__school_id", flat=True)
            .distinct()
            .order_by()
        )
    for school_id in school_ids:
        with school_scope(school_id):
            due = (
                WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
                .select_related("webhook")
                .order_by("next_attempt_at", "pk")[:limit]
            )
            for delivery in list(due):
                if not _claim(delivery, now):
                    continue
                attempt(delivery, now=now)
                report.attempted += 1
                if delivery.status == DeliveryStatus.SUCCEEDED:
                    report.succeeded += 1
                elif delivery.status == DeliveryStatus.FAILED:
                    report.failed += 1
                else:
                    report.retrying += 1
    return report


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send again now (the admin's "Retry now"); a delivery that had given up gets one more attempt."""
    if delivery.status == DeliveryStatus.FAILED:
        delivery.attempts = MAX_ATTEMPTS - 1
    return attempt(delivery)


def send_ping(webhook: Webhook) -> WebhookDelivery:
    """A test event to one endpoint, sent at once so the admin sees the result."""
    message = "A test event from fermonitor. Verify its signature with your endpoint's secret."
    (delivery,) = enqueue(webhook.school, PING, {"message": message}, webhooks=[webhook], kick=False)
    delivery.webhook = webhook
    if _claim(delivery, timezone.now()):
        attempt(delivery)
    return delivery


# --- events -------------------------------------------------------------------------------------------------


def session_data(session: LiveSession) -> dict:
    from .serializers import LiveSessionSerializer

    return {"session": LiveSessionSerializer(session).data}


def session_started(session: LiveSession) -> None:
    session = _reload(session)
    enqueue(session.classroom.school, WebhookEvent.SESSION_STARTED, session_data(session))


def session_ended(session: LiveSession) -> None:
    from .serializers import SessionSummarySerializer
    from .summaries import session_summary

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
