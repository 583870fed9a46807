"""One hub per live session per process: fans results in from local streams and out to dashboards everywhere.

(The design across processes is described in `analytics.live.aggregation`.) A hub exists while its process has a stream or
a dashboard of the session open. It listens on its own channel in the group `live.session.<id>`, and:

* owns `StudentTracker`s for the students streaming into this process, evaluates their alerts once a second,
  and every UPDATE_SECONDS publishes the students that changed to the group (a few small dicts, never frames);
* merges every hub's updates into its `ClassView` and forwards them to its local dashboards at once, plus a full
  class snapshot once a second;
* relays `session.ended` (sent by the `session_ended` receiver) to its streams, which close gracefully.

Messages on the group: `live.updates` {origin, students, alerts}, `live.sync` {origin} (a new hub asks the
others to re-publish their students), `live.claim` {origin, student_id} (a student streams from a new socket:
others close their old one), `live.bye` {origin}, `session.ended`, `session.started`.

The teacher's capture of the video call (`consumers.CaptureConsumer`) is owned the same way: the process with the
capture socket keeps a `ParticipantState` per tracked face (keyed `p<participant id>` in the class view, beside
the students) and publishes them like students. `live.capture_claim` {origin} (a new capture of the session
started: others close theirs) and `live.participant` {participant_id, student_id, name} (a participant was
assigned: its card is renamed everywhere) complete the set.

The channel layer may go away (Redis restarted, unreachable). The hub is the only subscriber of its process (the
consumers have none), so only the hub has to ride it out: any failed send, receive or join marks the layer down,
logs one line, tells the local dashboards `{"type": "live_updates", "state": "paused"}` and wakes the membership
task, which re-joins the group with backoff (0.5 s doubling to 5 s, jittered) and, once it succeeds, logs one line,
tells the dashboards `"live"` again, asks every process to re-publish its students and re-reads the session's
status (a session ended while the layer was away ends here too). Meanwhile local streams and local dashboards
work as before; only other processes' updates are missing. Membership is also renewed every REJOIN_SECONDS,
because a Redis restarted without persistence forgets groups without any error reaching us, and channels_redis
expires memberships after a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
import weakref

from channels.layers import get_channel_layer
from django.conf import settings

from . import store
from .aggregation import DROP_WINDOW_SECONDS, ClassView, ParticipantState, StudentTracker, participant_key

logger = logging.getLogger(__name__)

# Student updates are coalesced for this long before they go out: batches, never one message per frame, and a
# frame shows on the dashboard within about this delay plus the analysis time.
UPDATE_SECONDS = float(getattr(settings, "FERMONITOR_LIVE_UPDATE_SECONDS", 0.05))
SNAPSHOT_SECONDS = 1.0
# A process that has published nothing (not even a heartbeat) for this long is gone: its students are offline.
ORIGIN_TIMEOUT_SECONDS = 5.0
# Re-joining the group after a channel-layer failure: the first wait, the longest wait.
REJOIN_BACKOFF_SECONDS = (0.5, 5.0)
# Membership is renewed this often even when nothing failed (see the module docstring).
REJOIN_SECONDS = 30.0
# While the layer is away, the session's status is re-read from the database at most this often: an end that
# could not be broadcast still reaches this process's students.
STATUS_POLL_SECONDS = 5.0
# A single channel-layer call that takes longer than this counts as a failure (generous: a process starved of CPU
# for a few seconds, loading its models on a busy machine, must not report a healthy Redis as away).
LAYER_CALL_TIMEOUT_SECONDS = 15.0
# How long stopping a hub waits for its cancelled tasks: a receive cancelled inside channels_redis while Redis is
# unreachable can take longer to unwind, and the last socket of a session must not wait for it.
STOP_WAIT_SECONDS = 2.0


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
        self.captures: set = set()  # local capture consumers of the session's video call (one, normally)
        self.changed: set[int] = set()
        self.was_streaming: dict[int, bool] = {}
        self.origin_seen: dict[str, float] = {}
        self.pending_alerts: list[dict] = []
        self.channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._alert_tasks: set[asyncio.Task] = set()
        # Channel-layer state: `layer_up` is what dashboards are told; `_joined` is set while the group
        # membership is confirmed (the receive loop waits for it); `_rejoin` wakes the membership task.
        self.layer_up = True
        self._layer_down_since: float | None = None
        self._joined = asyncio.Event()
        self._rejoin = asyncio.Event()
        self._status_checked_at = 0.0

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.channel = await self.layer.new_channel()
        try:
            async with asyncio.timeout(LAYER_CALL_TIMEOUT_SECONDS):
                await self.layer.group_add(self.group, self.channel)
        except Exception as error:  # the layer is away: serve local streams now, join when it is back
            await self._layer_failed(error)
        else:
            self._joined.set()
        self._tasks = [
            asyncio.create_task(self._receive_loop()),
            asyncio.create_task(self._tick_loop()),
            asyncio.create_task(self._membership_loop()),
        ]
        await self._group_send({"type": "live.sync", "origin": self.origin})

    async def stop(self) -> None:
        await self._publish(time.time())
        await self._group_send({"type": "live.bye", "origin": self.origin})
        for task in self._tasks:
            task.cancel()
        await asyncio.wait(self._tasks, timeout=STOP_WAIT_SECONDS)
        if self._alert_tasks:
            await asyncio.gather(*self._alert_tasks, return_exceptions=True)
        if self.layer_up:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(LAYER_CALL_TIMEOUT_SECONDS):
                    await self.layer.group_discard(self.group, self.channel)

    @property
    def idle(self) -> bool:
        return not self.streams and not self.dashboards and not self.captures

    async def _group_send(self, message: dict) -> bool:
        if not self.layer_up:
            return False  # paused: the membership task probes the layer; what is missed is re-published after
        try:
            async with asyncio.timeout(LAYER_CALL_TIMEOUT_SECONDS):
                await self.layer.group_send(self.group, message)
        except Exception as error:  # a channel-layer failure must not break the streams
            await self._layer_failed(error)
            return False
        return True

    # --- the channel layer going away and coming back -------------------------------------------------------

    async def _layer_failed(self, error: BaseException) -> None:
        self._joined.clear()
        self._rejoin.set()
        if not self.layer_up:
            return
        self.layer_up = False
        self._layer_down_since = time.monotonic()
        logger.warning(
            "Live session %s: channel layer unavailable (%s: %s); live updates between processes are paused "
            "and the hub re-joins with backoff",
            self.session_id,
            type(error).__name__,
            error,
        )
        await self._to_dashboards({"type": "live_updates", "state": "paused"})

    async def _layer_recovered(self) -> None:
        self._joined.set()
        if self.layer_up:
            return
        self.layer_up = True
        logger.warning(
            "Live session %s: channel layer back after %.1f s; group re-joined",
            self.session_id,
            time.monotonic() - (self._layer_down_since or time.monotonic()),
        )
        # Other processes went quiet because the layer did, not because they died: give them time to speak.
        now = time.time()
        for origin in self.origin_seen:
            self.origin_seen[origin] = now
        await self._to_dashboards({"type": "live_updates", "state": "live"})
        # What everyone missed meanwhile: every hub re-publishes its students, and the session may have ended.
        self.changed.update(self.trackers)
        await self._group_send({"type": "live.sync", "origin": self.origin})
        await self._check_status()

    async def _membership_loop(self) -> None:
        low, high = REJOIN_BACKOFF_SECONDS
        delay = low
        while True:
            if self._joined.is_set():
                self._rejoin.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(REJOIN_SECONDS):
                        await self._rejoin.wait()
            try:
                async with asyncio.timeout(LAYER_CALL_TIMEOUT_SECONDS):
                    await self.layer.group_add(self.group, self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await self._layer_failed(error)
                if time.monotonic() - self._status_checked_at >= STATUS_POLL_SECONDS:
                    await self._check_status()
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(high, delay * 2)
                continue
            delay = low
            await self._layer_recovered()

    async def _check_status(self) -> None:
        """Re-read the session's status from the database: the layer may have lost an end or a start."""
        self._status_checked_at = time.monotonic()
        try:
            status = await store.run(store.session_status, self.session_id, self.info.school_id)
        except Exception as error:  # the database may be away too; the next check will tell
            logger.debug("Could not re-read session %s's status: %s", self.session_id, error)
            return
        if status == "ended" and self.status != "ended":
            await self._handle({"type": "session.ended"})
        elif status == "live" and self.status != "live":
            await self._handle({"type": "session.started"})

    # --- local streams --------------------------------------------------------------------------------------

    async def stream_opened(self, consumer, student_id: int, name: str) -> bool:
        """A student's stream is open here. The socket whose connection *began* last wins, here and in every
        process: under load a handshake the browser gave up on can complete after its retry did, and it must
        not close the retry. Returns False (and closes `consumer`) when a newer socket of the student is open."""
        previous = self.streams.get(student_id)
        if previous is not None and previous is not consumer and previous.since > consumer.since:
            await consumer.replaced()
            return False
        self.streams[student_id] = consumer
        if previous is not None and previous is not consumer:
            await previous.replaced()
        self.trackers[student_id] = StudentTracker(student_id, name, started_at=time.time())
        self.changed.add(student_id)
        await self._claim(student_id, consumer.since)
        return True

    async def _claim(self, student_id: int, since: float) -> None:
        await self._group_send(
            {"type": "live.claim", "origin": self.origin, "student_id": student_id, "since": since}
        )

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

    # --- the teacher's capture of the video call ------------------------------------------------------------

    async def capture_opened(self, consumer) -> None:
        """One capture per session: a new one closes any other, here or in another process (two captures of the
        same call would count every face twice)."""
        for other in list(self.captures):
            if other is not consumer:
                await other.replaced()
        self.captures.add(consumer)
        await self._group_send({"type": "live.capture_claim", "origin": self.origin})

    def capture_closed(self, consumer, participant_ids) -> None:
        """The capture stopped: its participants are no longer in a call anyone reads."""
        self.captures.discard(consumer)
        if self.captures:  # replaced by a capture in this process: it goes on with the same participants
            return
        for participant_id in participant_ids:
            tracker = self.trackers.get(participant_key(participant_id))
            if tracker is not None and tracker.connected:
                tracker.connected = False
                self.changed.add(tracker.student_id)

    def observe_participant(
        self, ref, at: float, face_count: int, emotion="", confidence=None, probabilities=None
    ) -> None:
        """A captured frame's result for one tracked participant (`store.ParticipantRef`)."""
        key = participant_key(ref.pk)
        tracker = self.trackers.get(key)
        if tracker is None:
            tracker = self.trackers[key] = ParticipantState(
                key, ref.name, started_at=at, participant_id=ref.pk, number=ref.number, uuid=ref.uuid
            )
        tracker.assigned_id = ref.student_id
        tracker.name = ref.name
        tracker.connected = True
        tracker.observe(at, face_count, emotion, confidence, probabilities)
        self.changed.add(key)

    def propose(self, participant_id: int, proposal: dict) -> None:
        """Show on the participant's card who its name label says it is (the teacher decides)."""
        tracker = self.trackers.get(participant_key(participant_id))
        if tracker is not None:
            tracker.proposal = proposal
            self.changed.add(tracker.student_id)

    def participant_left(self, participant_id: int) -> None:
        """A participant has been out of the call's picture too long: not in the call any more."""
        tracker = self.trackers.get(participant_key(participant_id))
        if tracker is not None and tracker.connected:
            tracker.connected = False
            self.changed.add(tracker.student_id)

    async def _participant_renamed(self, message: dict) -> None:
        key = participant_key(message["participant_id"])
        tracker = self.trackers.get(key)
        if tracker is not None:
            tracker.name, tracker.assigned_id = message["name"], message["student_id"]
            self.changed.add(key)
        for consumer in list(self.captures):
            consumer.participant_renamed(message["participant_id"], message["student_id"], message["name"])
        state = self.view.students.get(key)
        if state is not None:
            state.update(name=message["name"], student_id=message["student_id"])
            await self._to_dashboards({"type": "students", "students": [state]})

    # --- dashboards -----------------------------------------------------------------------------------------

    def add_dashboard(self, consumer) -> None:
        self.dashboards.add(consumer)

    def remove_dashboard(self, consumer) -> None:
        self.dashboards.discard(consumer)

    def snapshot(self) -> dict:
        now = time.time()
        snapshot = self.view.snapshot(now)
        snapshot["status"] = self.status
        snapshot["live_updates"] = "live" if self.layer_up else "paused"
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
            # While the layer is away every other process falls silent; their students keep their last state.
            if self.layer_up and now - seen > ORIGIN_TIMEOUT_SECONDS:
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
            await self._joined.wait()
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the layer went away: wait for the membership task to re-join
                await self._layer_failed(error)
                await asyncio.sleep(REJOIN_BACKOFF_SECONDS[0])
                continue
            try:
                await self._handle(message)
            except Exception:
                logger.exception("Live hub could not handle %s", message.get("type"))

    async def _handle(self, message: dict) -> None:
        kind = message.get("type")
        origin = message.get("origin")
        if kind == "live.participant":  # sent by the assignment's receiver, not by a hub: no origin
            await self._participant_renamed(message)
            return
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
            student_id = message["student_id"]
            consumer = self.streams.get(student_id)
            if consumer is None:
                return
            if consumer.since > message.get("since", float("inf")):
                await self._claim(student_id, consumer.since)  # ours began later: the other one gives way
            else:
                await consumer.replaced()
        elif kind == "live.capture_claim":
            for capture in list(self.captures):
                await capture.replaced()
        elif kind == "live.bye":
            self.origin_seen.pop(origin, None)
            gone = self.view.forget_origin(origin)
            if gone:
                await self._to_dashboards({"type": "students", "students": gone})
        elif kind == "session.ended":
            self.status = "ended"
            # Together: each stream first answers the frame it is analysing and stores what it buffered.
            await asyncio.gather(
                *(consumer.session_ended() for consumer in [*self.streams.values(), *self.captures]),
                return_exceptions=True,
            )
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
