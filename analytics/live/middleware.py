"""ASGI middleware of the live sockets.

`DatabaseAwayGuard` answers a WebSocket that cannot be set up because the database is away (Channels'
`AuthMiddleware` reads the login session from it before any consumer runs) with close code 4503, "try again later"
(the standard 1013 is refused by Daphne's WebSocket library for servers), and one warning line, instead of a failed
handshake and a traceback per attempt. Browsers reconnect after 4503 with their usual backoff
(static/js/live-socket.js).
"""

from __future__ import annotations

import json
import logging

from django.db import DatabaseError, InterfaceError
from django.utils.translation import gettext as _

from .store import CLOSE_TRY_AGAIN

logger = logging.getLogger(__name__)


class DatabaseAwayGuard:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        sent = []

        async def tracking_send(message):
            sent.append(message["type"])
            await send(message)

        try:
            return await self.inner(scope, receive, tracking_send)
        except (DatabaseError, InterfaceError) as error:
            if sent:  # the consumer was already talking: not a setup failure, let Daphne handle it
                raise
            logger.warning("Live socket refused for now, the database is unavailable: %s", error)
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            message = _("The server cannot reach its database right now. It will reconnect by itself.")
            refusal = {"type": "refused", "code": "unavailable", "message": message}
            await send({"type": "websocket.send", "text": json.dumps(refusal)})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN, "reason": "unavailable"})
