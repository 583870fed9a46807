from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled

from analytics.retention import DEFAULT_BATCH_SIZE, prune_school
from classes.models import School
from classes.tenancy import school_scope


class Command(BaseCommand):
    help = (
        "Delete raw emotion samples older than each school's retention period, and per-minute aggregates older "
        "than its aggregate retention period, in batches; reports what was removed per school."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--school", type=int, action="append", dest="schools", help="School id (repeatable)."
        )
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be removed; delete nothing."
        )

    def handle(self, *args, schools=None, batch_size=DEFAULT_BATCH_SIZE, dry_run=False, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        with scopes_disabled():  # listing the tenants themselves is operator work
            queryset = School.objects.order_by("pk")
            if schools:
                queryset = queryset.filter(pk__in=schools)
            found = list(queryset)
        missing = set(schools or ()) - {s.pk for s in found}
        if missing:
            raise CommandError(f"No school with id {', '.join(map(str, sorted(missing)))}.")
        verb = "would remove" if dry_run else "removed"
        grand_total = 0
        for school in found:
            with school_scope(school):
                report = prune_school(school, batch_size=batch_size, dry_run=dry_run)
            grand_total += report.total
            details = ", ".join(f"{count} {label}" for label, count in report.removed.items())
            self.stdout.write(
                f"{school.name} (id {school.pk}): {verb} {details} "
                f"(raw before {report.raw_cutoff:%Y-%m-%d %H:%M}, aggregates before {report.aggregate_cutoff:%Y-%m-%d %H:%M})"
            )
        self.stdout.write(self.style.SUCCESS(f"Done: {verb} {grand_total} rows in {len(found)} school(s)."))
