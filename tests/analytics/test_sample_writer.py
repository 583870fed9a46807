"""The live sample writer: batches rows, refreshes the report roll-ups every few seconds and on every explicit
flush, and loses neither samples nor roll-up work when the database fails."""

from datetime import UTC, datetime, timedelta

import pytest

from analytics.sample_writer import SampleWriter
from analytics.services import SampleRecord

T0 = datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC)


def record(student_id=1, seconds=0, session_id=7):
    return SampleRecord(session_id, student_id, T0 + timedelta(seconds=seconds), 1, (1, 0, 0, 0, 0, 0, 0))


class Database:
    def __init__(self):
        self.rows, self.refreshes, self.fail_store, self.fail_refresh = [], [], False, False

    def store(self, records):
        if self.fail_store:
            raise RuntimeError("database down")
        self.rows.extend(records)

    def refresh(self, touched):
        if self.fail_refresh:
            raise RuntimeError("database down")
        self.refreshes.append(
            {s: (sorted(m), sorted(touched.students[s])) for s, m in touched.minutes.items()}
        )


@pytest.fixture
def database():
    return Database()


def writer_for(database, rollup_interval=3600.0):
    return SampleWriter(store=database.store, refresh=database.refresh, rollup_interval=rollup_interval)


async def test_periodic_flush_stores_rows_but_leaves_the_rollups_for_later(database):
    writer = writer_for(database)
    writer.add(record(1))
    writer.add(record(2, seconds=70))
    assert await writer.flush(rollups_now=False) == 2
    assert len(database.rows) == 2 and database.refreshes == []


async def test_explicit_flush_refreshes_every_touched_minute_and_student(database):
    writer = writer_for(database)
    writer.add(record(1))
    await writer.flush(rollups_now=False)
    writer.add(record(2, seconds=70))
    await writer.flush()
    minutes = [T0.replace(second=0), T0.replace(second=0) + timedelta(minutes=1)]
    assert database.refreshes == [{7: (minutes, [1, 2])}]
    assert await writer.flush() == 0 and len(database.refreshes) == 1  # nothing stale: no second refresh


async def test_rollups_refresh_on_a_periodic_flush_once_the_interval_has_passed(database):
    writer = writer_for(database, rollup_interval=0.0)
    writer.add(record(1))
    await writer.flush(rollups_now=False)
    assert len(database.refreshes) == 1


async def test_failed_store_keeps_the_rows_buffered_for_the_next_flush(database):
    writer = writer_for(database)
    writer.add(record(1))
    database.fail_store = True
    assert await writer.flush() == 0
    assert writer.pending == 1 and writer.failures == 1 and database.refreshes == []
    database.fail_store = False
    assert await writer.flush() == 1
    assert len(database.rows) == 1 and len(database.refreshes) == 1


async def test_failed_rollup_refresh_keeps_the_samples_and_retries_the_same_buckets(database):
    writer = writer_for(database)
    writer.add(record(1))
    database.fail_refresh = True
    assert await writer.flush() == 1  # the sample is stored even though its roll-up failed
    assert len(database.rows) == 1 and writer.pending == 0
    database.fail_refresh = False
    writer.add(record(2, session_id=8))
    await writer.flush()
    assert database.refreshes == [{7: ([T0.replace(second=0)], [1]), 8: ([T0.replace(second=0)], [2])}]
