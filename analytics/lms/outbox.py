"""The durable outbox: every message to a school's systems (webhook events, xAPI statements) is a `Delivery` row
first, and is sent from there, so nothing is lost when a receiver is down or fermonitor restarts.

A row is sent by whoever claims it: the first attempt right after the event's transaction commits (a background
thread, see `kick`), and `manage.py deliver_outbox --loop` (or cron) for everything due later. Claiming is a
conditional UPDATE of `next_attempt_at`, so two workers never send the same attempt; a worker that dies
mid-attempt leaves a claim that expires after CLAIM_LEASE, and the row is sent again. Receivers must therefore
tolerate a repeat: webhook payloads carry a stable `id`, and xAPI statements a stable statement id that the LRS
recognises (it answers 204/409 instead of storing a second copy).

What a row's kind does on the wire is up to its sender: `webhooks.attempt` (one signed POST per row) and
`xapi.delivery.send` (batched statement POSTs). Both record outcomes through `record`, so retries, backoff and
giving up work the same way and show in the same logs.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from classes.models import School
from classes.tenancy import school_scope

from .models import Delivery, DeliveryKind, DeliveryStatus

logger = logging.getLogger(__name__)

BACKOFF_CAP = timedelta(hours=6)
# A claimed delivery is skipped by other workers this long; a worker that died mid-attempt frees it after that.
CLAIM_LEASE = timedelta(seconds=30)
# Rounds of claiming per school and pass: composing a lesson makes new rows that are due at once.
MAX_ROUNDS = 20


def backoff(attempts: int, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, 4 min … at most `cap` (the first pause
    is FERMONITOR_OUTBOX_BACKOFF_SECONDS, 30 by default)."""
    base = timedelta(seconds=float(getattr(settings, "FERMONITOR_OUTBOX_BACKOFF_SECONDS", 30)))
    return min(base * (2 ** min(max(attempts - 1, 0), 20)), cap)


# --- claiming and recording ---------------------------------------------------------------------------------


def claim(delivery: Delivery, now: datetime) -> bool:
    """Take a pending delivery for this worker (a conditional UPDATE, so two workers never send the same
    attempt). The row's next_attempt_at becomes the lease's end."""
    claimed = Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, next_attempt_at=delivery.next_attempt_at
    ).update(next_attempt_at=now + CLAIM_LEASE)
    if claimed == 1:
        delivery.next_attempt_at = now + CLAIM_LEASE
    return claimed == 1


@dataclass
class Outcome:
    ok: bool
    status: int | None = None
    error: str = ""
    retry_after: timedelta | None = None  # the receiver asked for at least this pause (Retry-After)
    final: bool = False  # retrying the same bytes cannot succeed: give up now


RECORDED_FIELDS = [
    "attempts",
    "last_attempt_at",
    "response_status",
    "last_error",
    "status",
    "delivered_at",
    "next_attempt_at",
]


def record(
    delivery: Delivery,
    outcome: Outcome,
    now: datetime,
    *,
    max_attempts: int | None = None,
    cap: timedelta = BACKOFF_CAP,
) -> Delivery:
    """One attempt's outcome: delivered, retried after a backoff, or given up (after `max_attempts`, at the
    row's give_up_at, or at once for a final failure)."""
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_status = outcome.status
    delivery.last_error = outcome.error[:500]
    if outcome.ok:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif (
        outcome.final
        or (max_attempts is not None and delivery.attempts >= max_attempts)
        or (delivery.give_up_at is not None and now >= delivery.give_up_at)
    ):
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.status = DeliveryStatus.PENDING
        wait = max(backoff(delivery.attempts, cap), outcome.retry_after or timedelta(0))
        retry_at = now + wait
        if delivery.give_up_at is not None:
            retry_at = min(retry_at, delivery.give_up_at)  # one last try at the deadline
        delivery.next_attempt_at = retry_at
    delivery.save(update_fields=RECORDED_FIELDS)
    return delivery


