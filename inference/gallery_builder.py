"""Synthetic video-call screens for tests, benchmarks and the demo: an N x M gallery of faces, or a shared slide.

    people = people_from_photos(paths)                          # a Person per portrait (any photos of faces)
    people = with_variation(people, 49, seed=1)                 # repeat them, each copy looking different
    people = shared_people(49, seed=1)                          # the same from ../shared/data/faces
    gallery = build_gallery(people[:25], rows=5, cols=5)        # 1920x1080, Zoom-like, a name under each face
    gallery.image                                               # HxWx3 uint8 RGB
    gallery.jpeg()                                              # what a screen capture would send
    gallery.tiles[3].face                                       # where the 4th participant's face is (frame px)
    build_gallery(people[:16], 4, 4)                            # the same people, re-sized
    build_gallery([people[i] for i in order], 5, 5)             # ... or re-ordered
    build_slide((1920, 1080), seed=2)                           # a slide with text, charts, shapes; no face

A `Person` is a source picture, the face in it (as the detector boxes it on the full-resolution picture), a name and
how their camera frames them (zoom, offset, mirror, exposure, colour cast). Rendering a person into a tile of any size
crops the source picture around the face, like a webcam in a call window, so the same person looks the same in a
5x5 and a 4x4 gallery, only larger; the face box the renderer reports is the ground truth for recall.

Nothing here is used on the serving path; it only needs NumPy, OpenCV and Pillow.
"""

import functools
import io
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]  # x, y, w, h in pixels

# Call apps show a name in a dark box at a tile's bottom-left corner; these are only test names.
FIRST_NAMES = (
    "Amira", "Ben", "Chloe", "Dmitri", "Elif", "Farah", "Gustavo", "Hana", "Ivan", "Jonas", "Keiko", "Lena",
    "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Samir", "Tomas", "Ulla", "Vera", "Wen", "Ximena",
    "Yusuf", "Zoe", "Aaron", "Bea", "Cyril", "Dalia", "Emil", "Fatou", "Greta", "Hugo", "Ines", "Jamal",
    "Kira", "Luca", "Maja", "Noah", "Olga", "Pavel", "Rania", "Sven", "Tara", "Umar", "Vik", "Wanda", "Yara",
)  # fmt: skip
LAST_INITIALS = "ABCDEFGHIJKLMNOPRSTVWZ"

BACKGROUND = (26, 26, 26)  # the dark grey between tiles in Zoom's and Teams' galleries


