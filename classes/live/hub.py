"""One hub per live session per process: fans results in from local streams and out to dashboards everywhere.

(The design across processes is described in `analytics.live`.) A hub exists while its process has a stream or
a dashboard of the session open. It listens on its own channel in the group `live.session.<id>`, and:

* owns `StudentTracker`s for the students streaming into this process, evaluates their alerts once a second,
  and every UPDATE_SECONDS publishes the students that changed to the group (a few small dicts, never frames);
* merges every hub's updates into its `ClassView` and forwards them to its local dashboards at once, plus a full
  class snapshot once a second;
* relays `session.ended` (sent by the `session_ended` receiver) to its streams, which close gracefully.

Messages on the group: `live.updates` {origin, students, alerts}, `live.sync` {origin} (a new hub asks the
others to re-publish their students), `live.claim` {origin, student_id} (a student streams from a new socket:
others close their old one), `live.bye` {origin}, `session.ended`, `session.started`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
import weakref

from channels.layers import get_channel_layer
from django.conf import settings

from analytics.live import DROP_WINDOW_SECONDS, ClassView, StudentTracker

from . import store

logger = logging.getLogger(__name__)

# Student updates are coalesced for this long before they go out: batches, never one message per frame, and a
# frame shows on the dashboard within about this delay plus the analysis time.
UPDATE_SECONDS = float(getattr(settings, "FERMONITOR_LIVE_UPDATE_SECONDS", 0.05))
SNAPSHOT_SECONDS = 1.0
# A process that has published nothing (not even a heartbeat) for this long is gone: its students are offline.
ORIGIN_TIMEOUT_SECONDS = 5.0


def group_name(session_id: int) -> str:
    return f"live.session.{session_id}"


class SessionHub:
    def __init__(self, info: store.SessionInfo, layer=None):
        self.info = info
        self.session_id = info.session_id
        self.settings = info.settings
        self.status = info.status
        self.group = group_name(info.session_id)
        self.origin = uuid.uuid4().hex
        self.layer = layer or get_channel_layer()
        self.view = ClassView(info.settings)
        self.trackers: dict[int, StudentTracker] = {}
        self.streams: dict[int, object] = {}  # student id -> the local consumer streaming for them
        self.dashboards: set = set()
        self.changed: set[int] = set()
        self.was_streaming: dict[int, bool] = {}
        self.origin_seen: dict[str, float] = {}
        self.pending_alerts: list[dict] = []
        self.channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._alert_tasks: set[asyncio.Task] = set()

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        self._tasks = [asyncio.create_task(self._receive_loop()), asyncio.create_task(self._tick_loop())]
        await self._group_send({"type": "live.sync", "origin": self.origin})

    async def stop(self) -> None:
        await self._publish(time.time())
        await self._group_send({"type": "live.bye", "origin": self.origin})
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._alert_tasks:
            await asyncio.gather(*self._alert_tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.layer.group_discard(self.group, self.channel)

    @property
    def idle(self) -> bool:
        return not self.streams and not self.dashboards

    async def _group_send(self, message: dict) -> None:
        try:
            await self.layer.group_send(self.group, message)
        except Exception:  # a channel-layer hiccup must not break the streams
            logger.exception("Channel layer send to %s failed", self.group)

    # --- local streams --------------------------------------------------------------------------------------

    async def stream_opened(self, consumer, student_id: int, name: str) -> None:
        previous = self.streams.get(student_id)
        self.streams[student_id] = consumer
        if previous is not None and previous is not consumer:
            await previous.replaced()
        self.trackers[student_id] = StudentTracker(student_id, name, started_at=time.time())
        self.changed.add(student_id)
        await self._group_send({"type": "live.claim", "origin": self.origin, "student_id": student_id})

    def stream_closed(self, consumer, student_id: int) -> None:
        if self.streams.get(student_id) is not consumer:
            return
        del self.streams[student_id]
        tracker = self.trackers.get(student_id)
        if tracker is not None:
            tracker.connected = False
            self.changed.add(student_id)

    def observe(
        self, student_id: int, at: float, face_count: int, emotion="", confidence=None, probabilities=None
    ):
        """A frame of a local student was analysed; returns the student's frame number in this stream."""
        tracker = self.trackers[student_id]
        tracker.observe(at, face_count, emotion, confidence, probabilities)
        self.changed.add(student_id)
        return tracker.frames

    # --- dashboards -----------------------------------------------------------------------------------------

    def add_dashboard(self, consumer) -> None:
        self.dashboards.add(consumer)

    def remove_dashboard(self, consumer) -> None:
        self.dashboards.discard(consumer)

    def snapshot(self) -> dict:
        now = time.time()
        snapshot = self.view.snapshot(now)
        snapshot["status"] = self.status
        return snapshot

    async def _to_dashboards(self, message: dict) -> None:
        for dashboard in list(self.dashboards):
            try:
                await dashboard.send_json(message)
            except Exception:  # a dashboard that went away mid-send is removed on its disconnect
                logger.debug("Dashboard send failed", exc_info=True)

    # --- the clock ------------------------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        next_second = time.time() + SNAPSHOT_SECONDS
        while True:
            await asyncio.sleep(UPDATE_SECONDS)
            now = time.time()
            try:
                if now >= next_second:
                    next_second = now + SNAPSHOT_SECONDS
                    await self._second(now)
                await self._publish(now)
            except Exception:
                logger.exception("Live hub tick failed for session %s", self.session_id)

    async def _second(self, now: float) -> None:
        for student_id, tracker in self.trackers.items():
            streaming = tracker.streaming(now, self.settings)
            if self.was_streaming.get(student_id) != streaming:
                self.was_streaming[student_id] = streaming
                self.changed.add(student_id)
            for alert in tracker.due_alerts(now, self.settings):
                self._store_alert(alert, dedupe_seconds=None)
        for origin, seen in list(self.origin_seen.items()):
            if now - seen > ORIGIN_TIMEOUT_SECONDS:
                del self.origin_seen[origin]
                gone = self.view.forget_origin(origin)
                if gone:
                    await self._to_dashboards({"type": "students", "students": gone})
        for alert in self.view.tick(now):
            self._store_alert(alert, dedupe_seconds=DROP_WINDOW_SECONDS)
        if self.trackers and not self.changed:
            # Heartbeat: tells the other processes this one is alive and still owns its students.
            await self._group_send(
                {"type": "live.updates", "origin": self.origin, "students": [], "alerts": []}
            )
        if self.dashboards:
            await self._to_dashboards(self.snapshot())

    def _store_alert(self, alert, dedupe_seconds) -> None:
        async def run():
            try:
                stored = await store.run(
                    store.store_alert, self.session_id, self.info.school_id, alert, dedupe_seconds
                )
            except Exception:
                logger.exception("Could not store alert %s", alert)
                return
            if stored is not None:
                self.pending_alerts.append(stored)

        task = asyncio.create_task(run())
        self._alert_tasks.add(task)
        task.add_done_callback(self._alert_tasks.discard)

    async def _publish(self, now: float) -> None:
        if not self.changed and not self.pending_alerts:
            return
        updates = [self.trackers[i].public(now, self.settings) for i in self.changed if i in self.trackers]
        alerts, self.pending_alerts = self.pending_alerts, []
        self.changed.clear()
        self.view.merge(self.origin, updates, now)
        if updates:
            await self._to_dashboards({"type": "students", "students": updates})
        for alert in alerts:
            await self._to_dashboards({"type": "alert", "alert": alert})
        await self._group_send(
            {"type": "live.updates", "origin": self.origin, "students": updates, "alerts": alerts}
        )

    # --- the group ------------------------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            try:
                await self._handle(message)
            except Exception:
                logger.exception("Live hub could not handle %s", message.get("type"))

    async def _handle(self, message: dict) -> None:
        kind = message.get("type")
        origin = message.get("origin")
        if origin == self.origin:
            return
        now = time.time()
        if origin:
            self.origin_seen[origin] = now
        if kind == "live.updates":
            students = message.get("students") or []
            if students:
                self.view.merge(origin, students, now)
                await self._to_dashboards({"type": "students", "students": students})
            for alert in message.get("alerts") or []:
                await self._to_dashboards({"type": "alert", "alert": alert})
        elif kind == "live.sync":
            self.changed.update(self.trackers)
        elif kind == "live.claim":
            consumer = self.streams.get(message["student_id"])
            if consumer is not None:
                await consumer.replaced()
        elif kind == "live.bye":
            self.origin_seen.pop(origin, None)
            gone = self.view.forget_origin(origin)
            if gone:
                await self._to_dashboards({"type": "students", "students": gone})
        elif kind == "session.ended":
            self.status = "ended"
            for consumer in list(self.streams.values()):
                await consumer.session_ended()
            await self._to_dashboards({"type": "status", "status": "ended"})
        elif kind == "session.started":
            self.status = "live"
            await self._to_dashboards({"type": "status", "status": "live"})


# --- one registry per event loop (Daphne has one; tests make a new loop per test) -------------------------

_registries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _Registry:
    def __init__(self):
        self.hubs: dict[int, SessionHub] = {}
        self.lock = asyncio.Lock()


def _registry() -> _Registry:
    loop = asyncio.get_running_loop()
    registry = _registries.get(loop)
    if registry is None:
        registry = _registries[loop] = _Registry()
    return registry


async def acquire(info: store.SessionInfo) -> SessionHub:
    """The running process's hub for the session, started on first use."""
    registry = _registry()
    async with registry.lock:
        hub = registry.hubs.get(info.session_id)
        if hub is None:
            hub = SessionHub(info)
            await hub.start()
            registry.hubs[info.session_id] = hub
        return hub


async def release(hub: SessionHub) -> None:
    """Stop the hub when its last local stream or dashboard has gone."""
    registry = _registry()
    async with registry.lock:
        if hub.idle and registry.hubs.get(hub.session_id) is hub:
            del registry.hubs[hub.session_id]
            await hub.stop()


def local_hubs() -> dict[int, SessionHub]:
    return dict(_registry().hubs)
