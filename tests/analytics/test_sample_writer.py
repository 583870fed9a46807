"""The live sample writer: batches rows, refreshes the report roll-ups every few seconds and on every explicit
flush, and loses neither samples nor roll-up work when the database fails; while it is away the writer backs off,
bounds its buffer (refusing rather than acknowledging what it could lose) and logs once per state change."""

import asyncio
import logging
import time
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
        self.attempts = 0

    def store(self, records):
        self.attempts += 1
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


def writer_for(database, rollup_interval=3600.0, **options):
    options.setdefault("backoff", (0.0, 0.0))  # retry at once, unless a test is about the backoff
    return SampleWriter(
        store=database.store, refresh=database.refresh, rollup_interval=rollup_interval, **options
    )


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


# --- the database away ----------------------------------------------------------------------------------------


async def test_a_full_buffer_while_the_database_is_away_does_not_start_a_flush_per_frame(database):
    """The retry storm: every add() past max_rows used to start another flush (30-54 failing flushes a second)."""
    writer = SampleWriter(store=database.store, refresh=database.refresh, max_rows=10)
    database.fail_store = True
    for i in range(300):
        writer.add(record(1, seconds=i))
        await asyncio.sleep(0)  # the event loop runs whatever add() scheduled
    for _ in range(20):
        await asyncio.sleep(0.01)
    assert database.attempts <= 2, f"{database.attempts} write attempts for one outage"
    assert writer.pending == 300, "nothing acknowledged was dropped"


async def test_flushes_back_off_while_the_database_is_away_and_resume_when_it_is_back(database):
    writer = writer_for(database, backoff=(0.2, 0.4))
    writer.add(record(1))
    database.fail_store = True
    assert await writer.flush() == 0
    assert await writer.flush() == 0 and await writer.flush() == 0  # inside the backoff: no attempt
    assert database.attempts == 1
    database.fail_store = False
    await asyncio.sleep(0.3)
    assert await writer.flush() == 1 and writer.available
    assert len(database.rows) == 1


async def test_a_full_buffer_refuses_records_instead_of_accepting_what_it_may_lose(database):
    writer = writer_for(database, max_rows=10, max_buffered=50)
    database.fail_store = True
    accepted = [writer.add(record(1, seconds=i)) for i in range(60)]
    assert accepted == [True] * 50 + [False] * 10
    assert writer.pending == 50 and not writer.accepting and writer.refused == 10
    await writer.flush()
    database.fail_store = False
    await writer.flush()
    assert len(database.rows) == 50 and writer.pending == 0
    assert writer.accepting and writer.add(record(2))


async def test_the_outage_is_logged_once_when_it_starts_and_once_when_it_ends(database, caplog):
    writer = writer_for(database, max_rows=10, max_buffered=20)
    writer.add(record(1))
    database.fail_store = True
    with caplog.at_level(logging.INFO, logger="analytics.sample_writer"):
        for _ in range(5):
            await writer.flush()
        for i in range(30):
            writer.add(record(1, seconds=i))
        database.fail_store = False
        await writer.flush()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert messages[0].startswith("Sample storage unavailable (RuntimeError: database down)")
    assert messages[1].startswith("Sample buffer full (20 rows")
    assert messages[2].startswith("Sample storage back after") and "11 frames were refused" in messages[2]
    assert not any(r.exc_info for r in caplog.records), "no tracebacks"


async def test_rows_left_behind_by_the_last_stream_are_retried_until_the_database_is_back(database):
    writer = writer_for(database)
    writer.flush_interval = 0.05
    writer.acquire()
    writer.add(record(1))
    database.fail_store = True
    await writer.release()  # the last stream goes while the database is away
    assert writer.pending == 1
    database.fail_store = False
    deadline = time.monotonic() + 5
    while writer.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert len(database.rows) == 1, "the periodic retry wrote the row once the database was back"
