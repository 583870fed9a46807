"""Retention: raw samples and, after a longer period, roll-ups are deleted once they are older than the school's
retention periods. Deletes run in batches of primary keys so a big backlog never holds one huge transaction."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from classes.models import School

from .models import (
    CallParticipant,
    EmotionSample,
    ParticipantMinute,
    SessionMinute,
    StudentMinute,
    StudentSession,
)

DEFAULT_BATCH_SIZE = 5000


@dataclass
class PruneReport:
    school: str
    raw_cutoff: datetime
    aggregate_cutoff: datetime
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def _delete_in_batches(queryset, batch_size: int, dry_run: bool) -> int:
    if dry_run:
        return queryset.count()
    removed = 0
    model = queryset.model
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return removed
        with transaction.atomic():
            # Delete by primary key through the unscoped base manager: the ids came from the scoped queryset.
            model._base_manager.filter(pk__in=ids).delete()
        removed += len(ids)


def prune_school(
    school: School,
    *,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
) -> PruneReport:
    """Delete one school's raw samples older than retention_days and roll-ups older than
    aggregate_retention_days ("older than" is strict: a row exactly at the cut-off stays). Call it inside the
    school's scope."""
    now = now or timezone.now()
    raw_cutoff = now - timedelta(days=school.retention_days)
    aggregate_cutoff = now - timedelta(days=max(school.aggregate_retention_days, school.retention_days))
    report = PruneReport(school=school.name, raw_cutoff=raw_cutoff, aggregate_cutoff=aggregate_cutoff)
    targets = [
        ("raw samples", EmotionSample.objects.filter(captured_at__lt=raw_cutoff)),
        ("student minutes", StudentMinute.objects.filter(minute__lt=aggregate_cutoff)),
        ("participant minutes", ParticipantMinute.objects.filter(minute__lt=aggregate_cutoff)),
        ("class minutes", SessionMinute.objects.filter(minute__lt=aggregate_cutoff)),
        # A session total goes when its last minute does.
        ("student session totals", StudentSession.objects.filter(last_minute__lt=aggregate_cutoff)),
    ]
    for label, queryset in targets:
        report.removed[label] = _delete_in_batches(queryset, batch_size, dry_run)
    # A call participant (who was who in a call) goes once nothing of it is left; in a dry run its samples and
    # minutes are still there, so only the already-empty ones are counted.
    report.removed["call participants"] = _delete_in_batches(
        CallParticipant.objects.filter(
            first_seen_at__lt=aggregate_cutoff, samples__isnull=True, minutes__isnull=True
        ).distinct(),
        batch_size,
        dry_run,
    )
    return report
