"""Hostile input gets a typed, clear error (never a crash or a hang) and the next frame is analysed fine."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from inference import FrameError, ImageTooLarge, InvalidImage, UnsupportedFormat

from .conftest import encode


def png_header_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims an enormous image."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def jpeg_header_bomb() -> bytes:
    small = encode(Image.new("RGB", (16, 16)), "JPEG")
    start = small.index(b"\xff\xc0") + 5  # SOF0: length(2) precision(1) height(2) width(2)
    return small[:start] + struct.pack(">HH", 60000, 60000) + small[start + 4 :]


HOSTILE = {
    "empty": (b"", InvalidImage),
    "text": (b"hello, this is not an image", InvalidImage),
    "random bytes": (bytes(range(256)) * 40, InvalidImage),
    "jpeg magic then garbage": (b"\xff\xd8\xff\xe0" + b"\x00" * 500, InvalidImage),
    "png header bomb": (png_header_bomb(50_000, 50_000), ImageTooLarge),
    "jpeg header bomb": (jpeg_header_bomb(), ImageTooLarge),
    "gif": (encode(Image.new("P", (64, 64)), "GIF"), UnsupportedFormat),
    "webp": (encode(Image.new("RGB", (64, 64)), "WEBP"), UnsupportedFormat),
    "bmp": (encode(Image.new("RGB", (64, 64)), "BMP"), UnsupportedFormat),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_frame_raises_a_typed_error_and_next_frame_works(engine, face_jpeg, case):
    data, error_type = HOSTILE[case]
    with pytest.raises(error_type) as error:
        engine.analyze(data)
    assert isinstance(error.value, FrameError) and str(error.value)
    assert len(engine.analyze(face_jpeg).faces) == 1


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_jpeg_is_refused(engine, face_jpeg, keep):
    with pytest.raises(InvalidImage, match="truncated|corrupt|readable"):
        engine.analyze(face_jpeg[: int(len(face_jpeg) * keep)])
    assert len(engine.analyze(face_jpeg).faces) == 1


def test_frame_over_the_pixel_limit_is_refused_before_decoding(face_jpeg):
    from inference import Engine

    small_limit = Engine(max_pixels=320 * 240 - 1)
    with pytest.raises(ImageTooLarge, match="limit"):
        small_limit.analyze(face_jpeg)


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "JPEG"), ("L", "PNG"), ("RGBA", "PNG"), ("CMYK", "JPEG"), ("I;16", "PNG"), ("RGB", "PNG")],
)
def test_other_colour_modes_are_converted_and_find_the_same_face(engine, face_image, face_jpeg, mode, fmt):
    reference = engine.analyze(face_jpeg).faces[0]
    if mode == "I;16":  # a real 16-bit image spans 0-65535
        image = Image.fromarray(np.asarray(face_image.convert("L")).astype(np.uint16) * 257)
    else:
        image = face_image.convert(mode)
    result = engine.analyze(encode(image, fmt))
    assert len(result.faces) == 1
    x, y, w, h = result.faces[0].box
    rx, ry, rw, rh = reference.box
    assert abs(x - rx) < 0.2 * rw and abs(y - ry) < 0.2 * rh


def test_rgba_png_photo_works(engine):
    from ..faces import rgba_face_png

    data = rgba_face_png()
    assert Image.open(io.BytesIO(data)).mode == "RGBA"
    assert len(engine.analyze(data).faces) == 1


def test_truncated_png_is_refused(engine, face_image, face_jpeg):
    png = encode(face_image, "PNG")
    with pytest.raises(InvalidImage):
        engine.analyze(png[: len(png) // 2])
    assert len(engine.analyze(face_jpeg).faces) == 1


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (2, 500)])
def test_tiny_and_thin_images_give_no_faces_not_a_crash(engine, size):
    result = engine.analyze(encode(Image.new("RGB", size, (120, 90, 60)), "JPEG"))
    assert (result.width, result.height) == size and result.faces == ()


def test_exif_rotated_phone_photo_is_turned_upright(engine, face_image, face_jpeg):
    # Stored lying on its side, with EXIF orientation 8 saying "turn it a quarter anticlockwise to display".
    exif = Image.Exif()
    exif[0x0112] = 8
    data = encode(face_image.transpose(Image.Transpose.ROTATE_270), "JPEG", exif=exif.tobytes())
    result = engine.analyze(data)
    assert (result.width, result.height) == face_image.size
    assert len(result.faces) == 1
    x, y, w, h = result.faces[0].box
    rx, ry, rw, rh = engine.analyze(face_jpeg).faces[0].box
    assert abs(x - rx) < 0.2 * rw and abs(y - ry) < 0.2 * rh


def test_multi_picture_camera_jpeg_is_accepted(engine, face_image):
    data = encode(face_image, "MPO", save_all=True, append_images=[face_image.resize((160, 120))])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert len(engine.analyze(data).faces) == 1


def test_the_pixel_limit_counts_pixels_not_bytes(engine):
    # A 2000x2000 PNG of one colour is a few kB but 4 million pixels: just at the default limit, so accepted;
    # one more row is refused.
    assert engine.analyze(encode(Image.new("RGB", (2000, 2000)), "PNG")).faces == ()
    with pytest.raises(ImageTooLarge):
        engine.analyze(encode(Image.new("L", (2000, 2001)), "PNG"))


def test_a_frame_without_faces_is_fine(engine):
    result = engine.analyze(encode(Image.new("RGB", (320, 240), (200, 180, 160)), "JPEG"))
    assert result.faces == () and result.largest_face is None