def release(deliveries: list[Delivery], until: datetime, reason: str = "") -> None:
    """Hand claimed rows back unsent (no attempt counted), due again at `until`."""
    for delivery in deliveries:
        delivery.next_attempt_at = until
        if reason:
            delivery.last_error = reason[:500]
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries], status=DeliveryStatus.PENDING).update(
        next_attempt_at=until, **({"last_error": reason[:500]} if reason else {})
    )


# --- sending ------------------------------------------------------------------------------------------------


@dataclass
class RunReport:
    attempted: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0

    def count(self, deliveries) -> None:
        for delivery in deliveries:
            self.attempted += 1
            if delivery.status == DeliveryStatus.SUCCEEDED:
                self.succeeded += 1
            elif delivery.status == DeliveryStatus.FAILED:
                self.failed += 1
            else:
                self.retrying += 1


def _dispatch(claimed: list[Delivery], now: datetime, report: RunReport) -> None:
    from . import webhooks
    from .xapi import delivery as xapi_delivery

    for delivery in claimed:
        if delivery.kind == DeliveryKind.WEBHOOK:
            try:
                webhooks.attempt(delivery, now=now)
            except Exception:  # the claim expires and the next pass sends it again
                logger.exception("Webhook delivery %s failed before its outcome was recorded", delivery.pk)
                continue
            report.count([delivery])
    statements = [d for d in claimed if d.kind == DeliveryKind.XAPI]
    if statements:
        try:
            report.count(xapi_delivery.send(statements, now=now))
        except Exception:
            logger.exception("xAPI delivery failed before its outcome was recorded")


def _due(now: datetime, limit: int):
    return (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .select_related("webhook", "lrs", "lrs__school", "school")
        .order_by("next_attempt_at", "pk")[:limit]
    )


def deliver_due(*, now: datetime | None = None, school: School | None = None, limit: int = 200) -> RunReport:
    """Send every delivery whose time has come (of one school, or of all schools in turn); at most `limit`
    per school and pass."""
    now = now or timezone.now()
    report = RunReport()
    if school is not None:
        school_ids = [school.pk]
    else:
        school_ids = list(
            Delivery.objects.with_scopes_disabled()
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .values_list("school_id", flat=True)
            .distinct()
            .order_by()
        )
    for school_id in school_ids:
        with school_scope(school_id):
            done = 0
            for _ in range(MAX_ROUNDS):
                due = list(_due(now, limit - done))
                claimed = [d for d in due if claim(d, now)]
                if not claimed:
                    break
                before = report.attempted
                _dispatch(claimed, now, report)
                done += len(claimed)
                if done >= limit or report.attempted == before:
                    break
    return report


def deliver_pending(school_id: int, pks: list[int], now: datetime | None = None) -> RunReport:
    """First attempt of just-queued rows, whether or not they are due yet (the caller decided the moment)."""
    now = now or timezone.now()
    report = RunReport()
    with school_scope(school_id):
        rows = Delivery.objects.filter(pk__in=pks, status=DeliveryStatus.PENDING).select_related(
            "webhook", "lrs", "lrs__school", "school"
        )
        claimed = [d for d in rows if claim(d, now)]
        if claimed:
            _dispatch(claimed, now, report)
    return report


def mode() -> str:
    """thread (default): first attempt in a background thread; sync: at once (tests, scripts); queue: only the
    `deliver_outbox` command sends."""
    return getattr(settings, "FERMONITOR_WEBHOOK_DELIVERY", "thread")


def kick(school_id: int, pks: list[int], *, delay: float = 0.0) -> None:
    """The first attempt of rows just queued (call it on commit); `delay` seconds later in thread mode."""
    if not pks:
        return
    current = mode()
    if current == "sync":
        deliver_pending(school_id, pks)
    elif current == "thread":
        timer = threading.Timer(delay, _deliver_in_thread, args=(school_id, pks))
        timer.daemon = True
        timer.start()


def _deliver_in_thread(school_id: int, pks: list[int]) -> None:
    try:
        deliver_pending(school_id, pks)
    except Exception:  # the command retries whatever this thread could not send
        logger.exception("Outbox delivery thread failed")
    finally:
        connection.close()
