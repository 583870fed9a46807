"""Reading the name that Zoom, Google Meet and Teams print under each video tile, to PROPOSE an assignment.

The proposal is only ever shown to the teacher ("the name under the tile reads Sam Alpha" on the participant's
card); the teacher assigns, or not, through the normal, consent-checked assignment. Nothing here stores anything:
the frame is decoded in memory, the label's crop goes to Tesseract (Debian's `tesseract-ocr`) through a pipe and
the text comes back through one (`tesseract stdin stdout`: no file is written; pytesseract would write both to
temporary files), and the text is matched against the class's enrolled students and dropped. Without the
`tesseract` program there are no proposals.

Where the label is: those apps print it at the bottom-left of the tile. Without the tile's edges, the tile is
estimated from the face (webcam faces take 0.3-0.55 of a tile's height, tiles are about 16:9), and the region from
the face's chin to below the estimated tile's bottom edge, from well left of the face to a little right of it, is
read as sparse text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from difflib import SequenceMatcher

# Below this similarity between the text read and a student's name, no proposal.
MATCH_RATIO = 0.8
READ_TIMEOUT_SECONDS = 20


def available() -> bool:
    return shutil.which("tesseract") is not None


def label_region(box, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of where the name label of the tile showing the face `box` (x, y, w, h) should be."""
    x, y, w, h = box
    cx = x + w / 2
    x0, x1 = int(cx - 2.8 * h), int(cx + 1.2 * h)
    y0, y1 = int(y + h), int(y + h / 2 + 1.8 * h)
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def read_label(frame: bytes, box) -> str:
    """The text near the bottom-left of the face's tile (in memory; slow: ~0.1-2 s, run it on a pool thread)."""
    import cv2
    import numpy as np

    gray = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return ""
    x0, y0, x1, y1 = label_region(box, gray.shape[1], gray.shape[0])
    if x1 - x0 < 8 or y1 - y0 < 8:
        return ""
    crop = cv2.resize(gray[y0:y1, x0:x1], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    ok, png = cv2.imencode(".png", crop)
    if not ok:
        return ""
    done = subprocess.run(
        ["tesseract", "stdin", "stdout", "--psm", "11"],
        input=png.tobytes(),
        capture_output=True,
        timeout=READ_TIMEOUT_SECONDS,
        env={
            "OMP_THREAD_LIMIT": "1",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        },  # one core: frames share the pool
        check=False,
    )
    return " ".join(done.stdout.decode("utf-8", "replace").split()) if done.returncode == 0 else ""


def _words(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z]+", plain)


def match_name(text: str, candidates: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The one candidate (uuid, name) whose name the text contains, read with OCR's mistakes: the whole name
    ("Sam Alpha") or the first name and the last initial ("Sam A."), as the apps' display names often are. None
    when no name or more than one is found (a proposal must not be a guess between two people)."""
    words = _words(text)
    found = {}
    for uuid, name in candidates:
        wanted = _words(name)
        if not wanted or not words:
            continue
        full = " ".join(wanted)
        for i in range(len(words)):
            window = " ".join(words[i : i + len(wanted)])
            if SequenceMatcher(None, window, full).ratio() >= MATCH_RATIO:
                found[uuid] = name
                break
            if (
                len(wanted) >= 2
                and i + 1 < len(words)
                and len(words[i + 1]) == 1
                and words[i + 1] == wanted[-1][0]
                and SequenceMatcher(None, words[i], wanted[0]).ratio() >= MATCH_RATIO
            ):
                found[uuid] = name
                break
    if len(found) != 1:
        return None
    return next(iter(found.items()))
