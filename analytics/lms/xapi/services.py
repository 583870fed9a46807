"""xAPI operations: queueing a finished lesson, composing its statements into the outbox, the admin's test
statement and resends, and the backfill of past lessons."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from classes.models import LiveSession, School, SessionStatus, User
from classes.tenancy import school_scope

from .. import outbox
from ..models import Delivery, DeliveryKind, DeliveryStatus
from . import client, statements
from .delivery import LESSON_EVENT
from .facts import lesson_facts
from .models import LrsSettings
from .vocabulary import statement_id

logger = logging.getLogger(__name__)


def settle_seconds() -> float:
    """How long after a lesson ends its statements are composed: every server process writes its last buffered
    samples within a second or two of the end; this leaves room for that."""
    return float(getattr(settings, "FERMONITOR_XAPI_SETTLE_SECONDS", 15))


def active_lrs(school: School | int) -> LrsSettings | None:
    with school_scope(school):
        return LrsSettings.objects.select_related("school").filter(enabled=True).first()


# --- a lesson ends ------------------------------------------------------------------------------------------


def lesson_ended(session: LiveSession, *, now: datetime | None = None) -> Delivery | None:
    """Queue the lesson for its statements (durably, in the outbox): they are composed SETTLE seconds later by
    whichever worker claims the row, so samples still being written by other processes are included."""
    session = LiveSession._base_manager.select_related("classroom__school").get(pk=session.pk)
    school = session.classroom.school
    lrs = active_lrs(school)
    if lrs is None or session.status != SessionStatus.ENDED:
        return None
    now = now or timezone.now()
    due = now + timedelta(seconds=settle_seconds())
    with school_scope(school):
        row, created = Delivery.objects.get_or_create(
            lrs=lrs,
            event_id=uuid.UUID(statement_id(f"{session.uuid}/lesson")),
            defaults={
                "school": school,
                "kind": DeliveryKind.XAPI,
                "session": session,
                "event": LESSON_EVENT,
                "payload": {"session": str(session.uuid), "title": session.title},
                "next_attempt_at": due,
                "give_up_at": due + lrs.give_up_after,
            },
        )
    if created:
        transaction.on_commit(lambda: outbox.kick(school.pk, [row.pk], delay=settle_seconds()))
    return row


def queue_lesson(lrs: LrsSettings, session: LiveSession, *, now: datetime) -> list[Delivery]:
    """Build the lesson's statements and queue those not queued before (for this LRS); returns the new rows.
    Inside the school's scope."""
    return _queue(lrs, session, now)[1]


def _queue(lrs: LrsSettings, session: LiveSession, now: datetime) -> tuple[list, list[Delivery]]:
    session = LiveSession.objects.select_related("classroom__school", "classroom__teacher").get(pk=session.pk)
    built = statements.lesson_statements(lesson_facts(session), lrs)
    ids = [uuid.UUID(s["id"]) for _, s in built]
    known = set(Delivery.objects.filter(lrs=lrs, event_id__in=ids).values_list("event_id", flat=True))
    rows = [
        Delivery(
            school_id=lrs.school_id,
            kind=DeliveryKind.XAPI,
            lrs=lrs,
            session=session,
            event=f"xapi.{kind}",
            event_id=uuid.UUID(s["id"]),
            payload=s,
            next_attempt_at=now,
            give_up_at=now + lrs.give_up_after,
        )
        for kind, s in built
        if uuid.UUID(s["id"]) not in known
    ]
    if not rows:
        return built, []
    # Another worker may queue the same lesson at the same moment: the unique (lrs, event_id) keeps one row.
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    new = Delivery.objects.filter(
        lrs=lrs, event_id__in=[r.event_id for r in rows], status=DeliveryStatus.PENDING
    ).select_related("lrs", "lrs__school", "school", "session")
    return built, list(new)


# --- the admin's actions ------------------------------------------------------------------------------------


