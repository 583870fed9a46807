import io
from pathlib import Path

import pytest
from PIL import Image

from inference import Engine
from inference.paths import shared_data_dir

FACES = shared_data_dir() / "faces"
DEV = shared_data_dir() / "fer2013-dev"
TRAIN = shared_data_dir() / "fer2013-train"


@pytest.fixture(scope="session")
def engine():
    return Engine()


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    """A webcam-sized real frame with one face (320x240, JPEG)."""
    return (FACES / "face_recognition__obama_small.jpg").read_bytes()


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def face_image(face_jpeg) -> Image.Image:
    return Image.open(io.BytesIO(face_jpeg)).convert("RGB")


def photo_path(name: str) -> Path:
    return FACES / name