@dataclass(frozen=True)
class Person:
    """One participant: a picture with one face, and how their camera frames it."""

    name: str
    image: np.ndarray = field(repr=False)  # HxWx3 uint8 RGB, the full-resolution source
    face: Box  # the face in `image`
    others: tuple[Box, ...] = ()  # bystanders' faces in `image` (they may show in the tile too)
    face_height: float = 0.42  # the face box's share of the tile height (webcams: ~0.3-0.55)
    offset_x: float = 0.0  # face centre's offset from the tile centre, in tile widths
    mirror: bool = False
    gain: float = 1.0  # exposure
    tint: tuple[float, float, float] = (0.0, 0.0, 0.0)  # colour cast added per RGB channel
    source: str = ""  # where the picture came from (a file name)

    def render(self, width: int, height: int) -> tuple[np.ndarray, Box]:
        """The person as a `width` x `height` video tile, and their face box in it."""
        tile, boxes = self.render_all(width, height)
        return tile, boxes[0]

    def render_all(self, width: int, height: int) -> tuple[np.ndarray, list[Box]]:
        """The tile and every face box in it: the person's first, then the bystanders' that show (clipped)."""
        fx, fy, fw, fh = self.face
        crop_h = fh / self.face_height
        scale = height / crop_h
        # The face sits a little above the middle, as in most webcam framings.
        centre_x = fx + fw / 2 - self.offset_x * width / scale
        centre_y = fy + fh / 2 + 0.06 * crop_h
        x0, y0 = centre_x - width / scale / 2, centre_y - crop_h / 2
        source = self.image
        if scale < 0.7:
            # A webcam's sensor is downscaled by area, not point-sampled: pre-shrink so the warp does not alias.
            pre = min(1.0, scale * 1.5)
            source = cv2.resize(source, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
            x0, y0, scale = x0 * pre, y0 * pre, scale / pre
        matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
        tile = cv2.warpAffine(
            source,
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        if self.gain != 1.0 or any(self.tint):
            tile = np.clip(
                tile.astype(np.float32) * self.gain + np.array(self.tint, np.float32), 0, 255
            ).astype(np.uint8)
        fs = height / crop_h  # source px -> tile px (independent of the pre-shrink)
        boxes = []
        for bx, by, bw, bh in (self.face, *self.others):
            box = ((bx - centre_x) * fs + width / 2, (by - centre_y) * fs + height / 2, bw * fs, bh * fs)
            if self.mirror:
                box = (width - box[0] - box[2], box[1], box[2], box[3])
            boxes.append(_clip_box(box, width, height))
        if self.mirror:
            tile = np.ascontiguousarray(tile[:, ::-1])
        return tile, boxes


@dataclass(frozen=True)
class Tile:
    index: int  # position in reading order
    rect: Box  # the tile in the frame
    face: Box | None  # the face in frame pixels (None: a tile without a face)
    name: str
    person: int  # index of the person in the list given to `build_gallery`
    others: tuple[Box, ...] = ()  # bystanders' faces visible in the tile (frame pixels, at least 40% inside)


@dataclass
class Gallery:
    image: np.ndarray  # HxWx3 uint8 RGB
    tiles: list[Tile]

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def faces(self) -> list[Box]:
        """The participants' faces (what recall is measured on)."""
        return [tile.face for tile in self.tiles if tile.face is not None]

    @property
    def bystanders(self) -> list[Box]:
        """Other real faces that show in the tiles: finding them is not a false detection, missing them no miss."""
        return [box for tile in self.tiles for box in tile.others]

    def jpeg(self, quality: int = 85) -> bytes:
        return encode_jpeg(self.image, quality)


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def call_name(index: int) -> str:
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    return f"{first} {LAST_INITIALS[(index * 7 + index // len(FIRST_NAMES)) % len(LAST_INITIALS)]}."


def read_rgb(path: str | Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def people_from_photos(
    paths: Iterable[str | Path], find_faces: Callable[[np.ndarray], list[Box]] | None = None
) -> list[Person]:
    """One `Person` per portrait: the largest face is the person, smaller ones (at most half its area) bystanders.
    Photos without a face, and group photos (a second face at least half as large), are skipped.

    find_faces: RGB array -> face boxes; default: MediaPipe's short-range detector (what `Engine.analyze` serves)
    for the main face, so ground truth boxes are the detector's own idea of a face box, and the gallery detector
    (score >= 0.7) on the photo shrunk to 1280 px for clear faces in the background."""
    finder = find_faces or _photo_face_finder()
    people = []
    for path in paths:
        image = read_rgb(path)
        boxes = sorted(finder(image), key=lambda b: b[2] * b[3], reverse=True)
        if not boxes or (len(boxes) > 1 and _area(boxes[1]) >= 0.5 * _area(boxes[0])):
            continue
        people.append(
            Person(call_name(len(people)), image, boxes[0], tuple(boxes[1:]), source=Path(path).name)
        )
    return people


PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


@functools.cache
def _shared_people() -> tuple[Person, ...]:
    from .paths import shared_data_dir

    folder = shared_data_dir() / "faces"
    if not folder.is_dir():
        raise FileNotFoundError(f"No face photos at {folder} (set FERMONITOR_SHARED_DIR)")
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    return tuple(people_from_photos(photos))


def shared_people(count: int | None = None, seed: int = 0) -> list[Person]:
    """Participants from the real portraits in ../shared/data/faces (`FERMONITOR_SHARED_DIR`): the distinct people
    as they are (count None), or `count` of them repeated with variation. The photos are read and their faces
    found once per process."""
    people = list(_shared_people())
    return people if count is None else with_variation(people, count, seed)


def _photo_face_finder() -> Callable[[np.ndarray], list[Box]]:
    from .detector import FaceDetector
    from .gallery import GalleryDetector
    from .paths import models_dir

    short = FaceDetector(models_dir(), "short", 0.5, 10)
    # Strict: at photo scale, blurred backgrounds, earrings and hands score up to ~0.66, real faces higher.
    windows = GalleryDetector(models_dir(), min_score=0.7, min_face_size=10)

    def find(image: np.ndarray) -> list[Box]:
        boxes = [d.box for d in short.detect(image)]
        scale = min(1.0, 1280 / max(image.shape[:2]))
        small = (
            cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        )
        for detection in windows.detect(small)[0]:
            candidate = tuple(round(v / scale) for v in detection.box)
            if all(_overlap(candidate, box) < 0.3 for box in boxes):
                boxes.append(candidate)
        return boxes

    return find


def _area(box: Box) -> int:
    return box[2] * box[3]


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box's area."""
    width = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    height = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / max(1, min(a[2] * a[3], b[2] * b[3]))


def with_variation(people: Sequence[Person], count: int, seed: int = 0) -> list[Person]:
    """`count` participants from `people`, repeated as needed; every one gets its own framing, mirror, exposure and
    colour cast (the first round keeps the pictures' own look apart from the framing), and a name of its own."""
    rng = random.Random(seed)
    varied = []
    for index in range(count):
        base = people[index % len(people)]
        repeat = index // len(people)
        varied.append(
            replace(
                base,
                name=call_name(index),
                face_height=rng.uniform(0.32, 0.52),
                offset_x=rng.uniform(-0.12, 0.12),
                mirror=repeat % 2 == 1,
                gain=1.0 if repeat == 0 else rng.uniform(0.75, 1.2),
                tint=(0.0, 0.0, 0.0) if repeat == 0 else tuple(rng.uniform(-12, 12) for _ in range(3)),
            )
        )
    return varied


def grid_rects(count: int, rows: int, cols: int, size: tuple[int, int], gap: int = 6) -> list[Box]:
    """Tile rectangles of a call gallery: 16:9 tiles as large as fit, the grid centred, a short last row centred."""
    width, height = size
    tile_w = min((width - (cols + 1) * gap) / cols, (height - (rows + 1) * gap) / rows * 16 / 9)
    tile_w = int(tile_w)
    tile_h = int(tile_w * 9 / 16)
    used_rows = min(rows, -(-count // cols))
    top = (height - used_rows * tile_h - (used_rows - 1) * gap) // 2
    rects = []
    for index in range(min(count, rows * cols)):
        row, col = divmod(index, cols)
        in_row = min(cols, count - row * cols)
        left = (width - in_row * tile_w - (in_row - 1) * gap) // 2
        rects.append((left + col * (tile_w + gap), top + row * (tile_h + gap), tile_w, tile_h))
    return rects


def build_gallery(
    people: Sequence[Person],
    rows: int,
    cols: int,
    size: tuple[int, int] = (1920, 1080),
    *,
    labels: bool = True,
    gap: int = 6,
    background: tuple[int, int, int] = BACKGROUND,
    corner_radius: int = 0,
) -> Gallery:
    """Compose the call's gallery view: `people` in reading order (re-order or subset the list to re-order the
    gallery; change rows/cols/size to re-size it). corner_radius > 0 rounds tiles as Google Meet does."""
    if len(people) > rows * cols:
        raise ValueError(f"{len(people)} people do not fit a {rows}x{cols} gallery")
    width, height = size
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = background
    tiles = []
    for index, (person, rect) in enumerate(
        zip(people, grid_rects(len(people), rows, cols, size, gap), strict=True)
    ):
        x, y, w, h = rect
        picture, boxes = person.render_all(w, h)
        face, others = boxes[0], []
        scale = h * person.face_height / person.face[3]  # source px -> tile px
        for (bx, by, bw, bh), whole in zip(boxes[1:], person.others, strict=True):
            if bw * bh >= 0.4 * whole[2] * whole[3] * scale**2:
                others.append((bx + x, by + y, bw, bh))
        if corner_radius:
            mask = np.zeros((h, w), np.uint8)
            cv2.rectangle(mask, (corner_radius, 0), (w - corner_radius - 1, h - 1), 255, cv2.FILLED)
            cv2.rectangle(mask, (0, corner_radius), (w - 1, h - corner_radius - 1), 255, cv2.FILLED)
            for cx, cy in ((corner_radius, corner_radius), (w - corner_radius - 1, corner_radius)):
                cv2.circle(mask, (cx, cy), corner_radius, 255, cv2.FILLED)
                cv2.circle(mask, (cx, h - cy - 1), corner_radius, 255, cv2.FILLED)
            region = canvas[y : y + h, x : x + w]
            region[mask > 0] = picture[mask > 0]
        else:
            canvas[y : y + h, x : x + w] = picture
        frame_face = (face[0] + x, face[1] + y, face[2], face[3]) if face[2] > 0 and face[3] > 0 else None
        tiles.append(Tile(index, rect, frame_face, person.name, index, tuple(others)))
    if labels:
        canvas = _draw_labels(canvas, tiles)
    return Gallery(canvas, tiles)


def _draw_labels(canvas: np.ndarray, tiles: list[Tile]) -> np.ndarray:
    image = Image.fromarray(canvas)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    fonts: dict[int, ImageFont.FreeTypeFont] = {}
    for tile in tiles:
        x, y, w, h = tile.rect
        size = max(10, round(h / 13))
        font = fonts.setdefault(size, ImageFont.load_default(size))
        left, top, right, bottom = draw.textbbox((0, 0), tile.name, font=font)
        pad = max(3, size // 3)
        box = (x + 4, y + h - 4 - (bottom - top) - 2 * pad, x + 4 + (right - left) + 2 * pad, y + h - 4)
        draw.rectangle(box, fill=(0, 0, 0, 150))
        draw.text((box[0] + pad - left, box[1] + pad - top), tile.name, font=font, fill=(255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))


def build_slide(size: tuple[int, int] = (1920, 1080), seed: int = 0) -> np.ndarray:
    """A shared presentation slide without people: a title, bullet text, a bar chart, a line chart, a pie chart, a
    table and assorted shapes (circles, rounded boxes, arrows), in one of a few colour themes."""
    rng = random.Random(seed)
    width, height = size
    themes = [
        ((255, 255, 255), (30, 30, 30), [(66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88)]),
        ((245, 240, 230), (40, 40, 60), [(200, 90, 60), (60, 120, 170), (120, 170, 80), (230, 170, 40)]),
        ((28, 36, 52), (235, 235, 235), [(100, 200, 255), (255, 120, 120), (255, 210, 90), (150, 230, 150)]),
    ]
    paper, ink, palette = themes[seed % len(themes)]
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    unit = height / 1080

    def font(points: float) -> ImageFont.FreeTypeFont:
        return ImageFont.load_default(max(8, round(points * unit)))

    titles = ["Photosynthesis: light and dark reactions", "Quarterly results", "Newton's laws of motion",
              "Solving quadratic equations", "The water cycle", "Project timeline"]  # fmt: skip
    draw.text((80 * unit, 50 * unit), rng.choice(titles), font=font(64), fill=ink)
    draw.line(
        (80 * unit, 140 * unit, width - 80 * unit, 140 * unit), fill=palette[0], width=max(2, round(6 * unit))
    )
    words = [
        "energy",
        "mass",
        "force",
        "light",
        "water",
        "carbon",
        "oxygen",
        "glucose",
        "velocity",
        "result",
        "growth",
        "model",
        "data",
    ]
    for line in range(6):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))).capitalize()
        y = (190 + line * 62) * unit
        draw.ellipse((90 * unit, y + 14 * unit, 106 * unit, y + 30 * unit), fill=palette[line % 4])
        draw.text((130 * unit, y), text, font=font(40), fill=ink)
    # Bar chart
    left, base, bar_w = 100 * unit, 1000 * unit, 60 * unit
    draw.line((left - 10 * unit, base, left + 520 * unit, base), fill=ink, width=max(1, round(3 * unit)))
    for index in range(7):
        value = rng.uniform(60, 330) * unit
        x = left + index * (bar_w + 14 * unit)
        draw.rectangle((x, base - value, x + bar_w, base), fill=palette[index % 4])
        draw.text((x + 8 * unit, base + 8 * unit), f"Q{index + 1}", font=font(22), fill=ink)
    # Line chart with axes and grid
    ox, oy, cw, ch = 760 * unit, 1000 * unit, 520 * unit, 380 * unit
    for step in range(5):
        gy = oy - step * ch / 4
        draw.line(
            (ox, gy, ox + cw, gy), fill=tuple((a + b) // 2 for a, b in zip(paper, ink, strict=True)), width=1
        )
        draw.text((ox - 50 * unit, gy - 12 * unit), str(step * 25), font=font(20), fill=ink)
    for series in range(2):
        points = [(ox + i * cw / 9, oy - rng.uniform(0.1, 0.95) * ch) for i in range(10)]
        draw.line(points, fill=palette[series + 1], width=max(2, round(5 * unit)))
        for px, py in points:
            draw.ellipse(
                (px - 7 * unit, py - 7 * unit, px + 7 * unit, py + 7 * unit), fill=palette[series + 1]
            )
    # Pie chart with legend
    cx, cy, r = 1560 * unit, 420 * unit, 190 * unit
    start = 0.0
    shares = [rng.uniform(1, 4) for _ in range(4)]
    for index, share in enumerate(shares):
        end = start + 360 * share / sum(shares)
        draw.pieslice((cx - r, cy - r, cx + r, cy + r), start, end, fill=palette[index])
        start = end
    for index in range(4):
        y = (660 + index * 44) * unit
        draw.rectangle((1400 * unit, y, 1430 * unit, y + 30 * unit), fill=palette[index])
        draw.text((1445 * unit, y), rng.choice(words).capitalize(), font=font(28), fill=ink)
    # Table
    tx, ty = 1360 * unit, 860 * unit
    for row in range(4):
        for col in range(4):
            box = (
                tx + col * 120 * unit,
                ty + row * 44 * unit,
                tx + (col + 1) * 120 * unit,
                ty + (row + 1) * 44 * unit,
            )
            draw.rectangle(box, outline=ink, width=1, fill=palette[0] if row == 0 else None)
            draw.text(
                (box[0] + 10 * unit, box[1] + 8 * unit), f"{rng.randint(0, 999)}", font=font(24), fill=ink
            )
    # Shapes: an arrow, rounded boxes with text, concentric circles
    draw.rounded_rectangle(
        (980 * unit, 200 * unit, 1260 * unit, 300 * unit), radius=20 * unit, fill=palette[2]
    )
    draw.text((1000 * unit, 230 * unit), "Input", font=font(36), fill=paper)
    draw.rounded_rectangle(
        (980 * unit, 420 * unit, 1260 * unit, 520 * unit), radius=20 * unit, fill=palette[3]
    )
    draw.text((1000 * unit, 450 * unit), "Output", font=font(36), fill=paper)
    draw.line((1120 * unit, 300 * unit, 1120 * unit, 410 * unit), fill=ink, width=max(2, round(6 * unit)))
    draw.polygon([(1100 * unit, 400 * unit), (1140 * unit, 400 * unit), (1120 * unit, 420 * unit)], fill=ink)
    for ring in range(4, 0, -1):
        rr = ring * 22 * unit
        draw.ellipse(
            (880 * unit - rr, 300 * unit - rr, 880 * unit + rr, 300 * unit + rr), fill=palette[ring % 4]
        )
    return np.asarray(image)


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float = 2,
    *,
    codec: str = "libx264",
    keyframe_seconds: float = 10.0,
    container: str | None = None,
) -> Path:
    """Encode RGB frames (all the same size) into a video file with PyAV: a stand-in for a call recording.
    Call recordings have few frames per second and long groups of pictures; `keyframe_seconds` sets the latter.
    codec: "libx264" (MP4/MOV/MKV), "libvpx-vp9" or "libvpx" (WebM/MKV), "mpeg4", ...; the container follows the
    file's suffix unless given."""
    import av

    path = Path(path)
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), "w", format=container) as output:
        stream = None
        for rgb in frames:
            if stream is None:
                stream = output.add_stream(codec, rate=rate)
                stream.width, stream.height = rgb.shape[1] // 2 * 2, rgb.shape[0] // 2 * 2
                stream.pix_fmt = "yuv420p"
                stream.codec_context.gop_size = max(1, round(keyframe_seconds * fps))
                if codec == "libx264":
                    stream.options = {"preset": "ultrafast", "tune": "stillimage"}
                elif codec.startswith("libvpx"):
                    stream.options = {"deadline": "realtime", "cpu-used": "8"}
            frame = av.VideoFrame.from_ndarray(rgb[: stream.height, : stream.width], format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        if stream is None:
            raise ValueError("no frames to write")
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def lesson_video(
    path: str | Path,
    people: Sequence[Person],
    seconds: float,
    *,
    rows: int = 5,
    cols: int = 5,
    size: tuple[int, int] = (1920, 1080),
    fps: float = 2,
    keyframe_seconds: float = 10.0,
    reorder_at: float | None = None,
    looks: int = 6,
    hold_seconds: float = 5.0,
    codec: str = "libx264",
) -> Path:
    """A stand-in for a recorded video lesson: the call's gallery of `people` for `seconds`, at `fps` frames per
    second. Every `hold_seconds` the participants move a little (`looks` different renderings, cycled, so a long
    video costs only `looks` gallery renderings); from `reorder_at` seconds on, the gallery is shown in reverse
    order (as when someone is pinned or joins). A small counter in the corner changes every frame, as a clock in
    a recording would."""
    rng = random.Random(11)
    variants = [
        [
            replace(
                p,
                face_height=p.face_height * rng.uniform(0.95, 1.05),
                offset_x=p.offset_x + rng.uniform(-0.03, 0.03),
            )
            for p in people
        ]
        for _ in range(looks)
    ]
    cache: dict[tuple[int, bool], np.ndarray] = {}

    def frames():
        for index in range(int(round(seconds * fps))):
            t = index / fps
            key = (int(t // hold_seconds) % looks, reorder_at is not None and t >= reorder_at)
            if key not in cache:
                shown = variants[key[0]][::-1] if key[1] else variants[key[0]]
                cache[key] = build_gallery(shown, rows, cols, size).image
            frame = cache[key].copy()
            frame[4:14, 4 : 4 + (index % 50) * 2] = 255  # the clock
            yield frame

    return write_video(path, frames(), fps, codec=codec, keyframe_seconds=keyframe_seconds)


def to_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def _clip_box(box: tuple[float, float, float, float], width: int, height: int) -> Box:
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(float(width), box[0] + box[2]), min(float(height), box[1] + box[3])
    return round(x0), round(y0), max(0, round(x1 - x0)), max(0, round(y1 - y0))
