"""Batching writer for live emotion samples: one bulk INSERT per second (or per `max_rows`), not one per frame.

The live consumer calls `add()` *before* it acknowledges a frame, so every acknowledged result is in the buffer;
the buffer is written by a periodic flush, by `flush()` when a stream disconnects (or its task is cancelled at
shutdown), and at interpreter exit as a last resort (`flush_now`). A failed write puts the rows back for the next
attempt, so a database hiccup delays samples but loses none.

The per-minute roll-ups (reports) are refreshed every `rollup_interval` seconds rather than on every batch, and
at once by every explicit `flush()` (a stream closing, the session ending, shutdown). Each refresh re-aggregates
the current minute of every touched student: doing it every second cost the database and this process's GIL
more than the samples themselves (py-spy, bench/load.py with 600 students).

One writer per process (`writer()`); it is safe to use from any event loop and any thread.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
import weakref
from functools import partial

from channels.db import database_sync_to_async

from . import rollups
from .services import SampleRecord, record_samples

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
ROLLUP_INTERVAL_SECONDS = 10.0
MAX_ROWS = 500


class SampleWriter:
    def __init__(
        self,
        store=None,
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
        max_rows: int = MAX_ROWS,
        refresh=rollups.refresh_touched,
        rollup_interval: float = ROLLUP_INTERVAL_SECONDS,
    ):
        # Roll-ups are refreshed by this writer on its own schedule, not per stored batch.
        self._store = store or partial(record_samples, refresh_rollups=False)
        self._refresh = refresh
        self.flush_interval = flush_interval
        self.rollup_interval = rollup_interval
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._buffer: list[SampleRecord] = []
        self._touched = rollups.Touched()  # stored samples whose roll-ups are not refreshed yet
        self._rolled_up_at = time.monotonic()
        self._users: dict[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()  # type: ignore[assignment]
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = weakref.WeakKeyDictionary()  # type: ignore[assignment]
        self.written = 0  # rows stored by this writer, for tests and the benchmark
        self.failures = 0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def add(self, record: SampleRecord) -> None:
        with self._lock:
            self._buffer.append(record)
            full = len(self._buffer) >= self.max_rows
        if full:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            loop.create_task(self.flush(rollups_now=False))

    def _take(self) -> list[SampleRecord]:
        with self._lock:
            records, self._buffer = self._buffer, []
        return records

    def _put_back(self, records: list[SampleRecord]) -> None:
        with self._lock:
            self._buffer[:0] = records

    def _write_pending(self, rollups_now: bool) -> int:
        # Taking and writing under one lock: a flush that starts while another is writing waits for it, so
        # "flush() returned" means every row added before the call is in the database.
        with self._write_lock:
            records = self._take()
            if records:
                try:
                    self._store(records)
                except Exception:
                    self.failures += 1
                    self._put_back(records)
                    raise
                self.written += len(records)
                self._touched.add(records)
            if self._touched and (
                rollups_now or time.monotonic() - self._rolled_up_at >= self.rollup_interval
            ):
                self._refresh_rollups()
            return len(records)

    def _refresh_rollups(self) -> None:
        touched, self._touched = self._touched, rollups.Touched()
        try:
            self._refresh(touched)
        except Exception:
            # The samples are stored; only the derived minutes wait for the next attempt.
            self._touched.merge(touched)
            logger.exception("Could not refresh the roll-ups; retrying with the next flush")
        self._rolled_up_at = time.monotonic()

    async def flush(self, *, rollups_now: bool = True) -> int:
        """Write everything buffered so far (and, unless told otherwise, bring the roll-ups up to date); returns
        the number of rows written by this call."""
        if not self.pending and not (rollups_now and self._touched) and not self._write_lock.locked():
            return 0  # nothing buffered or stale, nothing being written: no trip to a database thread
        try:
            return await database_sync_to_async(self._write_pending)(rollups_now)
        except Exception:
            logger.exception("Could not store emotion samples; they stay buffered for the next flush")
            return 0

    def flush_now(self) -> int:
        """Synchronous flush for interpreter exit (no event loop running)."""
        try:
            return self._write_pending(True)
        except Exception:
            logger.exception("Lost %d emotion samples at exit: the database refused them", self.pending)
            return 0

    # --- periodic flushing, one task per event loop while streams are open ----------------------------------

    def acquire(self) -> None:
        """A stream opened on the running loop: make sure the periodic flush runs there."""
        loop = asyncio.get_running_loop()
        self._users[loop] = self._users.get(loop, 0) + 1
        task = self._tasks.get(loop)
        if task is None or task.done():
            self._tasks[loop] = loop.create_task(self._run_periodic())

    async def release(self) -> None:
        """A stream closed: write what it left behind (and stop the periodic task when it was the last)."""
        loop = asyncio.get_running_loop()
        users = self._users.get(loop, 1) - 1
        self._users[loop] = users
        if users <= 0:
            task = self._tasks.pop(loop, None)
            if task is not None:
                task.cancel()
        await self.flush()

    async def _run_periodic(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush(rollups_now=False)


_writer: SampleWriter | None = None
_writer_lock = threading.Lock()


def writer() -> SampleWriter:
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = SampleWriter()
            atexit.register(_writer.flush_now)
        return _writer
