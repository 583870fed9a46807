"""Roll-ups agree with the raw samples they summarise, whatever order samples arrive in."""

from datetime import UTC, datetime, timedelta

import pytest
from django_scopes import scopes_disabled

from analytics import rollups
from analytics.models import EMOTIONS, EmotionSample, SessionMinute, StudentMinute, StudentSession
from analytics.rollups import COUNTER_FIELDS
from analytics.services import record_samples

from .conftest import HAPPY, NEUTRAL, SAD, records

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _expected_from_raw(session):
    """(student, minute) -> counters, computed in Python straight from raw samples."""
    expected = {}
    for s in EmotionSample.objects.filter(session=session):
        key = (s.student_id, s.captured_at.replace(second=0, microsecond=0))
        c = expected.setdefault(key, dict.fromkeys(COUNTER_FIELDS, 0))
        c["samples"] += 1
        c["present_samples"] += s.face_count > 0
        if s.p_angry is not None:
            c["emotion_samples"] += 1
            for name in EMOTIONS:
                c[f"sum_p_{name}"] += getattr(s, f"p_{name}")
        if s.emotion:
            c[f"n_{s.emotion}"] += 1
    return expected


def _actual(session):
    return {
        (r.student_id, r.minute): {name: getattr(r, name) for name in COUNTER_FIELDS}
        for r in StudentMinute.objects.filter(session=session)
    }


def _assert_matches_raw(session):
    expected, actual = _expected_from_raw(session), _actual(session)
    assert actual.keys() == expected.keys()
    for key, counters in expected.items():
        for name, value in counters.items():
            assert actual[key][name] == pytest.approx(value), (key, name)
    # Class minutes are the sums of the student minutes.
    for minute_row in SessionMinute.objects.filter(session=session):
        students = [c for (_, m), c in expected.items() if m == minute_row.minute]
        assert minute_row.students_streaming == len(students)
        assert minute_row.samples == sum(c["samples"] for c in students)
        assert minute_row.sum_p_happy == pytest.approx(sum(c["sum_p_happy"] for c in students))
    assert SessionMinute.objects.filter(session=session).count() == len({m for _, m in expected})
    # Student totals are the sums of their minutes.
    for total in StudentSession.objects.filter(session=session):
        mine = {m: c for (sid, m), c in expected.items() if sid == total.student_id}
        assert total.minutes_seen == len(mine)
        assert total.samples == sum(c["samples"] for c in mine.values())
        assert total.n_sad == sum(c["n_sad"] for c in mine.values())
        assert total.first_minute == min(mine) and total.last_minute == max(mine)


@pytest.fixture
def scoped(cast):
    with scopes_disabled():
        yield cast


def test_rollups_match_raw_samples_after_mixed_batches(scoped):
    c, session = scoped, scoped.a_live
    record_samples(records(session, c.sam, T0, 90, HAPPY))  # 1.5 minutes
    record_samples(records(session, c.nora, T0 + timedelta(seconds=30), 60, SAD))
    record_samples(records(session, c.nora, T0 + timedelta(seconds=90), 20, face_count=0))
    _assert_matches_raw(session)
    sam_first = StudentMinute.objects.get(session=session, student=c.sam, minute=T0)
    assert sam_first.samples == 60 and sam_first.n_happy == 60 and sam_first.present
    assert sam_first.mean_probabilities["happy"] == pytest.approx(0.80)
    nora_second = StudentMinute.objects.get(session=session, student=c.nora, minute=T0 + timedelta(minutes=1))
    # 30 sad frames with a face, then 20 without: present in more than half the frames.
    assert (nora_second.samples, nora_second.present_samples, nora_second.n_sad) == (50, 30, 30)
    assert nora_second.present


