"""A small appearance vector per face, to tell the tiles of a video call apart when the gallery is re-ordered.

ByteTrack follows boxes by position; when a call re-flows its gallery (someone joins, the teacher pins a tile, the
window is resized) tiles jump, and the faces must be matched again by how they look. Within one call a participant's
tile changes little from second to second: same hair, clothes, background and lighting. So the vector describes the
colours of the head and shoulders region in three horizontal bands (hair and forehead, face, neck and collar): a
16 hue x 3 saturation histogram per band, with greyish pixels (whose hue is JPEG noise) in 8 brightness bins of
their own. Histograms do not care where exactly the detector put the box, which at
gallery sizes varies by ~20% between a 7x7 and a 4x4 layout (measured: finer descriptors such as a 4x6 colour
layout or an 8x8 grey face confused people across re-sized galleries; this one ranked the right person first for
all 49 of a 7x7 -> 5x5 -> 4x4 series, with same-person similarity >= 0.83 against <= 0.81 for 99% of other pairs).

Unit length, so the cosine similarity of two faces is their dot product. It identifies a tile within one call for a
few minutes, not a person: it is not a biometric template, never leaves the process and is never stored.
"""

import cv2
import numpy as np

BANDS = 3
HUE_BINS, SATURATION_BINS, GREY_BINS = 16, 3, 8
GREY_BELOW = 40  # saturation (0-255) under which a pixel's hue is noise: binned by brightness instead
BINS = HUE_BINS * SATURATION_BINS + GREY_BINS
DIMENSIONS = BANDS * BINS


def context_region(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The face box widened to the head and shoulders: 0.6 face widths each side, 0.5 face heights above (hair),
    0.6 below (neck, collar), which stays inside a typical tile. Parts outside the frame are black, so the region's
    geometry stays relative to the face wherever the tile sits in the frame."""
    height, width = rgb.shape[:2]
    x, y, w, h = box
    x0, y0, x1, y1 = int(x - 0.6 * w), int(y - 0.5 * h), int(x + 1.6 * w), int(y + 1.6 * h)
    region = rgb[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    top, left = max(0, -y0), max(0, -x0)
    if (top or left or y1 > height or x1 > width) and region.size:
        # Zeros are black both for an HxWx3 uint8 frame and for its HxW view of 3-byte pixels (`appearances`).
        padded = np.zeros((y1 - y0, x1 - x0, *rgb.shape[2:]), rgb.dtype)
        padded[top : top + region.shape[0], left : left + region.shape[1]] = region
        region = padded
    return region


def appearance(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Unit-length float32 vector of DIMENSIONS values for the face `box` (x, y, w, h) in the RGB frame."""
    return appearances(rgb, [box])[0]


def _bin_table() -> np.ndarray:
    """A 256x1x3 cv2.LUT table from a pixel's (hue, saturation, value) to its parts of a bin: channel 0 the hue's
    bin times SATURATION_BINS, channel 1 the saturation's bin (255 for a greyish pixel), channel 2 the grey bin. A
    table lookup on uint8 replaces integer divisions over every sampled pixel (170,000 of them for a 5x5 gallery's
    27 faces: 0.5 ms instead of 2.6-3.0 ms, back to back on one core); the bins are the same."""
    values = np.arange(256)
    hue = np.minimum(values, 179) * HUE_BINS // 180 * SATURATION_BINS  # OpenCV's 8-bit hue is 0-179
    saturation = np.where(
        values < GREY_BELOW,
        255,
        np.minimum((values - GREY_BELOW) * SATURATION_BINS // (256 - GREY_BELOW), SATURATION_BINS - 1),
    )
    grey = HUE_BINS * SATURATION_BINS + values * GREY_BINS // 256
    return np.stack([hue, saturation, grey], axis=1).astype(np.uint8)[:, np.newaxis, :]


_BIN_TABLE = _bin_table()


def appearances(rgb: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """`appearance` of every box at once, (N, DIMENSIONS): the sampled pixels of all faces go through one colour
    conversion, one table lookup and one histogram. A 5x5 gallery's 27 faces on an AMD EPYC core: 2.2 ms, against
    3.7-4.2 ms with per-pixel integer arithmetic on uint8 triples, and more one face at a time (per-call overhead)."""
    frame = np.ascontiguousarray(rgb)
    pixels = frame.view(np.dtype((np.void, 3))).reshape(frame.shape[:2])  # one 3-byte item per pixel
    sampled_parts, groups = [], []
    for index, box in enumerate(boxes):
        region = context_region(pixels, box)
        if region.size == 0:
            continue  # a zero vector: matches nothing
        # A histogram needs no resampling: every k-th pixel (~48x66 of them, whatever the tile's size) gives the
        # same shares at a tenth of the cost of an area resize. Copying 3-byte items is twice as fast as copying
        # the same pixels as three uint8 values each.
        step = max(1, min(region.shape[0] // 66, region.shape[1] // 48))
        sampled = region[::step, ::step]
        rows, cols = sampled.shape
        # Three horizontal bands of (nearly) equal height, as np.array_split cuts them.
        band = np.repeat(np.arange(BANDS), [rows // BANDS + (b < rows % BANDS) for b in range(BANDS)])
        sampled_parts.append(sampled.ravel())
        groups.append(np.repeat(index * BANDS + band, cols))
    if not sampled_parts:
        return np.zeros((len(boxes), DIMENSIONS), np.float32)
    # A 1 x N image for OpenCV (N x 1 converts row by row, slowly).
    line = np.concatenate(sampled_parts).view(np.uint8).reshape(1, -1, 3)
    hue, saturation, grey = cv2.split(cv2.LUT(cv2.cvtColor(line, cv2.COLOR_RGB2HSV), _BIN_TABLE))
    bins = np.where(saturation == 255, grey, hue + saturation)[0]
    counts = np.bincount(np.concatenate(groups) * BINS + bins, minlength=len(boxes) * BANDS * BINS)
    # Hellinger per band (a few dominant colours must not swamp the rest), then unit length per face.
    bands = np.sqrt(counts.reshape(len(boxes), BANDS, BINS).astype(np.float32))
    bands /= _norms(bands)
    vectors = bands.reshape(len(boxes), DIMENSIONS)
    return (vectors / _norms(vectors)).astype(np.float32)


def _norms(vectors: np.ndarray) -> np.ndarray:
    """Norms along the last axis, kept for broadcasting; 1 where a vector is (nearly) zero, which stays zero."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.where(norms > 1e-6, norms, 1.0)
