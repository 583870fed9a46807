"""Appearance vectors computed for a whole frame's faces at once equal those of each face alone."""

import cv2
import numpy as np

from inference.appearance import (
    BANDS,
    BINS,
    DIMENSIONS,
    GREY_BELOW,
    GREY_BINS,
    HUE_BINS,
    SATURATION_BINS,
    appearance,
    appearances,
    context_region,
)


def one_face(rgb, box) -> np.ndarray:
    """The definition, one face and one band at a time (what the module computed before it batched faces)."""
    region = context_region(rgb, box)
    step = max(1, min(region.shape[0] // 66, region.shape[1] // 48))
    hsv = cv2.cvtColor(np.ascontiguousarray(region[::step, ::step]), cv2.COLOR_RGB2HSV).astype(np.int32)
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    colour = (hue * HUE_BINS // 180) * SATURATION_BINS + np.minimum(
        (saturation - GREY_BELOW) * SATURATION_BINS // (256 - GREY_BELOW), SATURATION_BINS - 1
    )
    bins = np.where(saturation < GREY_BELOW, HUE_BINS * SATURATION_BINS + value * GREY_BINS // 256, colour)
    bands = [np.sqrt(np.bincount(b.ravel(), minlength=BINS)) for b in np.array_split(bins, BANDS, axis=0)]
    vector = np.concatenate([band / np.linalg.norm(band) for band in bands])
    return vector / np.linalg.norm(vector)


def tiles_frame() -> np.ndarray:
    """A 1080p frame of 4x4 tiles, each with its own colours and noise, like a call's gallery."""
    rng = np.random.default_rng(3)
    frame = np.zeros((1080, 1920, 3), np.uint8)
    for row in range(4):
        for col in range(4):
            tile = rng.integers(0, 256, 3) * np.ones((270, 480, 3))
            tile += rng.normal(0, 25, tile.shape)
            frame[row * 270 : (row + 1) * 270, col * 480 : (col + 1) * 480] = np.clip(tile, 0, 255)
    return frame


def test_a_frame_s_faces_together_get_the_vectors_each_gets_alone():
    frame = tiles_frame()
    boxes = [(180 + 480 * c, 70 + 270 * r, 120 + 7 * c, 130 + 5 * r) for r in range(4) for c in range(4)]
    boxes += [(-40, -30, 90, 90), (1880, 1050, 60, 60)]  # cut by the frame's edges: padded with black
    together = appearances(frame, boxes)
    assert together.shape == (len(boxes), DIMENSIONS) and together.dtype == np.float32
    for box, vector in zip(boxes, together, strict=True):
        np.testing.assert_allclose(vector, one_face(frame, box), atol=1e-6)
        np.testing.assert_allclose(vector, appearance(frame, box), atol=1e-6)
        assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5
    # Different tiles look different; the same tile seen twice looks the same.
    similarity = together[:16] @ together[:16].T
    assert similarity[~np.eye(16, dtype=bool)].max() < 0.95
    np.testing.assert_allclose(appearances(frame, [boxes[5], boxes[5]])[1], together[5], atol=1e-6)


def test_a_box_outside_the_frame_gets_a_zero_vector_and_no_faces_an_empty_array():
    frame = tiles_frame()
    vectors = appearances(frame, [(5000, 5000, 50, 50), (100, 100, 80, 80)])
    assert not vectors[0].any() and vectors[1].any()
    assert appearances(frame, []).shape == (0, DIMENSIONS)
