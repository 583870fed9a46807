"""Send due webhook deliveries (first attempts that did not happen, and retries with backoff).

manage.py deliver_webhooks            # one pass (cron)
manage.py deliver_webhooks --loop     # a worker: a pass every --interval seconds until stopped
"""

import time

from django.core.management.base import BaseCommand

from analytics.api import webhooks


class Command(BaseCommand):
    help = "Send webhook deliveries whose (re)try time has come."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="Keep running, a pass every --interval seconds."
        )
        parser.add_argument("--interval", type=float, default=10.0)

    def handle(self, *args, loop=False, interval=10.0, **options):
        while True:
            report = webhooks.deliver_due()
            if report.attempted or not loop:
                self.stdout.write(
                    f"attempted {report.attempted}: {report.succeeded} delivered, "
                    f"{report.retrying} to retry, {report.failed} given up"
                )
            if not loop:
                return
            time.sleep(interval)
