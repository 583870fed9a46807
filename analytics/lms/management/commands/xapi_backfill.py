"""Send the xAPI statements of past lessons to a school's LRS.

manage.py xapi_backfill --school alpha --from 2026-01-01 --to 2026-03-31
manage.py xapi_backfill --school alpha --from 2026-01-01 --to 2026-03-31 --queue-only   # the worker sends
manage.py xapi_backfill --school alpha --from 2026-01-01 --to 2026-03-31 --resend       # e.g. a new LRS

Idempotent: run it twice and nothing is queued twice; statements the LRS already has (same ids) are answered
204/409 by the LRS and counted as delivered. The school's LRS must be set up and switched on.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from analytics.lms import outbox
from analytics.lms.models import Delivery, DeliveryKind, DeliveryStatus
from analytics.lms.xapi import services
from classes.models import School
from classes.tenancy import school_scope


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"“{text}” is not a date; write it as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Queue (and send) the xAPI statements of a school's lessons between two dates."

    def add_arguments(self, parser):
        parser.add_argument("--school", required=True, help="The school's slug.")
        parser.add_argument("--from", dest="date_from", required=True, help="First day (YYYY-MM-DD).")
        parser.add_argument("--to", dest="date_to", required=True, help="Last day, included (YYYY-MM-DD).")
        parser.add_argument(
            "--resend", action="store_true", help="Send statements already delivered again (a new LRS)."
        )
        parser.add_argument(
            "--queue-only", action="store_true", help="Only queue; `deliver_outbox` sends them."
        )

    def handle(self, *args, school, date_from, date_to, resend=False, queue_only=False, **options):
        start, end = _date(date_from), _date(date_to)
        if end < start:
            raise CommandError("--to is before --from.")
        found = School.objects.filter(slug=school).first()
        if found is None:
            raise CommandError(f"No school with the slug “{school}”.")
        try:
            report = services.backfill(found, start, end, resend_delivered=resend)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{report.lessons} lessons, {report.statements} statements: {report.queued} queued, "
            f"{report.already_queued} queued before"
            + (f", {report.requeued} delivered before and queued again" if resend else "")
        )
        if queue_only:
            return
        delivered = failed = 0
        while True:
            run = outbox.deliver_due(school=found, now=timezone.now(), limit=500)
            delivered += run.succeeded
            failed += run.failed
            if run.attempted == 0 or run.retrying:
                break
        with school_scope(found):
            waiting = Delivery.objects.filter(
                kind=DeliveryKind.XAPI, session__uuid__in=report.sessions, status=DeliveryStatus.PENDING
            ).count()
        self.stdout.write(
            f"sent now: {delivered} delivered, {failed} failed"
            + (f"; {waiting} wait for a retry (the LRS did not accept them yet)" if waiting else "")
        )
