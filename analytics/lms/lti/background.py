"""Work that follows a launch or a lesson (roster sync, attendance scores) without making anyone wait for the LMS.

FERMONITOR_LTI_BACKGROUND: "thread" (default) runs it in a daemon thread after the transaction commits; "sync"
runs it at once in the same thread (tests, scripts); "off" skips it (the class page's buttons still work).
"""

import logging
import threading
import time

from django.conf import settings
from django.db import connection, transaction

from classes.tenancy import school_scope

logger = logging.getLogger(__name__)


def mode() -> str:
    return getattr(settings, "FERMONITOR_LTI_BACKGROUND", "thread")


def after_commit(school_id: int, func, *args, delay: float = 0.0) -> None:
    """Run func(*args) inside the school's scope once the current transaction has committed."""
    chosen = mode()
    if chosen == "off":
        return
    if chosen == "sync":
        transaction.on_commit(lambda: _run(school_id, func, args, close=False))
        return
    transaction.on_commit(
        lambda: threading.Thread(target=_in_thread, args=(school_id, func, args, delay), daemon=True).start()
    )


def _in_thread(school_id, func, args, delay):
    if delay:
        time.sleep(delay)
    _run(school_id, func, args, close=True)


def _run(school_id, func, args, *, close: bool):
    try:
        with school_scope(school_id):
            func(*args)
    except Exception:  # recorded on the course by func itself; the page's button retries
        logger.exception("LTI background work %s failed", getattr(func, "__name__", func))
    finally:
        if close:
            connection.close()
