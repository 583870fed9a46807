import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_scopes import scopes_disabled

from analytics import rollups
from classes.models import LiveSession, School
from classes.tenancy import school_scope


class Command(BaseCommand):
    help = (
        "Recompute per-minute roll-ups from raw emotion samples (all sessions, or those of some schools or "
        "sessions). Sessions whose raw samples are past retention keep their aggregates."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--school", type=int, action="append", dest="schools", help="School id (repeatable)."
        )
        parser.add_argument("--session", action="append", dest="sessions", help="Session uuid (repeatable).")

    def handle(self, *args, schools=None, sessions=None, **options):
        with scopes_disabled():  # listing the tenants themselves is operator work
            queryset = School.objects.order_by("pk")
            if schools:
                queryset = queryset.filter(pk__in=schools)
            if sessions:
                try:
                    sessions = [uuid.UUID(value) for value in sessions]
                except ValueError as error:
                    raise CommandError(f"Bad session uuid: {error}") from error
                queryset = queryset.filter(classrooms__sessions__uuid__in=sessions).distinct()
            found = list(queryset)
        if (schools or sessions) and not found:
            raise CommandError("No matching school or session.")
        started = time.monotonic()
        totals = [0, 0]
        for school in found:
            with school_scope(school):
                candidates = LiveSession.objects.all()
                if sessions:
                    candidates = candidates.filter(uuid__in=sessions)
                # Past retention the raw samples are (partly) gone: rebuilding would destroy good aggregates.
                cutoff = timezone.now() - timezone.timedelta(days=school.retention_days)
                skipped = candidates.filter(started_at__lt=cutoff).count()
                ids = rollups.sessions_with_samples(candidates.exclude(started_at__lt=cutoff))
                self.stdout.write(f"{school.name} (id {school.pk}): {len(ids)} session(s) to rebuild")
                for n, session_id in enumerate(ids, 1):
                    result = rollups.rebuild_session(session_id)
                    totals[0] += 1
                    totals[1] += result.student_minutes
                    self.stdout.write(
                        f"  [{n}/{len(ids)}] session {session_id}: {result.session_minutes} minutes, "
                        f"{result.students} students, {result.student_minutes} student-minutes"
                    )
                if skipped:
                    self.stdout.write(f"  skipped {skipped} session(s) older than the raw-sample retention")
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt {totals[0]} session(s), {totals[1]} student-minutes in {time.monotonic() - started:.1f}s."
            )
        )
