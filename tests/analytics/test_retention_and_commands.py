"""prune_samples deletes exactly what is past retention (per school); rebuild_rollups rebuilds with progress."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from analytics.models import EmotionSample, SessionMinute, StudentMinute, StudentSession
from analytics.retention import prune_school
from analytics.services import record_samples
from classes.tenancy import school_scope

from .conftest import HAPPY, records

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def aged(cast):
    """school A keeps raw samples 10 days and aggregates 30; samples at the edges of both periods."""
    with scopes_disabled():
        cast.school_a.retention_days, cast.school_a.aggregate_retention_days = 10, 30
        cast.school_a.save()
        raw_cut, agg_cut = NOW - timedelta(days=10), NOW - timedelta(days=30)
        stamps = {
            "agg_old": agg_cut - timedelta(minutes=1),  # minute before the aggregate cut-off
            "agg_edge": agg_cut,  # exactly at it: kept
            "raw_old": raw_cut - timedelta(seconds=1),
            "raw_edge": raw_cut,
            "fresh": NOW - timedelta(hours=1),
        }
        for stamp in stamps.values():
            record_samples(records(cast.a_live, cast.sam, stamp, 1, HAPPY))
        # school B's equally old samples are not school A's business.
        record_samples(records(cast.b_live, cast.bea, stamps["agg_old"], 1, HAPPY))
    return cast, stamps


def test_prune_removes_raw_samples_strictly_older_than_retention(aged):
    cast, stamps = aged
    with school_scope(cast.school_a):
        report = prune_school(cast.school_a, now=NOW, batch_size=2)
        kept = set(EmotionSample.objects.values_list("captured_at", flat=True))
    assert kept == {stamps["raw_edge"], stamps["fresh"]}
    assert report.removed["raw samples"] == 3


def test_prune_removes_aggregates_only_after_the_longer_period(aged):
    cast, stamps = aged
    with school_scope(cast.school_a):
        report = prune_school(cast.school_a, now=NOW)
        minutes = set(StudentMinute.objects.values_list("minute", flat=True))
        class_minutes = set(SessionMinute.objects.values_list("minute", flat=True))
    floor = lambda t: t.replace(second=0, microsecond=0)  # noqa: E731
    expected = {floor(stamps[k]) for k in ("agg_edge", "raw_old", "raw_edge", "fresh")}
    assert minutes == expected and class_minutes == expected
    assert report.removed["student minutes"] == 1 and report.removed["class minutes"] == 1
    # sam's session total still has recent minutes, so it stays.
    assert report.removed["student session totals"] == 0


def test_prune_never_touches_another_school(aged):
    cast, _ = aged
    with school_scope(cast.school_a):
        prune_school(cast.school_a, now=NOW)
    with scopes_disabled():
        assert EmotionSample.objects.filter(session=cast.b_live).count() == 1
        assert StudentMinute.objects.filter(session=cast.b_live).count() == 1


def test_session_total_goes_with_its_last_minute(cast):
    with scopes_disabled():
        record_samples(records(cast.a_live, cast.sam, NOW - timedelta(days=800), 90, HAPPY))
    with school_scope(cast.school_a):
        report = prune_school(cast.school_a, now=NOW)
        assert not StudentSession.objects.exists()
    assert report.removed == {
        "raw samples": 90,
        "student minutes": 2,
        "participant minutes": 0,
        "class minutes": 2,
        "student session totals": 1,
        "call participants": 0,
    }


def test_prune_dry_run_counts_and_deletes_nothing(aged):
    cast, _ = aged
    with school_scope(cast.school_a):
        report = prune_school(cast.school_a, now=NOW, dry_run=True)
        assert report.removed["raw samples"] == 3
        assert EmotionSample.objects.count() == 5


def test_prune_command_reports_per_school(cast):
    with scopes_disabled():
        record_samples(records(cast.a_live, cast.sam, NOW - timedelta(days=400), 3, HAPPY))
        record_samples(records(cast.b_live, cast.bea, NOW - timedelta(days=400), 2, HAPPY))
    out = StringIO()
    call_command("prune_samples", stdout=out)
    text = out.getvalue()
    assert "Alpha Academy" in text and "removed 3 raw samples" in text
    assert "Beta School" in text and "removed 2 raw samples" in text
    out = StringIO()
    call_command("prune_samples", "--school", str(cast.school_b.pk), stdout=out)
    assert "Alpha Academy" not in out.getvalue()
    with pytest.raises(CommandError):
        call_command("prune_samples", "--school", "999999", stdout=StringIO())


def test_rebuild_rollups_command_rebuilds_with_progress(cast):
    from analytics.services import build_samples

    with scopes_disabled():
        EmotionSample.objects.bulk_create(
            build_samples(records(cast.a_ended, cast.sam, cast.a_ended.started_at, 120))
        )
        assert not StudentMinute.objects.exists()
    out = StringIO()
    call_command("rebuild_rollups", "--school", str(cast.school_a.pk), stdout=out)
    assert "[1/1]" in out.getvalue() and "Rebuilt 1 session(s)" in out.getvalue()
    with scopes_disabled():
        assert (
            sum(StudentMinute.objects.filter(session=cast.a_ended).values_list("samples", flat=True)) == 120
        )
    with pytest.raises(CommandError):
        call_command("rebuild_rollups", "--session", "nope", stdout=StringIO())
