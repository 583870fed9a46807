"""The inference pool: one process-wide `inference.Engine` on a dedicated thread pool.

Inference never runs on the event loop (it would stall every socket of the process) nor on asgiref's single
`thread_sensitive` thread (it would queue behind, and block, every ORM call). The pool is sized by
`FERMONITOR_INFERENCE_WORKERS` (default: the number of cores); the engine is thread-safe (thread-local
interpreters) and is created once, lazily, on a pool thread, so importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_engine = None


def executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=max(1, settings.FERMONITOR_INFERENCE_WORKERS),
                thread_name_prefix="fermonitor-inference",
            )
        return _executor


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
                )
                # MediaPipe closes detectors through its own executor, which stops at interpreter exit; hooks
                # registered later run earlier, so our pool (and the detectors its threads hold) goes first.
                # Without it every detector prints a traceback at exit. (The private hook is what
                # concurrent.futures itself uses; plain atexit runs too late.)
                getattr(threading, "_register_atexit", atexit.register)(_close)
    return _engine


def _close() -> None:
    global _engine, _executor
    with _lock:
        pool, _executor, _engine = _executor, None, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
    gc.collect()


def _analyze(frame: bytes, emotions: bool):
    return engine().analyze(frame, emotions=emotions)


async def analyze(frame: bytes, *, emotions: bool):
    """Analyse one JPEG on the pool; raises `inference.FrameError` subclasses for bad frames."""
    return await asyncio.get_running_loop().run_in_executor(executor(), _analyze, frame, emotions)


_warm = False


def _warm_thread(barrier: threading.Barrier, emotions: bool) -> None:
    engine().warm_up(emotions=emotions)
    # Hold this thread until every worker has one task, so each pool thread loads its own interpreters.
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(timeout=30)


async def warm_up(emotions: bool = True) -> None:
    """Load the models on every pool thread before the first frame arrives (the first stream of a process pays
    for it, not its first frames)."""
    global _warm
    if _warm:
        return
    _warm = True
    workers = max(1, settings.FERMONITOR_INFERENCE_WORKERS)
    barrier = threading.Barrier(workers)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.gather(
            *(loop.run_in_executor(executor(), _warm_thread, barrier, emotions) for _ in range(workers))
        )
    except Exception:
        _warm = False
        raise
    # Everything loaded so far (Django, MediaPipe, LiteRT, numpy: ~220,000 objects) lives as long as the
    # process. Moving it out of the collector's reach cut full collections under load from ~140 ms, during
    # which no socket is served and no frame analysed, to ~15 ms (bench/load.py, 300 students).
    gc.freeze()
