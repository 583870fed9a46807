"""A simulated class for the demo: every consenting student of the demo's live lesson streams real face photos
into it, so the teacher's dashboard moves from the first minute.

Students behave like a class: they join over the first half minute, a few step away from the camera for a while
(no face), one leaves and comes back, and each cycles through a few pictures, so expressions change. The pictures
are the shared photo folder's when it is there, else public-domain portraits that installed packages ship
(`inference.sample_faces`); nothing is downloaded and nothing is stored but the server's usual derived results.
"""

import asyncio
import io
import logging
import random
import urllib.request
from dataclasses import dataclass

from .stream_client import StudentStream

log = logging.getLogger("fermonitor.simulation")

JOIN_SPREAD_S = 30.0  # students join over this many seconds
AWAY_CHANCE = 0.004  # per frame: a student steps away from the camera ...
AWAY_FRAMES = (8, 30)  # ... for this many frames
LEAVE_AFTER_S = (60.0, 150.0)  # one student drops out after this long, and rejoins ...
REJOIN_AFTER_S = (15.0, 40.0)  # ... this much later
PICTURE_EVERY = (10, 40)  # frames before a student's picture changes (another expression)


@dataclass
class Joiner:
    student_id: int
    cookie: str


def frame_variants(photos: list, size: tuple[int, int], count: int, seed: int = 7) -> list[bytes]:
    """`count` different webcam frames built from the photos: each photo as it is and mirrored, a little
    zoomed or shifted, lighter or darker, at the session's frame size, JPEG quality 0.7 as the join page sends."""
    from PIL import Image, ImageEnhance, ImageOps

    rng = random.Random(seed)
    images = [Image.open(path).convert("RGB") for path in photos]
    frames = []
    for index in range(count):
        image = images[index % len(images)]
        if (index // len(images)) % 2:
            image = ImageOps.mirror(image)
        width, height = image.size
        zoom = rng.uniform(0.0, 0.12)
        dx, dy = rng.uniform(-0.04, 0.04) * width, rng.uniform(-0.04, 0.04) * height
        box = (
            max(0, zoom * width / 2 + dx),
            max(0, zoom * height / 2 + dy),
            min(width, width - zoom * width / 2 + dx),
            min(height, height - zoom * height / 2 + dy),
        )
        image = ImageOps.fit(image.crop(tuple(round(v) for v in box)), size)
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.8, 1.15))
        frames.append(_jpeg(image))
    return frames


def empty_frame(size: tuple[int, int]) -> bytes:
    """An empty chair: a plain wall, no face."""
    from PIL import Image

    return _jpeg(Image.linear_gradient("L").resize(size).convert("RGB"))


def _jpeg(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70)
    return out.getvalue()


class SimulatedClass:
    def __init__(self, base_url: str, session_uuid: str, joiners: list[Joiner], photos: list, seed: int = 1):
        self.base_url, self.session_uuid = base_url.rstrip("/"), session_uuid
        self.joiners, self.photos = joiners, photos
        self.rng = random.Random(seed)
        self.frames_sent = 0
        self.stopping = asyncio.Event()
        self.ended = False

    async def run(self, seconds: float | None = None) -> None:
        """Stream until stopped, the lesson ends, or `seconds` have passed."""
        dropout = self.rng.randrange(len(self.joiners)) if self.joiners else None
        tasks = [
            asyncio.create_task(self._student(index, joiner, drops_out=index == dropout))
            for index, joiner in enumerate(self.joiners)
        ]
        try:
            async with asyncio.timeout(seconds):
                await self.stopping.wait()
        except TimeoutError:
            pass
        finally:
            self.stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        self.stopping.set()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped first; False when stopped."""
        try:
            async with asyncio.timeout(seconds):
                await self.stopping.wait()
            return False
        except TimeoutError:
            return True

    async def _student(self, index: int, joiner: Joiner, drops_out: bool) -> None:
        rng = random.Random(self.rng.random())
        if not await self._sleep(rng.uniform(0, JOIN_SPREAD_S)):
            return
        leave_at = rng.uniform(*LEAVE_AFTER_S) if drops_out else None
        while not self.stopping.is_set() and not self.ended:
            stream = StudentStream(self.base_url, self.session_uuid, joiner.cookie)
            try:
                hello = await stream.open(attempts=3)
            except ConnectionError as error:
                log.info("student %s could not join: %s", joiner.student_id, error)
                if not await self._sleep(10):
                    return
                continue
            size = (hello["width"], hello["height"])
            pictures = frame_variants(self.photos, size, 4, seed=index)
            away = empty_frame(size)
            try:
                left = await self._stream(stream, rng, pictures, away, leave_at)
            except Exception as error:  # closed, timed out, server restarting: join again, as the page does
                log.info("student %s lost the stream: %r", joiner.student_id, error)
                left = False
            finally:
                await stream.close()
            if left:
                leave_at = None
                if not await self._sleep(rng.uniform(*REJOIN_AFTER_S)):
                    return
            elif not await self._sleep(2):
                return

    async def _stream(self, stream, rng, pictures, away, leave_at) -> bool:
        """Send frames until stopped or the lesson ends (False), or until it is time to leave (True)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        picture, change_in, away_for = rng.randrange(len(pictures)), rng.randint(*PICTURE_EVERY), 0
        while not self.stopping.is_set():
            if leave_at is not None and loop.time() - started > leave_at:
                return True
            if away_for == 0 and rng.random() < AWAY_CHANCE:
                away_for = rng.randint(*AWAY_FRAMES)
            change_in -= 1
            if change_in <= 0:
                picture, change_in = rng.randrange(len(pictures)), rng.randint(*PICTURE_EVERY)
            frame = away if away_for else pictures[picture]
            away_for = max(0, away_for - 1)
            reply = await stream.send(frame)
            if reply.get("type") == "ended":
                self.ended = True
                return False
            if reply.get("type") == "result":
                self.frames_sent += 1
            if not await self._sleep(stream.pause_after(reply)):
                return False
        return False


def wait_for_server(base_url: str, timeout: float) -> bool:
    """Poll the server's health check until it answers (it may still be starting)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base_url.rstrip('/')}/healthz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False
