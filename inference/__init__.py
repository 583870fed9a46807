"""fermonitor's inference engine: MediaPipe face detection + an emotion CNN served by the TFLite runtime.

A plain Python package (it never imports Django). See `Engine` for the pipeline and its thread-safety rules, and
`python -m inference --help` for the command line (setup, analyze, evaluate, bench, train).
"""

from .engine import Engine, Face, FrameResult
from .errors import FrameError, ImageTooLarge, InvalidImage, ModelsMissing, UnsupportedFormat
from .model_cards import EMOTIONS

__all__ = [
    "EMOTIONS",
    "Engine",
    "Face",
    "FrameError",
    "FrameResult",
    "ImageTooLarge",
    "InvalidImage",
    "ModelsMissing",
    "UnsupportedFormat",
]
