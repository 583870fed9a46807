"""Send what is due in the outbox: webhook events and xAPI statements (first attempts that did not happen,
lessons whose statements are to be composed, retries with backoff).

manage.py deliver_outbox            # one pass (cron)
manage.py deliver_outbox --loop     # a worker: a pass every --interval seconds until stopped

Everything it works on is in the database: stop or restart it at any time; a row it was sending when it died is
sent again after a short lease (receivers recognise the repeat).
"""

import time

from django.core.management.base import BaseCommand

from analytics.lms import outbox


class Command(BaseCommand):
    help = "Send the webhook events and xAPI statements whose (re)try time has come."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="Keep running, a pass every --interval seconds."
        )
        parser.add_argument("--interval", type=float, default=10.0)
        parser.add_argument("--limit", type=int, default=200, help="Most rows per school and pass.")

    def handle(self, *args, loop=False, interval=10.0, limit=200, **options):
        while True:
            report = outbox.deliver_due(limit=limit)
            if report.attempted or not loop:
                self.stdout.write(
                    f"attempted {report.attempted}: {report.succeeded} delivered, "
                    f"{report.retrying} to retry, {report.failed} given up"
                )
            if not loop:
                return
            if report.attempted < limit:  # a full pass means more is due: go on at once
                time.sleep(interval)
