"""Batching writer for live emotion samples: one bulk INSERT per second (or per `max_rows`), not one per frame.

The live consumer calls `add()` *before* it acknowledges a frame, so every acknowledged result is in the buffer;
the buffer is written by a periodic flush, by `flush()` when a stream disconnects (or its task is cancelled at
shutdown), and at interpreter exit as a last resort (`flush_now`). A failed write puts the rows back for the next
attempt, so a database hiccup delays samples but loses none.

One writer per process (`writer()`); it is safe to use from any event loop and any thread.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import weakref

from channels.db import database_sync_to_async

from .services import SampleRecord, record_samples

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
MAX_ROWS = 500


class SampleWriter:
    def __init__(
        self, store=record_samples, flush_interval: float = FLUSH_INTERVAL_SECONDS, max_rows: int = MAX_ROWS
    ):
        self._store = store
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._buffer: list[SampleRecord] = []
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
            loop.create_task(self.flush())

    def _take(self) -> list[SampleRecord]:
        with self._lock:
            records, self._buffer = self._buffer, []
        return records

    def _put_back(self, records: list[SampleRecord]) -> None:
        with self._lock:
            self._buffer[:0] = records

    def _write_pending(self) -> int:
        # Taking and writing under one lock: a flush that starts while another is writing waits for it, so
        # "flush() returned" means every row added before the call is in the database.
        with self._write_lock:
            records = self._take()
            if not records:
                return 0
            try:
                self._store(records)
            except Exception:
                self.failures += 1
                self._put_back(records)
                raise
            self.written += len(records)
            return len(records)

    async def flush(self) -> int:
        """Write everything buffered so far; returns the number of rows written by this call."""
        if not self.pending and not self._write_lock.locked():
            return 0  # nothing buffered, nothing being written: no trip to a database thread
        try:
            return await database_sync_to_async(self._write_pending)()
        except Exception:
            logger.exception("Could not store emotion samples; they stay buffered for the next flush")
            return 0

    def flush_now(self) -> int:
        """Synchronous flush for interpreter exit (no event loop running)."""
        try:
            return self._write_pending()
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
            await self.flush()


_writer: SampleWriter | None = None
_writer_lock = threading.Lock()


def writer() -> SampleWriter:
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = SampleWriter()
            atexit.register(_writer.flush_now)
        return _writer
