"""Face pictures for every test, from one place.

The shared photos (`../shared/data/faces`, located by `inference.paths.shared_data_dir()`) when they are there,
else public-domain portraits that installed packages ship (`inference.sample_faces`), composed here into group
photos when a test needs several faces. So detection, the live pipeline and the browser tests run on a plain clone.

Tests that need the shared sets themselves (the 31-photo set, the FER2013 dev/train crops) mark themselves with
`needs_shared(...)`: on a plain clone they skip, all with the same reason, which names FERMONITOR_SHARED_DIR.
"""

import io
from functools import cache
from pathlib import Path

import pytest

from inference.paths import shared_data_dir
from inference.sample_faces import public_domain_face_photos, shared_faces_dir

SHARED_REASON = (
    f"needs the shared data folder {shared_data_dir()} (FER2013 sets, face photos), which a plain clone lacks: "
    "set FERMONITOR_SHARED_DIR to the folder that holds data/"
)

# Webcam-like single-person photos of the shared set (see its SOURCES.md).
SHARED_WEBCAM_PHOTO = "face_recognition__obama-480p.jpg"
SHARED_SINGLE_FACES = (
    "face_recognition__obama_small.jpg",
    "deepface__img12.jpg",
    "deepface__img25.jpg",
    "face_recognition__alex-lacamoire.png",
    "deepface__img5.jpg",
)


def has_shared(*names: str) -> bool:
    """Whether `shared_data_dir()/name` exists for every name (default: the face photos)."""
    return all((shared_data_dir() / name).exists() for name in names or ("faces",))


def needs_shared(*names: str):
    """Skip unless the shared data has these folders (default: the face photos); one reason for all."""
    return pytest.mark.skipif(not has_shared(*names), reason=SHARED_REASON)


def shared_path(*parts: str) -> Path:
    return shared_data_dir().joinpath(*parts)


def shared_face(name: str) -> Path:
    return shared_faces_dir() / name


@cache
def public_domain() -> dict[str, Path]:
    """name -> path of the public-domain portraits that are installed (matplotlib's at least)."""
    return {path.stem.replace("camera", "cameraman"): path for path in public_domain_face_photos()}


def webcam_photo() -> Path:
    """One person facing the camera: the photo the live tests stream."""
    if has_shared():
        return shared_face(SHARED_WEBCAM_PHOTO)
    faces = public_domain()
    return faces.get("astronaut") or next(iter(faces.values()))


def jpeg(image, quality: int = 70) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def webcam_jpeg(size=(320, 240), quality: int = 70) -> bytes:
    """The webcam photo as the join page sends it: resized to the frame size, JPEG at quality 0.7."""
    from PIL import Image

    return jpeg(Image.open(webcam_photo()).resize(size), quality)


def single_face_frames() -> list[bytes]:
    """Five different one-face pictures (encoded files as a camera or an upload would give them)."""
    if has_shared():
        return [shared_face(name).read_bytes() for name in SHARED_SINGLE_FACES]
    from PIL import Image, ImageOps

    portraits = [Image.open(path).convert("RGB") for path in public_domain().values()]
    variants = [*portraits, ImageOps.mirror(portraits[0]), portraits[-1].resize((320, 240))]
    return [jpeg(image, 90) for image in variants[:5]]


def rgba_face_png() -> bytes:
    """A one-face PNG with an alpha channel (as a video still saved by a browser)."""
    if has_shared():
        return shared_face("face_recognition__alex-lacamoire.png").read_bytes()
    from PIL import Image

    image = Image.open(webcam_photo()).convert("RGBA")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# Where each public-domain portrait's face is (x, y, w, h in the original), so group photos crop head and shoulders.
FACE_BOXES = {
    "astronaut": (176, 82, 96, 96),
    "grace_hopper": (171, 146, 194, 194),
    "cameraman": (181, 124, 85, 85),
}


def portrait(index: int, side: int):
    """The `index`-th public-domain portrait cropped to head and shoulders, `side` px square (mirrored on the
    second round, so that repeated faces are not pixel copies)."""
    from PIL import Image

    names = list(public_domain())
    name = names[index % len(names)]
    image = Image.open(public_domain()[name]).convert("RGB")
    x, y, w, h = FACE_BOXES[name]
    half = min(1.2 * w, x + w / 2, y + h / 2, image.width - x - w / 2, image.height - y - h / 2)
    cx, cy = x + w / 2, y + h / 2
    image = image.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    if (index // len(names)) % 2:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image.resize((side, side))


def group_photo(count: int = 2, tile: int = 200) -> bytes:
    """`count` public-domain portraits in a grid (as a video call's gallery view): a multi-face picture drawn at
    test time. The short-range detector finds up to four faces in it, the full-range one nine."""
    import math

    from PIL import Image

    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = Image.new("RGB", (columns * tile, rows * tile), (128, 128, 128))
    for index in range(count):
        canvas.paste(portrait(index, tile), ((index % columns) * tile, (index // columns) * tile))
    return jpeg(canvas, 90)


def mixed_sizes_photo() -> bytes:
    """One face near the camera and two small ones further back: for the minimum face size."""
    from PIL import Image

    canvas = Image.new("RGB", (600, 400), (128, 128, 128))
    canvas.paste(portrait(0, 400), (0, 0))
    canvas.paste(portrait(1, 130), (430, 40))
    canvas.paste(portrait(2, 130), (430, 230))
    return jpeg(canvas, 90)


def multi_face_photo() -> bytes:
    """A photo of two people: the shared set's when present, else two portraits drawn side by side."""
    if has_shared():
        return shared_face("face_recognition__two_people.jpg").read_bytes()
    return group_photo(2)
