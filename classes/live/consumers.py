"""WebSocket endpoints of a live session.

`ws/live/<session uuid>/stream/` — a student's camera. Protocol (JSON text from the server, binary from the client):

  server -> {"type": "hello", "width", "height", "rate", "presence_only", "max_bytes"} once accepted;
  client -> one JPEG per binary message, the next only after the reply to the previous one;
  server -> exactly one reply per client message: {"type": "result", "n", "faces", "face", "emotion",
            "confidence", "next_in_ms"} or {"type": "error", "code", "message", "next_in_ms"} where code is
            too_large | too_fast | bad_frame | text_not_supported | analysis_failed. The socket stays open.
  server -> {"type": "ended", "message"} then close 4410 when the teacher ends the session.

`ws/live/<session uuid>/dashboard/` — the teacher's view: {"type": "history"} on connect (the session so far, from
the database), then {"type": "snapshot"} about once a second, {"type": "students"} batches of changed students,
{"type": "alert"} and {"type": "status"}.

Refusals are sent as {"type": "refused", "code", "message"} and then the socket is closed with one of these codes:
4401 not logged in; 4403 not allowed (wrong role, not the class's teacher or an admin, not enrolled, no consent);
4404 no such session in the user's school; 4409 session not live; 4408 the same student connected again elsewhere;
4410 session ended; 4500 analysis unavailable on this server. See `store` for the constants.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from analytics.sample_writer import writer
from analytics.services import SampleRecord

from . import hub as hubs
from . import pipeline, receivers, store  # noqa: F401 - receivers connects the session signals

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


def next_frame_due(received: float, interval: float, rng: random.Random | None = None) -> float:
    """When a student whose frame was read at `received` should send the next one."""
    return received + interval * (rng or random).uniform(1 - SCHEDULE_JITTER, 1 + SCHEDULE_JITTER)


class LiveConsumer(AsyncWebsocketConsumer):
    hub: hubs.SessionHub | None = None

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message, separators=(",", ":")))

    async def refuse(self, denied: store.Denied) -> None:
        # Accept first: a WebSocket refused during the handshake gets no close code or reason, only a failure.
        await self.accept()
        await self.send_json({"type": "refused", "code": denied.code, "message": denied.message})
        await self.close(code=denied.close_code, reason=denied.code)

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

    async def connect(self):
        try:
            self.ticket = await store.run(
                store.open_stream, self.scope.get("user"), self.scope["url_route"]["kwargs"]["session_uuid"]
            )
        except store.Denied as denied:
            await self.refuse(denied)
            return
        info = self.ticket.session
        self.emotions = not info.settings.presence_only
        self.min_interval = RATE_TOLERANCE / info.settings.frame_rate
        self.interval = 1.0 / info.settings.frame_rate
        self.max_bytes = settings.FERMONITOR_MAX_FRAME_BYTES
        self.last_accepted = None
        self.next_due = None
        self.writer = writer()
        self.writer.acquire()
        self.hub = await hubs.acquire(info)
        await self.accept()
        await self.hub.stream_opened(self, self.ticket.student_id, self.ticket.student_name)
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

    async def _error(self, code: str, message: str) -> None:
        await self.send_json(
            {"type": "error", "code": code, "message": message, "next_in_ms": self._next_in_ms(time.time())}
        )

    async def receive(self, text_data=None, bytes_data=None):
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
        if self.last_accepted is not None and received - self.last_accepted < self.min_interval:
            await self._error(
                "too_fast",
                f"Frames arrive faster than the session's {self.ticket.session.settings.frame_rate:g}/s.",
            )
            return
        self.last_accepted = received
        self.next_due = next_frame_due(received, self.interval)
        try:
            result = await pipeline.analyze(bytes_data, emotions=self.emotions)
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

    async def _accept_result(self, result, received: float) -> None:
        face = result.largest_face
        face_count = len(result.faces)
        probabilities = emotion = confidence = None
        if face is not None and self.emotions:
            probabilities = tuple(float(p) for p in face.probabilities)
            emotion, confidence = face.emotion, float(face.confidence)
        info = self.ticket.session
        # Into the write buffer before the ack: an acknowledged result is never lost.
        self.writer.add(
            SampleRecord(
                session_id=info.session_id,
                student_id=self.ticket.student_id,
                captured_at=store._when(received),
                face_count=face_count,
                probabilities=probabilities,
            )
        )
        n = self.hub.observe(
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

    async def replaced(self) -> None:
        if self.closing:
            return
        self.closing = True
        await self.writer.flush()
        await self.send_json(
            {"type": "refused", "code": "replaced", "message": "You joined this session from another window."}
        )
        await self.close(code=store.CLOSE_REPLACED, reason="replaced")

    async def session_ended(self) -> None:
        if self.closing:
            return
        self.closing = True
        # Stored before the socket closes (the hub stays until the disconnect arrives and releases it).
        await self.writer.flush()
        await self.send_json({"type": "ended", "message": "The session has ended. Thank you!"})
        await self.close(code=store.CLOSE_SESSION_ENDED, reason="session_ended")

    async def disconnect(self, code):
        await self.cleanup()

    async def cleanup(self) -> None:
        hub, self.hub = self.hub, None
        if hub is None:
            return
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
        self.hub = await hubs.acquire(info)
        await self.accept()
        history = await store.run(store.dashboard_history, info)
        history["session"]["status"] = self.hub.status
        await self.send_json(history)
        await self.send_json(self.hub.snapshot())
        self.hub.add_dashboard(self)

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
