import io

import pytest
from PIL import Image

from inference import Engine
from inference.paths import shared_data_dir

from ..faces import webcam_jpeg

# The shared sets; tests that read them are marked `needs_shared(...)` (tests/faces.py).
FACES = shared_data_dir() / "faces"
DEV = shared_data_dir() / "fer2013-dev"
TRAIN = shared_data_dir() / "fer2013-train"


@pytest.fixture(scope="session")
def engine():
    return Engine()


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    """A webcam-sized real frame with one face (320x240, JPEG): the shared set's, else a public-domain one."""
    if (FACES / "face_recognition__obama_small.jpg").exists():
        return (FACES / "face_recognition__obama_small.jpg").read_bytes()
    return webcam_jpeg()


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def face_image(face_jpeg) -> Image.Image:
    return Image.open(io.BytesIO(face_jpeg)).convert("RGB")


@pytest.fixture(autouse=True)
def training_dir(tmp_path_factory, monkeypatch):
    """Each test's training checkpoints in a folder of its own, never the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("training")
    monkeypatch.setenv("FERMONITOR_TRAINING_DIR", str(folder))
    return folder
