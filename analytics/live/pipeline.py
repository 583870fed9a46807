"""The inference pool: one process-wide `inference.Engine` analysing on dedicated threads, frames handed over in
batches.

Inference never runs on the event loop (it would stall every socket of the process) nor on asgiref's single
`thread_sensitive` thread (it would queue behind, and block, every ORM call). The pool has
`FERMONITOR_INFERENCE_WORKERS` threads (default: the number of cores; `fermonitor.serve` gives each of its
processes its share); the engine is thread-safe (thread-local interpreters) and is created once, lazily, on a pool
thread, so importing this module costs nothing.

Hand-offs are batched: `analyze()` appends the frame to a queue, and a worker that comes for work takes what is
waiting (its share, at most MAX_BATCH) and analyses it frame by frame. The event loop wakes a worker only when one
is idle, and a worker wakes the event loop once per batch, not once per frame: under load, when frames queue up,
a thread switch serves several frames. Before, each frame cost a `run_in_executor` round trip (a worker wake-up, a future,
a self-pipe write to wake the loop), measured as the largest single cost of the server's own per-frame work.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import gc
import threading

from django.conf import settings

# The most frames one worker takes at once: enough to batch the hand-offs, few enough that one thread does not sit
# on frames another idle thread could analyse (a worker takes at most its share of what is waiting).
MAX_BATCH = 8
GC_YOUNG_THRESHOLD = 20_000

_lock = threading.Lock()
_engine = None
_pool: InferencePool | None = None


def engine():
    """The process-wide engine (created on first use; raises `inference.ModelsMissing` with the fix)."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                from inference import Engine

                _engine = Engine(
                    models_dir=settings.FERMONITOR_MODELS_DIR,
                    emotion_model=settings.FERMONITOR_EMOTION_MODEL or None,
                    flip_tta=settings.FERMONITOR_FLIP_TTA,
                )
                # MediaPipe closes detectors through its own executor, which stops at interpreter exit; hooks
                # registered later run earlier, so our pool (and the detectors its threads hold) goes first.
                # Without it every detector prints a traceback at exit. (The private hook is what
                # concurrent.futures itself uses; plain atexit runs too late.)
                getattr(threading, "_register_atexit", atexit.register)(_close)
    return _engine


def _analyze(frame: bytes, emotions: bool):
    return engine().analyze(frame, emotions=emotions)


def _analyze_batch(frames: list[bytes], emotions: bool) -> list:
    """One batch on the calling pool thread: a FrameResult, or the exception it raised, per frame. Frame by frame:
    the batch saves the hand-offs; batching the classifier too (`Engine.analyze_batch`) measured no gain per face
    on these cores (0.31 ms at batch 1, 0.32 at batch 8) and would let one frame's failure take its batch down."""
    results = []
    for frame in frames:
        try:
            results.append(_analyze(frame, emotions))
        except Exception as error:
            results.append(error)
    return results


class _Job:
    __slots__ = ("frame", "emotions", "future", "loop", "call")

    def __init__(self, frame, emotions, future, loop, call=None):
        self.frame, self.emotions, self.future, self.loop = frame, emotions, future, loop
        self.call = call  # (fn, args): any other work on the inference threads (a call's gallery frame, ...)


def _deliver(jobs: list[_Job], results: list) -> None:
    """On the event loop: resolve the futures of one batch."""
    for job, result in zip(jobs, results, strict=True):
        if job.future.done():  # the waiting consumer was cancelled
            continue
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)


