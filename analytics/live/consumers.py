"""WebSocket endpoints of a live session.

`ws/live/<session uuid>/stream/` — a student's camera. Protocol (JSON text from the server, binary from the client):

  server -> {"type": "hello", "width", "height", "rate", "presence_only", "max_bytes"} once accepted;
  client -> one JPEG per binary message, the next only after the reply to the previous one;
  server -> exactly one reply per client message: {"type": "result", "n", "faces", "face", "emotion",
            "confidence", "next_in_ms"} or {"type": "error", "code", "message", "next_in_ms"} where code is
            too_large | too_fast | bad_frame | text_not_supported | analysis_failed | storage_unavailable.
            The socket stays open. A frame that arrives while the previous one is still being analysed, or sooner
            than the session's rate allows, is answered `too_fast` at once and dropped (frames are read as they
            come, never queued). `storage_unavailable`: the database is away and the server's sample buffer is
            full, so the frame was not recorded (a result is only ever acknowledged once it is buffered).
  server -> {"type": "ended", "message"} then close 4410 when the teacher ends the session (the frame being
            analysed at that moment is answered and stored first).
  server -> {"type": "refused", "code": "too_fast"} then close 4429 when a client keeps sending faster than the
            rate after being told (more than FLOOD_STRIKES too_fast replies within FLOOD_WINDOW_SECONDS).

`ws/live/<session uuid>/dashboard/` — the teacher's view: {"type": "history"} on connect (the session so far, from
the database), then {"type": "snapshot"} about once a second, {"type": "students"} batches of changed students,
{"type": "alert"}, {"type": "status"} and {"type": "live_updates", "state": "paused" | "live"} when the channel
layer (Redis) goes away or comes back: while paused, students streaming into other server processes are not
updated (snapshots carry the same state in "live_updates").

`ws/live/<session uuid>/capture/` — the teacher's screen capture of the lesson's video call (the class's teacher
and the school's admins, when the school has turned call capture on, while the session is live):

  server -> {"type": "hello", "session", "rate", "max_width", "max_height", "max_bytes", "presence_only",
            "resumed", "participants": [{"id", "participant", "number", "name", "student_id"}]} once accepted;
  client -> one JPEG of the call per binary message (at most max_width x max_height, max_bytes), the next only
            after the reply to the previous one; or a text command {"type": "pause" | "resume" | "stop"};
  server -> one reply per frame: {"type": "result", "n", "faces", "participants": [{"id", "participant",
            "number", "name", "student_id", "box", "emotion", "confidence"}], "next_in_ms"} or {"type": "error",
            "code", "message", "next_in_ms"} where code is too_large | too_wide | too_fast | bad_frame |
            analysis_failed | bad_command; "paused"/"resumed" acknowledge the commands; "stop" is answered with
            {"type": "stopped"} and a normal close (1000), ending the capture (no resume).
  server -> {"type": "ended", "message"} then close 4410 when the session ends; close 4408 ("replaced") when
            another capture of the same session starts (anywhere).

A capture socket that drops (not stopped) and comes back within FERMONITOR_CAPTURE_RESUME_SECONDS to the same
process resumes its participants (`capture`): "resumed": true, same numbers.

Refusals are sent as {"type": "refused", "code", "message"} and then the socket is closed with one of these codes:
4401 not logged in; 4403 not allowed (wrong role, not the class's teacher or an admin, not enrolled, no consent,
"capture_disabled": the school has not turned on reading video calls); 4404 no such session in the user's school;
4409 session not live; 4408 the same student connected again elsewhere (or another capture of the call started);
4410 session ended; 4429 frames kept coming too fast; 4500 analysis unavailable on this server; 4503 the database
is away, try again later. See `store` for the constants.

Neither consumer has a channel-layer subscription of its own (`channel_layer_alias = None`): everything between
processes goes through the session's hub, one subscription per process, which rides out a channel-layer outage
(`hub`). With Channels' default, each socket had a receive on the layer that nothing ever sent to; when Redis went
away that receive raised and Channels ended the consumer, closing every socket with 1011.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import random
import time

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from analytics.sample_writer import writer
from analytics.services import SampleRecord

from . import capture, labels, pipeline, store, wire
from . import hub as hubs
from .aggregation import participant_key

logger = logging.getLogger(__name__)

# A frame may arrive this much earlier than 1/rate after the previous accepted one (network jitter) and pass.
RATE_TOLERANCE = 0.8
# Each student's next frame is asked for at 1/rate times a random factor in 1 +- SCHEDULE_JITTER. Without it,
# students whose frames were read in the same event-loop turn (after any stall: a GC pass, a slow query) are told
# to send their next frames at the same instant, and these clusters only ever grow: under load the whole class
# ended up sending in one burst per second, queueing 300 frames at once in front of the inference pool. The
# jitter spreads clusters out again within a few frames and keeps the average rate; it stays well inside
# RATE_TOLERANCE.
SCHEDULE_JITTER = 0.1
# A client that gets more than FLOOD_STRIKES too_fast replies within FLOOD_WINDOW_SECONDS ignores the protocol
# (one frame in flight, at the rate): it is closed with 4429. A browser following `next_in_ms` gets none.
FLOOD_STRIKES = 20
FLOOD_WINDOW_SECONDS = 10.0
# While the sample buffer is full, clients are asked to wait this long before the next frame.
STORAGE_RETRY_MS = 5000
# How long a closing stream waits for the frame it is analysing (session end, disconnect, shutdown).
IN_FLIGHT_WAIT_SECONDS = 10.0


def next_frame_due(received: float, interval: float, rng: random.Random | None = None) -> float:
    """When a student whose frame was read at `received` should send the next one."""
    return received + interval * (rng or random).uniform(1 - SCHEDULE_JITTER, 1 + SCHEDULE_JITTER)


class LiveConsumer(AsyncWebsocketConsumer):
    # No channel-layer subscription per socket (see the module docstring).
    channel_layer_alias = None
    hub: hubs.SessionHub | None = None
    # Set once this side sent the close or the peer has gone: a send after it raises in autobahn ("Attempt to
    # send on a closed protocol") and logged a traceback per frame still being analysed at a session's end.
    closed = False

    async def dispatch(self, message):
        # Channels closes stale database connections before every handler, a trip to asgiref's single
        # thread_sensitive thread per frame, queued behind whatever that thread is doing (a login waiting on a
        # database that is away). These consumers touch the ORM only through `store.run`, which does it itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.closed:
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def close(self, code=None, reason=None):
        if self.closed:
            return
        await super().close(code=code, reason=reason)
        self.closed = True

    async def websocket_disconnect(self, message):
        self.closed = True
        await super().websocket_disconnect(message)

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=wire.dumps(message))

    async def refuse(self, denied: store.Denied) -> None:
        # Accept first: a WebSocket refused during the handshake gets no close code or reason, only a failure.
        await self.accept()
        await self.send_json({"type": "refused", "code": denied.code, "message": denied.message})
        await self.close(code=denied.close_code, reason=denied.code)

    async def try_again_later(self, error: Exception, accepted: bool = False) -> None:
        logger.warning("Live socket refused for now, the database is unavailable: %s", error)
        if not accepted:
            await self.accept()
        message = _("The server cannot reach its database right now. It will reconnect by itself.")
        await self.send_json({"type": "refused", "code": "unavailable", "message": message})
        await self.close(code=store.CLOSE_TRY_AGAIN, reason="unavailable")

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also runs when Daphne cancels the consumer at shutdown: nothing accepted is left unwritten.
            await asyncio.shield(self.cleanup())

    async def cleanup(self) -> None:
        pass


class StreamConsumer(LiveConsumer):
    """A student's camera: binary JPEG frames in, one JSON reply per frame out."""

    ticket: store.StreamTicket | None = None
    closing = False
    analysing: asyncio.Task | None = None
    since = 0.0  # when this socket's connection began (which of a student's sockets is the newest)

    async def connect(self):
        self.since = time.time()
        try:
            self.ticket = await store.run(
                store.open_stream, self.scope.get("user"), self.scope["url_route"]["kwargs"]["session_uuid"]
            )
        except store.Denied as denied:
            await self.refuse(denied)
            return
        except Exception as error:  # the database is away: say so rather than fail the handshake
            await self.try_again_later(error)
            return
        info = self.ticket.session
        self.emotions = not info.settings.presence_only
        self.min_interval = RATE_TOLERANCE / info.settings.frame_rate
        self.interval = 1.0 / info.settings.frame_rate
        self.max_bytes = settings.FERMONITOR_MAX_FRAME_BYTES
        self.last_accepted = None
        self.next_due = None
        self.strikes: collections.deque[float] = collections.deque()
        self.writer = writer()
        self.writer.acquire()
        self.hub = await hubs.acquire(info)
        await self.accept()
        if not await self.hub.stream_opened(self, self.ticket.student_id, self.ticket.student_name):
            return
        await self.send_json(
            {
                "type": "hello",
                "session": info.uuid,
                "width": info.frame_width,
                "height": info.frame_height,
                "rate": info.settings.frame_rate,
                "presence_only": info.settings.presence_only,
                "max_bytes": self.max_bytes,
            }
        )
        asyncio.get_running_loop().create_task(self._warm_up())

    async def _warm_up(self):
        try:
            await pipeline.warm_up()
        except Exception as exc:  # models missing: say so now rather than on every frame
            logger.error("Inference unavailable: %s", exc)
            await self._unavailable(str(exc))

    async def _unavailable(self, message: str) -> None:
        if self.closing:
            return
        self.closing = True
        await self.send_json({"type": "refused", "code": "analysis_unavailable", "message": message})
        await self.close(code=store.CLOSE_UNAVAILABLE, reason="analysis_unavailable")

    def _next_in_ms(self, now: float) -> int:
        if self.next_due is None:
            return 0
        return max(0, int((self.next_due - now) * 1000))

    async def _error(self, code: str, message: str, next_in_ms: int | None = None) -> None:
        if next_in_ms is None:
            next_in_ms = self._next_in_ms(time.time())
        await self.send_json({"type": "error", "code": code, "message": message, "next_in_ms": next_in_ms})

    async def receive(self, text_data=None, bytes_data=None):
        # Never awaits the analysis: every message is answered as it is read, so a client that sends faster
        # than frames are analysed cannot build a queue in this process (see analytics.live.backpressure).
        if self.ticket is None or self.closing:
            return
        if bytes_data is None:
            await self._error("text_not_supported", "Send camera frames as binary JPEG messages.")
            return
        received = time.time()
        if len(bytes_data) > self.max_bytes:
            await self._error(
                "too_large", f"Frame of {len(bytes_data)} bytes is over the limit of {self.max_bytes} bytes."
            )
            return
        if self.analysing is not None or (
            self.last_accepted is not None and received - self.last_accepted < self.min_interval
        ):
            await self._too_fast(received)
            return
        if not self.writer.has_room():
            await self._storage_unavailable()
            return
        self.last_accepted = received
        self.next_due = next_frame_due(received, self.interval)
        self.analysing = asyncio.get_running_loop().create_task(self._analyse(bytes_data, received))

    async def _too_fast(self, received: float) -> None:
        self.strikes.append(received)
        while self.strikes and self.strikes[0] < received - FLOOD_WINDOW_SECONDS:
            self.strikes.popleft()
        if len(self.strikes) > FLOOD_STRIKES:
            self.closing = True
            logger.warning(
                "Closing student %s's stream in session %s: frames kept coming faster than %g/s",
                self.ticket.student_id,
                self.ticket.session.session_id,
                self.ticket.session.settings.frame_rate,
            )
            await self.send_json(
                {
                    "type": "refused",
                    "code": "too_fast",
                    "message": _(
                        "Frames kept arriving faster than the session's rate; the stream was closed."
                    ),
                }
            )
            await self.close(code=store.CLOSE_TOO_FAST, reason="too_fast")
            return
        await self._error(
            "too_fast",
            f"Frames arrive faster than the session's {self.ticket.session.settings.frame_rate:g}/s.",
        )

    async def _storage_unavailable(self) -> None:
        await self._error(
            "storage_unavailable",
            _(
                "The server cannot store results right now, so this frame was not recorded. It will try again."
            ),
            next_in_ms=max(STORAGE_RETRY_MS, self._next_in_ms(time.time())),
        )

    async def _analyse(self, frame: bytes, received: float) -> None:
        try:
            try:
                result = await pipeline.analyze(frame, emotions=self.emotions)
            except Exception as exc:
                from inference import FrameError, ModelsMissing

                if isinstance(exc, FrameError):
                    await self._error("bad_frame", f"Could not read the frame: {exc}")
                elif isinstance(exc, ModelsMissing):
                    await self._unavailable(str(exc))
                else:
                    logger.exception("Frame analysis failed")
                    await self._error("analysis_failed", "The server could not analyse this frame.")
                return
            await self._accept_result(result, received)
        finally:
            self.analysing = None

    async def _accept_result(self, result, received: float) -> None:
        face = result.largest_face
        face_count = len(result.faces)
        probabilities = emotion = confidence = None
        if face is not None and self.emotions:
            probabilities = tuple(float(p) for p in face.probabilities)
            emotion, confidence = face.emotion, float(face.confidence)
        info = self.ticket.session
        # Into the write buffer before the ack: an acknowledged result is never lost. A full buffer (the database
        # away for long) refuses it, and the client hears so instead of an acknowledgement.
        stored = self.writer.add(
            SampleRecord(
                session_id=info.session_id,
                student_id=self.ticket.student_id,
                captured_at=store._when(received),
                face_count=face_count,
                probabilities=probabilities,
            )
        )
        if not stored:
            await self._storage_unavailable()
            return
        hub = self.hub
        if hub is None:  # the socket closed while the frame was analysed: stored, nobody left to tell
            return
        n = hub.observe(
            self.ticket.student_id, received, face_count, emotion or "", confidence, probabilities
        )
        reply = {
            "type": "result",
            "n": n,
            "faces": face_count,
            "face": face is not None,
            "next_in_ms": self._next_in_ms(time.time()),
        }
        if self.emotions:
            reply.update(emotion=emotion, confidence=None if confidence is None else round(confidence, 3))
        await self.send_json(reply)

    async def _finish_in_flight(self) -> None:
        """Let the frame being analysed finish (answered and buffered) before the stream goes."""
        task = self.analysing
        if task is None or task.done():
            return
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            async with asyncio.timeout(IN_FLIGHT_WAIT_SECONDS):
                await asyncio.shield(task)

    async def replaced(self) -> None:
        if self.closing:
            return
        self.closing = True
        await self._finish_in_flight()
        await self.writer.flush()
        await self.send_json(
            {"type": "refused", "code": "replaced", "message": "You joined this session from another window."}
        )
        await self.close(code=store.CLOSE_REPLACED, reason="replaced")

    async def session_ended(self) -> None:
        if self.closing:
            return
        self.closing = True
        # The frame in flight is answered and everything is stored before the socket closes (the hub stays
        # until the disconnect arrives and releases it).
        await self._finish_in_flight()
        await self.writer.flush()
        await self.send_json({"type": "ended", "message": "The session has ended. Thank you!"})
        await self.close(code=store.CLOSE_SESSION_ENDED, reason="session_ended")

    async def disconnect(self, code):
        await self.cleanup()

    async def cleanup(self) -> None:
        hub = self.hub
        if hub is None:
            return
        await self._finish_in_flight()
        if self.hub is None:
            return
        self.hub = None
        hub.stream_closed(self, self.ticket.student_id)
        await self.writer.release()
        with contextlib.suppress(Exception):
            await hubs.release(hub)