def test_late_samples_update_a_minute_that_was_already_rolled_up(scoped):
    c, session = scoped, scoped.a_live
    record_samples(records(session, c.sam, T0, 120, NEUTRAL))
    before = StudentMinute.objects.get(session=session, student=c.sam, minute=T0)
    assert (before.samples, before.n_neutral) == (60, 60)

    # Minutes later, frames of the first minute arrive (a reconnecting client flushing its queue).
    late = records(session, c.sam, T0 + timedelta(milliseconds=500), 60, SAD, step=2)
    record_samples(late)

    after = StudentMinute.objects.get(session=session, student=c.sam, minute=T0)
    assert (after.samples, after.n_neutral, after.n_sad) == (90, 60, 30)
    assert SessionMinute.objects.get(session=session, minute=T0).n_sad == 30
    assert StudentSession.objects.get(session=session, student=c.sam).samples == 150
    _assert_matches_raw(session)


def test_late_sample_into_a_minute_far_from_the_rest_of_its_batch(scoped):
    c, session = scoped, scoped.a_live
    record_samples(records(session, c.sam, T0, 600, HAPPY, step=10))  # ten minutes
    batch = records(session, c.sam, T0 + timedelta(minutes=10), 5, HAPPY)
    batch += records(session, c.sam, T0 + timedelta(minutes=1, seconds=1), 1, SAD)  # minute 1, very late
    record_samples(batch)
    assert (
        StudentMinute.objects.get(session=session, student=c.sam, minute=T0 + timedelta(minutes=1)).n_sad == 1
    )
    _assert_matches_raw(session)


def test_rebuild_is_idempotent_and_equals_incremental_rollups(scoped):
    c, session = scoped, scoped.a_live
    record_samples(records(session, c.sam, T0, 150, HAPPY))
    record_samples(records(session, c.nora, T0 + timedelta(seconds=20), 100, SAD, step=2))
    incremental = _actual(session)
    summaries = {s.student_id: s.samples for s in StudentSession.objects.filter(session=session)}

    first = rollups.rebuild_session(session.pk)
    second = rollups.rebuild_session(session.pk)
    assert first == second
    assert _actual(session) == incremental
    assert {s.student_id: s.samples for s in StudentSession.objects.filter(session=session)} == summaries
    assert first.student_minutes == StudentMinute.objects.filter(session=session).count() == 5
    # Refreshing already-correct buckets changes nothing either.
    rollups.refresh_buckets(session.pk, [T0, T0 + timedelta(minutes=1)], [c.sam.pk, c.nora.pk])
    assert _actual(session) == incremental


def test_rebuild_repairs_rollups_of_samples_stored_without_them(scoped):
    c, session = scoped, scoped.a_live
    from analytics.services import build_samples

    EmotionSample.objects.bulk_create(build_samples(records(session, c.sam, T0, 61, HAPPY)))
    assert not StudentMinute.objects.filter(session=session).exists()
    rollups.rebuild_session(session.pk)
    _assert_matches_raw(session)


def test_presence_only_samples_roll_up_without_probabilities(scoped):
    c, session = scoped, scoped.a_live
    record_samples(records(session, c.sam, T0, 60, None))
    row = StudentMinute.objects.get(session=session, student=c.sam)
    assert (row.samples, row.present_samples, row.emotion_samples) == (60, 60, 0)
    assert row.mean_probabilities is None
    assert sum(row.top_counts.values()) == 0


def test_demo_session_is_rolled_up_and_deterministic(scoped):
    from analytics.demo import LESSON_MINUTES, seed_demo_samples

    from .conftest import add_students

    add_students(scoped, 3)
    created = seed_demo_samples(scoped.a_ended)
    assert created > 5 * LESSON_MINUTES * 60 * 0.8
    assert seed_demo_samples(scoped.a_ended) == 0  # already seeded
    assert SessionMinute.objects.filter(session=scoped.a_ended).count() == LESSON_MINUTES
    _assert_matches_raw(scoped.a_ended)
    first = sorted(
        EmotionSample.objects.filter(session=scoped.a_ended)
        .order_by("captured_at", "student_id")
        .values_list("emotion", flat=True)[:500]
    )
    EmotionSample.objects.filter(session=scoped.a_ended).delete()
    seed_demo_samples(scoped.a_ended)
    again = sorted(
        EmotionSample.objects.filter(session=scoped.a_ended)
        .order_by("captured_at", "student_id")
        .values_list("emotion", flat=True)[:500]
    )
    assert first == again
