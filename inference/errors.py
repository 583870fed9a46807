"""Typed failures. Every bad frame raises a `FrameError`; the engine stays usable for the next frame."""


class FrameError(ValueError):
    """A frame that cannot be analysed. The message is safe to show to the person who sent it."""

    code = "invalid_frame"


class InvalidImage(FrameError):
    """Empty, garbage or truncated image data."""

    code = "invalid_image"


class UnsupportedFormat(FrameError):
    """A real image in a format fermonitor does not accept (only JPEG and PNG are)."""

    code = "unsupported_format"


class ImageTooLarge(FrameError):
    """More pixels than the configured limit, refused from the header before decoding (decompression bombs)."""

    code = "image_too_large"


class ModelsMissing(RuntimeError):
    """A model file is not in the models directory. Run the setup command."""
