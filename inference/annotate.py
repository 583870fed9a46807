"""Draw detected faces and their emotions onto the image (for `analyze --annotate`)."""

from pathlib import Path

import cv2

from .decode import decode_rgb
from .engine import FrameResult


def annotate(data: bytes, result: FrameResult, out: Path, max_pixels: int = 50_000_000) -> None:
    image = cv2.cvtColor(decode_rgb(data, max_pixels), cv2.COLOR_RGB2BGR)
    thickness = max(2, round(max(image.shape[:2]) / 400))
    for face in result.faces:
        x, y, w, h = face.box
        cv2.rectangle(image, (x, y), (x + w, y + h), (0, 200, 0), thickness)
        label = f"{face.emotion} {face.confidence:.0%}" if face.emotion else f"face {face.score:.2f}"
        scale = max(0.5, w / 250)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = max(th + 4, y - 4)
        cv2.rectangle(image, (x, top - th - 4), (x + tw + 4, top + 2), (0, 200, 0), cv2.FILLED)
        cv2.putText(image, label, (x + 2, top - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), image)
