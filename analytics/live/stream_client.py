"""A student's join page without the browser: a logged-in WebSocket that sends one JPEG, waits for the server's
reply, then waits `next_in_ms` before the next one, as static/js/live-student.js does.

Used by the load benchmark (bench/load.py) and the demo's simulated class (`manage.py simulate_class`). Plain
asyncio and `websockets`; nothing from Django.
"""

import asyncio
import json


def socket_url(base_url: str, session_uuid: str, kind: str = "stream") -> str:
    return base_url.replace("http", "ws", 1).rstrip("/") + f"/ws/live/{session_uuid}/{kind}/"


async def connect(base_url: str, session_uuid: str, cookie: str, kind: str = "stream", **options):
    """Open a live socket as the user whose session cookie is given (Origin set as a browser would)."""
    from websockets.asyncio.client import connect as ws_connect

    return await ws_connect(
        socket_url(base_url, session_uuid, kind),
        additional_headers=[("Cookie", f"sessionid={cookie}"), ("Origin", base_url.rstrip("/"))],
        **options,
    )


class StudentStream:
    """One student streaming into a live session: `async with StudentStream(...) as s: reply = await s.send(jpeg)`."""

    def __init__(self, base_url: str, session_uuid: str, cookie: str, rate: float = 1.0):
        self.base_url, self.session_uuid, self.cookie = base_url, session_uuid, cookie
        self.rate = rate
        self.ws = None
        self.hello: dict | None = None
        self.retries = 0

    async def open(self, attempts: int = 5) -> dict:
        """Connect (retrying with backoff, as the page does after a network drop) and return the server's hello."""
        for attempt in range(attempts):
            try:
                self.ws = await connect(self.base_url, self.session_uuid, self.cookie)
                break
            except Exception as error:  # refused, reset, handshake failed
                if attempt == attempts - 1:
                    raise ConnectionError(f"could not join the session: {error}") from error
                self.retries += 1
                await asyncio.sleep(2**attempt)
        self.hello = json.loads(await self.ws.recv())
        if self.hello.get("type") != "hello":
            raise ConnectionError(f"the server refused the stream: {self.hello}")
        self.rate = self.hello.get("rate", self.rate)
        return self.hello

    async def send(self, frame: bytes, timeout: float = 30) -> dict:
        """Send one frame and return the server's reply (result, error or ended)."""
        await self.ws.send(frame)
        async with asyncio.timeout(timeout):
            return json.loads(await self.ws.recv())

    def pause_after(self, reply: dict) -> float:
        """Seconds to wait before the next frame: what the server asked for, else one frame interval."""
        return reply.get("next_in_ms", 1000 / self.rate) / 1000

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def __aenter__(self):
        await self.open()
        return self

    async def __aexit__(self, *exc):
        await self.close()
