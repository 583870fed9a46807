"""A bound on what one WebSocket can make Daphne hold in memory: TCP backpressure per socket.

Daphne hands every incoming WebSocket message to the application through an unbounded `asyncio.Queue`
(`daphne.server.Server.create_application`, filled by `daphne.ws_protocol.WebSocketProtocol.onMessage`), and
Twisted keeps reading the socket whatever the application does. A client that sends faster than its consumer reads
therefore grew the server by +211 MiB for a 6,000-frame burst, never given back.

`install()` (called by `fermonitor.asgi`) wraps `onMessage`: once HIGH_WATER messages wait in a socket's queue,
that socket stops reading from its TCP connection (`transport.pauseProducing()`), and it resumes when its consumer
has taken the queue down to LOW_WATER. The kernel's buffers fill and TCP flow control slows the sender down; the
server holds at most HIGH_WATER messages per socket (each at most Daphne's 1 MiB message limit, and the live stream
refuses frames over FERMONITOR_MAX_FRAME_BYTES) plus what one read returned. The live consumers read every message
as it arrives (a frame that comes while one is being analysed is answered `too_fast` at once), so a well-behaved
browser never gets near the mark; a client that floods gets `too_fast` replies, then close 4429.

It patches Daphne's protocol class rather than running a server of our own, so `daphne fermonitor.asgi:application`
(and the tests' Daphne) keep working unchanged. If a future Daphne moves the queue, `install()` logs a warning and
leaves Daphne alone.
"""

from __future__ import annotations

import asyncio
import logging

logger = logging.getLogger(__name__)

HIGH_WATER = 32  # messages queued for one socket before it stops reading
LOW_WATER = 8  # ... and resumes
POLL_SECONDS = 0.01


async def _resume_when_drained(protocol, queue: asyncio.Queue) -> None:
    try:
        while queue.qsize() > LOW_WATER and protocol.state != protocol.STATE_CLOSED:
            await asyncio.sleep(POLL_SECONDS)
    finally:
        protocol._fermonitor_paused = False
        transport = getattr(protocol, "transport", None)
        if transport is not None and protocol.state != protocol.STATE_CLOSED:
            transport.resumeProducing()


def install() -> bool:
    """Bound Daphne's per-socket queue (idempotent). Returns False when Daphne is absent or looks different."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another server (tests' in-process communicators, uvicorn): nothing to patch
        return False
    original = WebSocketProtocol.onMessage
    if getattr(original, "fermonitor_bounded", False):
        return True
    if not hasattr(WebSocketProtocol, "STATE_CLOSED"):
        logger.warning("Daphne's WebSocket protocol has changed; per-socket backpressure is not installed")
        return False

    def onMessage(self, payload, isBinary):  # noqa: N802, N803 - Daphne's names
        original(self, payload, isBinary)
        queue = getattr(self, "application_queue", None)
        if queue is None or getattr(self, "_fermonitor_paused", False) or queue.qsize() < HIGH_WATER:
            return
        transport = getattr(self, "transport", None)
        if transport is None:
            return
        self._fermonitor_paused = True
        transport.pauseProducing()
        asyncio.get_event_loop().create_task(_resume_when_drained(self, queue))

    onMessage.fermonitor_bounded = True
    WebSocketProtocol.onMessage = onMessage
    return True