class InferencePool:
    """Worker threads taking batches of frames from one queue (see the module docstring)."""

    def __init__(self, workers: int, max_batch: int = MAX_BATCH):
        self.workers = max(1, workers)
        self.max_batch = max_batch
        self._jobs: collections.deque[_Job] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._idle = 0
        self._stopping = False
        self._warmed = 0
        self.warm_error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._work, name=f"fermonitor-inference_{i}", daemon=True)
            for i in range(self.workers)
        ]
        self.batches = 0  # for tests and measurements
        self.frames = 0
        for thread in self._threads:
            thread.start()

    def submit(self, frame: bytes, emotions: bool) -> asyncio.Future:
        return self._queue(_Job(frame, emotions, None, None))

    def call(self, fn, *args) -> asyncio.Future:
        """Run `fn(*args)` on an inference thread (alone, not batched): work that needs the threads' models, such
        as a video call's gallery frame, queues with the students' frames instead of competing with them."""
        return self._queue(_Job(None, None, None, None, call=(fn, args)))

    def _queue(self, job: _Job) -> asyncio.Future:
        job.loop = asyncio.get_running_loop()
        job.future = job.loop.create_future()
        with self._cond:
            if self._stopping:
                raise RuntimeError("The inference pool has stopped")
            self._jobs.append(job)
            if self._idle:
                self._cond.notify()
        return job.future

    def _take(self) -> list[_Job] | None:
        with self._cond:
            while not self._jobs:
                if self._stopping:
                    return None
                self._idle += 1
                self._cond.wait()
                self._idle -= 1
            # My share of what waits (the others may be idle too), at most max_batch, all of one kind.
            share = -(-len(self._jobs) // self.workers)
            first = self._jobs.popleft()
            jobs = [first]
            while first.call is None and self._jobs and len(jobs) < min(share, self.max_batch):
                if self._jobs[0].call is not None or self._jobs[0].emotions != first.emotions:
                    break
                jobs.append(self._jobs.popleft())
            return jobs

    def _work(self) -> None:
        # Each thread loads its own models before its first frame (no barrier: a frame that arrives meanwhile
        # waits only for the first thread that is ready, not for every thread to be).
        try:
            engine().warm_up(emotions=True)
        except Exception as error:  # models missing: warm_up() reports it, and every frame gets it too
            self.warm_error = error
        with self._cond:
            self._warmed += 1
            self._cond.notify_all()
        while True:
            jobs = self._take()
            if jobs is None:
                return
            try:
                if jobs[0].call is not None:
                    fn, args = jobs[0].call
                    try:
                        results = [fn(*args)]
                    except Exception as error:
                        results = [error]
                else:
                    results = _analyze_batch([job.frame for job in jobs], jobs[0].emotions)
            except BaseException as error:  # noqa: BLE001 - every waiting consumer must hear of it
                results = [error] * len(jobs)
            self.batches += 1
            self.frames += len(jobs)
            by_loop: dict[asyncio.AbstractEventLoop, tuple[list, list]] = {}
            for job, result in zip(jobs, results, strict=True):
                pending, outcomes = by_loop.setdefault(job.loop, ([], []))
                pending.append(job)
                outcomes.append(result)
            for loop, (pending, outcomes) in by_loop.items():
                # RuntimeError: that event loop is closed, nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_deliver, pending, outcomes)

    def wait_warm(self, timeout: float = 120.0) -> None:
        """Block until every thread has loaded its models; raise what stopped one (e.g. `ModelsMissing`)."""
        with self._cond:
            self._cond.wait_for(lambda: self._warmed >= self.workers, timeout=timeout)
        if self.warm_error is not None:
            raise self.warm_error

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)


def pool() -> InferencePool:
    global _pool
    with _lock:
        if _pool is None:
            _pool = InferencePool(settings.FERMONITOR_INFERENCE_WORKERS)
        return _pool


def _close() -> None:
    global _engine, _pool
    with _lock:
        running, _pool, _engine = _pool, None, None
    if running is not None:
        running.stop()
    gc.collect()


async def analyze(frame: bytes, *, emotions: bool):
    """Analyse one JPEG on the pool; raises `inference.FrameError` subclasses for bad frames."""
    return await pool().submit(frame, emotions)


async def run(fn, *args):
    """`fn(*args)` on an inference thread: for other work with the models (gallery frames, trackers, labels)."""
    return await pool().call(fn, *args)


_warm = False


async def warm_up(emotions: bool = True) -> None:
    """Load the models on every pool thread before the first frame arrives (the first stream of a process pays
    for it, not its first frames)."""
    global _warm
    if _warm:
        return
    _warm = True
    try:
        await asyncio.get_running_loop().run_in_executor(None, pool().wait_warm)
    except Exception:
        _warm = False
        raise
    # Everything loaded so far (Django, MediaPipe, LiteRT, numpy: ~220,000 objects) lives as long as the
    # process. Moving it out of the collector's reach cut full collections under load from ~140 ms, during
    # which no socket is served and no frame analysed, to ~15 ms (bench/load.py, 300 students).
    gc.freeze()
    # Every frame allocates a few hundred short-lived objects (messages, results, records); with the default
    # threshold of 700 the young generation was collected every few frames. At 20,000: 300 students for a
    # minute (analysis stubbed out) took 4 collections and 52 ms in the collector instead of 262 and 511 ms.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)


# --- the teacher's capture of a video call: many faces in one large frame --------------------------------------


class FrameTooWide(Exception):
    """A captured frame larger than the capture socket accepts (checked from its header, before decoding)."""


def analyze_gallery_frame(frame: bytes, emotions: bool, max_width: int, max_height: int):
    """Every face of one screen capture (runs on a pool thread: see `analyze_gallery`). Presence-only
    (`emotions=False`) never runs the classifier."""
    from inference.decode import read_header

    _, width, height = read_header(frame)  # raises InvalidImage for garbage, a FrameError like the rest
    if width > max_width or height > max_height:
        raise FrameTooWide(
            f"The frame is {width}x{height} pixels; send at most {max_width}x{max_height} (scale it down)."
        )
    return engine().analyze_gallery(frame, emotions=emotions)


async def analyze_gallery(frame: bytes, *, emotions: bool, max_width: int, max_height: int):
    return await run(analyze_gallery_frame, frame, emotions, max_width, max_height)


def _warm_gallery(emotions: bool) -> None:
    engine().warm_up_gallery(emotions=emotions)


async def warm_up_gallery(emotions: bool = True) -> None:
    """Load the gallery detector (and classifier) on a pool thread before the first captured frame."""
    await run(_warm_gallery, emotions)
