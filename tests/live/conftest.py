"""Helpers for the live-session tests: real face photos (tests/faces.py), logged-in WebSocket clients."""

from types import SimpleNamespace

import pytest

from ..faces import jpeg, webcam_jpeg


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    """A real webcam-sized photo of one face, at the default frame size (320x240) and quality 0.7."""
    return webcam_jpeg()


@pytest.fixture(scope="session")
def empty_jpeg() -> bytes:
    """A frame with no face: a smooth gradient, as when the student has left the camera."""
    from PIL import Image

    image = Image.linear_gradient("L").resize((320, 240))
    return jpeg(image)


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    """Consumer tests run on the in-memory layer (the scale-out test covers Redis), fresh for every test."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def cookies(transactional_cast):
    """Session cookies of the cast, made by logging each person in through Django's test client."""
    from django.test import Client

    jar = {}
    for name in ("sam", "nora", "nina", "bea", "tom", "tess", "alice", "bob", "bill", "op"):
        client = Client()
        client.force_login(getattr(transactional_cast, name))
        jar[name] = client.cookies["sessionid"].value
    return SimpleNamespace(**jar)


@pytest.fixture
def fast_session(transactional_cast):
    """a_live at 5 frames/s, so the tests wait 0.25 s between frames rather than a second."""
    from django_scopes import scopes_disabled

    with scopes_disabled():
        transactional_cast.a_live.frame_rate = 5.0
        transactional_cast.a_live.save(update_fields=["frame_rate"])
    return transactional_cast.a_live


FRAME_GAP = 0.25  # seconds between frames at 5/s, with room for the tolerance


def socket(path: str, cookie: str | None = None):
    from channels.testing import WebsocketCommunicator

    from fermonitor.asgi import application

    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


def stream_path(session) -> str:
    return f"/ws/live/{session.uuid}/stream/"


def dashboard_path(session) -> str:
    return f"/ws/live/{session.uuid}/dashboard/"


async def expect_refusal(communicator, close_code: int, code: str) -> dict:
    connected, _ = await communicator.connect()
    assert connected, "refusals are sent on an accepted socket, so the browser sees the code and reason"
    message = await communicator.receive_json_from()
    assert message["type"] == "refused" and message["code"] == code, message
    assert message["message"]
    closing = await communicator.receive_output()
    assert closing == {"type": "websocket.close", "code": close_code, "reason": code}
    return message


async def open_stream(session, cookie) -> tuple:
    communicator = socket(stream_path(session), cookie)
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hello", hello
    return communicator, hello


async def send_frame(communicator, frame: bytes, timeout: float = 30) -> dict:
    # send_input rather than send_to: send_to refuses an empty binary message, which a browser can send.
    await communicator.send_input({"type": "websocket.receive", "bytes": frame})
    return await communicator.receive_json_from(timeout=timeout)


def db(fn):
    """Run `fn` against the database from async test code (outside any school scope)."""
    from channels.db import database_sync_to_async
    from django_scopes import scopes_disabled

    def run():
        with scopes_disabled():
            return fn()

    return database_sync_to_async(run)()
