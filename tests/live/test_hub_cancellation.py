"""A live hub's background tasks end when cancelled, whatever they were waiting for.

Python 3.11's `asyncio.wait_for` swallows a cancellation that arrives after the awaited call has finished but
before the waiting task has resumed (CPython gh-86296, fixed in 3.12): a `while True` loop around it then runs on,
and whoever cancelled it (Daphne at shutdown, an event loop closing after a test) waits for ever. The hub's loops
use `asyncio.timeout` instead, which lets such a cancellation through."""

import asyncio

from channels.layers import InMemoryChannelLayer

from analytics.live import store
from analytics.live.aggregation import AlertSettings
from analytics.live.hub import SessionHub


def _info() -> store.SessionInfo:
    return store.SessionInfo(
        session_id=1,
        uuid="00000000-0000-0000-0000-000000000001",
        school_id=1,
        title="Cancellation",
        status="live",
        settings=AlertSettings(),
        frame_width=320,
        frame_height=240,
    )


async def test_the_hubs_membership_task_ends_when_cancelled_just_as_its_wait_is_answered():
    hub = SessionHub(_info(), layer=InMemoryChannelLayer())
    await hub.start()
    try:
        membership = next(t for t in hub._tasks if t.get_coro().__name__ == "_membership_loop")
        await asyncio.sleep(0.05)  # it now waits for a re-join request
        hub._rejoin.set()
        await asyncio.sleep(0)  # the wait is answered; the task has not run on from it yet
        membership.cancel()
        done, _ = await asyncio.wait([membership], timeout=2)
        assert membership in done, "the membership task ran on after being cancelled"
        assert membership.cancelled()
    finally:
        await hub.stop()


async def test_a_stopped_hub_leaves_no_task_running():
    hub = SessionHub(_info(), layer=InMemoryChannelLayer())
    await hub.start()
    await asyncio.sleep(0.2)  # a few ticks, each publishing to the group
    await hub.stop()
    assert all(task.done() for task in hub._tasks)