@dataclass
class TestResult:
    ok: bool
    status: int | None
    answer: str
    statement: dict
    stored: dict | None = None  # the statement as the LRS returned it when read back


def send_test_statement(lrs: LrsSettings, admin: User, *, now: datetime | None = None) -> TestResult:
    """POST one statement at once (not through the outbox: the admin waits for the answer), then read it back
    by id. The outcome is kept on the settings for the page."""
    now = now or timezone.now()
    sent = statements.test_statement(lrs, admin, now, str(uuid.uuid4()))
    answer = client.post_statements(lrs, [sent])
    stored = None
    if answer.ok:
        read = client.get_statement(lrs, sent["id"])
        body = read.json() if read.ok else None
        # The spec returns the statement itself; some LRSs wrap it in a statement result.
        if isinstance(body, dict) and "statements" in body:
            body = next(iter(body["statements"]), None)
        stored = body if isinstance(body, dict) and body.get("id") == sent["id"] else None
    result = TestResult(answer.ok and stored is not None, answer.status, answer.describe(), sent, stored)
    if answer.ok and stored is None:
        result.answer += " " + _("(but reading the statement back by its id failed)")
    lrs.last_test_at = now
    lrs.last_test_ok = result.ok
    lrs.last_test_status = answer.status
    lrs.last_test_answer = result.answer[:1000]
    lrs.save(update_fields=["last_test_at", "last_test_ok", "last_test_status", "last_test_answer"])
    return result


def resend(rows, *, now: datetime | None = None) -> list[int]:
    """Failed (or pending) statements get a fresh give-up window and go out at once; returns their pks."""
    now = now or timezone.now()
    pks = []
    for row in rows:
        if row.status == DeliveryStatus.SUCCEEDED:
            continue
        row.status = DeliveryStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = now
        row.give_up_at = now + row.lrs.give_up_after
        row.save(update_fields=["status", "attempts", "next_attempt_at", "give_up_at"])
        pks.append(row.pk)
    return pks


def resend_failed(lrs: LrsSettings, *, now: datetime | None = None) -> list[int]:
    return resend(
        Delivery.objects.filter(lrs=lrs, status=DeliveryStatus.FAILED).select_related("lrs"), now=now
    )


# --- backfill -----------------------------------------------------------------------------------------------


@dataclass
class BackfillReport:
    lessons: int = 0
    statements: int = 0
    queued: int = 0  # new rows in the outbox
    already_queued: int = 0
    requeued: int = 0  # delivered before, sent again (--resend)
    sessions: list[str] = field(default_factory=list)


def backfill(
    school: School,
    date_from: date,
    date_to: date,
    *,
    resend_delivered: bool = False,
    now: datetime | None = None,
) -> BackfillReport:
    """Queue the statements of the school's lessons that ended and started between the two dates (inclusive,
    in the server's time zone). Idempotent: statements already queued are not queued again; with
    `resend_delivered` those already delivered go out once more (the LRS answers 204/409 to known ids)."""
    now = now or timezone.now()
    report = BackfillReport()
    lrs = active_lrs(school)
    if lrs is None:
        raise ValueError(
            f"{school} has no LRS, or sending is switched off: set it up on the Integrations page."
        )
    with school_scope(school):
        lessons = LiveSession.objects.filter(
            status=SessionStatus.ENDED,
            started_at__date__gte=date_from,
            started_at__date__lte=date_to,
        ).order_by("started_at")
        for session in lessons:
            built, new = _queue(lrs, session, now)
            report.lessons += 1
            report.sessions.append(str(session.uuid))
            report.statements += len(built)
            report.queued += len(new)
            report.already_queued += len(built) - len(new)
            if resend_delivered:
                delivered = Delivery.objects.filter(
                    lrs=lrs,
                    event_id__in=[uuid.UUID(s["id"]) for _, s in built],
                    status=DeliveryStatus.SUCCEEDED,
                )
                report.requeued += delivered.update(
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    give_up_at=now + lrs.give_up_after,
                    delivered_at=None,
                )
    return report
