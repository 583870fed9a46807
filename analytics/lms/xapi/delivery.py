"""Sending the outbox's xAPI rows: lessons to compose, and statements in batched POSTs.

How each LRS answer is handled (the same table is in docs/xapi.md):

- 200/204: every statement of the batch is stored (204: the LRS already had them all, e.g. after a crash
  between our POST and our bookkeeping).
- 409 or 400/413/422 for a batch of several: one bad or conflicting statement rejects the whole batch, so each
  one is sent alone (PUT with its id) to find it. Alone, 409 means the LRS already has a statement with that id:
  it counts as delivered (ids are stable, so it is this event); 400/413/422 cannot succeed by retrying: given up
  at once, with the LRS's message, and resendable from the LRS page.
- 429, 5xx, 401/403/404, no answer: retried with backoff (30 s doubling up to RETRY_CAP, or the LRS's
  Retry-After if longer) until the school's give-up time, then marked failed. The other statements due for the
  same LRS wait for the same moment instead of hammering an LRS that is down.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from ..models import Delivery, DeliveryStatus
from ..outbox import Outcome, claim, record, release
from . import client

logger = logging.getLogger(__name__)

LESSON_EVENT = "xapi.lesson"
RETRY_CAP = timedelta(minutes=10)
PAUSED_RECHECK = timedelta(minutes=5)
# A statement (or batch) the LRS cannot take as it is: 400 per the spec, 422 from FastAPI-based LRSs such as
# ralph, 413 too large. With 409 (an id it has with other content) these are sent one by one to find which.
REJECTED = {400, 413, 422}
SPLIT_STATUSES = REJECTED | {409}


def batch_size() -> int:
    return max(1, int(getattr(settings, "FERMONITOR_XAPI_BATCH_SIZE", 50)))


def send(rows: list[Delivery], *, now: datetime) -> list[Delivery]:
    """Send claimed xAPI rows of one school; returns every row whose attempt was recorded."""
    done: list[Delivery] = []
    statements = [row for row in rows if row.event != LESSON_EVENT]
    for row in rows:
        if row.event == LESSON_EVENT:
            done.append(row)
            statements.extend(_compose(row, now))
    by_lrs: dict[int, list[Delivery]] = {}
    for row in statements:
        by_lrs.setdefault(row.lrs_id, []).append(row)
    for items in by_lrs.values():
        done.extend(_send_to_lrs(items, now))
    return done


def _compose(row: Delivery, now: datetime) -> list[Delivery]:
    """Queue a finished lesson's statements; returns the new ones, claimed, to send right away."""
    from . import services

    if row.session is None:
        record(
            row,
            Outcome(False, error=_("The lesson was deleted before its statements were sent."), final=True),
            now,
        )
        return []
    try:
        new = services.queue_lesson(row.lrs, row.session, now=now)
    except Exception as error:  # a bug or a database error: visible on the page, retried with backoff
        logger.exception("Could not compose the statements of lesson %s", row.session_id)
        record(
            row,
            Outcome(False, error=_("Could not compose the statements: %(error)s") % {"error": error}),
            now,
            cap=RETRY_CAP,
        )
        return []
    record(row, Outcome(True), now)
    return [d for d in new if claim(d, now)]


def _send_to_lrs(items: list[Delivery], now: datetime) -> list[Delivery]:
    lrs = items[0].lrs
    if not lrs.enabled:
        release(items, now + PAUSED_RECHECK, _("Sending is switched off on the LRS page; waiting."))
        return []
    done: list[Delivery] = []
    size = batch_size()
    for start in range(0, len(items), size):
        batch = items[start : start + size]
        answer = client.post_statements(lrs, [item.payload for item in batch])
        if answer.ok:
            for item in batch:
                record(item, Outcome(True, answer.status), now)
            done.extend(batch)
            continue
        if answer.status in SPLIT_STATUSES:
            done.extend(_one_by_one(batch, now) if len(batch) > 1 else [_single(batch[0], answer, now)])
            continue
        # The LRS is down, overloaded or refusing us: this batch waits its backoff, and so does the rest.
        for item in batch:
            record(item, _transient(answer), now, cap=RETRY_CAP)
        done.extend(batch)
        rest = items[start + size :]
        if rest:
            release(
                rest,
                min(item.next_attempt_at for item in batch),
                _("Waiting: the LRS did not accept the batch before."),
            )
        break
    return done


def _transient(answer: client.Answer) -> Outcome:
    retry_after = timedelta(seconds=min(answer.retry_after, 3600)) if answer.retry_after else None
    return Outcome(False, answer.status, answer.describe(), retry_after=retry_after)


def _single(item: Delivery, answer: client.Answer, now: datetime) -> Delivery:
    if answer.status == 409:
        # The LRS has a statement with this id. Ids are derived from the event, so it is this event (sent by an
        # earlier attempt or a backfill); the LRS keeps its copy either way.
        return record(item, Outcome(True, 409), now)
    if answer.status in REJECTED:
        return record(item, Outcome(False, answer.status, answer.describe(), final=True), now)
    if answer.ok:
        return record(item, Outcome(True, answer.status), now)
    return record(item, _transient(answer), now, cap=RETRY_CAP)


def _one_by_one(batch: list[Delivery], now: datetime) -> list[Delivery]:
    lrs = batch[0].lrs
    done = []
    for item in batch:
        answer = client.put_statement(lrs, item.payload)
        done.append(_single(item, answer, now))
        if item.status == DeliveryStatus.PENDING:  # transient: the rest waits with it
            rest = batch[len(done) :]
            if rest:
                release(rest, item.next_attempt_at, _("Waiting: the LRS did not accept a statement before."))
            break
    return done
