"""The live writer's insert path (COPY on PostgreSQL, one prepared INSERT elsewhere) stores exactly what the ORM's
bulk_create stores, column by column, on whichever database the suite runs on (CI runs both)."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection
from django_scopes import scopes_disabled

from analytics.models import EmotionSample
from analytics.sample_insert import insert_samples
from analytics.services import SampleRecord, record_samples, sample_values

from .conftest import HAPPY, records

T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
COLUMNS = [f.attname for f in EmotionSample._meta.concrete_fields if not f.primary_key]


def _mixed_records(session, student, seed):
    """Faces with emotions, frames without a face, presence-only frames, odd float values, microseconds."""
    rng = random.Random(seed)
    out = []
    for i in range(40):
        face_count = rng.choice([0, 1, 1, 1, 2])
        probabilities = None
        if face_count and i % 5:
            raw = [rng.random() ** 3 for _ in range(7)]
            probabilities = tuple(v / sum(raw) for v in raw)
        out.append(
            SampleRecord(
                session_id=session.pk,
                student_id=student.pk,
                captured_at=T0 + timedelta(seconds=i, microseconds=rng.randrange(1_000_000)),
                face_count=face_count,
                probabilities=probabilities,
            )
        )
    return out


def _stored(session, student):
    with scopes_disabled():
        rows = EmotionSample.objects.filter(session=session, student=student).order_by("captured_at")
        return [tuple(getattr(row, name) for name in COLUMNS if name != "student_id") for row in rows]


@pytest.mark.django_db
def test_bulk_insert_stores_exactly_what_the_orm_stores(cast):
    orm_records = _mixed_records(cast.a_live, cast.sam, seed=7)
    # The same values for another student, so both sets live side by side in one table.
    fast_records = [
        SampleRecord(r.session_id, cast.nora.pk, r.captured_at, r.face_count, r.probabilities)
        for r in orm_records
    ]
    with scopes_disabled():
        record_samples(orm_records, refresh_rollups=False)
    assert insert_samples(fast_records) == len(fast_records)

    orm_rows, fast_rows = _stored(cast.a_live, cast.sam), _stored(cast.a_live, cast.nora)
    assert len(orm_rows) == len(fast_rows) == 40
    assert fast_rows == orm_rows, f"rows differ on {connection.vendor}"
    # Not trivially equal: faces, no faces and presence-only frames are all there.
    emotions = {row[COLUMNS.index("emotion") - 1] for row in fast_rows}
    assert "" in emotions and len(emotions) > 2


@pytest.mark.django_db
def test_bulk_insert_rolls_back_the_whole_batch_when_a_row_is_refused(cast):
    good = records(cast.a_live, cast.sam, T0, 5, HAPPY)
    bad = SampleRecord(cast.a_live.pk, cast.sam.pk, T0, None, None)  # face_count is NOT NULL
    with pytest.raises(IntegrityError):
        insert_samples([*good, bad])
    assert _stored(cast.a_live, cast.sam) == []


def test_sample_values_derive_the_top_emotion_only_when_a_face_was_seen():
    face = sample_values(SampleRecord(1, 2, T0, 1, HAPPY))
    assert face["emotion"] == "happy" and face["confidence"] == HAPPY[3] and face["p_sad"] == HAPPY[4]
    no_face = sample_values(SampleRecord(1, 2, T0, 0, HAPPY))
    assert "emotion" not in no_face and "p_happy" not in no_face
    # participant_id is a column too (call participants): copied as it is, None for a student's own camera.
    assert no_face == {
        "session_id": 1,
        "student_id": 2,
        "captured_at": T0,
        "face_count": 0,
        "participant_id": None,
    }
    # A call participant's sample goes under the student it is assigned to (anonymous otherwise).
    assigned = sample_values(SampleRecord(1, None, T0, 0, None, participant_id=5), {5: 2})
    assert assigned == {
        "session_id": 1,
        "student_id": 2,
        "captured_at": T0,
        "face_count": 0,
        "participant_id": 5,
    }
    anonymous = sample_values(SampleRecord(1, None, T0, 1, None, participant_id=5), {})
    assert anonymous["student_id"] is None and "emotion" not in anonymous