class DashboardConsumer(LiveConsumer):
    """The teacher's live view of one session."""

    async def connect(self):
        try:
            info = await store.run(
                store.open_dashboard,
                self.scope.get("user"),
                self.scope["url_route"]["kwargs"]["session_uuid"],
            )
        except store.Denied as denied:
            await self.refuse(denied)
            return
        except Exception as error:
            await self.try_again_later(error)
            return
        self.hub = await hubs.acquire(info)
        await self.accept()
        try:
            history = await store.run(store.dashboard_history, info)
        except Exception as error:
            await self.try_again_later(error, accepted=True)
            return
        history["session"]["status"] = self.hub.status
        await self.send_json(history)
        # Listen before the snapshot goes out: an update the hub sent while this socket was still sending its
        # snapshot would otherwise never reach this dashboard.
        snapshot = self.hub.snapshot()
        self.hub.add_dashboard(self)
        await self.send_json(snapshot)

    async def receive(self, text_data=None, bytes_data=None):
        await self.send_json(
            {"type": "error", "code": "read_only", "message": "The dashboard socket only listens."}
        )

    async def disconnect(self, code):
        await self.cleanup()

    async def cleanup(self) -> None:
        hub, self.hub = self.hub, None
        if hub is None:
            return
        hub.remove_dashboard(self)
        with contextlib.suppress(Exception):
            await hubs.release(hub)


