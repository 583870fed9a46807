"""fermonitor's inference engine: MediaPipe face detection + an emotion CNN served by the TFLite runtime.

A plain Python package (it never imports Django). See `Engine` for the pipeline and its thread-safety rules, and
`python -m inference --help` for the command line (setup, analyze, evaluate, bench, train).
"""

from .errors import FrameError, ImageTooLarge, InvalidImage, ModelsMissing, UnsupportedFormat
from .model_cards import EMOTIONS

_ENGINE_NAMES = {"Engine", "Face", "FrameResult"}
_GALLERY_NAMES = {"GalleryFace", "GalleryResult"}


def __getattr__(name):
    # Imported on first use: `python -m inference train` must run where only Keras and a backend are installed
    # (a GPU machine with JAX or PyTorch, no MediaPipe).
    if name in _ENGINE_NAMES:
        from . import engine

        return getattr(engine, name)
    if name in _GALLERY_NAMES:
        from . import gallery

        return getattr(gallery, name)
    raise AttributeError(f"module 'inference' has no attribute {name!r}")


__all__ = [
    "EMOTIONS",
    "Engine",
    "Face",
    "FrameError",
    "FrameResult",
    "GalleryFace",
    "GalleryResult",
    "ImageTooLarge",
    "InvalidImage",
    "ModelsMissing",
    "UnsupportedFormat",
]
