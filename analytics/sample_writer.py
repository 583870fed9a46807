"""Batching writer for live emotion samples: one COPY/INSERT per second (or per `max_rows`), not one per frame.

The live consumer calls `add()` *before* it acknowledges a frame, so every acknowledged result is in the buffer;
the buffer is written by a periodic flush, by `flush()` when a stream disconnects (or its task is cancelled at
shutdown), and at interpreter exit as a last resort (`flush_now`). A failed write puts the rows back for the next
attempt, so a database hiccup delays samples but loses none.

When the database is away (an outage, a restart) the writer backs off: the next attempt waits 0.5 s, then 1, 2, 4
and at most 5 s (`backoff`), and nothing else (a full buffer, a stream closing) starts another attempt meanwhile:
before, every `add()` past `max_rows` started a flush, 30-54 failing flushes a second, each with a traceback, on
the thread that also serves logins. The buffer is bounded (`max_buffered`, FERMONITOR_SAMPLE_BUFFER_ROWS): once
full, `add()` refuses the record and the consumer answers `storage_unavailable` instead of acknowledging a result
it could lose. An operator sees one log line per state change: storage lost, buffer full, storage back.

The per-minute roll-ups (reports) are refreshed every `rollup_interval` seconds rather than on every batch, and
at once by every explicit `flush()` (a stream closing, the session ending, shutdown). Each refresh re-aggregates
the current minute of every touched student: doing it every second cost the database and this process's GIL
more than the samples themselves (py-spy, bench/load.py with 600 students).

Writes run on a thread of their own (on PostgreSQL), never on asgiref's single thread_sensitive thread: a write
waiting on an unreachable database must not hold up logins, pages and every socket's connect.

One writer per process (`writer()`); it is safe to use from any event loop and any thread.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import random
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from . import rollups
from .sample_insert import insert_samples
from .services import SampleRecord

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
ROLLUP_INTERVAL_SECONDS = 10.0
MAX_ROWS = 500
# Rows held while the database is away, before frames are refused. A record takes about half a kilobyte, so the
# default is ~25 MB: 14 minutes of a class of 60 at one frame a second, 80 s of 600 students.
MAX_BUFFERED_ROWS = 50_000
BACKOFF_SECONDS = (0.5, 5.0)  # first and longest wait between attempts while the database is away


class SampleWriter:
    def __init__(
        self,
        store=None,
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
        max_rows: int = MAX_ROWS,
        refresh=rollups.refresh_touched,
        rollup_interval: float = ROLLUP_INTERVAL_SECONDS,
        max_buffered: int | None = None,
        backoff: tuple[float, float] = BACKOFF_SECONDS,
    ):
        # Roll-ups are refreshed by this writer on its own schedule, not per stored batch.
        self._store = store or insert_samples  # one COPY/INSERT per batch, no model instances
        self._refresh = refresh
        self.flush_interval = flush_interval
        self.rollup_interval = rollup_interval
        self.max_rows = max_rows
        if max_buffered is None:
            max_buffered = getattr(settings, "FERMONITOR_SAMPLE_BUFFER_ROWS", MAX_BUFFERED_ROWS)
        self.max_buffered = max_buffered
        self.backoff = backoff
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._buffer: list[SampleRecord] = []
        self._touched = rollups.Touched()  # stored samples whose roll-ups are not refreshed yet
        self._rolled_up_at = time.monotonic()
        self._users: dict[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()  # type: ignore[assignment]
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task] = weakref.WeakKeyDictionary()  # type: ignore[assignment]
        self._early_flush: asyncio.Task | None = None
        # Storage state, for the backoff and the one-line-per-change log.
        self.available = True
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._delay = backoff[0]
        self._full = False
        self._rollups_failing = False
        self.written = 0  # rows stored by this writer, for tests and the benchmark
        self.failures = 0
        self.refused = 0  # records refused because the buffer was full

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    @property
    def accepting(self) -> bool:
        """Is there room for another record? (Health checks ask; it counts and logs nothing.)"""
        with self._lock:
            return len(self._buffer) < self.max_buffered

    def has_room(self) -> bool:
        """Like `accepting`, for a frame about to be analysed: a full buffer counts it as refused (and the
        first refusal is logged), so the server spends no inference on a frame it could not record."""
        with self._lock:
            if len(self._buffer) < self.max_buffered:
                return True
            self._refuse()
        return False

    def _refuse(self) -> None:
        # Called with self._lock held.
        self.refused += 1
        if not self._full:
            self._full = True
            logger.error(
                "Sample buffer full (%d rows, the database is away or not keeping up): frames are refused "
                "with storage_unavailable until it has room again",
                len(self._buffer),
            )

    def add(self, record: SampleRecord) -> bool:
        """Buffer a record; False (and nothing buffered) when the buffer is full: do not acknowledge it."""
        with self._lock:
            if len(self._buffer) >= self.max_buffered:
                self._refuse()
                return False
            self._buffer.append(record)
            full = len(self._buffer) >= self.max_rows
        if full and self.available and (self._early_flush is None or self._early_flush.done()):
            # One early flush at a time, and none while backing off: the periodic task retries then.
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return True
            self._early_flush = loop.create_task(self.flush(rollups_now=False))
        return True

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
        except Exception as error:
            # The samples are stored; only the derived minutes wait for the next attempt.
            self._touched.merge(touched)
            if not self._rollups_failing:
                self._rollups_failing = True
                logger.warning(
                    "Could not refresh the report roll-ups (%s); retrying with the next flush", error
                )
        else:
            if self._rollups_failing:
                self._rollups_failing = False
                logger.info("Report roll-ups refreshed again")
        self._rolled_up_at = time.monotonic()

    # --- storage state: backoff and one log line per change -------------------------------------------------

    @property
    def backing_off(self) -> bool:
        return not self.available and time.monotonic() < self._retry_at

    def _failed(self, error: Exception) -> None:
        now = time.monotonic()
        low, high = self.backoff
        if self.available:
            self.available = False
            self._down_since = now
            self._delay = low
            logger.error(
                "Sample storage unavailable (%s: %s): %d samples buffered (room for %d), retrying with backoff",
                type(error).__name__,
                str(error).strip().splitlines()[0] if str(error).strip() else "",
                self.pending,
                self.max_buffered,
            )
        else:
            self._delay = min(high, self._delay * 2)
        self._retry_at = now + self._delay * random.uniform(0.8, 1.2)

    def _succeeded(self, written: int) -> None:
        with self._lock:
            was_full = self._full
            self._full = self._full and len(self._buffer) >= self.max_buffered
            drained = was_full and not self._full
        if not self.available:
            self.available = True
            outage = time.monotonic() - (self._down_since or time.monotonic())
            logger.warning(
                "Sample storage back after %.1f s: %d buffered samples written%s",
                outage,
                written,
                f"; {self.refused} frames were refused while the buffer was full" if was_full else "",
            )
        elif drained:
            logger.warning(
                "Sample buffer has room again; %d frames were refused while it was full", self.refused
            )

    async def flush(self, *, rollups_now: bool = True, force: bool = False) -> int:
        """Write everything buffered so far (and, unless told otherwise, bring the roll-ups up to date); returns
        the number of rows written by this call. While the database is away and the next retry is not due yet,
        returns 0 at once (unless `force`): the rows stay buffered for the periodic retry."""
        if not self.pending and not (rollups_now and self._touched) and not self._write_lock.locked():
            return 0  # nothing buffered or stale, nothing being written: no trip to a database thread
        if self.backing_off and not force:
            return 0
        try:
            written = await _on_writer_thread(self._write_pending, rollups_now)
        except Exception as error:
            self._failed(error)
            return 0
        self._succeeded(written)
        return written

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
            self._tasks[loop] = loop.create_task(self._run_periodic(loop))

    async def release(self) -> None:
        """A stream closed: write what it left behind (and stop the periodic task when it was the last and
        nothing is left to write; with rows still waiting for the database, it keeps retrying)."""
        loop = asyncio.get_running_loop()
        users = self._users.get(loop, 1) - 1
        self._users[loop] = users
        await self.flush()
        if users <= 0 and self._users.get(loop, 0) <= 0 and not self.pending:
            task = self._tasks.pop(loop, None)
            if task is not None:
                task.cancel()

    async def _run_periodic(self, loop) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush(rollups_now=False)
            if self._users.get(loop, 0) <= 0 and not self.pending:
                self._tasks.pop(loop, None)
                return


# Writes go to one thread of their own on PostgreSQL; SQLite takes one writer at a time anyway (and its
# shared-cache test database fails rather than waits), so there they stay on the thread_sensitive thread.
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _writer_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fermonitor-sample-writer")
        return _executor


async def _on_writer_thread(fn, *args):
    if connections["default"].vendor == "sqlite":
        return await database_sync_to_async(fn)(*args)
    return await database_sync_to_async(fn, thread_sensitive=False, executor=_writer_executor())(*args)


def close_connections() -> None:
    """Close the writer thread's database connection (tests, before the test database is dropped)."""
    global _executor
    with _executor_lock:
        pool, _executor = _executor, None
    if pool is not None:
        pool.submit(connections.close_all).result()
        pool.shutdown(wait=True)


_writer: SampleWriter | None = None
_writer_lock = threading.Lock()


def writer() -> SampleWriter:
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = SampleWriter()
            atexit.register(_writer.flush_now)
        return _writer
