"""`manage.py recover_recordings`: re-queue recording jobs whose worker died mid-job (`make run` runs it before it
starts the worker). Safe to run any time: a job whose worker still sends heartbeats is left alone."""

from django.core.management.base import BaseCommand

from analytics.live.recordings import recover_stale_jobs


class Command(BaseCommand):
    help = "Re-queue recording analyses whose worker stopped without finishing them."

    def handle(self, *args, **options):
        requeued = recover_stale_jobs()
        self.stdout.write(f"Re-queued {len(requeued)} recording job(s).")