class CaptureConsumer(LiveConsumer):
    """The teacher's screen capture of the lesson's video call: gallery JPEGs in, every face tracked as a call
    participant, stored (`analytics.services`, via the sample writer) and published through the hub."""

    ticket: store.CaptureTicket | None = None
    state: capture.CaptureState | None = None
    closing = False
    keep_state = True  # False once the capture is stopped for good (stop, session end, replaced)

    async def connect(self):
        try:
            self.ticket = await store.run(
                store.open_capture, self.scope.get("user"), self.scope["url_route"]["kwargs"]["session_uuid"]
            )
        except store.Denied as denied:
            await self.refuse(denied)
            return
        info = self.ticket.session
        self.emotions = not info.settings.presence_only
        self.min_interval = RATE_TOLERANCE / info.settings.frame_rate
        self.interval = 1.0 / info.settings.frame_rate
        self.max_bytes = settings.FERMONITOR_MAX_CAPTURE_BYTES
        self.max_side = settings.FERMONITOR_CAPTURE_MAX_SIDE
        self.last_accepted = None
        self.next_due = None
        self.paused = False
        # Accepted before the tracker exists: the first capture of a process imports it (seconds, more than
        # Daphne's handshake timeout on a busy machine). The client waits for "hello" before sending frames.
        await self.accept()
        state = capture.claim(info.uuid, self)
        resumed = state is not None
        if state is None:
            offset = await store.run(store.participant_offset, info.session_id, info.school_id)
            try:
                state = await capture.start_on_pool(info.uuid, self, offset)
            except Exception as exc:  # the tracker's dependencies are missing: say so, once
                logger.exception("Cannot track call participants")
                self.closing = True
                await self.send_json({"type": "refused", "code": "analysis_unavailable", "message": str(exc)})
                await self.close(code=store.CLOSE_UNAVAILABLE, reason="analysis_unavailable")
                return
        self.state = state
        # Name labels are read (to propose assignments) only where Tesseract is installed.
        self.label_candidates = []
        if labels.available():
            self.label_candidates = await store.run(store.assignment_names, info.session_id, info.school_id)
        self.label_task = None
        self.writer = writer()
        self.writer.acquire()
        self.hub = await hubs.acquire(info)
        await self.hub.capture_opened(self)
        await self.send_json(
            {
                "type": "hello",
                "session": info.uuid,
                "rate": info.settings.frame_rate,
                "max_width": self.max_side,
                "max_height": self.max_side,
                "max_bytes": self.max_bytes,
                "presence_only": info.settings.presence_only,
                "resumed": resumed,
                "participants": [self._public(ref) for ref in self.state.refs.values()],
            }
        )
        asyncio.get_running_loop().create_task(self._warm_up())

    async def _warm_up(self):
        try:
            await pipeline.warm_up_gallery(self.emotions)
        except Exception as exc:  # models missing: say so now rather than on every frame
            logger.error("Inference unavailable: %s", exc)
            await self._unavailable(str(exc))

    async def _unavailable(self, message: str) -> None:
        if self.closing:
            return
        self.closing = True
        await self.send_json({"type": "refused", "code": "analysis_unavailable", "message": message})
        await self.close(code=store.CLOSE_UNAVAILABLE, reason="analysis_unavailable")

    @staticmethod
    def _public(ref: store.ParticipantRef) -> dict:
        return {
            "id": participant_key(ref.pk),
            "participant": ref.uuid,
            "number": ref.number,
            "name": ref.name,
            "student_id": ref.student_id,
        }

    def _next_in_ms(self, now: float) -> int:
        if self.next_due is None:
            return 0
        return max(0, int((self.next_due - now) * 1000))

    async def _error(self, code: str, message: str) -> None:
        await self.send_json(
            {"type": "error", "code": code, "message": message, "next_in_ms": self._next_in_ms(time.time())}
        )

    async def receive(self, text_data=None, bytes_data=None):
        if self.ticket is None or self.state is None or self.closing:
            return  # refused, still starting (before "hello"), or closing
        if bytes_data is None:
            await self._command(text_data)
            return
        received = time.time()
        if len(bytes_data) > self.max_bytes:
            await self._error(
                "too_large",
                gettext("Frame of %(size)d bytes is over the limit of %(limit)d bytes.")
                % {"size": len(bytes_data), "limit": self.max_bytes},
            )
            return
        if self.last_accepted is not None and received - self.last_accepted < self.min_interval:
            await self._error(
                "too_fast",
                gettext("Frames arrive faster than the session's %(rate)s/s.")
                % {"rate": f"{self.ticket.session.settings.frame_rate:g}"},
            )
            return
        if not self.writer.has_room():  # the database is away and the buffer full: nothing would be stored
            await self._error(
                "storage_unavailable",
                _(
                    "The server cannot store results right now, so this frame was not recorded. It will try again."
                ),
            )
            return
        self.last_accepted = received
        self.next_due = next_frame_due(received, self.interval)
        self.paused = False
        try:
            result, numbers = await self.state.analyse_on_pool(
                bytes_data, emotions=self.emotions, max_side=self.max_side, at=received
            )
        except Exception as exc:
            from inference import FrameError, ModelsMissing

            if isinstance(exc, pipeline.FrameTooWide):
                await self._error("too_wide", str(exc))
            elif isinstance(exc, FrameError):
                await self._error(
                    "bad_frame", gettext("Could not read the frame: %(error)s") % {"error": exc}
                )
            elif isinstance(exc, ModelsMissing):
                await self._unavailable(str(exc))
            else:
                logger.exception("Captured frame analysis failed")
                await self._error("analysis_failed", gettext("The server could not analyse this frame."))
            return
        if self.closing:
            return
        in_picture = await self._accept_result(result, numbers, received)
        self._maybe_read_a_label(bytes_data, in_picture, received)

    def _maybe_read_a_label(self, frame: bytes, in_picture: dict, now: float) -> None:
        if not self.label_candidates:
            return
        chosen = self.state.next_label_to_read(in_picture, now)
        if chosen is not None:
            self.label_task = asyncio.get_running_loop().create_task(self._read_label(frame, *chosen))

    async def _read_label(self, frame: bytes, ref, box) -> None:
        """Read one tile's name label on the pool and, if it names exactly one enrolled student, show that on
        the card as a proposal. Never an assignment: the teacher makes that, with the consent check."""
        state = self.state
        try:
            text = await pipeline.run(labels.read_label, frame, box)
            match = labels.match_name(text, self.label_candidates)
            if match is not None and self.hub is not None:
                proposal = {"student": match[0], "name": match[1]}
                state.proposals[ref.pk] = proposal
                self.hub.propose(ref.pk, proposal)
        except Exception:
            logger.exception("Could not read a participant's name label")
        finally:
            state.reading_label = False

    async def _command(self, text: str | None) -> None:
        try:
            command = json.loads(text or "")["type"]
        except (ValueError, KeyError, TypeError):
            command = None
        if command == "pause":
            # Nothing to do but say so: with no frames, the participants stop counting as streaming.
            self.paused = True
            await self.send_json({"type": "paused"})
        elif command == "resume":
            self.paused = False
            await self.send_json({"type": "resumed", "next_in_ms": 0})
        elif command == "stop":
            await self._finish(keep=False)
            await self.send_json({"type": "stopped"})
            await self.close(code=1000)
        else:
            await self._error(
                "bad_command",
                gettext(
                    'Send captured frames as binary JPEG messages, or {"type": "pause" | "resume" | "stop"}.'
                ),
            )

    async def _accept_result(self, result, numbers: list[int], received: float) -> None:
        info, state = self.ticket.session, self.state
        new = sorted({n for n in numbers if n not in state.refs})
        if new:
            state.refs.update(
                await store.run(store.participants_for, info.session_id, info.school_id, new, received)
            )
        state.frames += 1
        captured_at = store._when(received)
        in_picture = {}
        for face, number in zip(result.faces, numbers, strict=True):
            in_picture.setdefault(state.refs[number].pk, face)  # a number twice in one frame: the first face
        faces = []
        # Into the write buffer before the reply: an acknowledged result is never lost.
        for ref in state.refs.values():
            face = in_picture.get(ref.pk)
            if face is not None:
                probabilities = None
                if self.emotions and face.probabilities is not None:
                    probabilities = tuple(float(p) for p in face.probabilities)
                state.last_face[ref.pk] = received
                state.gone.discard(ref.pk)
                self.writer.add(
                    SampleRecord(info.session_id, None, captured_at, 1, probabilities, participant_id=ref.pk)
                )
                emotion = (face.emotion or "") if probabilities else ""
                confidence = float(face.confidence) if probabilities else None
                self.hub.observe_participant(ref, received, 1, emotion, confidence, probabilities)
                item = {**self._public(ref), "box": [int(v) for v in face.box]}
                if self.emotions:
                    item.update(
                        emotion=emotion or None,
                        confidence=None if confidence is None else round(confidence, 3),
                    )
                faces.append(item)
            elif ref.pk not in state.gone:
                if received - state.last_face.get(ref.pk, received) > capture.PARTICIPANT_GONE_SECONDS:
                    state.gone.add(ref.pk)
                    self.hub.participant_left(ref.pk)
                    continue
                # Still in the call without a visible face (camera off, looking away): presence, no emotion.
                self.writer.add(
                    SampleRecord(info.session_id, None, captured_at, 0, None, participant_id=ref.pk)
                )
                self.hub.observe_participant(ref, received, 0)
        await self.send_json(
            {
                "type": "result",
                "n": state.frames,
                "faces": len(result.faces),
                "participants": faces,
                "next_in_ms": self._next_in_ms(time.time()),
            }
        )
        return in_picture

    def participant_renamed(self, participant_id: int, student_id: int | None, name: str) -> None:
        if self.state is not None:
            self.state.rename(participant_id, student_id, name)

    async def _finish(self, *, keep: bool) -> None:
        """Stop reading frames, store what was acknowledged, and keep (or drop) the tracker."""
        if self.closing:
            return
        self.closing = True
        self.keep_state = keep
        if not keep:  # at once: a capture started right after a stop must not resume this one
            capture.release(self.state, self, keep=False)
        await self.writer.flush()

    async def replaced(self) -> None:
        if self.closing:
            return
        await self._finish(keep=True)  # the new capture, if in this process, has claimed the state already
        await self.send_json(
            {
                "type": "refused",
                "code": "replaced",
                "message": gettext("The video call is being read from another window."),
            }
        )
        await self.close(code=store.CLOSE_REPLACED, reason="replaced")

    async def session_ended(self) -> None:
        if self.closing:
            return
        await self._finish(keep=False)
        await self.send_json({"type": "ended", "message": gettext("The session has ended. Capture stopped.")})
        await self.close(code=store.CLOSE_SESSION_ENDED, reason="session_ended")

    async def disconnect(self, code):
        await self.cleanup()

    async def cleanup(self) -> None:
        hub, self.hub = self.hub, None
        if hub is None:
            return
        if self.label_task is not None:
            self.label_task.cancel()
        state = self.state
        hub.capture_closed(self, [ref.pk for ref in state.refs.values()])
        capture.release(state, self, keep=self.keep_state)
        await self.writer.release()
        with contextlib.suppress(Exception):
            await hubs.release(hub)
